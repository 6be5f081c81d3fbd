"""The library internals the runtime relies on, in one place, each with a test (tests/common/test_compat.py).

An upgrade that breaks one of these assumptions fails here, loudly, with the library version in
the message, instead of silently changing behaviour somewhere else. Code elsewhere imports these
names instead of reaching into FastMCP, the MCP SDK, httpx2 or uvicorn itself. A flat module of
small named functions and constants.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import httpcore2
import httpx2
import mcp_types as mt


def replace_transport_pool(transport: httpx2.AsyncHTTPTransport, pool: httpcore2.AsyncConnectionPool) -> None:
    """Put `pool` under `transport` (common/http's DNS pinning).

    httpx2's `AsyncHTTPTransport` takes no `network_backend`, so the pinned pool replaces the one
    it built, its private `_pool`. If a release renames or retypes that attribute, raise rather
    than let requests go through a pool that resolves names itself.
    """
    if not isinstance(getattr(transport, "_pool", None), httpcore2.AsyncConnectionPool):
        raise RuntimeError(
            f"httpx2 {httpx2.__version__}: AsyncHTTPTransport has no _pool connection pool any more; "
            "DNS pinning cannot be installed (see common/compat.py)"
        )
    transport._pool = pool


# --- FastMCP's message texts (outcome classification, log demotion) -----------------------------

# The start of the ToolError FastMCP raises when a tool function raised something unexpected
# (server.py: `ToolError(f"Error calling tool {name!r}")` from the original exception), and of
# the log record it writes for it. Telemetry counts such an error as `internal`.
FASTMCP_CRASH_PREFIX = "Error calling tool"
# The start of FastMCP's log record for arguments that fail validation (logged at WARNING+).
FASTMCP_INVALID_ARGUMENTS_PREFIX = "Invalid arguments for tool"
# The start of FastMCP's NotFoundError text and log record for a tool name it does not have.
FASTMCP_UNKNOWN_TOOL_PREFIX = "Unknown tool"


# The MCP SDK's streamable HTTP transport's logger. Its one INFO line is "Terminating session:
# <id>", written after every stateless request with id None; telemetry sets it to WARNING.
SDK_TRANSPORT_LOGGER = "mcp.server.streamable_http"


# --- FastMCP's middleware dispatch ----------------------------------------------------------


def is_tool_call(context: Any) -> bool:
    """True when a middleware's `__call__` runs for a tool call, with the call's params.

    FastMCP (4.x) runs its middleware chain for a tools/call once, inside `FastMCP.call_tool`,
    with `context.method == "tools/call"` and `context.message` a `CallToolRequestParams`; a
    malformed request that fails before then passes the chain again (the "outer" pass) with the
    raw message, which the base class would give only to `on_message`/`on_request`. A middleware
    that overrides `__call__` with this test skips FastMCP's per-call hook dispatch (a handler
    chain of closures built for every call) and still sees exactly what `on_call_tool` would.
    """
    return context.method == "tools/call" and isinstance(context.message, mt.CallToolRequestParams)


# --- FastMCP's and the MCP SDK's HTTP auth ---------------------------------------------------


def sdk_auth_user() -> tuple[type, Any]:
    """The SDK's `AuthenticatedUser` and `auth_context_var` (imported when asked: the SDK's auth).

    The auth layers put an `AuthenticatedUser` in `scope["user"]`, and AuthContextMiddleware
    sets it in `auth_context_var` for the request; FastMCP's `get_access_token()` reads the
    first (through the request), then the second.
    """
    from mcp.server.auth.middleware.auth_context import auth_context_var
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser

    return AuthenticatedUser, auth_context_var


def fastmcp_auth_layers() -> tuple[type, ...]:
    """The ASGI layers FastMCP's `AuthProvider.get_middleware()` puts in front of an endpoint.

    `auth.BearerAuthMiddleware` replaces exactly these (Starlette's AuthenticationMiddleware
    with the SDK's BearerAuthBackend, then the SDK's AuthContextMiddleware) with one layer that
    does what they do, verifying a token the HTTP guard has verified only once.
    """
    from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
    from starlette.middleware.authentication import AuthenticationMiddleware

    return AuthenticationMiddleware, AuthContextMiddleware


def sdk_bearer_token(scope: Any) -> str | None:
    """The token as the SDK's `BearerAuthBackend` reads it from a request: see `sdk_bearer_value`."""
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            return sdk_bearer_value(value)
    return None


def sdk_bearer_value(header: bytes | None) -> str | None:
    """The token in the request's first `authorization` header as the SDK's `BearerAuthBackend`
    reads it: the value (latin-1) when it starts with "bearer " (any case), without those 7
    characters, nothing stripped; None for another scheme or no header."""
    if header is None:
        return None
    value = header.decode("latin-1")
    return value[7:] if value[:7].lower() == "bearer " else None


# --- FastMCP's transport ----------------------------------------------------------------------


def current_transport() -> str | None:
    """The transport of the running request ("stdio", "streamable-http", "sse"), or None.

    FastMCP keeps it in the private context variable `fastmcp.server.context._current_transport`,
    set by `run_async`/`http_app` for every request.
    """
    from fastmcp.server.context import _current_transport

    return _current_transport.get()


HTTP_TRANSPORTS = frozenset({"streamable-http", "sse"})


# --- uvicorn's h11 protocol -------------------------------------------------------------------


def h11_protocol_class() -> type:
    """uvicorn's h11 protocol class, which `limits.guarded_h11_protocol` subclasses.

    The subclass relies on its attributes `cycle` (None between requests, else an object with
    `response_complete`), `transport` and `loop`, and on `connection_made`, `data_received`
    and `connection_lost` being the asyncio.Protocol entry points.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return H11Protocol


# --- the standard library's JSON encoder ---------------------------------------------------------


def flat_json_encoder() -> Callable[[dict], str]:
    """`json.JSONEncoder(ensure_ascii=False, check_circular=False).encode` for a flat dict of
    str/int/float/bool/None values (a log line), with the C encoder built once, not per line.

    `JSONEncoder.iterencode` builds `json.encoder.c_make_encoder(...)` anew for every call; this
    builds it once with the same arguments. Without the C encoder it is the plain `encode`.
    """
    import json.encoder

    encoder = json.JSONEncoder(ensure_ascii=False, check_circular=False)
    make = getattr(json.encoder, "c_make_encoder", None)  # None where the C accelerator is missing
    if make is None:
        return encoder.encode
    encode = make(
        None,
        encoder.default,
        json.encoder.encode_basestring,
        None,
        encoder.key_separator,
        encoder.item_separator,
        False,
        False,
        True,
    )

    def encode_flat(entry: dict) -> str:
        return "".join(encode(entry, 0))

    return encode_flat


# --- versions, for the tests' messages --------------------------------------------------------


def versions() -> str:
    """The installed versions this module's assumptions were checked against, for messages."""
    return ", ".join(f"{name} {version(name)}" for name in ("fastmcp", "mcp", "starlette", "uvicorn"))


# FastMCP builds its session-state store lazily in `FastMCP._state_store` and keeps it in this
# name-mangled attribute (`self.__state_store`, None until first use); `_state_storage` is the
# `session_state_store=` it was given. common.session_state puts its own store there.
FASTMCP_STATE_STORE = "_FastMCP__state_store"
FASTMCP_STATE_STORAGE = "_state_storage"
