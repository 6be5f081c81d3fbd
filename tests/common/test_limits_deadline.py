"""The tool deadline's timer: it stops a slow call, and holds nothing of the call once it ends."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import anyio
import anyio.to_thread
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import ECHO
from mcpfleet.common.app import build_server, new_server
from mcpfleet.common.settings import load_settings
from mcpfleet.common.spec import ServerSpec

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


async def test_a_call_waiting_on_a_thread_keeps_its_slot_and_still_answers_with_the_limit():
    # anyio shields a wait for a worker thread from cancellation: the call ends when its thread
    # does, so the thread limiter stays a bound on threads (a cancel that broke through would
    # free the slot and leave the thread running: clients retrying could start threads without
    # end). The late answer is dropped: the caller hears of the limit.
    release = threading.Event()
    slots: list[float] = []

    def build(settings):
        mcp = new_server("held")

        @mcp.tool
        async def held_wait() -> str:
            """Wait in a worker thread."""
            await anyio.to_thread.run_sync(release.wait, 30)
            return "released"

        return mcp

    def release_later() -> None:  # after the deadline, while the call waits on its thread
        slots.append(anyio.to_thread.current_default_thread_limiter().borrowed_tokens)
        release.set()

    spec = ServerSpec(name="held", title="Held", description="A tool that waits in a thread.", build=build)
    built = build_server(spec, load_settings(limits={"tool_timeouts": {"held_wait": 0.3}}))
    asyncio.get_running_loop().call_later(1.0, release_later)
    try:
        async with Client(built.server) as client:
            with pytest.raises(ToolError, match=r"held_wait took longer than its 0.3 s limit"):
                await client.call_tool("held_wait", {})
            assert release.is_set() and slots and slots[0] >= 1  # its slot was held until the end
            release.clear()
            release_again = asyncio.get_running_loop().call_later(0.05, release.set)
            assert (await client.call_tool("held_wait", {})).content[0].text == "released"  # in time: fine
            release_again.cancel()
    finally:
        release.set()
