"""The docs tools over real HTTP with API-key auth: results, untrusted marking, progress, refusals."""

from __future__ import annotations

import httpx2
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from docs_forge import WIDGETS_MAIN, docs_settings, write_tree
from fleet_testing import KEYS, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import hash_key
from mcpfleet.common.untrusted import META_UNTRUSTED, is_wrapped, unwrap, unwrap_structured
from mcpfleet.servers.docs import SPEC
from mcpfleet.tokens import count_tokens


@pytest.fixture(scope="module")
def fleet(forge, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs-server")
    write_tree(tmp / "roots" / "handbook", WIDGETS_MAIN)
    settings = docs_settings(forge.base, tmp / "index.sqlite", local_roots=[str(tmp / "roots")])
    settings = type(settings).model_validate(
        {**settings.model_dump(), "auth": {"api_keys": [{"name": "alice", "hash": hash_key(KEYS["alice"])}]}}
    )
    with running_app(build_http_app([SPEC], settings)) as url:
        yield f"{url}/docs/mcp", tmp / "roots"


def client(url: str, **kwargs) -> Client:
    return Client(url, auth=KEYS["alice"], timeout=60, **kwargs)


async def test_auth_is_required(fleet):
    url, _ = fleet
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(timeout=30) as http:
        for credentials in ({"Authorization": "Bearer wrong-key-0123456789"}, {}):
            refused = await http.post(url, json=body, headers={**accept, **credentials})
            assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
            assert "docs_search" not in refused.text


async def test_index_reports_progress_then_search_and_read(fleet):
    url, _ = fleet
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, total, message))

    async with client(url, progress_handler=on_progress) as c:
        tools = {t.name: t for t in await c.list_tools()}
        assert set(tools) == {"docs_resolve", "docs_search", "docs_read", "docs_index"}
        assert tools["docs_search"].annotations.read_only_hint and not tools["docs_index"].annotations.read_only_hint

        indexed = await c.call_tool("docs_index", {"repo": "acme/widgets"})
        assert indexed.structured_content["library"] == "acme/widgets"
        assert indexed.structured_content["files"] == 6
        assert len(seen) >= 3 and seen[-1][0] == seen[-1][1] == 100
        assert any("chunking" in (m or "") for _, _, m in seen)

        found = await c.call_tool(
            "docs_search", {"library": "acme/widgets", "query": "redis cache replicas", "tokens": 600}
        )
        assert is_wrapped(found.structured_content["sections"][0]["text"])  # marked for clients that forward it
        data = unwrap_structured(found.structured_content)
        assert data["sections"][0]["heading"] == "Caching > Redis backend"
        assert data["tokens"] <= 600 and data["untrusted"] is True
        text = found.content[0].text
        assert '<untrusted-content source="docs:acme/widgets@main">' in text
        assert "https://github.com/acme/widgets/blob/main/docs/guides/caching.mdx" in text
        assert found.meta and found.meta.get(META_UNTRUSTED) is True

        page = await c.call_tool("docs_read", {"library": "acme/widgets", "path": "docs/getting-started.md"})
        assert unwrap(page.structured_content["title"]) == "Getting started"
        assert "WIDGETS_HOME" in unwrap(page.structured_content["content"])
        toc = await c.call_tool("docs_read", {"library": "acme/widgets", "path": "docs/guides"})
        assert (
            toc.structured_content["kind"] == "folder" and "caching.mdx — Caching" in toc.structured_content["content"]
        )


async def test_injection_lines_are_flagged(fleet):
    url, _ = fleet
    async with client(url) as c:
        await c.call_tool("docs_index", {"repo": "acme/widgets"})
        result = await c.call_tool("docs_search", {"library": "acme/widgets", "query": "report vulnerabilities"})
    flags = result.structured_content["injection_flags"]
    assert flags and "Ignore all previous instructions" in flags[0]["text"]
    assert "look addressed to an AI assistant" in result.content[0].text


async def test_token_budget_is_respected_over_the_wire(fleet):
    url, _ = fleet
    async with client(url) as c:
        await c.call_tool("docs_index", {"repo": "acme/widgets"})
        for budget in (200, 400, 4000):
            result = await c.call_tool(
                "docs_search", {"library": "acme/widgets", "query": "panel widgets client", "tokens": budget}
            )
            sections = unwrap_structured(result.structured_content["sections"])
            assert sections and result.structured_content["tokens"] <= budget
            packed = "\n\n---\n\n".join(
                f"## {s['heading']}\nsource: {s['path']} ({s['url']})\n\n{s['text']}" for s in sections
            )
            assert count_tokens(packed) <= budget


