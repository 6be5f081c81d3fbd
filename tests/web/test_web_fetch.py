"""web_fetch through MCP (in memory) against real fixture servers on 127.0.0.1.

The fixture servers are reached as http://localhost:PORT with only the name `localhost`
allow-listed, so the SSRF guard still refuses 127.0.0.1 and every other private address.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from fastmcp.exceptions import ToolError

from fleet_testing import fleet_client
from mcpfleet.common.settings import load_settings
from mcpfleet.common.untrusted import META_UNTRUSTED, is_wrapped, unwrap_structured
from web_site import LATIN1_TEXT, SJIS_TEXT, Site

pytestmark = pytest.mark.asyncio(loop_scope="module")
TIMEOUT = 1.5


def settings(**web):
    return load_settings(
        http={"allow": ["localhost"], "timeout": TIMEOUT, "connect_timeout": 1, "retries": 0, "cache_ttl": 0},
        servers={"web": {"max_bytes": 200_000, "max_length": 2000, **web}},
    )


@pytest.fixture(scope="module")
def sites():
    with (
        Site("allow") as main,
        Site("disallow") as strict,
        Site("missing") as bare,
        Site("error") as broken,
        Site("allow") as other,
    ):
        yield {"main": main, "strict": strict, "bare": bare, "broken": broken, "other": other}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web():
    async with fleet_client("web", settings(), timeout=30) as client:
        yield client


async def fetch(web, url, **args):
    return await web.call_tool("web_fetch", {"url": url, **args})


def data_of(result) -> dict:
    """The structured content as plain data: its outside text comes wrapped (see common/untrusted.py)."""
    return unwrap_structured(result.structured_content)


async def test_article_as_markdown_marked_untrusted(web, sites):
    url = f"{sites['main'].base}/pages/article.html"
    result = await fetch(web, url)
    # page text and title reach the model marked whichever content kind the client forwards
    assert is_wrapped(result.structured_content["content"]) and is_wrapped(result.structured_content["title"])
    data = data_of(result)
    assert data["title"] == "Kubernetes Egress Policies Explained | Cluster Weekly"
    assert data["url"] == url and data["content_type"] == "text/html"
    assert data["content"].startswith("# Kubernetes Egress Policies Explained")
    assert "## Why the metadata endpoint matters" in data["content"]
    assert "Accept all cookies" not in data["content"] and "gtag" not in data["content"]
    assert data["untrusted"] is True and data["injection_flags"] == []
    text = result.content[0].text
    assert text.startswith(url)  # the page's title is untrusted: inside the wrapper, not in the header
    assert f'<untrusted-content source="{url}">\ntitle: Kubernetes Egress Policies Explained | Cluster Weekly\n' in text
    assert result.meta[META_UNTRUSTED] is True


async def test_paging_downloads_the_page_once(web, sites):
    site = sites["main"]
    url = f"{site.base}/pages/docs.html"
    whole = None
    parts, start = [], 0
    while start is not None:
        data = data_of(await fetch(web, url, max_length=400, start_index=start))
        assert data["from_cache"] is (start != 0)
        parts.append(data["content"])
        start = data["next_start_index"]
        assert len(parts) < 50
    whole = data_of(await fetch(web, url, max_length=100_000))
    assert len(parts) > 2 and "".join(parts) == whole["content"]
    assert whole["total_length"] == len(whole["content"]) and whole["next_start_index"] is None
    assert site.count("/pages/docs.html") == 1
    assert site.count("/robots.txt") == 1  # robots.txt too is read once per origin


async def test_text_and_raw_formats(web, sites):
    url = f"{sites['main'].base}/pages/forum.html"
    text = data_of(await fetch(web, url, format="text"))["content"]
    assert "while block := f.read(size):" in text and "```" not in text
    raw = data_of(await fetch(web, url, format="raw", max_length=100_000))["content"]
    assert raw.startswith("<!doctype html>") and "_paq" in raw


async def test_start_index_past_the_end(web, sites):
    with pytest.raises(ToolError, match="past the end"):
        await fetch(web, f"{sites['main'].base}/pages/forum.html", start_index=10**6)


async def test_redirect_chain_reports_the_final_url(web, sites):
    data = data_of(await fetch(web, f"{sites['main'].base}/chain/0"))
    assert data["url"] == f"{sites['main'].base}/pages/docs.html"
    assert "# Configuring retries" in data["content"]


async def test_redirect_into_loopback_is_refused(web, sites):
    main, other = sites["main"], sites["other"]
    for target in (
        f"http://127.0.0.1:{other.port}/pages/article.html",
        f"http://[::1]:{other.port}/",
        "http://169.254.169.254/latest/meta-data/",
    ):
        main.redirect_target = target
        with pytest.raises(ToolError, match="refused"):
            await fetch(web, f"{main.base}/to-loopback")
    assert other.count("/pages/article.html") == 0


async def test_pdf_to_text(web, sites):
    data = data_of(await fetch(web, f"{sites['main'].base}/report.pdf"))
    assert data["title"] == "Fixture report" and data["content_type"] == "application/pdf"
    assert "[page 1]\nPage 1 of the fixture report." in data["content"]
    assert "region 4" in data["content"] and data["notes"] == ["PDF, 4 pages"]
    sniffed = data_of(await fetch(web, f"{sites['main'].base}/report-octet"))
    assert "region 4" in sniffed["content"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/encrypted.pdf", "encrypted"),
        ("/broken.pdf", "cannot be read"),
        ("/image.png", r"binary content \(image/png\)"),
        ("/archive.zip", r"binary content \(application/zip\)"),
        ("/blob", "binary content"),
        ("/nowhere", "HTTP 404 \\(not found"),
        ("/error.html", "HTTP 500"),
    ],
)
async def test_unreadable_content_is_a_clear_error(web, sites, path, message):
    with pytest.raises(ToolError, match=message):
        await fetch(web, f"{sites['main'].base}{path}")


async def test_pdf_default_page_cap(web, sites):
    data = data_of(await fetch(web, f"{sites['main'].base}/big.pdf", max_length=100_000))
    assert "Page 50 of a long report." in data["content"] and "Page 51 " not in data["content"]
    assert data["notes"] == ["PDF, 60 pages", "only the first 50 pages were read"]


async def test_pdf_page_and_size_caps(sites):
    async with fleet_client("web", settings(pdf_max_pages=2)) as client:
        data = data_of(await fetch(client, f"{sites['main'].base}/report.pdf"))
        assert "region 2" in data["content"] and "region 3" not in data["content"]
        assert "only the first 2 pages were read" in data["notes"]
    async with fleet_client("web", settings(pdf_max_bytes=10_000)) as client:
        with pytest.raises(ToolError, match="PDF is larger than 10000 bytes"):
            await fetch(client, f"{sites['main'].base}/big.pdf")
        data = data_of(await fetch(client, f"{sites['main'].base}/report.pdf"))
        assert "region 4" in data["content"]


async def test_huge_page_is_cut_and_pageable(web, sites):
    url = f"{sites['main'].base}/huge.html"
    first = data_of(await fetch(web, url, max_length=5000))
    assert "only the start was read" in " ".join(first["notes"])
    assert first["next_start_index"] is not None and len(first["content"]) <= 5000
    assert first["total_length"] < 200_000
    second = data_of(await fetch(web, url, max_length=5000, start_index=first["next_start_index"]))
    assert second["from_cache"] and second["content"] != first["content"]


async def test_slow_page_times_out(web, sites):
    with pytest.raises(ToolError, match=f"timed out after {TIMEOUT:g}s"):  # the deadline ended it
        await fetch(web, f"{sites['main'].base}/slow.html")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/latin1.html", LATIN1_TEXT),
        ("/lying.html", LATIN1_TEXT),
        ("/sjis.html", SJIS_TEXT),
    ],
)
async def test_charsets(web, sites, path, expected):
    data = data_of(await fetch(web, f"{sites['main'].base}{path}"))
    assert expected in data["content"]


async def test_text_types_pass_through_with_a_note(web, sites):
    data = data_of(await fetch(web, f"{sites['main'].base}/data.json"))
    assert data["content"] == '{"name": "fleet", "servers": ["web", "docs"]}'
    assert data["notes"] == ["application/json shown as is"]
    plain = data_of(await fetch(web, f"{sites['main'].base}/notes.txt"))
    assert plain["content"] == "line one\nline two — ünïcode\n"


async def test_injection_lines_are_flagged(web, sites):
    result = await fetch(web, f"{sites['main'].base}/injection.html")
    flags = result.structured_content["injection_flags"]
    assert len(flags) == 1 and "Ignore all previous instructions" in flags[0]["text"]
    assert "look addressed to an AI assistant" in result.content[0].text


# --- robots.txt ---------------------------------------------------------------------------------


async def test_robots_group_for_our_agent_is_honoured(web, sites):
    # robots.txt: `*` may not read /private/; `mcpfleet` (our agent) has its own group, which is the
    # only one that applies to us (RFC 9309): it may not read /no-bots/.
    strict = sites["strict"]
    with pytest.raises(ToolError, match="robots.txt does not allow"):
        await fetch(web, f"{strict.base}/no-bots/page.html")
    ok = await fetch(web, f"{strict.base}/private/page.html")
    assert "Robots test page body." in data_of(ok)["content"]
    assert strict.count("/no-bots/page.html") == 0
    assert strict.count("/robots.txt") == 1


async def test_robots_disallow_all(sites):
    with Site("disallow-all") as closed:
        async with fleet_client("web", settings()) as client:
            with pytest.raises(ToolError, match="robots.txt does not allow"):
                await fetch(client, f"{closed.base}/pages/article.html")
        assert closed.count("/pages/article.html") == 0


async def test_robots_404_means_allowed(web, sites):
    data = data_of(await fetch(web, f"{sites['bare'].base}/open/page.html"))
    assert "Robots test page body." in data["content"]


async def test_robots_5xx_is_not_permission(web, sites):
    broken = sites["broken"]
    with pytest.raises(ToolError, match="HTTP 500; that is not taken as permission"):
        await fetch(web, f"{broken.base}/open/page.html")
    assert broken.count("/open/page.html") == 0


async def test_robots_can_be_turned_off(sites):
    broken = sites["broken"]
    before = broken.count("/robots.txt")
    async with fleet_client("web", settings(robots=False)) as client:
        data = data_of(await fetch(client, f"{broken.base}/open/page.html"))
    assert "Robots test page body." in data["content"]
    assert broken.count("/robots.txt") == before


async def test_user_agent_setting_changes_the_robots_group(sites):
    strict = sites["strict"]
    async with fleet_client("web", settings(user_agent="OtherBot/2.0")) as client:
        data = data_of(await fetch(client, f"{strict.base}/no-bots/page.html"))  # mcpfleet's rule
        assert "Robots test page body." in data["content"]
        with pytest.raises(ToolError, match="robots.txt does not allow"):
            await fetch(client, f"{strict.base}/private/page.html")  # the `*` group applies to OtherBot
    assert strict.user_agents["OtherBot/2.0"] == 2  # robots.txt and the page
