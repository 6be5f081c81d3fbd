"""Prolog latency: a simple query through the sandbox and worker pool vs a direct pyswip call.

(a) direct: pyswip in this process, `member(X, [a,b,c])` on an already loaded engine — no
    sandbox check, no temporary module, no process hop;
(b) engine: `engine.query` in this process (sandbox check, temporary module, limits, rendering);
(c) pool: the same through the warm WorkerPool, as the tool runs it;
(d) tool: prolog_query through MCP in memory.

    python benchmarks/bench_prolog.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

QUERY = "member(X, [a, b, c])"
PROGRAM = "parent(tom, bob). parent(bob, ann). grandparent(X, Z) :- parent(X, Y), parent(Y, Z)."


def p50_p99(samples: list[float]) -> str:
    samples = sorted(samples)
    return f"p50 {statistics.median(samples) * 1000:7.3f} ms  p99 {samples[max(0, int(len(samples) * 0.99) - 1)] * 1000:7.3f} ms"


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


async def atimed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


async def main(repeats: int) -> None:
    from fastmcp import Client

    from mcpfleet.common.app import build_server
    from mcpfleet.common.settings import WorkerSettings, load_settings
    from mcpfleet.common.workers import WorkerPool
    from mcpfleet.servers.prolog import SPEC, engine

    target = "mcpfleet.servers.prolog.engine:query"
    async with WorkerPool("bench", WorkerSettings(size=1), initializer="mcpfleet.servers.prolog.engine:warm") as pool:
        for label, q, prog in (("member/2", QUERY, None), ("grandparent with program", "grandparent(tom, X)", PROGRAM)):
            await pool.run(target, q, prog)
            pooled = await atimed(lambda q=q, prog=prog: pool.run(target, q, prog), repeats)
            print(f"pool   {label:<26} {p50_p99(pooled)}")

    engine.warm()
    from pyswip import Prolog

    prolog = Prolog()
    print(f"direct {'member/2 (pyswip)':<26} {p50_p99(timed(lambda: list(prolog.query(QUERY)), repeats))}")
    print(f"engine {'member/2 (in process)':<26} {p50_p99(timed(lambda: engine.query(QUERY), repeats))}")

    built = build_server(SPEC, load_settings(workers={"size": 1}))
    async with Client(built.server, timeout=60) as client:
        await client.call_tool("prolog_query", {"query": QUERY})
        tool = await atimed(lambda: client.call_tool("prolog_query", {"query": QUERY}), repeats)
        print(f"tool   {'prolog_query member/2':<26} {p50_p99(tool)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=200)
    asyncio.run(main(parser.parse_args().repeats))
