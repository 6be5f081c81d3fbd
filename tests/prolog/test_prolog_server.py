"""The prolog tools over real HTTP with auth: answers, per-caller isolation, refusals, limits."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import KEYS, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import hash_key
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.prolog import SPEC
from redis_testing import redis_server

FAMILY = """
parent(tom, bob). parent(tom, liz). parent(bob, ann). parent(bob, pat). parent(pat, jim).
ancestor(X, Y) :- parent(X, Y).
ancestor(X, Y) :- parent(X, Z), ancestor(Z, Y).
"""


@pytest.fixture(scope="module")
def fleet():
    settings = load_settings(
        auth={
            "api_keys": [
                {"name": "alice", "hash": hash_key(KEYS["alice"])},
                {"name": "bob", "hash": hash_key(KEYS["bob"])},
            ]
        },
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


@pytest.mark.parametrize(
    "query",
    [
        "shell('touch /tmp/mcpfleet-prolog-pwned')",
        "open('/tmp/mcpfleet-prolog-pwned', write, S)",
        "halt",
        "G =.. [shell, 'touch /tmp/mcpfleet-prolog-pwned'], call(G)",
    ],
)
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


# --- goals run later by the engine (issue 15): refused over MCP, and nothing reaches other callers ---


def _planting(token: int, target: str) -> list[tuple[str, str]]:
    """(query, program) pairs that would plant a clause in the shared prelude and touch `target`."""
    plant = f"(assertz(mcp_prelude:planted({token})), shell('touch {target}'))"
    touch = f"shell('touch {target}')"
    return [
        (f"put_attr(X, freeze, {plant}), X = 1", ""),
        (f"put_attr(X, freeze, {touch}), X = 1", ""),
        (f"G = {touch}, put_attr(X, freeze, G), X = 1", ""),
        (f"put_attr(X, freeze, '$and'(true, {touch})), X = 1", ""),
        ("p(X), X = 1", f"p(X) :- put_attr(X, freeze, {touch})."),
        (f"freeze(X, true), get_attr(X, freeze, G), setarg(2, G, {plant}), X = 1", ""),
        (f'throw(error(format("~@", [{plant}]), _))', ""),
    ]


@pytest.fixture
def target():
    folder = tempfile.mkdtemp(prefix="mcpfleet-prolog-")
    os.chmod(folder, 0o777)  # writable by a worker that runs as another user
    yield os.path.join(folder, "pwned")
    shutil.rmtree(folder, ignore_errors=True)


async def test_attribute_escapes_are_refused_and_plant_nothing(fleet, target):
    token = int.from_bytes(os.urandom(6), "big")
    async with client(fleet, "alice") as alice, client(fleet, "bob") as bob:
        for query, program in _planting(token, target):
            try:
                result = await alice.call_tool("prolog_query", {"query": query, "program": program})
            except ToolError as refused:
                expected = (
                    "shell/1 is not allowed",
                    "assertz/1 is not allowed",
                    "module-qualified goals",
                    "cannot verify",
                    "uncaught exception: error(format(",
                )
                assert str(refused).startswith(expected), str(refused)
                assert "internal error" not in str(refused) and "Traceback" not in str(refused)
            else:  # the copy handed out by get_attr/3 was rewritten, not the stored goal
                assert "setarg" in query and result.structured_content["status"] == "ok"
        for who in (alice, bob):
            seen = await who.call_tool("prolog_query", {"query": "catch(planted(X), _, fail)"})
            assert seen.structured_content["solutions"] == []
    assert not os.path.exists(target)


async def test_consult_refuses_a_program_with_an_attribute_escape(fleet, target):
    async with client(fleet, "alice") as c:
        for program in (
            f"p(X) :- put_attr(X, freeze, shell('touch {target}')).",
            f"p(X) :- put_attr(X, freeze, '$and'(true, shell('touch {target}'))).",
            "p(X) :- put_attr(X, my_attr, 1).",
        ):
            with pytest.raises(ToolError, match=r"not stored: line 1: (shell/1|put_attr/3 with attribute module)"):
                await c.call_tool("prolog_consult", {"program": program, "kb": "escape"})
        listed = await c.call_tool("prolog_kb", {"action": "list"})
    assert "escape" not in [k["kb"] for k in listed.structured_content["kbs"]]
    assert not os.path.exists(target)


async def test_one_callers_queries_change_nothing_another_sees(fleet):
    plants = [
        ("assertz(secret(alice)), assertz(term_expansion(a, b)), assertz(append(x, y, z))", ":- dynamic secret/1."),
        ("true", "secret(alice).\nmember(leak, [leak]).\nportray(_)."),
        ("assertz(user:secret(alice))", ""),
        ("true", ":- module(user, []).\nsecret(alice)."),
        ("true", ":- dynamic user:secret/1.\nuser:secret(alice)."),
        ("true", "term_expansion(_, secret(alice))."),
        ("op(700, xfx, ===>)", ""),
        ("true", ":- op(700, xfx, ===>).\n:- set_prolog_flag(double_quotes, codes)."),
    ]
    async with client(fleet, "alice") as alice, client(fleet, "bob") as bob:
        for query, program in plants:
            try:
                await alice.call_tool("prolog_query", {"query": query, "program": program})
            except ToolError as refused:
                assert "internal error" not in str(refused)
        for _ in range(4):  # whichever worker answers
            seen = await bob.call_tool("prolog_query", {"query": "catch(secret(X), _, fail)"})
            assert seen.structured_content["solutions"] == []
            member = await bob.call_tool("prolog_query", {"query": "member(leak, [a])"})
            assert member.structured_content["status"] == "no"
            append = await bob.call_tool("prolog_query", {"query": "append(x, y, z)"})
            assert append.structured_content["status"] == "no"
            quoted = await bob.call_tool("prolog_query", {"query": 'X = "ab"'})
            assert quoted.structured_content["solutions"][0]["X"]["json"] == "ab"
            with pytest.raises(ToolError, match="syntax error"):
                await bob.call_tool("prolog_query", {"query": "X = (a ===> b)"})


def _children_running(initializer: str) -> list[int]:
    """Pids of this process's worker children started with `initializer`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"_worker_child" in argv and initializer.encode() in argv:
            pids.append(int(entry))
    return pids


async def test_the_redis_store_is_used_by_the_server_only(tmp_path, monkeypatch):
    password = "redis-secret-" + os.urandom(8).hex()
    with redis_server(tmp_path, password) as url:
        # Configured the way an operator would: through the environment the server reads.
        monkeypatch.setenv("MCPFLEET_SERVERS__PROLOG__STORE", url)
        settings = load_settings(
            auth={"api_keys": [{"name": "alice", "hash": hash_key(KEYS["alice"])}]},
            workers={"size": 1},
        )
        with running_app(build_http_app([SPEC], settings)) as base:
            async with client(f"{base}/prolog/mcp", "alice") as c:
                await c.call_tool("prolog_consult", {"program": FAMILY, "kb": "family"})
                result = await c.call_tool("prolog_query", {"query": "ancestor(pat, X)", "kb": ["family"]})
                assert [s["X"]["prolog"] for s in result.structured_content["solutions"]] == ["jim"]
                workers = _children_running("mcpfleet.servers.prolog.engine:warm")
                assert workers, "no prolog worker found"
                for pid in workers:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                    assert password.encode() not in argv and b"redis" not in argv
                    try:
                        env = Path(f"/proc/{pid}/environ").read_bytes()
                    except PermissionError:  # not readable: not even by this test, the worker's parent
                        continue
                    assert password.encode() not in env and b"redis" not in env and b"MCPFLEET_" not in env
