"""Turns ServerSpecs into running servers: one server over stdio, or many in one ASGI app.

HTTP layout (one app, any number of servers):

    /<name>/mcp                                  streamable HTTP, stateless (any replica answers)
    /healthz                                     alive
    /readyz                                      every mounted server ready (503 + reasons if not)
    /metrics                                     Prometheus text
    /.well-known/oauth-protected-resource/<name>/mcp   RFC 9728 metadata (JWT issuer configured)
    /                                            JSON index of the mounted servers
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpfleet import __version__
from mcpfleet.common import session_state
from mcpfleet.common.auth import FleetTokenVerifier, build_auth
from mcpfleet.common.errors import ConfigError
from mcpfleet.common.limits import LimitsMiddleware, RequestGuard, bearer_token, bearer_value, guarded_h11_protocol
from mcpfleet.common.settings import Settings
from mcpfleet.common.spec import ReadyCheck, ServerSpec, add_ready_check, ready_checks
from mcpfleet.common.telemetry import (
    Metrics,
    TelemetryMiddleware,
    configure_tracing,
    install_log_filters,
    shutdown_tracing,
)
from mcpfleet.common.workers import WorkerPool

log = logging.getLogger("mcpfleet.app")
READY_CHECK_TIMEOUT = 5.0
API_KEY_REFUSAL = (
    "This server needs an API key: send it as 'Authorization: Bearer <key>' (in a client's MCP "
    "configuration, a header). The fleet's operator issues keys with 'mcpfleet auth new-key'."
)


# Tool annotations (MCP ToolAnnotations), shared by every server. The spec calls destructiveHint
# and idempotentHint meaningful only when readOnlyHint is false, so read-only tools leave them out
# (every token of a definition is paid on every turn). openWorldHint: the tool reaches the internet.
READ_ONLY: dict[str, bool] = {"readOnlyHint": True, "openWorldHint": False}
READ_ONLY_REMOTE: dict[str, bool] = {"readOnlyHint": True, "openWorldHint": True}
WRITES: dict[str, bool] = {
    "readOnlyHint": False,
    "destructiveHint": False,
    "idempotentHint": True,
    "openWorldHint": False,
}
WRITES_REMOTE: dict[str, bool] = {**WRITES, "openWorldHint": True}
DESTRUCTIVE: dict[str, bool] = {
    "readOnlyHint": False,
    "destructiveHint": True,
    "idempotentHint": True,
    "openWorldHint": False,
}

Closer = Callable[[], Awaitable[None]]


def new_server(name: str, instructions: str | None = None, *, closers: Sequence[Closer] = (), **kwargs) -> FastMCP:
    """A FastMCP server with the fleet's defaults; servers' `build` functions start here.

    Error details of unexpected exceptions are masked (the runtime reports them with a request
    id); tool errors raised on purpose (`ToolError`, `FleetError`) reach the model as written.
    `closers` run in order when the server shuts down (after a given `lifespan`, if any); one
    that fails is logged and the rest still run.
    """
    kwargs.setdefault("mask_error_details", True)
    kwargs.setdefault("strict_input_validation", True)
    if closers:
        kwargs["lifespan"] = _closing_lifespan(kwargs.get("lifespan"), tuple(closers))
    return FastMCP(name, instructions=instructions, version=__version__, **kwargs)


def _closing_lifespan(inner, closers: Sequence[Closer]):
    @contextlib.asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict]:
        try:
            if inner is None:
                yield {}
            else:
                async with inner(server) as state:
                    yield state
        finally:
            for close in closers:
                try:
                    await close()
                except Exception:  # one failing closer must not leak the others
                    log.exception("closing %s failed", server.name)

    return lifespan


def new_pooled_server(
    name: str,
    instructions: str,
    pool: WorkerPool,
    *,
    ready: ReadyCheck | None = None,
    closers: Sequence[Closer] = (),
) -> FastMCP:
    """A server whose lifespan starts its worker pool and stops it (then `closers`) at shutdown.

    /readyz reports the server ready once the pool has live workers and `ready` (if any) agrees.
    """

    @contextlib.asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict]:
        await pool.start()
        yield {}

    server = new_server(name, instructions=instructions, lifespan=lifespan, closers=(pool.aclose, *closers))

    async def pool_ready() -> bool:
        return pool.ready and (ready is None or await ready())

    add_ready_check(server, pool_ready)
    return server


def structured_answer(result: Answer | dict, fallback_key: str | None = None) -> ToolResult:
    """A logic function's result as a tool result, in our own words (outside text: `untrusted_answer`).

    A typed result gives `text()` as the content and `as_dict()` as the structured content; a dict
    (a result that crossed a worker boundary) gives its `text` as content and the rest as structured
    content, or `result[fallback_key]` when it has no text.
    """
    if not isinstance(result, dict):
        return ToolResult(content=result.text(), structured_content=result.as_dict())
    text = str(result.pop("text", "")) or (str(result.get(fallback_key, "")) if fallback_key else "")
    return ToolResult(content=text, structured_content=result)


class Answer(Protocol):
    """What the template's logic modules return: the structured content and what the model reads."""

    def as_dict(self) -> dict[str, Any]: ...

    def text(self) -> str: ...


