"""Runtime limits: per-tool timeout, per-caller rate limit, tool output cap, and the HTTP guard.

A call that passes a limit gets a clear error naming the limit; the server keeps serving.
`RequestGuard` (ASGI, outermost) refuses duplicate Authorization headers, authenticates on the
headers before a byte of the body is read, and bounds a body in size and in time;
`GuardedH11Protocol` bounds the time a connection may take to send its headers (slowloris).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import anyio
import mcp_types as mt
from fastmcp.server.middleware import CallNext, MiddlewareContext
from fastmcp.tools.base import ToolResult
from mcp_types import TextContent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcpfleet.common.after_response import Collecting
from mcpfleet.common.auth import caller_key, current_caller, is_local, loggable, refuse_list_only
from mcpfleet.common.compat import h11_protocol_class
from mcpfleet.common.errors import LimitExceeded
from mcpfleet.common.middleware import ToolCallMiddleware
from mcpfleet.common.settings import LimitSettings
from mcpfleet.common.untrusted import CLOSE_TAG, OPEN_TAG

log = logging.getLogger("mcpfleet.limits")
TRUNCATION_MARKER = (
    "\n\n[output truncated by mcpfleet: {shown} of {total} characters shown; ask for less, e.g. a smaller page]"
)


class RateLimiter:
    """Token buckets per key, refilled continuously; the least recently used keys are evicted."""

    def __init__(self, per_minute: int, burst: int, max_keys: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, key: str, now: float | None = None) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


# A token bucket in one Redis hash, updated atomically; Redis's clock, so replicas agree.
_BUCKET_SCRIPT = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens, last = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisRateLimiter:
    """The same token buckets, shared by every replica through Redis (`limits.rate_limit_store`).

    Keys are `mcpfleet:rate:<hash>` and expire once a bucket would be full again. When Redis
    cannot be reached, each replica falls back to its own in-memory buckets (logged), so an
    outage weakens the limit to N replicas × the rate instead of stopping every call. After a
    failure Redis is left alone for `retry_after` seconds (a circuit breaker): an address that
    silently drops packets would otherwise cost every call the 2 s connect timeout.
    """

    def __init__(
        self,
        url: str,
        per_minute: int,
        burst: int,
        *,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            import redis.asyncio as redis
        except ImportError:
            from mcpfleet.common.errors import ConfigError

            raise ConfigError(
                "limits.rate_limit_store = redis://… needs the redis package: pip install redis"
            ) from None
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._redis = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_BUCKET_SCRIPT)
        self._errors = (redis.RedisError, OSError)
        self._fallback = RateLimiter(per_minute, burst)
        self._warned_at = -math.inf
        self._retry_after = retry_after
        self._clock = clock
        self._down_until = -math.inf

    async def acquire(self, key: str) -> float:
        if self.rate <= 0:
            return 0.0
        if self._clock() < self._down_until:
            return self._fallback.acquire(key)
        try:
            return float(await self._script(keys=[f"mcpfleet:rate:{key}"], args=[self.rate, self.burst]))
        except self._errors as exc:
            now = self._clock()
            self._down_until = now + self._retry_after
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning("rate limits are per replica while Redis is unreachable: %s", type(exc).__name__)
            return self._fallback.acquire(key)

    async def aclose(self) -> None:
        await self._redis.aclose()


class _LocalLimiter:
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def acquire(self, key: str) -> float:
        return self.limiter.acquire(key)


def rate_limiter(settings: LimitSettings) -> _LocalLimiter | RedisRateLimiter:
    """The limiter `settings.rate_limit_store` names: `memory` (per replica) or a redis:// URL."""
    store = settings.rate_limit_store
    if store == "memory":
        return _LocalLimiter(RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst))
    if store.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(store, settings.rate_limit_per_minute, settings.rate_limit_burst)
    from mcpfleet.common.errors import ConfigError

    raise ConfigError(f"limits.rate_limit_store must be 'memory' or a redis:// URL, not {store!r}")


