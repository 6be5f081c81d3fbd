"""One caller floods the Prolog pool with slow queries; how long does another caller wait?

Starts `mcpfleet serve prolog` (HTTP on loopback, two API keys) and, for `--seconds`, keeps
`--flood` slow queries (`repeat, fail`, each stopped by its own timeout) running as the flooder
while the victim sends a trivial query every half second. Prints the victim's latency (p50, p95,
max) and failures, and how many of the flooder's calls were refused with "you have N calls".

    python benchmarks/bench_fairness.py                # against this checkout
    python benchmarks/bench_fairness.py --python /tmp/oldvenv/bin/python   # another install

Measured on the 2-core development machine with other work running beside it (12 flooding calls
of 3 s each for 30 s; prolog pool of 2 workers; one run each):
    before (FIFO queue, no per-caller limits; commit b62e210):
        victim: 3 calls, p50 8.611 s, p95 11.533 s, max 11.533 s, failed 1
        ("no worker became free within 10s; try again later")
    after (one worker kept for others, fewest-running first, 4 calls per caller):
        victim: 40 calls, p50 0.166 s, p95 0.789 s, max 1.473 s, failed 0
        flooder: 650 calls refused at once ("you have 4 calls running or waiting")
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

REPO = Path(__file__).resolve().parent.parent
KEYS = {"flooder": "bench-flooder-0123456789", "victim": "bench-victim-0123456789"}


def hash_key(key: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def call(client: httpx2.AsyncClient, url: str, key: str, query: str, timeout: float) -> tuple[bool, str]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "prolog_query", "arguments": {"query": query, "timeout": timeout}},
    }
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"}
    response = await client.post(url, json=body, headers=headers, timeout=60)
    text = response.text
    if response.status_code != 200:
        return False, f"HTTP {response.status_code}"
    data = json.loads(text[text.index("{") :]) if "{" in text else {}
    result = data.get("result", {})
    message = " ".join(b.get("text", "") for b in result.get("content", []))
    return not result.get("isError", True), message


async def run(url: str, seconds: float, flood: int, slow: float) -> None:
    latencies: list[float] = []
    failures: list[str] = []
    refused = 0
    stop = time.monotonic() + seconds

    async with httpx2.AsyncClient() as client:

        async def flooder() -> None:
            nonlocal refused
            while time.monotonic() < stop:
                _ok, message = await call(client, url, KEYS["flooder"], "repeat, fail", slow)
                if "calls running or waiting" in message:
                    refused += 1
                    await asyncio.sleep(0.1)

        async def victim() -> None:
            await asyncio.sleep(1)  # the flood is on
            while time.monotonic() < stop:
                started = time.monotonic()
                ok, message = await call(client, url, KEYS["victim"], "X = 1", 5)
                latencies.append(time.monotonic() - started)
                if not ok:
                    failures.append(message[:120])
                await asyncio.sleep(0.5)

        await asyncio.gather(victim(), *(flooder() for _ in range(flood)))
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    print(
        f"victim: {len(latencies)} calls, p50 {statistics.median(latencies):.3f} s, p95 {p95:.3f} s, "
        f"max {latencies[-1]:.3f} s, failed {len(failures)}"
    )
    for message in sorted(set(failures))[:3]:
        print(f"  failure: {message}")
    print(f"flooder: {refused} calls refused at once for holding too many")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--flood", type=int, default=12)
    parser.add_argument("--slow", type=float, default=3, help="seconds each flooding query runs")
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the install to measure")
    args = parser.parse_args()
    port = free_port()
    keys = json.dumps([{"name": name, "hash": hash_key(key)} for name, key in KEYS.items()])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPFLEET_")}
    env.update(MCPFLEET_AUTH__API_KEYS=keys, MCPFLEET_LIMITS__RATE_LIMIT_PER_MINUTE="0")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [args.python, "-m", "mcpfleet", "serve", "prolog", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx2.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx2.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"the server did not start: {log.read().decode()[-1000:]}")
                time.sleep(0.2)
            asyncio.run(run(f"{base}/prolog/mcp", args.seconds, args.flood, args.slow))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
