"""Each library internal that common/compat.py relies on, checked against the installed version."""

from __future__ import annotations

import json
import logging

import anyio
import fastmcp
import httpcore2
import httpx2
import pytest
from fastmcp import Client, FastMCP
from fastmcp.exceptions import NotFoundError, ToolError
from fastmcp.exceptions import ValidationError as FastMCPValidationError
from fastmcp.server.middleware import Middleware

from mcpfleet.common.compat import (
    FASTMCP_CRASH_PREFIX,
    FASTMCP_INVALID_ARGUMENTS_PREFIX,
    FASTMCP_UNKNOWN_TOOL_PREFIX,
    HTTP_TRANSPORTS,
    current_transport,
    h11_protocol_class,
    is_tool_call,
    replace_transport_pool,
    versions,
)


def test_httpx2_transport_pool_can_be_replaced() -> None:
    transport = httpx2.AsyncHTTPTransport()
    pool = httpcore2.AsyncConnectionPool()
    assert isinstance(transport._pool, httpcore2.AsyncConnectionPool), (
        f"httpx2 {httpx2.__version__}: AsyncHTTPTransport._pool is gone; DNS pinning (common/http) needs it"
    )
    replace_transport_pool(transport, pool)
    assert transport._pool is pool


def test_a_transport_without_the_pool_is_refused_loudly() -> None:
    transport = httpx2.AsyncHTTPTransport()
    del transport._pool  # what a release that renames the attribute would look like
    with pytest.raises(RuntimeError, match=rf"httpx2 {httpx2.__version__}: .*DNS pinning cannot be installed"):
        replace_transport_pool(transport, httpcore2.AsyncConnectionPool())


# --- FastMCP and uvicorn (the runtime: telemetry, limits, auth) -------------------------------

VERSIONS = versions()


def _server() -> FastMCP:
    server = FastMCP("compat", mask_error_details=True, strict_input_validation=True)

    @server.tool
    def crash() -> str:
        """Fails unexpectedly."""
        raise RuntimeError("secret detail")

    @server.tool
    def add(a: int, b: int) -> int:
        """Adds."""
        return a + b

    @server.tool
    def transport() -> str:
        """The transport this call came over."""
        return str(current_transport())

    return server


