"""ui server latency: warm `ui_tailwind` for a 20-class input, and what each layer adds.

(a) the Node worker alone (one JSON line there and back: a design-system lookup plus a fresh
compile; the worker prepares the next compiler while idle, so calls with idle time between them
are measured apart from back-to-back calls), (b) the tool through MCP in memory (argument checks, rename table, result), each with
the default theme and with a user @theme (the first call with a new theme builds its design
system; later calls reuse it). Also the cold start of the worker, and `ui_theme`.

    python benchmarks/bench_ui.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from fastmcp import Client

from mcpfleet.common.app import build_server
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.ui import SPEC
from mcpfleet.servers.ui.settings import UiSettings
from mcpfleet.servers.ui.tailwind import TailwindWorker

CLASSES = (
    "flex items-center justify-between gap-4 p-4 md:p-6 rounded-lg border border-gray-200 bg-white "
    "shadow-sm hover:bg-sky-50 focus-visible:ring-2 focus-visible:ring-sky-500 text-sm font-medium "
    "text-gray-900 dark:bg-gray-900 w-[37px] transition-colors"
).split()
GAP = 0.1  # idle seconds between calls in the "apart" rows; a model's calls are seconds apart
WARMUP = 20  # calls before timing: V8 optimises the compiler's hot paths over the first few
THEME = "@theme { --color-brand: oklch(0.6 0.2 250); --font-display: 'Satoshi', sans-serif; }"


def stats(samples: list[float]) -> str:
    samples = sorted(samples)
    p50 = statistics.median(samples) * 1000
    p90 = samples[max(0, int(len(samples) * 0.9) - 1)] * 1000
    return f"p50 {p50:7.2f} ms   p90 {p90:7.2f} ms   (n={len(samples)})"


async def timed(fn, repeats: int, gap: float = 0.0) -> list[float]:
    """Latency of `repeats` calls; `gap` seconds of idle time before each, as between a model's calls."""
    out = []
    for _ in range(repeats):
        if gap:
            await asyncio.sleep(gap)
        start = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - start)
    return out


async def main(repeats: int) -> None:
    assert len(CLASSES) == 20, len(CLASSES)
    reason = SPEC.missing()
    if reason:
        raise SystemExit(f"ui cannot run here: {reason}")

    worker = TailwindWorker(UiSettings())
    start = time.perf_counter()
    await worker.start()
    started = time.perf_counter() - start
    start = time.perf_counter()
    await worker.build(CLASSES)
    first = time.perf_counter() - start
    print(f"worker start (node + tailwindcss import)      {started * 1000:7.1f} ms")
    print(f"first compile, default theme (cold)           {first * 1000:7.1f} ms")
    for label, theme in (("default theme", ""), ("user @theme ", THEME)):
        for _ in range(WARMUP):
            await worker.build(CLASSES, theme)
        samples = await timed(lambda theme=theme: worker.build(CLASSES, theme), repeats)
        print(f"worker.build, 20 classes, {label}, back-to-back   {stats(samples)}")
        samples = await timed(lambda theme=theme: worker.build(CLASSES, theme), repeats, GAP)
        print(f"worker.build, 20 classes, {label}, {GAP * 1000:.0f} ms apart  {stats(samples)}")
    await worker.aclose()

    built = build_server(SPEC, load_settings())
    async with Client(built.server) as client:
        args = {"classes": " ".join(CLASSES)}
        for _ in range(WARMUP):
            await client.call_tool("ui_tailwind", args)
        samples = await timed(lambda: client.call_tool("ui_tailwind", args), repeats)
        print(f"ui_tailwind via MCP in memory, 20 classes, back-to-back   {stats(samples)}")
        samples = await timed(lambda: client.call_tool("ui_tailwind", args), repeats, GAP)
        print(f"ui_tailwind via MCP in memory, 20 classes, {GAP * 1000:.0f} ms apart  {stats(samples)}")
        themed = {**args, "theme": THEME}
        for _ in range(WARMUP):
            await client.call_tool("ui_tailwind", themed)
        samples = await timed(lambda: client.call_tool("ui_tailwind", themed), repeats, GAP)
        print(f"ui_tailwind via MCP, 20 classes + @theme, {GAP * 1000:.0f} ms apart   {stats(samples)}")
        samples = await timed(lambda: client.call_tool("ui_theme", {"prefix": "color-sky"}), repeats)
        print(f"ui_theme via MCP, prefix color-sky                      {stats(samples)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    asyncio.run(main(parser.parse_args().repeats))
