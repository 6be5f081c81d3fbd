"""Both web tools end to end over real HTTP with API-key auth: search with fallback, fetch with paging."""

from __future__ import annotations

import json

import pytest
from ddgs.engines.duckduckgo import Duckduckgo
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import KEYS, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import hash_key
from mcpfleet.common.settings import load_settings
from mcpfleet.common.untrusted import META_UNTRUSTED, unwrap_structured
from mcpfleet.servers.web import SPEC
from mcpfleet.tokens import count_tokens
from web_site import Site


@pytest.fixture(scope="module")
def site():
    with Site() as s, pytest.MonkeyPatch.context() as patch:
        # ddgs's DuckDuckGo HTML engine, pointed at the fixture server (the library runs for real)
        patch.setattr(Duckduckgo, "search_url", f"http://127.0.0.1:{s.port}/html/")
        yield s


@pytest.fixture(scope="module")
def fleet(site):
    settings = load_settings(
        auth={"api_keys": [{"name": "alice", "hash": hash_key(KEYS["alice"])}]},
        http={"allow": ["localhost"], "retries": 0, "timeout": 5},
        servers={
            "web": {
                # SearXNG by address: its own client may reach 127.0.0.1, web_fetch may not
                "searxng_url": f"http://127.0.0.1:{site.port}",
                "searxng_engines": ["google", "brave"],
                "ddgs_backend": "duckduckgo",
                "search_timeout": 10,
            }
        },
    )
    with running_app(build_http_app([SPEC], settings)) as url:
        yield f"{url}/web/mcp"


def client(url: str, key: str | None = KEYS["alice"]) -> Client:
    return Client(url, auth=key, timeout=60)


async def test_two_small_truthful_tools(fleet):
    async with client(fleet) as c:
        tools = {t.name: t for t in await c.list_tools()}
    assert set(tools) == {"web_search", "web_fetch"}
    payload = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools.values()]
    assert count_tokens(json.dumps(payload, separators=(",", ":"), ensure_ascii=False)) <= 450
    for tool in tools.values():
        a = tool.annotations
        assert a.read_only_hint and a.open_world_hint and not a.destructive_hint
        assert len(tool.description) < 120
    assert list(tools["web_search"].input_schema["properties"]) == [
        "query",
        "max_results",
        "kind",
        "time_range",
        "region",
    ]
    assert list(tools["web_fetch"].input_schema["properties"]) == ["url", "max_length", "start_index", "format"]
    assert tools["web_fetch"].input_schema["properties"]["max_length"]["default"] == 8000


@pytest.mark.parametrize("key", [None, "key-wrong-0123456789"])
def test_callers_need_a_valid_key(fleet, key):
    import urllib.error
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(fleet, data=body, headers=headers), timeout=10)
    assert info.value.code == 401


async def test_search_answers_from_searxng(fleet, site):
    async with client(fleet) as c:
        result = await c.call_tool(
            "web_search", {"query": "kubernetes egress policy", "max_results": 2, "region": "us-en"}
        )
    data = result.structured_content
    assert data["backend"] == "searxng" and data["query"] == "kubernetes egress policy"
    assert [h["url"] for h in data["results"]] == [
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
        "https://www.tigera.io/learn/guides/kubernetes-security/kubernetes-egress/",
    ]
    assert "language=en-US" in site.requests[-1][1]
    assert result.meta[META_UNTRUSTED] is True
    assert "1. Network Policies | Kubernetes" in result.content[0].text


async def test_search_news_has_dates(fleet):
    async with client(fleet) as c:
        result = await c.call_tool("web_search", {"query": "kubernetes release", "kind": "news", "time_range": "week"})
    assert result.structured_content["results"][0]["date"] == "2024-04-17T15:00:00"


async def test_search_falls_back_to_ddgs_when_searxng_is_rate_limited(fleet, site):
    site.searxng_mode = "429"
    try:
        async with client(fleet) as c:
            result = await c.call_tool("web_search", {"query": "kubernetes egress policy"})
    finally:
        site.searxng_mode = "ok"
    data = result.structured_content
    assert data["backend"] == "ddgs" and data["failed"] == ["searxng: rate limited by SearXNG"]
    assert data["results"][0]["url"] == "https://kubernetes.io/docs/concepts/services-networking/network-policies/"


async def test_search_failing_everywhere_is_a_retryable_error(fleet, site):
    site.searxng_mode, site.ddg_mode = "unresponsive", "ratelimit"
    try:
        async with client(fleet) as c:
            with pytest.raises(ToolError, match="search failed, retry in a minute"):
                await c.call_tool("web_search", {"query": "kubernetes egress policy"})
    finally:
        site.searxng_mode, site.ddg_mode = "ok", "ok"


@pytest.mark.parametrize(
    "args",
    [
        {"query": ""},
        {"query": "x", "max_results": 0},
        {"query": "x", "kind": "images"},
        {"query": "x", "region": "english"},
        {"query": "x", "time_range": "decade"},
    ],
)
async def test_search_rejects_bad_arguments(fleet, args):
    async with client(fleet) as c:
        with pytest.raises(ToolError):
            await c.call_tool("web_search", args)


async def test_fetch_and_page_over_http(fleet, site):
    url = f"{site.base}/pages/article.html"
    async with client(fleet) as c:
        first = unwrap_structured((await c.call_tool("web_fetch", {"url": url, "max_length": 600})).structured_content)
        second = unwrap_structured(
            (
                await c.call_tool(
                    "web_fetch", {"url": url, "max_length": 600, "start_index": first["next_start_index"]}
                )
            ).structured_content
        )
    assert first["content"].startswith("# Kubernetes Egress Policies Explained")
    assert second["start_index"] == first["next_start_index"] and second["from_cache"] is True
    assert site.count("/pages/article.html") == 1


async def test_fetch_cannot_use_the_searxng_allowance(fleet, site):
    async with client(fleet) as c:
        with pytest.raises(ToolError, match="refused.*loopback"):
            await c.call_tool("web_fetch", {"url": f"http://127.0.0.1:{site.port}/search?q=x&format=json"})
