"""The server template's shared pieces in common.app: annotation constants and `closers=`."""

from __future__ import annotations

import contextlib

from fastmcp import Client

from mcpfleet.common import app


async def test_closers_run_in_order_after_the_lifespan_even_when_one_fails():
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(server):
        events.append("start")
        yield {}
        events.append("lifespan end")

    async def first() -> None:
        events.append("first")
        raise RuntimeError("broken closer")

    async def second() -> None:
        events.append("second")

    server = app.new_server("closing", "test", lifespan=lifespan, closers=(first, second))

    @server.tool
    def ping() -> str:
        return "pong"

    async with Client(server) as client:
        assert (await client.call_tool("ping", {})).data == "pong"
        assert events == ["start"]
    assert events == ["start", "lifespan end", "first", "second"]


async def test_closers_without_a_lifespan():
    closed: list[bool] = []

    async def close() -> None:
        closed.append(True)

    server = app.new_server("closing", "test", closers=(close,))
    async with Client(server):
        assert closed == []
    assert closed == [True]


def test_read_only_annotations_leave_out_hints_the_spec_calls_meaningless():
    for hints in (app.READ_ONLY, app.READ_ONLY_REMOTE):
        assert hints["readOnlyHint"] is True
        assert "destructiveHint" not in hints and "idempotentHint" not in hints
    assert app.READ_ONLY_REMOTE["openWorldHint"] and not app.READ_ONLY["openWorldHint"]
    assert app.DESTRUCTIVE["destructiveHint"] and not app.WRITES["destructiveHint"]