@dataclass
class BuiltServer:
    spec: ServerSpec
    server: FastMCP
    telemetry: TelemetryMiddleware
    limits: LimitsMiddleware
    tools: list[str] = field(default_factory=list)


def build_server(spec: ServerSpec, settings: Settings, metrics: Metrics | None = None) -> BuiltServer:
    """Build a spec's server and put the runtime's middleware around its tools."""
    server = spec.create(settings)
    if not isinstance(server, FastMCP):
        raise ConfigError(f"server {spec.name!r}: build() must return a FastMCP server")
    install_log_filters()
    # The fleet's session-state store: FastMCP's own imports py-key-value and beartype (~0.2 s of
    # CPU) on the first tools/list, which load_tool_names pays before /readyz.
    session_state.install(server)
    telemetry = TelemetryMiddleware(spec.name, metrics)
    limits = LimitsMiddleware(spec.name, settings.limits)
    # Outermost first: telemetry sees every outcome, including rate-limit refusals and timeouts.
    server.add_middleware(telemetry)
    server.add_middleware(limits)
    return BuiltServer(spec, server, telemetry, limits)


async def load_tool_names(built: BuiltServer) -> list[str]:
    """The server's tool names, read at start-up, before it reports ready."""
    # FastMCP builds its session-state store on the first tools/list (visibility rules read
    # session state). The fleet's (common.session_state, installed by build_server) costs a dict;
    # a configured `session_state_store` gets FastMCP's py-key-value adapter, whose import (with
    # beartype, 1-2 s of CPU on a shared machine) would fall on the first client's tools/list,
    # past Claude Code's 5 s health check under load ("tools fetch failed"): it is paid here,
    # before /readyz.
    if not session_state.installed(built.server):
        for module in ("key_value.aio.adapters.pydantic", "key_value.aio.stores.memory"):
            importlib.import_module(module)

    tools = await built.server.list_tools(run_middleware=False)
    built.tools = sorted({t.name for t in tools})
    built.telemetry.set_tools(built.tools)
    return built.tools


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Once a process, when its servers have started: collect, then leave what is alive (modules,
    servers, settings: ~120,000 objects) out of the cyclic collector's future passes (gc.freeze).

    A full collection walked all of it: ~80 ms each, every ~500 calls of a trivial tool, 0.15 ms
    a call on average and an 80 ms stall for the call it fell on. Reference counting still frees
    frozen objects; a frozen object that later becomes part of unreachable cycle is not collected
    (start-up objects live as long as the process).
    """
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


# --- HTTP -------------------------------------------------------------------------------------


def build_http_app(specs: Sequence[ServerSpec], settings: Settings) -> Starlette:
    """One ASGI app serving every spec at `/<name>/mcp`, with health, readiness and metrics."""
    if not specs:
        raise ConfigError("no servers to serve")
    configure_tracing(settings.telemetry)
    metrics = Metrics()
    built = [build_server(spec, settings, metrics) for spec in specs]
    allowed_hosts = _allowed_hosts(settings)
    routes: list[BaseRoute] = []
    mounts: list[Route | Mount] = []
    sub_apps = []
    verifiers: dict[str, FleetTokenVerifier] = {}
    for b in built:
        auth = build_auth(b.spec.name, b.spec.title, settings)
        b.server.auth = auth
        if auth is not None:
            verifier = auth if isinstance(auth, FleetTokenVerifier) else getattr(auth, "token_verifier", None)
            if isinstance(verifier, FleetTokenVerifier):
                verifiers[b.spec.name] = verifier
        sub = b.server.http_app(
            path="/mcp",
            stateless_http=True,
            host_origin_protection=True if allowed_hosts is not None else "auto",
            allowed_hosts=allowed_hosts,
            allowed_origins=settings.allowed_origins or None,
        )
        sub_apps.append(sub)
        mounts.append(Mount(f"/{b.spec.name}", app=sub))
        if auth is not None:
            # RFC 9728 metadata lives at the root of the origin, not under the mount; the
            # provider's resource URL already ends in /<name>/mcp.
            routes.extend(auth.get_well_known_routes(mcp_path="/mcp"))
    state = _FleetState(built)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        problems = await state.readiness()
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready", "servers": [b.spec.name for b in built]})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def index(request: Request) -> Response:
        # With auth on, the index is for a caller: only the servers their token may use.
        visible = built
        if verifiers:
            token = bearer_token(request.scope)
            visible = [b for b in built if token and await verifiers[b.spec.name].verify_token(token) is not None]
            if not visible:
                return JSONResponse(
                    {
                        "error": "unauthorized",
                        "error_description": "a valid bearer token is needed to list the servers",
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
        return JSONResponse(
            {
                "name": "mcpfleet",
                "version": __version__,
                "auth": settings.auth.enabled,
                "servers": [
                    {"name": b.spec.name, "title": b.spec.title, "endpoint": f"/{b.spec.name}/mcp", "tools": b.tools}
                    for b in visible
                ],
            }
        )

    async def authenticate(scope: Scope, authorization: bytes | None) -> str:
        # Only a server's MCP endpoint needs credentials (and carries bodies worth reading).
        name, _, rest = scope.get("path", "").strip("/").partition("/")
        verifier = verifiers.get(name)
        if verifier is None or rest.rstrip("/") != "mcp":
            return "open"
        token = bearer_value(authorization)
        if token is None or authorization is None:  # (the second for the type checker)
            return "refused"
        # verify_request keeps the answer in the scope: the server's auth layer does not verify again.
        return "ok" if await verifier.verify_request(scope, authorization, token) is not None else "refused"

    routes += [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/", index, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for sub in sub_apps:
                await stack.enter_async_context(sub.router.lifespan_context(sub))
            for b in built:
                await load_tool_names(b)
            freeze_startup_heap()
            state.started = True
            log.info("serving", extra={"servers": ",".join(b.spec.name for b in built)})
            try:
                yield
            finally:
                state.started = False
                shutdown_tracing()

    guard = {
        "max_bytes": settings.limits.max_request_bytes,
        "body_timeout": settings.limits.body_timeout,
        "authenticate": authenticate if verifiers else None,
        "refusal": None if settings.auth.jwt else API_KEY_REFUSAL,
    }
    endpoints = {f"/{b.spec.name}/mcp": (f"/{b.spec.name}", sub) for b, sub in zip(built, sub_apps, strict=True)}
    app = _FleetApp(endpoints, guard, routes=routes + mounts, lifespan=lifespan)
    app.state.fleet = state
    app.state.metrics = metrics
    return app


class _FleetApp(Starlette):
    """The fleet's ASGI app: `RequestGuard` in front of everything, one pure-ASGI layer.

    A request for a server's MCP endpoint (`/<name>/mcp`, the hot path) goes from the guard
    straight to that server's app, with the scope a `Mount` would give it; everything else
    (health, metrics, metadata, the index, other paths under a mount) goes through Starlette's
    error handling and router as usual. Same answers, without the outer router, its exception
    middleware and the mount's regex match on every tool call.
    """

    def __init__(self, endpoints: Mapping[str, tuple[str, ASGIApp]], guard: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._endpoints = endpoints
        self._entry = RequestGuard(self._dispatch, **guard)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        else:
            await self._entry(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self._endpoints.get(scope["path"]) if scope["type"] == "http" and not scope.get("root_path") else None
        if target is None:
            await super().__call__(scope, receive, send)
            return
        prefix, endpoint = target
        scope["app"] = self
        scope.update(app_root_path=scope.get("app_root_path", ""), root_path=prefix, path_params={}, endpoint=endpoint)
        await endpoint(scope, receive, send)


class _FleetState:
    def __init__(self, built: list[BuiltServer]) -> None:
        self.built = built
        self.started = False

    async def readiness(self) -> list[str]:
        if not self.started:
            return ["starting"]
        problems: list[str] = []
        for b in self.built:
            for check in ready_checks(b.server):
                try:
                    with anyio.fail_after(READY_CHECK_TIMEOUT):
                        ok = await check()
                except Exception as exc:  # a failing check is a readiness answer, not a crash
                    log.warning("ready check of %s failed: %s", b.spec.name, exc)
                    ok = False
                if not ok:
                    problems.append(f"{b.spec.name}: not ready")
        return problems


def _allowed_hosts(settings: Settings) -> list[str] | None:
    """Host headers to accept: None lets FastMCP protect loopback-bound servers only."""
    if not settings.allowed_hosts:
        return None
    hosts = list(settings.allowed_hosts)
    if settings.public_url:
        from urllib.parse import urlsplit

        public = urlsplit(settings.public_url)
        if public.hostname:
            hosts.append(public.netloc)
            hosts.append(public.hostname)
    return hosts


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_safety(settings: Settings) -> None:
    """Refuse to serve a non-loopback address without auth unless explicitly overridden."""
    if settings.auth.enabled or settings.insecure_no_auth or is_loopback(settings.host):
        return
    raise ConfigError(
        f"refusing to serve on {settings.host} without authentication: anyone who can reach this "
        "address could call every tool. Configure API keys (`mcpfleet auth new-key`, then "
        "MCPFLEET_AUTH__API_KEYS) or JWT (MCPFLEET_AUTH__JWT__JWKS_URL), bind to 127.0.0.1, or pass "
        "--insecure-no-auth if something in front of the fleet already authenticates callers."
    )


def uvicorn_config(app: Starlette, settings: Settings, **overrides):
    """How the fleet is served: header deadline (slowloris), connection cap, no server header."""
    import uvicorn

    options: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the fleet's JSON logging
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        http=guarded_h11_protocol(settings.limits.header_timeout),
        ws="none",  # the fleet serves no websockets: uvicorn's websocket support is never imported
        limit_concurrency=settings.limits.max_connections,
    )
    options.update(overrides)
    return uvicorn.Config(app, **options)


async def serve_http(specs: Sequence[ServerSpec], settings: Settings) -> None:
    import uvicorn

    check_bind_safety(settings)
    app = build_http_app(specs, settings)
    await uvicorn.Server(uvicorn_config(app, settings)).serve()


# --- stdio ------------------------------------------------------------------------------------


async def serve_stdio(spec: ServerSpec, settings: Settings) -> None:
    """One server over stdin/stdout, for clients that start it themselves (no auth: local user)."""
    configure_tracing(settings.telemetry)
    built = build_server(spec, settings, metrics=None)
    await load_tool_names(built)
    freeze_startup_heap()
    try:
        await built.server.run_async(transport="stdio", show_banner=False)
    finally:
        shutdown_tracing()