class LimitsMiddleware(ToolCallMiddleware):
    """Rate limit, then run the tool under its timeout, then cap the size of what it returns."""

    def __init__(self, server: str, settings: LimitSettings) -> None:
        self.server = server
        self.settings = settings
        self.limiter = rate_limiter(settings)

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        name = context.message.name
        refuse_list_only()  # before the rate limit: a refused call uses no budget
        caller = current_caller()
        # The local user (stdio, in process) started this server for themselves: not rate limited.
        # No remote caller can be `local`: remote identities are namespaced (key:, jwt:).
        wait = 0.0 if is_local(caller) else await self.limiter.acquire(caller_key(caller) + ":" + self.server)
        if wait > 0:
            raise LimitExceeded(
                f"rate limit reached for {loggable(caller)!r} on {self.server!r} "
                f"({self.settings.rate_limit_per_minute} calls/minute); retry in {math.ceil(wait)} s"
            )
        timeout = self.settings.timeout_for(name)
        # anyio.fail_after's work, without its generator-based context manager (hot path) and with
        # a timer that holds nothing of the call (see _cancel_later).
        scope = anyio.CancelScope()
        timer = _cancel_later(scope, timeout)
        timed_out = False
        try:
            with scope:
                result = await call_next(context)
        except TimeoutError:
            timed_out = True  # a TimeoutError from inside the tool reads as the limit, as before
        finally:
            if timer is not None:
                timer.cancel()
        # cancel_called without cancelled_caught: the call ran past its deadline inside a shield
        # (anyio shields a wait for a worker thread, so the thread's slot stays taken until the
        # thread ends and the limiter stays a bound); its late answer is dropped all the same.
        if timed_out or scope.cancel_called:
            raise LimitExceeded(f"{name} took longer than its {timeout:g} s limit and was stopped")
        if isinstance(result, ToolResult):
            return cap_output(result, self.settings.max_output_chars)
        return result


