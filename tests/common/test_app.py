"""The server template's shared pieces in common.app: annotation constants and `closers=`."""

from __future__ import annotations

import contextlib

from fastmcp import Client
from fastmcp.tools.base import ToolResult

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


class _Typed:
    """A template logic result: structured content and the text the model reads."""

    def as_dict(self) -> dict:
        return {"count": 2, "items": ["a", "b"]}

    def text(self) -> str:
        return "2 items: a, b"


async def test_structured_answer_takes_a_typed_result_or_a_dict_through_a_real_call():
    server = app.new_server("answers", "test")

    @server.tool
    def typed() -> ToolResult:
        return app.structured_answer(_Typed())

    @server.tool
    def plain() -> ToolResult:
        return app.structured_answer({"text": "done", "value": 3})

    @server.tool
    def fallback() -> ToolResult:
        return app.structured_answer({"result": "x = 2"}, fallback_key="result")

    async with Client(server) as client:
        got = await client.call_tool("typed", {})
        assert got.content[0].text == "2 items: a, b"
        assert got.structured_content == {"count": 2, "items": ["a", "b"]}
        got = await client.call_tool("plain", {})
        assert got.content[0].text == "done" and got.structured_content == {"value": 3}
        got = await client.call_tool("fallback", {})
        assert got.content[0].text == "x = 2" and got.structured_content == {"result": "x = 2"}
