"""Math server latency: warm p50/p99 per tool, and what the sandboxed worker pool adds.

For each representative problem the same logic function runs (a) directly in this process and
(b) through the warm WorkerPool, the way the tools run it; the difference is the pool's overhead
(process hop, pickling, limits). Then the tools themselves are called through MCP in memory.

    python benchmarks/bench_math.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import time

from fastmcp import Client

from mcpfleet.common.app import build_server
from mcpfleet.common.settings import WorkerSettings, load_settings
from mcpfleet.common.workers import WorkerPool
from mcpfleet.servers.math import SPEC

M = "mcpfleet.servers.math"
PROBLEMS = [
    ("math_solve", "algebra:solve", {"equations": "x^2 - 5x + 6 = 0"}),
    ("math_simplify", "algebra:simplify", {"expression": "sin(x)^2 + cos(x)^2"}),
    ("math_simplify", "algebra:simplify", {"expression": "pi", "operation": "evaluate", "digits": 100}),
    ("math_calculus", "calculus:calculus", {"expression": "x*exp(x)", "operation": "integrate"}),
    ("math_ode", "calculus:ode", {"equations": "y'' + y = 0", "function": "y"}),
    ("math_matrix", "linalg:matrix", {"matrix": [[2, 1], [1, 2]], "operation": "eigenvalues"}),
    (
        "math_optimize",
        "optimize:optimize",
        {"objective": "x + y", "variables": ["x", "y"], "constraints": ["x >= 1", "y >= 2"]},
    ),
    ("math_stats", "stats:stats", {"operation": "describe", "data": [2, 4, 4, 4, 5, 5, 7, 9]}),
    (
        "math_distribution",
        "stats:distribution",
        {"name": "normal", "params": {"mu": 0, "sigma": 1}, "operation": "ppf", "at": 0.975},
    ),
]


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples) * 1000, samples[max(0, int(len(samples) * 0.99) - 1)] * 1000


def _call_kwargs(tool: str, args: dict) -> dict:
    # The logic functions take the tools' arguments by the same names.
    return dict(args)


async def main(repeats: int) -> None:
    pool = WorkerPool("bench", WorkerSettings(size=1, timeout=30, cpu_seconds=30), initializer=f"{M}.warm:warm")
    await pool.start()
    print(f"{'problem':<52} {'direct p50':>10} {'pool p50':>9} {'added':>7}")
    added = []
    try:
        for tool, target, args in PROBLEMS:
            module, _, func = target.partition(":")
            fn = getattr(importlib.import_module(f"{M}.{module}"), func)
            kwargs = _call_kwargs(tool, args)
            fn(**kwargs)  # warm caches in this process too
            direct, pooled = [], []
            for _ in range(repeats):
                t = time.perf_counter()
                fn(**kwargs)
                direct.append(time.perf_counter() - t)
                t = time.perf_counter()
                await pool.run(f"{M}.{target}", **kwargs)
                pooled.append(time.perf_counter() - t)
            d50, _ = percentiles(direct)
            p50, _ = percentiles(pooled)
            added.append(p50 - d50)
            label = f"{target} {next(iter(args.values()))}"[:52]
            print(f"{label:<52} {d50:>8.2f}ms {p50:>7.2f}ms {p50 - d50:>5.2f}ms")
    finally:
        await pool.aclose()
    print(f"pool overhead at p50: median {statistics.median(added):.2f} ms, max {max(added):.2f} ms (goal <= 20 ms)")

    settings = load_settings(workers={"size": 2})
    built = build_server(SPEC, settings)
    print(f"\n{'tool (MCP in memory, warm)':<28} {'p50':>8} {'p99':>8}")
    async with Client(built.server, timeout=60) as client:
        by_tool: dict[str, list[float]] = {}
        for tool, _, args in PROBLEMS:
            await client.call_tool(tool, args)
            for _ in range(repeats):
                t = time.perf_counter()
                await client.call_tool(tool, args)
                by_tool.setdefault(tool, []).append(time.perf_counter() - t)
        for tool, samples in by_tool.items():
            p50, p99 = percentiles(samples)
            print(f"{tool:<28} {p50:>6.1f}ms {p99:>6.1f}ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    asyncio.run(main(parser.parse_args().repeats))
