"""The base of the runtime's FastMCP middlewares: one hook, `on_call_tool`, reached straight from `__call__`."""

from __future__ import annotations

from typing import Any

from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext

from mcpfleet.common.compat import is_tool_call


class ToolCallMiddleware(Middleware):
    """A middleware that acts on tool calls only. `__call__` goes to `on_call_tool` for a tool
    call and passes everything else on, skipping FastMCP's per-call hook dispatch (see
    compat.is_tool_call); subclasses define `on_call_tool`."""

    async def __call__(self, context: MiddlewareContext, call_next: CallNext) -> Any:
        if is_tool_call(context):
            return await self.on_call_tool(context, call_next)
        return await call_next(context)
