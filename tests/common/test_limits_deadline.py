"""The tool deadline: it stops a slow call, even one waiting on a thread, tells its own cancellation
from anyone else's, and its timer holds nothing of the call once it ends."""

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
from mcpfleet.common.deadline import Deadline
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


async def test_the_deadline_stops_a_call_waiting_on_a_thread():
    # anyio shields a wait for a worker thread from its own cancel scopes: with a scope as the
    # deadline, this call answered only when its thread did (here: 30 s later, as if in time).
    release = threading.Event()

    def build(settings):
        mcp = new_server("held")

        @mcp.tool
        async def held_wait() -> str:
            """Wait in a worker thread."""
            await anyio.to_thread.run_sync(release.wait, 30)
            return "released"

        return mcp

    spec = ServerSpec(name="held", title="Held", description="A tool that waits in a thread.", build=build)
    built = build_server(spec, load_settings(limits={"tool_timeouts": {"held_wait": 0.3}}))
    try:
        async with Client(built.server) as client:
            with pytest.raises(ToolError, match=r"held_wait took longer than its 0.3 s limit"):
                await client.call_tool("held_wait", {})
            assert not release.is_set()  # answered while the thread still waits
    finally:
        release.set()


async def test_a_deadline_tells_its_own_cancellation_from_anyone_elses():
    async def run(seconds: float, cancel_from_outside: bool, swallow: bool = False) -> tuple[bool, int]:
        task = asyncio.current_task()
        assert task is not None
        deadline = Deadline(seconds)
        if cancel_from_outside:  # at 0.05 s, or with the deadline in the same turn of the loop
            asyncio.get_running_loop().call_at(min(deadline._handle.when(), task.get_loop().time() + 0.05), task.cancel)
        try:
            try:
                await asyncio.sleep(0.2)
            except asyncio.CancelledError:
                if not swallow:
                    raise
        except BaseException as exc:
            return deadline.end(exc), task.cancelling()
        return deadline.end(None), task.cancelling()

    async def in_task(*args: object) -> tuple[bool, int]:
        return await asyncio.create_task(run(*args))  # type: ignore[arg-type]

    assert await in_task(0.01, False) == (True, 0)  # its own: the call timed out, nothing left pending
    assert await in_task(60, True) == (False, 1)  # someone else's: passed on as a cancellation
    assert await in_task(0.01, True) == (False, 1)  # both at once: someone else's still stands
    assert await in_task(0.01, False, True) == (False, 0)  # swallowed by the call: taken back
