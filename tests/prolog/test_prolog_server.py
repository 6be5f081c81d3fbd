"""The prolog tools over real HTTP with auth: answers, per-caller isolation, refusals, limits."""

from __future__ import annotations

import os

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import KEYS, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import hash_key
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.prolog import SPEC

FAMILY = """
parent(tom, bob). parent(tom, liz). parent(bob, ann). parent(bob, pat). parent(pat, jim).
ancestor(X, Y) :- parent(X, Y).
ancestor(X, Y) :- parent(X, Z), ancestor(Z, Y).
"""


@pytest.fixture(scope="module")
def fleet():
    settings = load_settings(
        auth={"api_keys": [{"name": "alice", "hash": hash_key(KEYS["alice"])},
                           {"name": "bob", "hash": hash_key(KEYS["bob"])}]},
        workers={"size": 2},
        servers={"prolog": {"time_limit": 2, "max_time_limit": 5}},
    )
    with running_app(build_http_app([SPEC], settings)) as url:
        yield f"{url}/prolog/mcp"


def client(url: str, who: str) -> Client:
    return Client(url, auth=KEYS[who], timeout=60)


async def test_query_with_inline_program(fleet):
    async with client(fleet, "alice") as c:
        result = await c.call_tool("prolog_query", {"query": "ancestor(tom, X)", "program": FAMILY})
    found = {s["X"]["prolog"] for s in result.structured_content["solutions"]}
    assert found == {"bob", "liz", "ann", "pat", "jim"}
    assert result.structured_content["more"] is False


async def test_no_solution_is_an_answer(fleet):
    async with client(fleet, "alice") as c:
        result = await c.call_tool("prolog_query", {"query": "parent(jim, X)", "program": FAMILY})
    assert result.structured_content["solutions"] == [] and not result.is_error


async def test_knowledge_bases_belong_to_their_caller(fleet):
    async with client(fleet, "alice") as alice, client(fleet, "bob") as bob:
        stored = await alice.call_tool("prolog_consult", {"program": FAMILY, "kb": "family"})
        assert "ancestor/2" in stored.structured_content["predicates"]
        result = await alice.call_tool("prolog_query", {"query": "ancestor(bob, X)", "kb": ["family"]})
        assert {s["X"]["prolog"] for s in result.structured_content["solutions"]} == {"ann", "pat", "jim"}

        # bob cannot read, list, use or delete alice's knowledge base, and nothing leaks into his queries
        with pytest.raises(ToolError, match="no knowledge base named 'family'"):
            await bob.call_tool("prolog_query", {"query": "parent(X, Y)", "kb": ["family"]})
        assert (await bob.call_tool("prolog_kb", {"action": "list"})).structured_content["kbs"] == []
        with pytest.raises(ToolError, match="no knowledge base named 'family'"):
            await bob.call_tool("prolog_kb", {"action": "show", "kb": "family"})
        with pytest.raises(ToolError, match="no knowledge base named 'family'"):
            await bob.call_tool("prolog_kb", {"action": "delete", "kb": "family"})
        leaked = await bob.call_tool("prolog_query", {"query": "catch(parent(X, Y), _, fail)"})
        assert leaked.structured_content["solutions"] == []

        # bob's own kb of the same name is his own
        await bob.call_tool("prolog_consult", {"program": "parent(zed, zoe).", "kb": "family"})
        mine = await bob.call_tool("prolog_query", {"query": "parent(X, Y)", "kb": ["family"]})
        assert [s["X"]["prolog"] for s in mine.structured_content["solutions"]] == ["zed"]
        theirs = await alice.call_tool("prolog_kb", {"action": "show", "kb": "family"})
        assert "ancestor" in theirs.structured_content["program"]


async def test_consult_reports_syntax_errors_with_lines(fleet):
    async with client(fleet, "alice") as c:
        with pytest.raises(ToolError, match=r"not stored: line 2"):
            await c.call_tool("prolog_consult", {"program": "ok(1).\nbad(( .\n", "kb": "broken"})
        listed = await c.call_tool("prolog_kb", {"action": "list"})
    assert "broken" not in [k["kb"] for k in listed.structured_content["kbs"]]


@pytest.mark.parametrize("query", [
    "shell('touch /tmp/mcpfleet-prolog-pwned')",
    "open('/tmp/mcpfleet-prolog-pwned', write, S)",
    "halt",
    "G =.. [shell, 'touch /tmp/mcpfleet-prolog-pwned'], call(G)",
])
async def test_unsafe_goals_are_refused_and_server_keeps_serving(fleet, query):
    async with client(fleet, "alice") as c:
        with pytest.raises(ToolError) as info:
            await c.call_tool("prolog_query", {"query": query})
        assert "internal error" not in str(info.value)
        ok = await c.call_tool("prolog_query", {"query": "X is 6 * 7"})
    assert ok.structured_content["solutions"][0]["X"]["prolog"] == "42"
    assert not os.path.exists("/tmp/mcpfleet-prolog-pwned")


async def test_runaway_query_is_stopped(fleet):
    async with client(fleet, "alice") as c:
        with pytest.raises(ToolError, match=r"(?i)time|limit|stopped"):
            await c.call_tool("prolog_query", {"query": "repeat, fail", "timeout": 1})
        ok = await c.call_tool("prolog_query", {"query": "X = done"})
    assert ok.structured_content["solutions"][0]["X"]["prolog"] == "done"
