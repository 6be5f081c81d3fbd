"""The shared check of the bad-input tests: a tool may answer or refuse, but never crash.

The runtime masks an unexpected exception as `internal error (request id ...)` (FastMCP's own
wrapper says `Error calling tool`): on caller input that is always a bug in the server.
"""

from __future__ import annotations

from fastmcp import Client
from fastmcp.exceptions import ToolError

CRASHED = ("internal error", "Error calling tool")


async def answer(client: Client, tool: str, args: dict):
    """The tool's result, or the message of its refusal; fails the test on an internal error."""
    try:
        return await client.call_tool(tool, args)
    except ToolError as exc:
        assert not str(exc).startswith(CRASHED), f"{tool}({args!r:.200}) crashed: {exc}"
        return str(exc)
