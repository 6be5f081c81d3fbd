"""web_fetch of hostile pages: wall time per call and what the server process keeps (issue 15 §3).

A real `mcpfleet serve web` runs in its own process (HTTP on 127.0.0.1, page and HTTP caches off,
robots.txt off); a fixture server on 127.0.0.1 serves
  /links.html   ~1.9 MB, 100,000 links (what the issue measured: 16.7 s, +280 MB, held)
  /nested.html  ~1 MB of 100,000 nested <div>s (a hostile tree)
  /small.html   a short article (the "other caller")
For each hostile page: one call alone, then three at once from caller alice, each while caller
bob (another API key) fetches /small.html. Printed: wall seconds per call, its outcome, and the RSS of the server process and of
its worker processes (children) before and after. Nothing is asserted.

    python benchmarks/bench_web_extract.py [--extract-timeout S] [--tool-timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from local_http import Reply, serving


def links_page(count: int = 100_000) -> bytes:
    links = "".join(f'<a href="/{n}">{n}</a>' for n in range(count))
    return f"<html><head><title>Links</title></head><body><p>{links}</p></body></html>".encode()


def nested_page(depth: int = 100_000) -> bytes:
    return b"<html><body>" + b"<div>x" * depth + b"</div>" * depth + b"</body></html>"


SMALL = (
    b"<html><head><title>Small</title></head><body><article><p>"
    + b"A short article about container networking and egress policies. " * 20
    + b"</p></article></body></html>"
)


def fixture_routes() -> tuple[dict[str, Reply], dict[str, int]]:
    pages = {"/links.html": links_page(), "/nested.html": nested_page(), "/small.html": SMALL}
    html = "text/html; charset=utf-8"
    return {path: Reply(body=body, content_type=html) for path, body in pages.items()}, {
        k: len(v) for k, v in pages.items()
    }


NOT_FOUND = Reply(404, b"not found", content_type="text/html; charset=utf-8")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def memory(pid: int) -> str:
    workers = children(pid)
    return f"server {rss_mb(pid):7.1f} MB, workers {sum(rss_mb(w) for w in workers):7.1f} MB ({len(workers)})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


KEYS = {"alice": "bench-key-alice-0123456789", "bob": "bench-key-bob-0123456789"}


async def call(url: str, page: str, who: str = "alice") -> tuple[float, str]:
    from fastmcp import Client
    from fastmcp.exceptions import ToolError

    start = time.perf_counter()
    try:
        async with Client(url, auth=KEYS[who], timeout=120) as client:
            result = await client.call_tool("web_fetch", {"url": page, "max_length": 1000})
        outcome = f"ok, {result.structured_content['total_length']} chars"
    except ToolError as exc:
        outcome = f"refused: {str(exc)[:90]}"
    except Exception as exc:
        outcome = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
    return time.perf_counter() - start, outcome


async def scenario(url: str, pid: int, page: str, small: str, concurrent: int) -> None:
    before = memory(pid)
    other: list[tuple[float, str]] = []
    done = asyncio.Event()

    async def bystander() -> None:  # another caller, fetching a small page over and over
        while not done.is_set():
            other.append(await call(url, small, "bob"))
            await asyncio.sleep(0.2)

    task = asyncio.create_task(bystander())
    results = await asyncio.gather(*(call(url, page) for _ in range(concurrent)))
    done.set()
    await task
    await asyncio.sleep(1.0)  # let the server settle before reading its RSS
    print(f"  {concurrent} at once (alice):")
    for seconds, outcome in results:
        print(f"    {seconds:6.1f} s  {outcome}")
    if other:
        worst = max(s for s, _ in other)
        ok = sum(o.startswith("ok") for _, o in other)
        print(f"    bob meanwhile: {ok}/{len(other)} small fetches ok, worst {worst:.2f} s")
    print(f"    before: {before}")
    print(f"    after:  {memory(pid)}")


async def main(extract_timeout: float | None, tool_timeout: float | None) -> None:
    routes, sizes = fixture_routes()
    with serving(routes, default=NOT_FOUND) as fixtures:
        fixture_port = fixtures.port
        port = free_port()
        from mcpfleet.common.auth import hash_key

        env = {k: v for k, v in os.environ.items() if not k.startswith("MCPFLEET_")}
        env |= {
            "MCPFLEET_HTTP__ALLOW": json.dumps(["localhost"]),
            "MCPFLEET_HTTP__CACHE_TTL": "0",
            "MCPFLEET_HTTP__RETRIES": "0",
            "MCPFLEET_SERVERS": json.dumps(
                {
                    "web": {"robots": False, "cache_ttl": 0}
                    | ({"extract_timeout": extract_timeout} if extract_timeout else {})
                }
            ),
            "MCPFLEET_TELEMETRY__LOG_LEVEL": "WARNING",
            "MCPFLEET_AUTH__API_KEYS": json.dumps([{"name": n, "hash": hash_key(k)} for n, k in KEYS.items()]),
        }
        if tool_timeout:
            env["MCPFLEET_LIMITS__TOOL_TIMEOUT"] = str(tool_timeout)
        server = subprocess.Popen(
            [sys.executable, "-m", "mcpfleet", "serve", "web", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/web/mcp"
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the web server did not start")
                await asyncio.sleep(0.2)
            base = f"http://localhost:{fixture_port}"
            await call(url, f"{base}/small.html")  # warm up (imports, workers)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"web_fetch of hostile pages, server in its own process (caches off); load average {load}")
            print(f"  idle: {memory(server.pid)}")
            for path in ("/links.html", "/nested.html"):
                print(f"{path} ({sizes[path]:,} bytes)")
                for concurrent in (1, 3):
                    await scenario(url, server.pid, f"{base}{path}", f"{base}/small.html", concurrent)
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract-timeout", type=float, help="servers.web.extract_timeout (default: the server's)")
    parser.add_argument("--tool-timeout", type=float, help="limits.tool_timeout (default: the server's)")
    args = parser.parse_args()
    asyncio.run(main(args.extract_timeout, args.tool_timeout))
