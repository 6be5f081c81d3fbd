"""Two `mcpfleet serve docs` processes on one PostgreSQL, as two replicas behind a Service: a library
indexed through one is searched through the other, and one library is indexed by one at a time."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError

from docs_forge import WIDGETS_MAIN, write_tree
from fleet_testing import KEYS, serving
from mcpfleet.common.auth import hash_key
from mcpfleet.common.untrusted import unwrap
from mcpfleet.servers.docs.store_postgres import LOCK_CLASS, library_lock_key
from postgres_testing import new_database

pytestmark = pytest.mark.timeout(300)  # two server processes start on a busy machine
PAGES = {
    **WIDGETS_MAIN,
    **{f"docs/guide/page-{i}.md": f"# Page {i}\n\n## Tuning {i}\n\nreplica knob {i}\n" for i in range(60)},
}


@pytest.fixture(scope="module")
def replicas(postgres_url, tmp_path_factory):
    """Two replicas' MCP URLs sharing one fresh database, its URL, and the folder of local libraries
    (each test indexes its own: `handbook`, `manual`)."""
    tmp_path = tmp_path_factory.mktemp("replicas")
    url = new_database(postgres_url)
    roots = tmp_path / "roots"
    for name in ("handbook", "manual"):
        write_tree(roots / name, PAGES)
    env = {
        "MCPFLEET_SERVERS__DOCS__STORE": url,  # what the chart sets from its Secret
        "MCPFLEET_SERVERS__DOCS__LOCAL_ROOTS": json.dumps([str(roots)]),
        "MCPFLEET_SERVERS__DOCS__DEFAULT_CATALOG": "false",
        "MCPFLEET_SERVERS__DOCS__INDEX_ON_DEMAND": "false",  # nothing is fetched from GitHub here
        "MCPFLEET_SERVERS__DOCS__INDEX_PATH": str(tmp_path / "unused.sqlite"),
        "MCPFLEET_AUTH__API_KEYS": json.dumps([{"name": "alice", "hash": hash_key(KEYS["alice"])}]),
    }
    with serving(tmp_path, "docs", **env) as (a, _, _), serving(tmp_path, "docs", **env) as (b, _, _):
        yield f"{a}/docs/mcp", f"{b}/docs/mcp", roots, url
    assert not (tmp_path / "unused.sqlite").exists()  # neither replica wrote a file of its own


def client(url: str) -> Client:
    return Client(StreamableHttpTransport(url, auth=KEYS["alice"]), timeout=120)


def hits(result) -> list[tuple[str, str]]:
    return [(s["path"], unwrap(s["heading"])) for s in result.structured_content["sections"]]


async def test_indexed_through_one_replica_searched_through_the_other(replicas):
    a, b, roots, _ = replicas
    library, folder = "local/handbook", roots / "handbook"
    async with client(a) as one, client(b) as other:
        with pytest.raises(ToolError, match="not indexed"):
            await other.call_tool("docs_search", {"library": library, "query": "authentication token"})
        done = await one.call_tool("docs_index", {"repo": str(folder)})
        assert done.structured_content["status"] == "done" and done.structured_content["library"] == library
        query = {"library": library, "query": "authentication token", "tokens": 1500}
        there, here = await one.call_tool("docs_search", query), await other.call_tool("docs_search", query)
        assert hits(there) == hits(here) and hits(here)[0] == (
            "docs/getting-started.md",
            "Getting started > Authentication",
        )
        listing = await other.call_tool("docs_read", {"library": library, "path": "docs/guide"})
        assert listing.structured_content["documents"] == 60


async def test_one_library_is_indexed_by_one_replica_at_a_time(replicas):
    a, b, roots, url = replicas
    library, folder = "local/manual", roots / "manual"
    import psycopg  # here: without the driver the fixture has skipped (or failed, in CI) with the reason

    # a third replica in the middle of indexing the library: the database lock says so at once
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, library_lock_key(library)))
        async with client(b) as other:
            with pytest.raises(ToolError, match=f"{library} is being indexed by another replica"):
                await other.call_tool("docs_index", {"repo": str(folder)})
        holder.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, library_lock_key(library)))
    # both replicas asked at once: each run either indexes or is told another is indexing; the
    # index ends whole, and both replicas answer from it
    async with client(a) as one, client(b) as other:
        results = await asyncio.gather(
            *(c.call_tool("docs_index", {"repo": str(folder)}, raise_on_error=False) for c in (one, other))
        )
        for r in results:
            assert (
                not r.is_error and r.structured_content["files"] == 66
            ) or "being indexed by another replica" in r.content[0].text, r
        assert any(not r.is_error for r in results)
        query = {"library": library, "query": "replica knob 7", "tokens": 800}
        assert hits(await one.call_tool("docs_search", query)) == hits(await other.call_tool("docs_search", query))
        listing = await one.call_tool("docs_read", {"library": library, "path": ""})
        assert listing.structured_content["documents"] == 66
