"""Runtime limits: per-tool timeout, per-caller rate limit, tool output cap, request body cap.

A call that passes a limit gets a clear error naming the limit; the server keeps serving.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict

import anyio
import mcp_types as mt
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from mcp_types import TextContent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcpfleet.common.auth import LOCAL_CALLER, current_caller
from mcpfleet.common.errors import LimitExceeded
from mcpfleet.common.settings import LimitSettings

TRUNCATION_MARKER = "\n\n[output truncated by mcpfleet: {shown} of {total} characters shown; ask for less, e.g. a smaller page]"


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


class LimitsMiddleware(Middleware):
    """Rate limit, then run the tool under its timeout, then cap the size of what it returns."""

    def __init__(self, server: str, settings: LimitSettings) -> None:
        self.server = server
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        self._output_schemas: dict[str, bool] = {}

    def timeout_for(self, tool: str) -> float:
        return self.settings.tool_timeouts.get(tool, self.settings.tool_timeout)

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        name = context.message.name
        caller = current_caller()
        # The local user (stdio, in process) started this server for themselves: not rate limited.
        wait = 0.0 if caller == LOCAL_CALLER else self.limiter.acquire(f"{caller}\0{self.server}")
        if wait > 0:
            raise LimitExceeded(
                f"rate limit reached for {caller!r} on {self.server!r} "
                f"({self.settings.rate_limit_per_minute} calls/minute); retry in {math.ceil(wait)} s"
            )
        timeout = self.timeout_for(name)
        try:
            with anyio.fail_after(timeout):
                result = await call_next(context)
        except TimeoutError:
            raise LimitExceeded(f"{name} took longer than its {timeout:g} s limit and was stopped") from None
        if isinstance(result, ToolResult):
            return cap_output(result, self.settings.max_output_chars)
        return result


def cap_output(result: ToolResult, limit: int) -> ToolResult:
    """Cut text content to `limit` characters in total, with a marker saying so.

    Structured content is kept only if it fits within the limit on its own; when it must be
    dropped the result becomes an error result, so clients do not reject it for missing the
    tool's output schema.
    """
    texts = [b.text for b in result.content if isinstance(b, TextContent)]
    text_total = sum(len(t) for t in texts)
    structured = result.structured_content
    structured_size = len(json.dumps(structured, default=str)) if structured is not None else 0
    if text_total <= limit and structured_size <= limit:
        return result
    joined = "\n\n".join(texts)
    room = max(0, limit - 200)
    marker = TRUNCATION_MARKER.format(shown=min(room, len(joined)), total=len(joined))
    content = [TextContent(type="text", text=joined[:room] + marker)]
    if structured_size <= limit:
        return ToolResult(content=content, structured_content=structured, meta=result.meta, is_error=result.is_error)
    return ToolResult(content=content, meta=result.meta, is_error=True)


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over `max_bytes` with 413 before they are parsed.

    The body is read (up to the cap) before the app runs and then replayed, so the MCP transport
    never sees a partial body and an oversized one costs at most `max_bytes` of memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32600, "message": f"request body larger than {max_bytes} bytes"},
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
