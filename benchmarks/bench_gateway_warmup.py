"""The LiteLLM gateway's warm-up and its added latency per tool call (issue 21 §4). Printed only.

`mcpfleet serve echo math` (API-key auth) behind the real LiteLLM proxy (.tools/litellm, from
scripts/litellm-env.sh), configured by `mcpfleet config litellm`. Between them, unless --no-tap,
a logging hop on loopback records every request LiteLLM sends the fleet (JSON-RPC method, status,
time). The benchmark starts LiteLLM, waits for /health/liveliness, then opens client sessions
(initialize + tools/list, the way Claude Code's health check and Codex's start do) until three
have listed the fleet's tools, and prints per session: when it started after liveliness, how long
it took, and what LiteLLM asked the fleet meanwhile (by method and status: a 401 or 429 there
would be the fleet refusing the gateway). With --latency N: N `echo_say` calls in one session
through LiteLLM and N straight to the fleet, p50/p90.

    python benchmarks/bench_gateway_warmup.py [--latency 50] [--no-tap] [--no-prompts-resources]

--no-prompts-resources sets LiteLLM's `general_settings.mcp_disabled_capabilities: [prompts,
resources]` (the fleet serves tools only) to compare the upstream traffic per client session.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from fleet_testing import free_port, mcpfleet_cmd, subprocess_env  # noqa: E402
from litellm_testing import (  # noqa: E402 - the gateway tests' LiteLLM: keys, environment, config
    GATEWAY_KEY,
    KEY_ENV,
    LITELLM,
    MASTER,
    proxy_cmd,
    proxy_config,
    proxy_env,
)
from mcpfleet.common.auth import hash_key  # noqa: E402
from processes import running, wait_http  # noqa: E402

WAIT = 600  # seconds LiteLLM may take to come up at load 14

TAP = r"""
import json, sys, time
import httpx2, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

upstream, port, log = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "a", buffering=1)
client = httpx2.AsyncClient(base_url=upstream, timeout=60)

async def handle(request):
    body = await request.body()
    try:
        rpc = json.loads(body).get("method", "")
    except Exception:
        rpc = ""
    start = time.time()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
    r = await client.request(request.method, request.url.path, content=body, headers=headers)
    log.write(json.dumps({"t": start, "ms": (time.time() - start) * 1000, "rpc": rpc or request.method,
                          "path": request.url.path, "status": r.status_code}) + "\n")
    drop = ("content-length", "transfer-encoding", "content-encoding")
    return Response(r.content, status_code=r.status_code, headers={k: v for k, v in r.headers.items() if k.lower() not in drop})

uvicorn.run(Starlette(routes=[Route("/{p:path}", handle, methods=["GET", "POST", "DELETE"])]),
            host="127.0.0.1", port=port, log_level="warning")