async def test_paging_a_long_document(fleet, forge):
    url, _ = fleet
    long_doc = "# Long\n\n" + "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 30 for i in range(200))
    forge.add("acme/longdocs", {"main": {"docs/long.md": long_doc}}, description="long")
    async with client(url) as c:
        await c.call_tool("docs_index", {"repo": "acme/longdocs"})
        first = await c.call_tool("docs_read", {"library": "acme/longdocs", "path": "docs/long.md"})
        nxt = first.structured_content["next_start_index"]
        assert nxt and "Paragraph 0:" in first.structured_content["content"]
        second = await c.call_tool(
            "docs_read", {"library": "acme/longdocs", "path": "docs/long.md", "start_index": nxt}
        )
        assert second.structured_content["start_index"] == nxt
        assert (
            unwrap(first.structured_content["content"]) + unwrap(second.structured_content["content"])
            in long_doc + "\n"
        )


async def test_resolve_over_http(fleet):
    url, _ = fleet
    async with client(url) as c:
        result = await c.call_tool("docs_resolve", {"name": "widgets"})
    assert result.structured_content["candidates"][0]["id"] == "acme/widgets"
    assert result.meta.get(META_UNTRUSTED) is True  # descriptions come from the forge


async def test_local_roots_enforced_for_tool_callers(fleet):
    url, roots = fleet
    async with client(url) as c:
        with pytest.raises(ToolError, match="local_roots"):
            await c.call_tool("docs_index", {"repo": "/etc"})
        with pytest.raises(ToolError, match="local_roots"):
            await c.call_tool("docs_index", {"repo": f"{roots}/../"})
        ok = await c.call_tool("docs_index", {"repo": str(roots / "handbook")})
        assert ok.structured_content["library"] == "local/handbook"


@pytest.mark.parametrize("query", ['"unbalanced', "NEAR(x y) AND OR", "*:*", "panel) OR (1=1"])
async def test_hostile_queries_do_not_error(fleet, query):
    url, _ = fleet
    async with client(url) as c:
        await c.call_tool("docs_index", {"repo": "acme/widgets"})
        result = await c.call_tool("docs_search", {"library": "acme/widgets", "query": query})
    assert not result.is_error


async def test_bad_inputs_get_actionable_errors(fleet):
    url, _ = fleet
    async with client(url) as c:
        with pytest.raises(ToolError, match="not indexed"):
            await c.call_tool("docs_read", {"library": "nobody/none", "path": ""})
        await c.call_tool("docs_index", {"repo": "acme/widgets"})
        with pytest.raises(ToolError, match="did you mean docs/getting-started.md"):
            await c.call_tool("docs_read", {"library": "acme/widgets", "path": "docs/getting-startd.md"})
        with pytest.raises(ToolError, match="cannot read"):
            await c.call_tool("docs_index", {"repo": "no spaces allowed"})
        with pytest.raises(ToolError):
            await c.call_tool("docs_search", {"library": "acme/widgets", "query": "x", "tokens": 10})


@pytest.fixture(scope="module")
def impatient_fleet(forge, tmp_path_factory):
    """Tool calls limited to 4.5 s, so docs_index waits 1.5 s before answering 'still indexing'."""
    forge.add(
        "acme/bigdocs",
        {"main": {"docs/big.md": "# Big\n\n## Shards\n\nBig docs are sharded.\n"}},
        description="slow to download",
        delay=4.0,
    )
    settings = docs_settings(forge.base, tmp_path_factory.mktemp("impatient") / "index.sqlite")
    settings = type(settings).model_validate({**settings.model_dump(), "limits": {"tool_timeout": 4.5}})
    with running_app(build_http_app([SPEC], settings)) as url:
        yield f"{url}/docs/mcp"


async def test_indexing_longer_than_a_call_continues_in_the_background(impatient_fleet, forge):
    async with Client(impatient_fleet, timeout=60) as c:
        first = await c.call_tool("docs_index", {"repo": "acme/bigdocs"})
        assert first.structured_content["status"] == "running"
        assert "continues in the background" in first.content[0].text
        with pytest.raises(ToolError, match="being indexed"):  # a search joins the same run
            await c.call_tool("docs_search", {"library": "acme/bigdocs", "query": "shards"})
        second = await c.call_tool("docs_index", {"repo": "acme/bigdocs"})  # joins, does not restart
        if second.structured_content["status"] == "running":
            second = await c.call_tool("docs_index", {"repo": "acme/bigdocs"})
        assert second.structured_content["status"] == "done" and second.structured_content["files"] == 1
        found = await c.call_tool("docs_search", {"library": "acme/bigdocs", "query": "shards"})
        assert unwrap(found.structured_content["sections"][0]["heading"]) == "Big > Shards"
    downloads = [p for p, _ in forge.requests if p.startswith("/codeload/acme/bigdocs/")]
    assert len(downloads) == 1  # one run, however many calls waited for it
