"""web_fetch latency on saved pages served from 127.0.0.1: fetch + extract, p50 per page.

For each saved page (tests/web/fixtures/pages, the 4-page fixture PDF, and a 1 MB page):
(a) extract: bytes → markdown in this process (decode, lxml, trafilatura / pypdf), no HTTP;
(b) tool, cold: web_fetch through MCP in memory with the page cache and HTTP cache off, so every
    call downloads (robots.txt off, so one request per call) and extracts;
(c) tool, paging: web_fetch with start_index > 0 from the page cache (what paging costs).

    python benchmarks/bench_web.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "web"))

from web_site import PAGES, PDF_PAGES, Site, huge_page, make_pdf


def ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    return f"p50 {statistics.median(samples) * 1000:8.2f} ms  p95 {p95 * 1000:8.2f} ms"


async def main(repeats: int) -> None:
    from fastmcp import Client

    from mcpfleet.common.app import build_server
    from mcpfleet.common.settings import load_settings
    from mcpfleet.servers.web import SPEC
    from mcpfleet.servers.web.extract import extract

    pages = {f"/pages/{p.name}": (p.read_bytes(), "text/html") for p in sorted(PAGES.glob("*.html"))}
    pages["/report.pdf"] = (make_pdf(PDF_PAGES, title="Fixture report"), "application/pdf")
    pages["/huge.html"] = (huge_page(), "text/html")

    print(f"web_fetch benchmark, {repeats} repeats per page")
    print(f"{'page':26} {'bytes':>9} {'chars':>8}  (a) extract only")
    for path, (content, ctype) in pages.items():
        samples = []
        for _ in range(repeats):
            t = time.perf_counter()
            result = extract(content, ctype, "utf-8", f"https://example.org{path}", "markdown")
            samples.append(time.perf_counter() - t)
        print(f"{path:26} {len(content):9d} {len(result.text):8d}  {ms(samples)}")

    settings = load_settings(
        http={"allow": ["localhost"], "cache_ttl": 0, "retries": 0},
        servers={"web": {"cache_ttl": 0, "robots": False, "max_bytes": 5_000_000}},
    )
    cached = load_settings(http={"allow": ["localhost"], "retries": 0}, servers={"web": {"robots": False}})
    with Site("allow") as site:
        async with (
            Client(build_server(SPEC, settings).server) as cold,
            Client(build_server(SPEC, cached).server) as warm,
        ):
            print(f"\n{'page':26} (b) web_fetch, download + extract          (c) web_fetch, next page from cache")
            for path in pages:
                url = f"{site.base}{path}"
                await cold.call_tool("web_fetch", {"url": url})  # warm up connections and imports
                samples = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    await cold.call_tool("web_fetch", {"url": url})
                    samples.append(time.perf_counter() - t)
                first = await warm.call_tool("web_fetch", {"url": url, "max_length": 1000})
                start = first.structured_content["next_start_index"] or 0
                paging = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    await warm.call_tool("web_fetch", {"url": url, "max_length": 1000, "start_index": start})
                    paging.append(time.perf_counter() - t)
                print(f"{path:26} {ms(samples)}   {ms(paging)}")
            print(f"\nrequests served: {sum(site.hits.values())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    asyncio.run(main(parser.parse_args().repeats))