"""


async def one_session(proxy: str) -> tuple[float, int, str | None]:
    client = Client(
        StreamableHttpTransport(f"{proxy}/mcp/", headers={"x-litellm-api-key": f"Bearer {MASTER}"}), timeout=120
    )
    start = time.perf_counter()
    try:
        async with client:
            tools = await client.list_tools()
        return time.perf_counter() - start, len(tools), None
    except Exception as exc:
        return time.perf_counter() - start, 0, f"{type(exc).__name__}: {str(exc)[:120]}"


def upstream(tap_log: Path, since: float, until: float) -> str:
    if not tap_log.exists():
        return ""
    rows = [json.loads(line) for line in tap_log.read_text().splitlines()]
    window = [r for r in rows if since <= r["t"] < until]
    methods = collections.Counter(r["rpc"] for r in window)
    statuses = collections.Counter(r["status"] for r in window)
    return f"{len(window)} to the fleet {dict(methods)} statuses {dict(statuses)}"


def p(values: list[float], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))] * 1000


async def latency(proxy: str, fleet: str, n: int) -> None:
    via, direct = [], []
    async with Client(
        StreamableHttpTransport(f"{proxy}/mcp/", headers={"x-litellm-api-key": f"Bearer {MASTER}"}), timeout=120
    ) as client:
        await client.call_tool("echo-echo_say", {"text": "x"})
        for _ in range(n):
            start = time.perf_counter()
            await client.call_tool("echo-echo_say", {"text": "x"})
            via.append(time.perf_counter() - start)
    async with Client(StreamableHttpTransport(f"{fleet}/echo/mcp", auth=GATEWAY_KEY), timeout=60) as client:
        await client.call_tool("echo_say", {"text": "x"})
        for _ in range(n):
            start = time.perf_counter()
            await client.call_tool("echo_say", {"text": "x"})
            direct.append(time.perf_counter() - start)
    print(
        f"tool call, one session, n={n}: through LiteLLM p50 {p(via, 0.5):.1f} ms p90 {p(via, 0.9):.1f} ms; "
        f"straight to the fleet p50 {p(direct, 0.5):.1f} ms p90 {p(direct, 0.9):.1f} ms; "
        f"added p50 {p(via, 0.5) - p(direct, 0.5):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=int, default=0, metavar="N")
    parser.add_argument("--no-tap", action="store_true")
    parser.add_argument("--no-prompts-resources", action="store_true")
    parser.add_argument("--sessions", type=int, default=3, help="sessions that must list the tools")
    args = parser.parse_args()
    if not LITELLM.exists():
        raise SystemExit(f"{LITELLM} is missing: bash scripts/litellm-env.sh")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        fleet_port, proxy_port = free_port(), free_port()
        fleet, proxy = f"http://127.0.0.1:{fleet_port}", f"http://127.0.0.1:{proxy_port}"
        with contextlib.ExitStack() as stack:
            keys = json.dumps([{"name": "litellm-gateway", "hash": hash_key(GATEWAY_KEY), "servers": ["*"]}])
            fleet_proc = stack.enter_context(
                running(
                    mcpfleet_cmd("serve", "echo", "math", "--port", str(fleet_port)),
                    tmp / "fleet.log",
                    env=subprocess_env(MCPFLEET_AUTH__API_KEYS=keys, MCPFLEET_TELEMETRY__LOG_FORMAT="json"),
                )
            )
            wait_http(f"{fleet}/readyz", fleet_proc, tmp / "fleet.log", timeout=WAIT)
            target, tap_log = fleet, tmp / "tap.log"
            if not args.no_tap:
                tap_port = free_port()
                (tmp / "tap.py").write_text(TAP)
                tap = stack.enter_context(
                    running([sys.executable, str(tmp / "tap.py"), fleet, str(tap_port), str(tap_log)], tmp / "tap.out")
                )
                target = f"http://127.0.0.1:{tap_port}"
                time.sleep(2)
                if tap.poll() is not None:
                    raise SystemExit("the logging hop did not start: " + (tmp / "tap.out").read_text()[-500:])
            rendered = subprocess.run(
                mcpfleet_cmd("config", "litellm", "echo", "math", "--url", target, "--key-env", KEY_ENV),
                capture_output=True,
                text=True,
                timeout=60,
                env=subprocess_env(),
                check=True,
            ).stdout
            general = ["mcp_disabled_capabilities: [prompts, resources]"] if args.no_prompts_resources else []
            (tmp / "litellm.yaml").write_text(proxy_config(rendered, *general))
            spawned = time.time()
            proxy_proc = stack.enter_context(
                running(proxy_cmd(tmp / "litellm.yaml", proxy_port), tmp / "litellm.log", env=proxy_env(tmp))
            )
            live = wait_http(f"{proxy}/health/liveliness", proxy_proc, tmp / "litellm.log", timeout=WAIT)
            print(f"LiteLLM live {live - spawned:.1f} s after start; load average {os.getloadavg()[0]:.1f}")
            print(f"  before live, LiteLLM's start-up listing: {upstream(tap_log, 0, live)}")
            listed, deadline = 0, time.monotonic() + 600
            while listed < args.sessions and time.monotonic() < deadline:
                start = time.time()
                took, n, error = asyncio.run(one_session(proxy))
                listed += n > 0
                print(f"  session at +{start - live:.1f} s: {took:.2f} s, {n} tools {error or ''}")
                print(f"    meanwhile {upstream(tap_log, start, time.time())}")
            if args.latency:
                asyncio.run(latency(proxy, fleet, args.latency))


if __name__ == "__main__":
    main()
