"""web_fetch refuses every SSRF form with the DEFAULT configuration (nothing allow-listed).

A real fixture server listens on 127.0.0.1 throughout; the loopback forms point at its port, and
the test checks it never saw a request.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcpfleet.common.app import build_server
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.web import SPEC
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
    async with Client(build_server(SPEC, load_settings()).server) as client:  # the default configuration
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
    async with Client(build_server(SPEC, settings).server) as client:
        ok = await client.call_tool("web_fetch", {"url": f"{site.base}/pages/forum.html"})
        assert "20 GB file" in ok.structured_content["content"]
        for target in (f"http://127.0.0.1:{site.port}/pages/article.html", "http://169.254.169.254/",
                       f"http://[::ffff:7f00:1]:{site.port}/", f"http://2130706433:{site.port}/"):
            site.redirect_target = target
            with pytest.raises(ToolError, match="refused"):
                await client.call_tool("web_fetch", {"url": f"{site.base}/to-loopback"})
    assert site.count("/pages/article.html") == 0


@pytest.mark.parametrize(("answer", "reason"), [
    (["169.254.169.254"], "metadata"),
    (["93.184.216.34", "10.0.0.7"], "private"),  # one private address among public ones refuses the host
    (["::ffff:127.0.0.1"], "IPv4-mapped"),
])
async def test_public_looking_names_that_resolve_inside_are_refused(web, site, monkeypatch, answer, reason):
    from mcpfleet.common import http

    async def resolve(host: str, port: int) -> list[str]:
        return list(answer)

    monkeypatch.setattr(http, "_resolve", resolve)  # DNS answers for a public-looking name
    with pytest.raises(ToolError, match="refused") as info:
        await web.call_tool("web_fetch", {"url": "http://innocent.example.com/page"})
    assert reason in str(info.value)
