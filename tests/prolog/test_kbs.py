"""kbs.KnowledgeBases without MCP: a real memory store and the engine in a real one-worker pool."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import pytest_asyncio

if shutil.which("swipl") is None:  # pragma: no cover - scripts/system-deps.sh installs it
    pytest.fail("SWI-Prolog (swipl) is needed: run scripts/system-deps.sh", pytrace=False)

from mcpfleet.common.errors import UserError
from mcpfleet.common.settings import WorkerSettings
from mcpfleet.common.workers import WorkerPool, run_for_tool
from mcpfleet.servers.prolog.kbs import Deleted, KnowledgeBases, Listing, Shown, Stored
from mcpfleet.servers.prolog.settings import PrologSettings
from mcpfleet.servers.prolog.store import MemoryStore

E = "mcpfleet.servers.prolog.engine:"
FAMILY = "parent(tom, bob). parent(bob, ann).\nancestor(X, Y) :- parent(X, Y).\nancestor(X, Y) :- parent(X, Z), ancestor(Z, Y).\n"

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool():
    settings = WorkerSettings(size=1, cpu_seconds=30, memory_mb=1024, timeout=30)
    async with WorkerPool("prolog-kbs-test", settings, initializer=E + "warm") as pool:
        yield pool


@pytest.fixture
def kbs(pool) -> KnowledgeBases:
    async def run(target: str, *args: Any, timeout: float | None = None) -> Any:
        return await run_for_tool(pool, E + target, *args, input_errors={"PrologInputError"}, timeout=timeout)

    return KnowledgeBases(MemoryStore(max_kbs=5), run, PrologSettings(time_limit=2, max_time_limit=4))


async def test_consult_stores_a_checked_program_and_query_loads_it(kbs):
    stored = await kbs.consult("alice", "family", FAMILY)
    assert isinstance(stored, Stored)
    assert stored.as_dict()["kb"] == "family" and "text" not in stored.as_dict()
    assert "ancestor/2" in stored.as_dict()["predicates"]
    assert stored.text().startswith("stored 'family': ") and "ancestor/2" in stored.text()
    answer = await kbs.query("alice", "ancestor(tom, X)", "", ["family"], 10, 0)
    assert {s["X"]["prolog"] for s in answer["solutions"]} == {"bob", "ann"}
    assert answer["text"]  # the engine's own rendering, passed on as it is


async def test_a_program_with_errors_is_refused_by_line_and_not_stored(kbs):
    with pytest.raises(UserError, match=r"not stored: line 2: "):
        await kbs.consult("alice", "broken", "ok(1).\nbad(:- .\n")
    assert (await kbs.manage("alice", "list", "")).as_dict() == {"kbs": []}


async def test_unknown_knowledge_bases_are_named(kbs):
    with pytest.raises(UserError, match="no knowledge base named 'nope'; prolog_consult stores one"):
        await kbs.query("alice", "true", "", ["nope"], 1, 0)
    for action in ("show", "delete"):
        with pytest.raises(UserError, match="no knowledge base named 'nope'"):
            await kbs.manage("alice", action, "nope")
        with pytest.raises(UserError, match=f"name the knowledge base to {action}"):
            await kbs.manage("alice", action, "")
    with pytest.raises(UserError):
        await kbs.consult("alice", "no spaces allowed", "ok.")


async def test_list_show_delete_per_caller(kbs):
    assert (await kbs.manage("alice", "list", "")).text() == "no knowledge bases"
    await kbs.consult("alice", "family", FAMILY)
    listing = await kbs.manage("alice", "list", "")
    assert isinstance(listing, Listing)
    [row] = listing.as_dict()["kbs"]
    assert row["kb"] == "family" and row["bytes"] == len(FAMILY.encode()) and row["updated"] > 0
    assert listing.text() == f"family ({len(FAMILY.encode())} bytes)"
    assert (await kbs.manage("bob", "list", "")).as_dict() == {"kbs": []}
    shown = await kbs.manage("alice", "show", "family")
    assert shown == Shown("family", FAMILY) and shown.text() == FAMILY
    assert shown.as_dict() == {"kb": "family", "program": FAMILY}
    with pytest.raises(UserError):
        await kbs.manage("bob", "delete", "family")
    deleted = await kbs.manage("alice", "delete", "family")
    assert deleted == Deleted("family") and deleted.as_dict() == {"kb": "family", "deleted": True}
    assert deleted.text() == "deleted 'family'"
    assert (await kbs.manage("alice", "list", "")).as_dict() == {"kbs": []}


async def test_time_limit_is_the_default_or_the_asked_one_up_to_the_maximum(kbs):
    assert kbs.time_limit(0) == 2
    assert kbs.time_limit(3) == 3
    assert kbs.time_limit(60) == 4