class _Recorder(Middleware):
    """Records what each `__call__` saw, as a middleware that overrides `__call__` does."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, bool, str | None]] = []

    async def __call__(self, context, call_next):
        name = getattr(context.message, "name", None) if is_tool_call(context) else None
        self.seen.append((context.method, is_tool_call(context), name))
        return await call_next(context)


@pytest.fixture
def fastmcp_records(caplog):
    caplog.set_level(logging.DEBUG, logger="fastmcp")
    return caplog


async def test_an_unexpected_tool_exception_is_a_toolerror_with_the_crash_prefix(fastmcp_records) -> None:
    with pytest.raises(ToolError) as raised:
        await _server().call_tool("crash", {})
    assert str(raised.value).startswith(FASTMCP_CRASH_PREFIX), (
        f"{VERSIONS}: FastMCP's masked crash reads {str(raised.value)!r}; telemetry's 'internal' outcome needs "
        f"the prefix {FASTMCP_CRASH_PREFIX!r} (common/compat.py)"
    )
    assert isinstance(raised.value.__cause__, RuntimeError), f"{VERSIONS}: the crash is no longer the ToolError's cause"
    assert "secret detail" not in str(raised.value)
    logged = [r.getMessage() for r in fastmcp_records.records if r.name == "fastmcp.server.server"]
    assert any(m.startswith(FASTMCP_CRASH_PREFIX) for m in logged), (
        f"{VERSIONS}: FastMCP no longer logs a crash as {FASTMCP_CRASH_PREFIX!r}...; logged: {logged}"
    )


async def test_bad_arguments_are_logged_with_the_invalid_arguments_prefix(fastmcp_records) -> None:
    with pytest.raises(FastMCPValidationError):
        await _server().call_tool("add", {"a": "not a number", "b": 1})
    # Written by the logger telemetry's filter watches (which may already have demoted it to INFO).
    logged = [r.getMessage() for r in fastmcp_records.records if r.name == "fastmcp.server.server"]
    assert any(m.startswith(FASTMCP_INVALID_ARGUMENTS_PREFIX) for m in logged), (
        f"{VERSIONS}: FastMCP's record for bad arguments no longer starts with "
        f"{FASTMCP_INVALID_ARGUMENTS_PREFIX!r} on fastmcp.server.server (the log filter demotes it); logged: {logged}"
    )


async def test_an_unknown_tool_is_notfound_with_the_unknown_tool_prefix() -> None:
    with pytest.raises(NotFoundError) as raised:
        await _server().call_tool("no_such_tool", {})
    assert str(raised.value).startswith(FASTMCP_UNKNOWN_TOOL_PREFIX), (
        f"{VERSIONS}: FastMCP's unknown-tool error reads {str(raised.value)!r}, not {FASTMCP_UNKNOWN_TOOL_PREFIX!r}..."
    )


async def test_a_tool_call_passes_a_call_override_once_as_a_tool_call() -> None:
    server = _server()
    recorder = _Recorder()
    server.add_middleware(recorder)
    async with Client(server) as client:
        await client.list_tools()
        recorder.seen.clear()
        assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5
    tool_calls = [s for s in recorder.seen if s[1]]
    assert tool_calls == [("tools/call", True, "add")], (
        f"{VERSIONS}: a tools/call reached a __call__ override as {recorder.seen}; compat.is_tool_call "
        "expects one pass with CallToolRequestParams (telemetry and limits would run twice or never)"
    )
    async with Client(server) as client:
        recorder.seen.clear()
        await client.list_tools()
    assert recorder.seen and not any(s[1] for s in recorder.seen), f"{VERSIONS}: tools/list looked like a tool call"


def _raw_post(app, body: bytes) -> tuple[int, bytes]:
    async def go() -> tuple[int, bytes]:
        sent: list[dict] = []
        delivered = False

        async def receive():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep_forever()

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/mcp",
            "raw_path": b"/mcp",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"accept", b"application/json, text/event-stream"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
        }
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    return anyio.run(go)


def _call(name: str, arguments: object) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    ).encode()


def test_over_http_the_transport_is_streamable_http_and_a_malformed_call_is_no_tool_call() -> None:
    server = _server()
    recorder = _Recorder()
    server.add_middleware(recorder)
    app = server.http_app(path="/mcp", stateless_http=True)
    status, body = _raw_post(app, _call("transport", {}))
    assert status == 200 and b"streamable-http" in body, (
        f"{VERSIONS}: over HTTP compat.current_transport() answered {body[:300]!r}; "
        "fastmcp.server.context._current_transport moved (auth.current_caller needs it)"
    )
    recorder.seen.clear()
    _raw_post(app, _call("add", "not an object"))  # fails params validation before the tool's chain
    assert not any(s[1] for s in recorder.seen), (
        f"{VERSIONS}: a malformed tools/call reached __call__ as a tool call: {recorder.seen}"
    )


async def test_in_process_the_transport_is_not_http() -> None:
    async with Client(_server()) as client:
        answer = (await client.call_tool("transport", {})).data
    assert answer not in HTTP_TRANSPORTS, f"{VERSIONS}: an in-process call reports transport {answer!r}"


def test_uvicorn_h11_protocol_has_what_the_header_guard_uses() -> None:
    import asyncio

    from uvicorn.config import Config
    from uvicorn.server import ServerState

    protocol_class = h11_protocol_class()
    loop = asyncio.new_event_loop()
    try:
        config = Config(app=None, log_config=None)
        config.load()  # type: ignore[no-untyped-call]
        protocol = protocol_class(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    except Exception as exc:  # pragma: no cover - only on an incompatible uvicorn
        pytest.fail(
            f"{VERSIONS}: uvicorn's H11Protocol can no longer be built as limits.guarded_h11_protocol does: {exc}"
        )
    finally:
        loop.close()
    assert protocol.cycle is None and protocol.loop is loop, (
        f"{VERSIONS}: H11Protocol no longer starts with cycle None and the given loop (the header guard reads both)"
    )
    for method in ("connection_made", "data_received", "connection_lost"):
        assert callable(getattr(protocol_class, method, None)), f"{VERSIONS}: H11Protocol has no {method}"


# --- HTTP auth: the layers auth.BearerAuthMiddleware replaces ----------------------------------


def test_fastmcp_auth_providers_put_the_two_layers_we_replace_in_front() -> None:
    from fastmcp.server.auth import TokenVerifier
    from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend

    from mcpfleet.common.compat import fastmcp_auth_layers

    layers = TokenVerifier().get_middleware()  # the base class's, which the fleet's providers override
    assert tuple(m.cls for m in layers) == fastmcp_auth_layers(), (
        f"{versions()}: FastMCP's auth middleware changed; auth.BearerAuthMiddleware must do what it does"
    )
    assert isinstance(layers[0].kwargs["backend"], BearerAuthBackend)


HEADER_CASES = [
    [],
    [(b"authorization", b"Bearer abc")],
    [(b"authorization", b"bearer abc")],
    [(b"authorization", b"BEARER  two-spaces")],
    [(b"authorization", b"Bearer abc "), (b"host", b"x")],
    [(b"authorization", b"Basic dXNlcjpwYXNz")],
    [(b"authorization", b"Bearer")],
    [(b"authorization", b"Bearer ")],
    [(b"authorization", b"Bearer\tabc")],
    [(b"authorization", "Bearer caf\u00e9".encode("latin-1"))],
    [(b"host", b"x"), (b"authorization", b"Bearer first"), (b"authorization", b"Bearer second")],
]


@pytest.mark.parametrize("headers", HEADER_CASES)
async def test_the_token_is_read_as_the_sdks_bearer_backend_reads_it(headers) -> None:
    from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
    from starlette.requests import HTTPConnection

    from mcpfleet.common.compat import sdk_bearer_token

    seen: list[str] = []

    class Recording:
        async def verify_token(self, token: str):
            seen.append(token)
            return None

    scope = {"type": "http", "headers": headers}
    await BearerAuthBackend(Recording()).authenticate(HTTPConnection(scope))  # type: ignore[arg-type]
    assert sdk_bearer_token(scope) == (seen[0] if seen else None)


async def test_get_access_token_reads_the_sdks_user_and_context_variable() -> None:
    from fastmcp.server.auth import AccessToken
    from fastmcp.server.dependencies import get_access_token

    from mcpfleet.common.compat import sdk_auth_user

    user_class, context_var = sdk_auth_user()
    access = AccessToken(token="", client_id="key:alice", scopes=[])
    reset = context_var.set(user_class(access))
    try:
        assert get_access_token() is access
    finally:
        context_var.reset(reset)
    assert get_access_token() is None


FLAT_ENTRIES = [
    {},
    {"message": 'quote " newline \n tab \t nul \x00', "caller": "jwt:https://idp/ré:用户", "n": 3},
    {"ok": True, "no": False, "nothing": None, "big": 10**30, "neg": -0.0, "ms": 0.1 + 0.2},
    {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "lone surrogate": "\ud800"},
]


@pytest.mark.parametrize("entry", FLAT_ENTRIES)
def test_the_log_lines_json_encoder_writes_what_json_dumps_writes(entry) -> None:
    from mcpfleet.common.compat import flat_json_encoder

    assert flat_json_encoder()(entry) == json.dumps(entry, ensure_ascii=False), versions()


def test_the_sdk_transports_only_info_line_is_its_terminating_session_line() -> None:
    import inspect
    import re

    import mcp.server.streamable_http as transport

    from mcpfleet.common.compat import SDK_TRANSPORT_LOGGER

    assert transport.logger.name == SDK_TRANSPORT_LOGGER, versions()
    # Telemetry sets this logger to WARNING for that line alone: a new INFO line must be looked at.
    infos = re.findall(r"logger\.info\((.*)\)", inspect.getsource(transport))
    assert infos == ['f"Terminating session: {self.mcp_session_id}"'], f"{versions()}: {infos}"


def test_fastmcp_keeps_its_session_state_store_where_session_state_installs_one():
    from mcpfleet.common.compat import FASTMCP_STATE_STORAGE, FASTMCP_STATE_STORE

    server = FastMCP("compat")
    assert getattr(server, FASTMCP_STATE_STORE, "missing") is None, (
        f"fastmcp {fastmcp.__version__}: FastMCP no longer keeps its lazy session-state store in "
        f"{FASTMCP_STATE_STORE} (common/session_state.py installs the fleet's there)"
    )
    assert getattr(server, FASTMCP_STATE_STORAGE, "missing") is None
    marker = object()
    setattr(server, FASTMCP_STATE_STORE, marker)
    assert server._state_store is marker  # the property FastMCP reads and writes state through
