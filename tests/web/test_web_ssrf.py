"""web_fetch refuses every SSRF form with the DEFAULT configuration (nothing allow-listed).

A real fixture server listens on 127.0.0.1 throughout; the loopback forms point at its port, and
the test checks it never saw a request.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from fastmcp.exceptions import ToolError

from fleet_testing import fleet_client
from mcpfleet.common.settings import load_settings
from web_site import Site

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORMS = [
    ("http://127.0.0.1:{port}/pages/article.html", "loopback"),
    ("http://localhost:{port}/pages/article.html", "loopback"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "metadata"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://0.0.0.0:{port}/", "unspecified"),
    ("http://[::1]:{port}/", "loopback"),
    ("http://[fd00::1]/", "unique local"),
    ("http://[::ffff:127.0.0.1]:{port}/", "IPv4-mapped"),
    ("http://[::ffff:169.254.169.254]/", "metadata"),
    # every IPv6 form that embeds an IPv4 address is judged by that address (issue 15 §5)
    ("http://[::ffff:0:7f00:1]:{port}/", "IPv4-translated 127.0.0.1"),
    ("http://[::ffff:0:a9fe:a9fe]/", "metadata"),
    ("http://[::7f00:1]:{port}/", "IPv4-compatible 127.0.0.1"),
    ("http://[64:ff9b::7f00:1]:{port}/", "NAT64 for 127.0.0.1"),
    ("http://[64:ff9b:1::7f00:1]:{port}/", "local-use NAT64"),
    ("http://[2002:7f00:1::1]:{port}/", "6to4 for 127.0.0.1"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}/", "Teredo for 127.0.0.1"),
    ("http://2130706433:{port}/", "loopback"),
    ("http://0x7f000001:{port}/", "loopback"),
    ("http://017700000001:{port}/", "loopback"),
    ("http://127.1:{port}/", "loopback"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher'"),
    ("ftp://example.org/file", "scheme 'ftp'"),
    ("http://user:secret@example.org/", "credentials"),
]


@pytest.fixture(scope="module")
def site():
    with Site() as s:
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web():
    async with fleet_client("web", load_settings()) as client:  # the default configuration
        yield client


@pytest.mark.parametrize(("form", "reason"), FORMS)
async def test_default_configuration_refuses(web, site, form, reason):
    url = form.format(port=site.port)
    with pytest.raises(ToolError, match="refused") as info:
        await web.call_tool("web_fetch", {"url": url})
    assert reason in str(info.value)


async def test_the_fixture_server_never_saw_a_request(web, site):
    for form, _ in FORMS:
        try:
            await web.call_tool("web_fetch", {"url": form.format(port=site.port)})
        except ToolError:
            pass
    assert sum(site.hits.values()) == 0


async def test_redirect_from_an_allowed_host_into_loopback_is_refused(site):
    # Only the name `localhost` is allowed: the fixture host itself. Its redirect to 127.0.0.1 (the
    # same server, another spelling) and to the metadata service must still be refused.
    settings = load_settings(http={"allow": ["localhost"], "retries": 0})
    async with fleet_client("web", settings) as client:
        ok = await client.call_tool("web_fetch", {"url": f"{site.base}/pages/forum.html"})
        assert "20 GB file" in ok.structured_content["content"]
        for target in (
            f"http://127.0.0.1:{site.port}/pages/article.html",
            "http://169.254.169.254/",
            f"http://[::ffff:7f00:1]:{site.port}/",
            f"http://2130706433:{site.port}/",
        ):
            site.redirect_target = target
            with pytest.raises(ToolError, match="refused"):
                await client.call_tool("web_fetch", {"url": f"{site.base}/to-loopback"})
    assert site.count("/pages/article.html") == 0


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (["169.254.169.254"], "metadata"),
        (["93.184.216.34", "10.0.0.7"], "private"),  # one private address among public ones refuses the host
        (["::ffff:127.0.0.1"], "IPv4-mapped"),
        (["::ffff:0:7f00:1"], "IPv4-translated"),
        (["64:ff9b::a00:1"], "NAT64 for 10.0.0.1"),
    ],
)
async def test_public_looking_names_that_resolve_inside_are_refused(answer, reason):
    # web_fetch's fetch path (PageFetcher, as server.py builds it) over a client whose resolver
    # answers `answer` for a public-looking name: refused before anything is sent or extracted.
    from mcpfleet.common.http import OutboundClient
    from mcpfleet.servers.web.fetch import PageFetcher
    from mcpfleet.servers.web.settings import WebSettings

    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return list(answer)

    async def never_extract(*args, **kwargs):
        raise AssertionError("a refused page reached extraction")

    async with OutboundClient(load_settings().http, resolver=resolve) as client:
        fetcher = PageFetcher(WebSettings(), lambda: client, None, never_extract)
        with pytest.raises(ToolError, match="refused") as info:
            await fetcher.get("http://innocent.example.com/page", "markdown", "key:alice")
    assert reason in str(info.value) and asked == ["innocent.example.com"]


async def test_a_cidr_in_http_allow_opens_that_range_to_web_fetch(monkeypatch):
    # issue 15 §5: with MCPFLEET_HTTP__ALLOW='["127.0.0.2/32"]', OutboundClient fetched
    # http://127.0.0.2:PORT/ while web_fetch refused it as loopback (it checked without the list).
    from mcpfleet.common.http import OutboundClient

    monkeypatch.setenv("MCPFLEET_HTTP__ALLOW", '["127.0.0.2/32"]')
    settings = load_settings(http={"retries": 0})
    assert settings.http.allow == ["127.0.0.2/32"]
    with Site("missing", host="127.0.0.2") as inside, Site() as other:
        url = f"http://127.0.0.2:{inside.port}/pages/article.html"
        async with OutboundClient(settings.http) as client:
            assert (await client.fetch(url)).status == 200
        async with fleet_client("web", settings) as web:
            page = (await web.call_tool("web_fetch", {"url": url})).structured_content
            assert "Kubernetes Egress Policies Explained" in page["content"]
            # the same address in another spelling is the same destination: allowed too
            numeric = f"http://2130706434:{inside.port}/pages/article.html"
            assert "Egress" in (await web.call_tool("web_fetch", {"url": numeric})).structured_content["content"]
            # the rest of loopback stays refused
            for refused in (
                f"http://127.0.0.1:{other.port}/pages/article.html",
                f"http://127.0.0.3:{inside.port}/pages/article.html",
            ):
                with pytest.raises(ToolError, match="refused.*loopback"):
                    await web.call_tool("web_fetch", {"url": refused})
        assert inside.count("/pages/article.html") == 3 and other.count("/pages/article.html") == 0
