"""Runtime overhead: a trivial tool through the full fleet runtime vs the same tool on bare FastMCP.

Both servers run in their own process with uvicorn, stateless streamable HTTP on 127.0.0.1; the
full one has API-key auth, limits (rate limit on, generous), Prometheus metrics and JSON logs
(written to a file, as a pod's stdout would be). The client sends raw JSON-RPC tools/call POSTs
over one keep-alive connection, so the figures are per request, without client-library cost.

    python benchmarks/bench_runtime.py [--calls 2000] [--concurrency 8]

Prints p50/p99 latency (sequential calls), calls/s (concurrent), and full/bare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "bench-key-0123456789abcdef"
CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "bench_echo", "arguments": {"text": "hello"}}}


def build_tool_server(name: str):
    from mcpfleet.common.app import new_server

    mcp = new_server(name)

    @mcp.tool
    def bench_echo(text: str) -> str:
        """Repeat the text."""
        return text

    return mcp


def serve(kind: str, port: int) -> None:
    import uvicorn

    if kind == "bare":
        from fastmcp import FastMCP

        mcp = FastMCP("bench")

        @mcp.tool
        def bench_echo(text: str) -> str:
            """Repeat the text."""
            return text

        app = mcp.http_app(path="/bench/mcp", stateless_http=True, host_origin_protection="auto")
    else:
        from mcpfleet.common.app import build_http_app
        from mcpfleet.common.auth import hash_key
        from mcpfleet.common.settings import load_settings
        from mcpfleet.common.spec import ServerSpec
        from mcpfleet.common.telemetry import configure_logging

        settings = load_settings(
            auth={"api_keys": [{"name": "bench", "hash": hash_key(KEY)}]},
            limits={"rate_limit_per_minute": 10_000_000, "rate_limit_burst": 1_000_000},
        )
        configure_logging(settings.telemetry)
        spec = ServerSpec(name="bench", title="Bench", description="bench", build=lambda s: build_tool_server("bench"))
        app = build_http_app([spec], settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


async def measure(url: str, calls: int, concurrency: int, auth: bool) -> dict:
    import httpx2

    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = f"Bearer {KEY}"
    body = json.dumps(CALL).encode()
    async with httpx2.AsyncClient(timeout=10, limits=httpx2.Limits(max_connections=concurrency)) as client:
        async def one() -> float:
            started = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or "hello" not in response.text:
                raise RuntimeError(f"bad answer {response.status_code}: {response.text[:200]}")
            return elapsed

        for _ in range(min(200, calls)):  # warm up
            await one()
        latencies = [await one() for _ in range(calls)]

        async def worker(n: int) -> None:
            for _ in range(n):
                await one()

        started = time.perf_counter()
        await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
        throughput = (calls // concurrency * concurrency) / (time.perf_counter() - started)
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "calls_per_s": throughput,
    }


def start(kind: str, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ)
    return subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=log.open("w"), env=env,
    )


def wait_ready(port: int) -> None:
    import httpx2

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx2.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", choices=("full", "bare"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    from fleet_testing import free_port

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("bare", "full"):
            port = free_port()
            proc = start(kind, port, Path(tmp) / f"{kind}.log")
            try:
                wait_ready(port)
                results[kind] = asyncio.run(
                    measure(f"http://127.0.0.1:{port}/bench/mcp", args.calls, args.concurrency, auth=kind == "full")
                )
            finally:
                proc.terminate()
                proc.wait(timeout=15)
    for kind, r in results.items():
        print(f"{kind:>5}: p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  {r['calls_per_s']:.0f} calls/s")
    bare, full = results["bare"], results["full"]
    print(f"ratio full/bare: p50 {full['p50_ms'] / bare['p50_ms']:.3f}x  p99 {full['p99_ms'] / bare['p99_ms']:.3f}x  "
          f"throughput {full['calls_per_s'] / bare['calls_per_s']:.3f}x  (goal: p50 <= 1.15x)")


if __name__ == "__main__":
    main()
