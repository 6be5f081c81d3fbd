"""Round-trip overhead of WorkerPool.run against a direct in-process call.

    python benchmarks/bench_workers.py [--calls 500] [--size 2]

Prints p50/p99 latency of trivial calls (`operator:add`) one at a time, the throughput of
the same calls issued concurrently, and the cold start of a pool.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import statistics
import time

from mcpfleet.common.settings import WorkerSettings
from mcpfleet.common.workers import WorkerPool


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us"


def direct(calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        began = time.perf_counter()
        operator.add(1, 2)
        samples.append(time.perf_counter() - began)
    return samples


async def pooled(pool: WorkerPool, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        began = time.perf_counter()
        await pool.run("operator:add", 1, 2)
        samples.append(time.perf_counter() - began)
    return samples


async def main(calls: int, size: int) -> None:
    began = time.perf_counter()
    async with WorkerPool("bench", WorkerSettings(size=size, max_queue=calls)) as pool:
        print(f"start {size} workers        {(time.perf_counter() - began) * 1e3:8.1f} ms")
        await pooled(pool, 50)  # warm up imports and caches in the workers
        print(f"direct call           {percentiles(direct(calls))}")
        print(f"pool.run, sequential  {percentiles(await pooled(pool, calls))}")
        began = time.perf_counter()
        await asyncio.gather(*(pool.run("operator:add", 1, 2) for _ in range(calls)))
        elapsed = time.perf_counter() - began
        print(f"pool.run, concurrent  {calls / elapsed:8.0f} calls/s over {size} workers")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--size", type=int, default=2)
    options = parser.parse_args()
    asyncio.run(main(options.calls, options.size))
