"""Two real callers (API keys alice and bob) of the web server over HTTP (issue 15 §3, §4):

- the page cache is per caller: bob is never told, by `from_cache` or by a saved download, what
  alice read;
- pages are extracted in the worker pool: a huge or hostile page is extracted or refused cleanly,
  its memory is not kept by the server, a killed extraction costs one call, and the other caller's
  call succeeds meanwhile.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import KEYS, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import hash_key
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.web import SPEC
from mcpfleet.servers.web.fetch import caller_key
from web_site import Site

CRASHED = "internal error"


def links_page(count: int = 100_000) -> bytes:
    """~2 MB of one paragraph holding 100,000 links: in a thread, 5-17 s and +230 MB kept per call."""
    links = "".join(f'<a href="/{n}">{n}</a>' for n in range(count))
    return f"<html><head><title>Links</title></head><body><p>{links}</p></body></html>".encode()


def nested_page(depth: int = 100_000) -> bytes:
    return b"<html><body>" + b"<div>x" * depth + b"</div>" * depth + b"</body></html>"


HOSTILE = {
    "/links.html": links_page()[:1_990_000],
    "/nested.html": nested_page(),
    "/many-links.html": links_page(400_000),
}  # ~9 MB: tens of CPU seconds to extract


@pytest.fixture(scope="module")
def site():
    with Site("missing") as s, pytest.MonkeyPatch.context() as patch:
        route = s._route

        def hostile_route(path, query, handler):
            if path in HOSTILE:
                return 200, {"Content-Type": "text/html; charset=utf-8"}, HOSTILE[path]
            return route(path, query, handler)

        patch.setattr(s, "_route", hostile_route)
        yield s


def fleet(**web) -> object:
    settings = load_settings(
        auth={"api_keys": [{"name": name, "hash": hash_key(KEYS[name])} for name in ("alice", "bob")]},
        http={"allow": ["localhost"], "retries": 0, "timeout": 10},
        limits={"tool_timeout": 90},
        servers={"web": web},
    )
    return running_app(build_http_app([SPEC], settings))


def client(base: str, who: str) -> Client:
    return Client(f"{base}/web/mcp", auth=KEYS[who], timeout=120)


async def fetch(base: str, who: str, url: str, **args) -> dict | str:
    """The structured result, or the refusal's message (an internal error fails the test)."""
    try:
        async with client(base, who) as c:
            return (await c.call_tool("web_fetch", {"url": url, **args})).structured_content
    except ToolError as exc:
        assert CRASHED not in str(exc), exc
        return str(exc)


async def pool_replaced(base: str) -> None:
    """Wait (bounded) until /readyz says the web server has a live worker again."""
    import httpx2

    async with httpx2.AsyncClient() as http:
        for _ in range(600):
            if (await http.get(f"{base}/readyz")).status_code == 200:
                return
            await asyncio.sleep(0.1)
    raise AssertionError("no replacement worker within 60 s")


def rss_mb() -> float:
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# -- the page cache is per caller -----------------------------------------------------------------


def test_cache_namespaces_hash_the_whole_identity():
    # identities are namespaced (`key:alice`, `jwt:<iss>:<sub>`) and may be long: a prefix is not enough
    long_a, long_b = "jwt:https://issuer.example:" + "x" * 200 + "a", "jwt:https://issuer.example:" + "x" * 200 + "b"
    keys = {caller_key(c) for c in ("key:alice", "jwt:https://issuer.example:alice", "alice", long_a, long_b)}
    assert len(keys) == 5
    assert caller_key("key:alice") == caller_key("key:alice")


async def test_one_callers_fetch_is_not_revealed_to_another(site):
    url = f"{site.base}/pages/article.html"
    with fleet() as base:
        first = await fetch(base, "alice", url, max_length=500)
        again = await fetch(base, "alice", url, max_length=500, start_index=first["next_start_index"])
        other = await fetch(base, "bob", url, max_length=500)
        other_again = await fetch(base, "bob", url, max_length=500)
    assert first["from_cache"] is False and again["from_cache"] is True  # paging reads one's own cache
    assert other["from_cache"] is False  # before: true, telling bob that someone had read the page
    assert other_again["from_cache"] is True
    # bob's fetch really downloaded the page (no shared HTTP cache under the page cache either), and
    # robots.txt was asked once per caller
    assert site.count("/pages/article.html") == 2
    assert site.count("/robots.txt") == 2


# -- extraction is bounded --------------------------------------------------------------------------


async def test_hostile_pages_are_extracted_or_refused_and_the_server_keeps_no_memory(site):
    with fleet(extract_timeout=60) as base:
        small = f"{site.base}/pages/article.html"
        assert isinstance(await fetch(base, "bob", small), dict)  # workers warm, server warm
        before = rss_mb()

        async def bob_meanwhile() -> list[dict | str]:
            answers = []
            for _ in range(3):
                answers.append(await fetch(base, "bob", small, format="text"))
            return answers

        results = await asyncio.gather(
            fetch(base, "alice", f"{site.base}/links.html", max_length=1000),
            fetch(base, "alice", f"{site.base}/nested.html", max_length=1000),
            bob_meanwhile(),
        )
        grown = rss_mb() - before
    links, nested, bobs = results
    for answer in (links, nested):  # extracted, or refused with a reason the model can act on
        assert isinstance(answer, dict) or "extract" in answer, answer
    if isinstance(links, dict):
        assert links["total_length"] > 100_000 and links["content"]
    assert all(isinstance(b, dict) and "Egress" in b["content"] for b in bobs), bobs
    # In threads one such page left ~230 MB with the server; in the pool it stays in a worker.
    assert grown < 100, f"the server kept {grown:.0f} MB"


async def test_a_page_past_the_memory_cap_costs_one_call(site):
    with fleet(extract_memory_mb=256, extract_workers=1) as base:
        refused = await fetch(base, "alice", f"{site.base}/links.html")
        after = await fetch(base, "bob", f"{site.base}/pages/article.html")
    assert isinstance(refused, str) and ("memory" in refused or "stopped" in refused), refused
    assert "format='raw'" in refused
    assert isinstance(after, dict) and "Egress" in after["content"]


async def test_a_page_past_the_extraction_timeout_is_stopped_and_the_next_call_works(site):
    # 3 s: far more than the article needs on a busy machine, far less than the page needs on a fast one
    with fleet(extract_timeout=3, extract_workers=1, max_bytes=12_000_000) as base:
        refused = await fetch(base, "alice", f"{site.base}/many-links.html")
        await pool_replaced(base)  # the killed worker's replacement starts in the background
        after = await fetch(base, "bob", f"{site.base}/pages/article.html")
        raw = await fetch(base, "alice", f"{site.base}/many-links.html", format="raw", max_length=200)
    assert isinstance(refused, str) and "longer than 3 s" in refused and "stopped" in refused, refused
    assert isinstance(after, dict) and "Egress" in after["content"]
    assert isinstance(raw, dict) and '<a href="/0">0</a>' in raw["content"]