def _cancel_later(scope: anyio.CancelScope, seconds: float) -> asyncio.TimerHandle | None:
    """Cancel `scope` (not yet entered) in `seconds`, as its deadline would.

    The timer is scheduled in an empty context. An event loop timer keeps the context it was
    scheduled in until it leaves the loop's heap, cancelled or not, and asyncio removes
    cancelled timers only in batches: a deadline set on the scope itself (anyio schedules it in
    the call's context: its request, session, caller) kept each call's objects alive for many
    calls after it ended, so they reached the collector's oldest generation, whose full
    collections then ran 2-3 times as often as bare FastMCP's (about 0.1 ms a call).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # another anyio backend (trio): the scope's own deadline
        scope.deadline = anyio.current_time() + seconds
        return None
    return loop.call_at(loop.time() + seconds, scope.cancel, context=contextvars.Context())


_encode_json = json.JSONEncoder(default=str, ensure_ascii=False).encode  # one encoder, not one per call


def cap_output(result: ToolResult, limit: int) -> ToolResult:
    """Cut text content to `limit` characters in total, with a marker saying so.

    Structured content is kept only if it fits within the limit on its own; when it must be
    dropped the result becomes an error result, so clients do not reject it for missing the
    tool's output schema.
    """
    texts = [b.text for b in result.content if isinstance(b, TextContent)]
    text_total = sum(len(t) for t in texts)
    structured = result.structured_content
    # Characters, as the text is counted (escaping non-ASCII would count a CJK page six times).
    structured_size = len(_encode_json(structured)) if structured is not None else 0
    if text_total <= limit and structured_size <= limit:
        return result
    joined = "\n\n".join(texts)
    room = max(0, limit - 200)
    shown = joined[:room]
    # Outside text cut inside its wrapper stays wrapped: the closing tag is put back.
    if shown.count(OPEN_TAG) > shown.count(CLOSE_TAG):
        shown += "\n" + CLOSE_TAG
    marker = TRUNCATION_MARKER.format(shown=min(room, len(joined)), total=len(joined))
    content = [TextContent(type="text", text=shown + marker)]
    if structured_size <= limit:
        return ToolResult(content=content, structured_content=structured, meta=result.meta, is_error=result.is_error)
    return ToolResult(content=content, meta=result.meta, is_error=True)


# Judges a request from its scope and its (first) Authorization header's raw value, if any:
# "ok": a caller the endpoint accepts; "refused": an endpoint's caller without valid credentials;
# "open": a path that needs no credentials (health, metadata) or is not an endpoint at all.
Authenticator = Callable[[Scope, "bytes | None"], Awaitable[str]]


class RequestGuard:
    """ASGI middleware in front of every route; see the module docstring.

    `authenticate(scope)` judges the request's credentials from its headers (see
    `Authenticator`). A refused request never has its body read or held: with `refusal` set
    (API keys only: there is no OAuth to discover) the guard answers 401 with that text;
    otherwise the app is called with an empty body and answers its own 401 with its RFC 9728
    challenge. A body sent to a path that is not an endpoint is not read either.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        body_timeout: float = 15.0,
        authenticate: Authenticator | None = None,
        refusal: str | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        self.authenticate = authenticate
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The headers the guard reads, in one pass: Authorization (exactly one, or none) and Content-Length.
        authorization = length = None
        authorizations = 0
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                authorizations += 1
                if authorization is None:
                    authorization = value
            elif key == b"content-length" and length is None:
                length = value
        if authorizations > 1:
            await _refuse(send, 400, "more than one Authorization header; send exactly one")
            return
        has_body = scope.get("method") not in ("GET", "HEAD", "OPTIONS", "DELETE")
        verdict = "ok" if self.authenticate is None else await self.authenticate(scope, authorization)
        if verdict == "refused" and self.refusal is not None and scope.get("method") != "OPTIONS":
            await _unauthorized(send, self.refusal, bearer_value(authorization) is not None)
            return
        if not has_body:
            await self.app(scope, receive, send)
            return
        if verdict != "ok":
            await self.app(scope, _empty_body, send)
            return
        declared = _content_length(length)
        if declared is not None and declared > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await self._read_body(receive)
        except TimeoutError:
            await _refuse(send, 408, f"the request body did not arrive within {self.body_timeout:g} s")
            return
        except _TooLarge:
            await _too_large(send, self.max_bytes)
            return
        if body is None:
            return  # client went away before sending its body
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        # The call's log line and metrics are written once its answer is out (after_response).
        with Collecting(send) as collecting:
            await self.app(scope, replay, collecting.send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _TooLarge(Exception):
    pass


async def _empty_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def bearer_token(scope: Scope) -> str | None:
    """The token of the request's one `Authorization: Bearer` header, if it has one."""
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            return bearer_value(value)
    return None


def bearer_value(header: bytes | None) -> str | None:
    """The token of an `Authorization` header's value when its scheme is Bearer (any case)."""
    if header is None:
        return None
    scheme, _, token = header.decode("latin-1").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _content_length(value: bytes | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


async def _unauthorized(send: Send, description: str, had_token: bool) -> None:
    # RFC 6750: no error attribute when no credentials were sent; no resource_metadata, since
    # there is no authorization server to discover when the fleet takes API keys only.
    challenge = 'Bearer realm="mcpfleet"' + (', error="invalid_token"' if had_token else "")
    body = json.dumps(
        {"error": "invalid_token" if had_token else "unauthorized", "error_description": description}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", challenge.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send, max_bytes: int) -> None:
    await _refuse(send, 413, f"request body larger than {max_bytes} bytes")


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def guarded_h11_protocol(header_timeout: float) -> type:
    """uvicorn's h11 protocol with a deadline for each request's headers (uvicorn has none).

    A connection that opens and then sends its request line and headers slowly, or nothing at
    all, is closed after `header_timeout` seconds instead of being held forever.
    """

    class GuardedH11Protocol(h11_protocol_class()):  # type: ignore[misc]
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._arm_header_timer()  # the next request on a kept-alive connection
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm_header_timer()  # headers are in; the body has its own deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            self._disarm_header_timer()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

    return GuardedH11Protocol
