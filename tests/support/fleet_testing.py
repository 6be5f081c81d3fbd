"""Test-only servers and harness: small real servers (never shipped) that exercise the runtime.

Importable as `fleet_testing` (pytest's pythonpath and the subprocess helpers add tests/support),
so `MCPFLEET_PLUGINS='["fleet_testing:ECHO"]'` loads them into a real `mcpfleet serve`.

The one way to build a server under test is `fleet_client` (always with the runtime):

    async with fleet_client("npm", settings) as c:                 # in memory, with the middleware
        await c.call_tool("npm_package", {"name": "alpha"})
    async with fleet_client("npm", settings, key="alice") as c:    # over HTTP on 127.0.0.1, with auth
        ...
    built = fleet_server("npm", settings)                          # when the test reads the server
    async with fleet_client(built) as c:                           # object itself (its caches, pools)
        ...
    with fleet_http("npm", with_test_keys(settings)) as url:       # raw HTTP: statuses, headers
        httpx2.post(f"{url}/npm/mcp", ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx2
import uvicorn
from pydantic import BaseModel, Field

from mcpfleet.common.app import new_server
from mcpfleet.common.auth import current_caller
from mcpfleet.common.errors import UserError
from mcpfleet.common.spec import ServerSpec, add_ready_check
from processes import stop

if TYPE_CHECKING:
    from fastmcp import Client

    from mcpfleet.common.app import BuiltServer
    from mcpfleet.common.settings import Settings

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


def spec_named(name: str) -> ServerSpec:
    """A server of the registry, or one of the test servers here (`echo`, `other`), by name."""
    from mcpfleet.registry import all_specs

    specs = {spec.name: spec for spec in [*all_specs(), ECHO, OTHER]}
    if name not in specs:
        raise KeyError(f"no server named {name!r}; known: {', '.join(sorted(specs))}")
    return specs[name]


def fleet_server(server: str | ServerSpec, settings: Settings | None = None) -> BuiltServer:
    """The server as the runtime builds it (`build_server`: telemetry and limits around its tools),
    for a test that also reads the server object (`built.server`) or the middleware."""
    from mcpfleet.common.app import build_server
    from mcpfleet.common.settings import load_settings

    spec = spec_named(server) if isinstance(server, str) else server
    return build_server(spec, settings if settings is not None else load_settings())


def with_test_keys(settings: Settings) -> Settings:
    """`settings` with alice, bob and carol (KEYS) as API keys, unless it configures auth itself."""
    from mcpfleet.common.auth import hash_key
    from mcpfleet.common.settings import ApiKey

    if settings.auth.enabled:
        return settings
    keys = [ApiKey(name=name, hash=hash_key(key)) for name, key in KEYS.items()]
    return settings.model_copy(update={"auth": settings.auth.model_copy(update={"api_keys": keys})})


@contextlib.asynccontextmanager
async def fleet_client(
    server: str | ServerSpec | BuiltServer,
    settings: Settings | None = None,
    *,
    key: str | None = None,
    http: bool = False,
    timeout: float = 60,
    **client_kwargs: Any,
) -> AsyncIterator[Client]:
    """An MCP client of one server, built and wrapped as `mcpfleet serve` does it.

    `server` is a registry name ("npm"), a `ServerSpec` (e.g. `ECHO`) or a `fleet_server(...)`.
    In memory by default: `build_server` puts the runtime's telemetry and limits middleware around
    the tools (a crash reads "internal error", timeouts and rate limits apply), and the client talks
    to it without a network. With `key` (a name of KEYS, or any other string as a token to try) or
    `http=True`, the server is mounted by `build_http_app` and served by uvicorn on 127.0.0.1 as
    `mcpfleet serve` serves it (auth, the request guard, host checks, /readyz); the client speaks
    streamable HTTP to `/<name>/mcp` with that bearer token. With a key and settings that
    configure no auth, KEYS become the API keys (`with_test_keys`), so a wrong key is refused.
    """
    from fastmcp import Client

    from mcpfleet.common.app import BuiltServer
    from mcpfleet.common.settings import load_settings

    settings = settings if settings is not None else load_settings()
    if key is None and not http:
        built = server if isinstance(server, BuiltServer) else fleet_server(server, settings)
        async with Client(built.server, timeout=timeout, **client_kwargs) as client:
            yield client
        return
    if isinstance(server, BuiltServer):
        raise TypeError("over HTTP the runtime builds the server itself: pass its name or spec")
    spec = spec_named(server) if isinstance(server, str) else server
    with fleet_http(spec, with_test_keys(settings) if key is not None else settings) as url:
        token = KEYS.get(key, key) if key is not None else None
        async with Client(f"{url}/{spec.name}/mcp", auth=token, timeout=timeout, **client_kwargs) as client:
            yield client


@contextlib.contextmanager
def fleet_http(server: str | ServerSpec, settings: Settings | None = None) -> Iterator[str]:
    """The HTTP half of `fleet_client` for tests that speak HTTP themselves: one server mounted by
    `build_http_app` and served on 127.0.0.1 as `mcpfleet serve` serves it; yields the base URL
    (the server's endpoint is `{url}/{name}/mcp`). Auth is what `settings` configure
    (`with_test_keys(settings)` for KEYS)."""
    from mcpfleet.common.app import build_http_app
    from mcpfleet.common.settings import load_settings

    spec = spec_named(server) if isinstance(server, str) else server
    settings = settings if settings is not None else load_settings()
    with running_app(build_http_app([spec], settings), settings=settings) as url:
        yield url


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
def serving(
    tmp_path: Path,
    *args: str,
    host: str = "127.0.0.1",
    ready_timeout: float = 90,
    command: Sequence[str] = (),
    **env: str,
):
    """`mcpfleet serve ARGS` as a subprocess; yields (url, process, log path) once /readyz is 200.

    `command` is the program to run instead of this interpreter's `-m mcpfleet` (e.g. another
    venv's `bin/mcpfleet`)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*command, "serve", *args, "--host", host, "--port", str(port)]
            if command
            else mcpfleet_cmd("serve", *args, "--host", host, "--port", str(port)),
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=subprocess_env(**env),
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
        stop(proc)


def json_lines(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            rows.append(json.loads(line))
    return rows


def tool_call_post(tool: str, arguments: dict, key: str | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a raw JSON-RPC tools/call POST to a stateless endpoint, with
    `key` (a token) as its bearer when given."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return json.dumps(body).encode(), headers


def eventually(check: Callable[[], object], seconds: float = 10, every: float = 0.02) -> object:
    """`check()` once it is truthy, asked again every `every` s for at most `seconds` (then its
    last answer): for what a server writes just after it has answered (its call log, metrics)."""
    deadline = time.monotonic() + seconds
    while not (answer := check()) and time.monotonic() < deadline:
        time.sleep(every)
    return answer
