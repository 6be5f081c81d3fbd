"""Test-only servers and harness: small real servers (never shipped) that exercise the runtime.

Importable as `fleet_testing` (pytest's pythonpath and the subprocess helpers add tests/support),
so `MCPFLEET_PLUGINS='["fleet_testing:ECHO"]'` loads them into a real `mcpfleet serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated

import httpx2
import uvicorn
from pydantic import BaseModel, Field

from mcpfleet.common.app import new_server
from mcpfleet.common.auth import current_caller
from mcpfleet.common.errors import UserError
from mcpfleet.common.spec import ServerSpec, add_ready_check

KEYS = {"alice": "key-alice-0123456789", "bob": "key-bob-0123456789", "carol": "key-carol-0123456789"}

SUPPORT_DIR = Path(__file__).resolve().parent
REPO = SUPPORT_DIR.parent.parent


class Sum(BaseModel):
    total: float
    terms: int


def build_echo(settings):
    mcp = new_server("echo", instructions="Test server.")

    @mcp.tool(annotations={"readOnlyHint": True})
    def echo_say(text: Annotated[str, Field(max_length=10_000, description="text to repeat")]) -> str:
        """Repeat the text."""
        return text

    @mcp.tool
    def echo_add(a: float, b: float) -> Sum:
        """Add two numbers."""
        return Sum(total=a + b, terms=2)

    @mcp.tool
    async def echo_sleep(seconds: Annotated[float, Field(ge=0, le=60)]) -> str:
        """Sleep, then answer."""
        await asyncio.sleep(seconds)
        return "awake"

    @mcp.tool
    def echo_crash() -> str:
        """Fail with an unexpected exception."""
        raise RuntimeError("secret internal detail /etc/passwd")

    @mcp.tool
    def echo_refuse(reason: str) -> str:
        """Fail on purpose, like a tool refusing bad input."""
        raise UserError(f"cannot do that: {reason}")

    @mcp.tool
    def echo_big(chars: Annotated[int, Field(ge=0, le=5_000_000)]) -> str:
        """Return `chars` characters."""
        return "x" * chars

    @mcp.tool
    def echo_whoami() -> str:
        """The caller's identity as the runtime sees it."""
        return current_caller()

    return mcp


ECHO = ServerSpec(name="echo", title="Echo (tests)", description="Test-only echo server.", build=build_echo)

_READY = {"value": True}


def build_other(settings):
    mcp = new_server("other")

    @mcp.tool
    def other_ping() -> str:
        """Answer pong."""
        return "pong"

    async def ready() -> bool:
        return _READY["value"]

    add_ready_check(mcp, ready)
    return mcp


OTHER = ServerSpec(name="other", title="Other (tests)", description="Second test server.", build=build_other)


def set_other_ready(value: bool) -> None:
    _READY["value"] = value


# --- harness ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(app, host: str = "127.0.0.1", settings=None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields its base URL.

    With `settings`, it is served exactly as `mcpfleet serve` serves it (`uvicorn_config`).
    """
    port = free_port()
    if settings is not None:
        from mcpfleet.common.app import uvicorn_config

        config = uvicorn_config(app, settings, host=host, port=port)
    else:
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a `mcpfleet` subprocess that can load the test plugins."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPFLEET_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUPPORT_DIR), env.get("PYTHONPATH")]))
    env["MCPFLEET_PLUGINS"] = '["fleet_testing:ECHO", "fleet_testing:OTHER"]'
    env.update(extra)
    return env


def mcpfleet_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mcpfleet", *args]


@contextlib.contextmanager
def serving(tmp_path: Path, *args: str, host: str = "127.0.0.1", ready_timeout: float = 90,
            command: Sequence[str] = (), **env: str):
    """`mcpfleet serve ARGS` as a subprocess; yields (url, process, log path) once /readyz is 200.

    `command` is the program to run instead of this interpreter's `-m mcpfleet` (e.g. another
    venv's `bin/mcpfleet`)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*command, "serve", *args, "--host", host, "--port", str(port)] if command
            else mcpfleet_cmd("serve", *args, "--host", host, "--port", str(port)),
            stdout=subprocess.DEVNULL, stderr=err, env=subprocess_env(**env),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("server did not become ready")
            time.sleep(0.1)
        yield url, proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def json_lines(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            rows.append(json.loads(line))
    return rows
