"""The tool deadline's timer: it stops a slow call, and holds nothing of the call once it ends."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import ECHO
from mcpfleet.common.app import build_server
from mcpfleet.common.settings import load_settings

TIMEOUT = 123.0  # a deadline no other timer of a call has
probe: contextvars.ContextVar[object] = contextvars.ContextVar("probe")


@pytest.fixture
async def timers(monkeypatch):
    """Every timer scheduled on the running loop: (delay, the context it will run in, handle)."""
    loop = asyncio.get_running_loop()
    scheduled: list[tuple[float, contextvars.Context, asyncio.TimerHandle]] = []
    call_at = loop.call_at

    def recording(when, callback, *args, context=None):
        handle = call_at(when, callback, *args, context=context)
        scheduled.append((when - loop.time(), handle._context, handle))  # what the loop keeps
        return handle

    monkeypatch.setattr(loop, "call_at", recording)
    return scheduled


async def test_the_deadline_timer_keeps_none_of_the_calls_context(timers):
    settings = load_settings(limits={"tool_timeout": TIMEOUT})
    built = build_server(ECHO, settings)
    probe.set(object())  # in the context every task of the call copies
    async with Client(built.server) as client:
        assert (await client.call_tool("echo_say", {"text": "hi"})).content[0].text == "hi"
    deadlines = [(context, handle) for delay, context, handle in timers if TIMEOUT - 5 < delay <= TIMEOUT]
    assert len(deadlines) == 1
    context, handle = deadlines[0]
    # Cancelled when the call ended, and, while asyncio keeps it in its heap, it keeps no context
    # variable of the call alive (its request, session and caller are in the same context as probe).
    assert handle.cancelled() and probe not in context and len(context) == 0


async def test_the_deadline_still_stops_a_slow_call(timers):
    settings = load_settings(limits={"tool_timeout": 5, "tool_timeouts": {"echo_sleep": 0.3}})
    built = build_server(ECHO, settings)
    async with Client(built.server) as client:
        with pytest.raises(ToolError, match=r"echo_sleep took longer than its 0.3 s limit"):
            await client.call_tool("echo_sleep", {"seconds": 30})
        assert (await client.call_tool("echo_say", {"text": "after"})).content[0].text == "after"
