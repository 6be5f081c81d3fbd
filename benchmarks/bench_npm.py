"""npm_package latency against a local Verdaccio: cold (registry requests) vs cached (none).

    python benchmarks/bench_npm.py [--rounds N]

Starts Verdaccio (tests/npm/verdaccio/install.sh installs it into .tools/verdaccio), publishes the
test fixture packages, then calls npm_package in memory (fastmcp.Client, no HTTP layer, so the
numbers are the tool's own cost): "cold" builds a fresh server per round (empty cache, new
connections), "cached" repeats the call on a warm server, "revalidated" lets the TTL lapse so each
call is an If-None-Match request answered 304. Prints medians and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "npm"), str(ROOT / "tests" / "support")]

from fastmcp import Client  # noqa: E402
from verdaccio_registry import running_verdaccio  # noqa: E402

from mcpfleet.common.settings import load_settings  # noqa: E402
from mcpfleet.servers.npm.server import build  # noqa: E402


def stats(label: str, samples: list[float], requests: float) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(
        f"{label:<12} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   "
        f"registry requests/call {requests:.1f}   (n={len(ms)})"
    )


async def bench(url: str, rounds: int) -> None:
    def settings(ttl: float):
        return load_settings(http={"allow": ["127.0.0.1"]}, servers={"npm": {"registry": url, "cache_ttl": ttl}})

    for name in ("alpha", "app"):
        cold, cold_requests = [], 0
        for _ in range(rounds):
            server = build(settings(300))
            async with Client(server) as c:
                t = time.perf_counter()
                await c.call_tool("npm_package", {"name": name})
                cold.append(time.perf_counter() - t)
            cold_requests += server.registry.requests
        server = build(settings(300))
        async with Client(server) as c:
            await c.call_tool("npm_package", {"name": name})
            before = server.registry.requests
            warm = []
            for _ in range(rounds):
                t = time.perf_counter()
                await c.call_tool("npm_package", {"name": name})
                warm.append(time.perf_counter() - t)
            warm_requests = server.registry.requests - before
        server = build(settings(0.001))
        async with Client(server) as c:
            await c.call_tool("npm_package", {"name": name})
            before = server.registry.requests
            reval = []
            for _ in range(rounds):
                await asyncio.sleep(0.002)
                t = time.perf_counter()
                await c.call_tool("npm_package", {"name": name})
                reval.append(time.perf_counter() - t)
            reval_requests = server.registry.requests - before
        print(f"npm_package {name!r}")
        stats("  cold", cold, cold_requests / rounds)
        stats("  cached", warm, warm_requests / rounds)
        stats("  revalidated", reval, reval_requests / rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_verdaccio(Path(tmp)) as registry:
        asyncio.run(bench(registry.url, args.rounds))


if __name__ == "__main__":
    main()
