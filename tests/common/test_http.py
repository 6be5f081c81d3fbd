"""The outbound client: SSRF guard, DNS pinning, redirects, limits, timeouts, retries, cache.

Everything runs against a real server on 127.0.0.1 (conftest.py); other hosts are faked by
passing the client a resolver (`FakeDNS`), and nothing ever connects anywhere but 127.0.0.1: where a
"public" address is the target, the client gets a network backend that records and refuses the
connect (`RecordingNetwork`). Retry delays and cache expiry go through the injected sleep and clock.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpcore2
import pytest

from budgets import cpu_budget
from mcpfleet.common.errors import (
    BlockedDestination,
    ConfigError,
    MalformedResponse,
    OutboundError,
    ResponseTooLarge,
)
from mcpfleet.common.http import FetchResult, OutboundClient, check_url, resolve_checked
from mcpfleet.common.http.fetching import RETRY_AFTER_CAP, backoff, retry_after
from mcpfleet.common.http.pinning import PinnedBackend
from mcpfleet.common.http.policy import classify, inet_aton
from mcpfleet.common.settings import HttpSettings

if TYPE_CHECKING:  # the fixture's type; conftest.py is not importable as a package module
    from conftest import LocalServer

LOCAL = ["127.0.0.1/32"]


def settings(**overrides: Any) -> HttpSettings:
    base: dict[str, Any] = {"timeout": 2.0, "connect_timeout": 1.0, "retries": 0, "backoff": 0.0}
    return HttpSettings(**(base | overrides))


@pytest.fixture
async def client() -> AsyncIterator[OutboundClient]:
    async with OutboundClient(settings(), allow=LOCAL) as c:
        yield c


class FakeDNS:
    """A resolver answering from a table (`resolver=`); `looked_up` lists the names asked for.

    A list of lists is a sequence of answers: DNS that changes between lookups."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.looked_up: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.looked_up.append(host)
        answer = self.table[host]
        return list(answer.pop(0) if answer and isinstance(answer[0], list) else answer)


class RecordingNetwork(httpcore2.AsyncNetworkBackend):
    """A network backend (`network=`) that records TCP connect targets and fails them, so a
    'public' address is never really dialled."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore2.AsyncNetworkStream:
        self.seen.append((host, port))
        raise httpcore2.ConnectError("test: not dialling out")


@pytest.fixture
def network() -> RecordingNetwork:
    return RecordingNetwork()


# --- 1. schemes and URL shape -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("ftp://example.com/x", "scheme 'ftp'"),
        ("gopher://example.com:70/_x", "scheme 'gopher'"),
        ("data:text/plain,hi", "scheme 'data'"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("example.com/path", "no scheme"),
        ("//example.com/path", "no scheme"),
    ],
)
async def test_only_http_and_https(client: OutboundClient, url: str, named: str) -> None:
    with pytest.raises(BlockedDestination, match=f"has {named}; only http and https"):
        check_url(url)
    with pytest.raises(BlockedDestination, match=named):
        await client.fetch(url)


@pytest.mark.parametrize("url", ["http://user:pass@example.com/", "http://user@example.com/", "http://x\\@127.0.0.1/"])
def test_userinfo_refused(url: str) -> None:
    with pytest.raises(BlockedDestination, match="user credentials"):
        check_url(url)


@pytest.mark.parametrize("url", ["http:///path", "https://:443/"])
def test_missing_host_refused(url: str) -> None:
    with pytest.raises(BlockedDestination, match="no host"):
        check_url(url)


def test_public_url_passes_syntactic_check() -> None:
    check_url("https://example.com/a?b=c")
    check_url("http://8.8.8.8/")
    check_url("http://134744072/")  # 8.8.8.8 written as one number: odd but public


# --- 2. SSRF guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address", "reason"),
    [
        ("http://2130706433/", "127.0.0.1", "loopback"),
        ("http://0x7f000001/", "127.0.0.1", "loopback"),
        ("http://127.1/", "127.0.0.1", "loopback"),
        ("http://0177.0.0.1/", "127.0.0.1", "loopback"),
        ("http://127.0.0.1./", "127.0.0.1", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "loopback address (IPv4-mapped 127.0.0.1)"),
        ("http://[::1]/", "::1", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "cloud metadata"),
        ("http://[fd00::1]/", "fd00::1", "unique local"),
        ("http://100.64.0.1/", "100.64.0.1", "carrier-grade NAT"),
        ("http://10.0.0.1/", "10.0.0.1", "private"),
        ("http://0.0.0.0/", "0.0.0.0", "unspecified"),
        ("http://[::]/", "::", "unspecified"),
        ("http://0/", "0.0.0.0", "unspecified"),
    ],
)
async def test_numeric_hosts_refused_without_dns(url: str, address: str, reason: str) -> None:
    dns = FakeDNS({})
    expected = rf"^refused: {re.escape(url)} resolves to {re.escape(address)}, .*{re.escape(reason)}"
    with pytest.raises(BlockedDestination, match=expected):
        check_url(url)
    async with OutboundClient(settings(), resolver=dns) as c:  # no allow-list at all
        with pytest.raises(BlockedDestination, match=expected):
            await c.fetch(url)
    assert dns.looked_up == []  # classified from the URL alone


async def test_refusal_message_is_readable() -> None:
    async with OutboundClient(settings()) as c:
        with pytest.raises(BlockedDestination) as info:
            await c.fetch("http://127.1/")
    assert str(info.value) == (
        "refused: http://127.1/ resolves to 127.0.0.1, a loopback address "
        "(outbound requests may only reach public addresses)"
    )


async def test_localhost_refused_via_real_resolver() -> None:
    async with OutboundClient(settings()) as c:
        with pytest.raises(BlockedDestination, match="http://localhost:8080/ resolves to .*loopback"):
            await c.fetch("http://localhost:8080/")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.2", "loopback"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"),
        ("0.1.2.3", "this network"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("192.0.0.8", "special-purpose"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("fc12::1", "unique local"),
        ("::127.0.0.1", "loopback address (IPv4-compatible 127.0.0.1)"),
        ("::8.8.8.8", "deprecated form (IPv4-compatible 8.8.8.8)"),  # refused whatever it carries
        ("64:ff9b::a00:1", "private (RFC 1918) address (NAT64 for 10.0.0.1)"),
        ("64:ff9b::a9fe:a9fe", "metadata"),
        ("64:ff9b:1::1", "NAT64"),
        ("2002:7f00:1::1", "loopback address (6to4 for 127.0.0.1)"),
        ("2002:c0a8:101::", "6to4 for 192.168.1.1"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo for 192.0.2.45"),
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "tunnel address (Teredo for 8.8.8.8)"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001:2::1", "benchmarking"),
        ("100::1", "discard-only"),
        ("::ffff:10.1.2.3", "IPv4-mapped 10.1.2.3"),
        ("::ffff:169.254.169.254", "metadata"),
    ],
)
def test_refused_ranges(address: str, reason: str) -> None:
    why = classify(ipaddress.ip_address(address))
    assert why is not None and reason in why


# Every IPv6 form that carries an IPv4 address, written around 127.0.0.1 / 10.0.0.1 / the metadata
# service: each is judged by the address it embeds and refused before any connection.
EMBEDDING_FORMS = [
    ("::ffff:127.0.0.1", "loopback address (IPv4-mapped 127.0.0.1)"),
    ("::ffff:0:7f00:1", "loopback address (IPv4-translated 127.0.0.1)"),  # issue 15's reproduction
    ("::ffff:0:10.0.0.1", "private (RFC 1918) address (IPv4-translated 10.0.0.1)"),
    ("::ffff:0:169.254.169.254", "metadata service) (IPv4-translated 169.254.169.254)"),
    ("::127.0.0.1", "loopback address (IPv4-compatible 127.0.0.1)"),
    ("::a00:1", "private (RFC 1918) address (IPv4-compatible 10.0.0.1)"),
    ("64:ff9b::127.0.0.1", "loopback address (NAT64 for 127.0.0.1)"),
    ("64:ff9b::a9fe:a9fe", "metadata service) (NAT64 for 169.254.169.254)"),
    ("64:ff9b:1::7f00:1", "local-use NAT64"),
    ("2002:7f00:1::1", "loopback address (6to4 for 127.0.0.1)"),
    ("2002:a00:1::", "private (RFC 1918) address (6to4 for 10.0.0.1)"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback address (Teredo for 127.0.0.1)"),
    ("::", "unspecified"),
    ("ff02::1", "multicast"),
    ("2001:db8::7f00:1", "documentation"),
    ("2001:2::7f00:1", "benchmarking"),
]


@pytest.mark.parametrize(("address", "reason"), EMBEDDING_FORMS)
async def test_ipv4_embedding_forms_refused_before_connecting(
    network: RecordingNetwork, address: str, reason: str
) -> None:
    dns = FakeDNS({"embedded.example": [address]})
    async with OutboundClient(settings(), resolver=dns, network=network) as c:
        for url in (f"http://[{address}]:8080/", "http://embedded.example:8080/"):  # as written, as resolved
            with pytest.raises(BlockedDestination, match=re.escape(reason)):
                await c.fetch(url)
    assert network.seen == []


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "93.184.216.34",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "::ffff:0:808:808",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("10.1.258", "10.1.1.2"),
        ("1.2.3.4", "1.2.3.4"),
        ("0", "0.0.0.0"),
        ("256.1.1.1", None),
        ("4294967296", None),
        ("08.1.1.1", None),
        ("1.2.3.4.5", None),
        ("example.com", None),
        ("0x7g.1", None),
    ],
)
def test_inet_aton_forms(text: str, expected: str | None) -> None:
    parsed = inet_aton(text)
    assert (str(parsed) if parsed else None) == expected
    if expected is not None:  # same reading as the C library
        assert socket.inet_ntoa(socket.inet_aton(text)) == expected


async def test_any_private_address_refuses_the_host() -> None:
    dns = FakeDNS({"mixed.example": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(BlockedDestination, match="mixed.example resolves to 10.0.0.7, a private"):
        await resolve_checked("mixed.example", 80, resolver=dns)
    async with OutboundClient(settings(), resolver=dns) as c:
        with pytest.raises(BlockedDestination, match=r"http://mixed.example/x resolves to 10\.0\.0\.7"):
            await c.fetch("http://mixed.example/x")


async def test_resolve_checked_returns_checked_addresses() -> None:
    dns = FakeDNS({"pub.example": ["93.184.216.34", "2606:4700::1"]})
    assert await resolve_checked("pub.example", 443, resolver=dns) == ["93.184.216.34", "2606:4700::1"]
    assert await resolve_checked("[::ffff:8.8.8.8]", 80, resolver=dns) == ["::ffff:808:808"]
    assert dns.looked_up == ["pub.example"]


async def test_unresolvable_host_is_outbound_error() -> None:
    dns = FakeDNS({"nowhere.example": []})
    with pytest.raises(OutboundError, match="cannot resolve host 'nowhere.example'") as info:
        await resolve_checked("nowhere.example", 80, resolver=dns)
    assert not isinstance(info.value, BlockedDestination)


# --- 5. allow-list -------------------------------------------------------------------------------


async def test_allow_cidr_entries() -> None:
    dns = FakeDNS({"db.corp": ["10.1.2.3"], "other.corp": ["10.2.0.1"]})
    allow = ["10.1.0.0/16", "::1/128"]
    assert await resolve_checked("db.corp", 5432, allow, resolver=dns) == ["10.1.2.3"]
    assert await resolve_checked("::1", 80, allow, resolver=dns) == ["::1"]
    with pytest.raises(BlockedDestination, match="10.2.0.1"):
        await resolve_checked("other.corp", 80, allow, resolver=dns)
    check_url("http://10.1.0.9/", allow)
    with pytest.raises(BlockedDestination):
        check_url("http://10.3.0.9/", allow)


async def test_allow_host_name_entries() -> None:
    dns = FakeDNS(
        {n: ["10.9.9.9"] for n in ("metrics", "a.internal.example", "b.c.internal.example", "internal.example")}
    )
    allow = ["Metrics", "*.internal.example"]
    assert await resolve_checked("metrics", 80, allow, resolver=dns) == ["10.9.9.9"]
    assert await resolve_checked("a.internal.example", 80, allow, resolver=dns) == ["10.9.9.9"]
    assert await resolve_checked("b.c.internal.example", 80, allow, resolver=dns) == ["10.9.9.9"]
    with pytest.raises(BlockedDestination):  # the wildcard covers names below it, not itself
        await resolve_checked("internal.example", 80, allow, resolver=dns)


async def test_settings_allow_and_constructor_allow_combine(http_server: LocalServer) -> None:
    dns = FakeDNS({"svc.internal": ["127.0.0.1"]})
    async with OutboundClient(settings(allow=["svc.internal"]), allow=LOCAL, resolver=dns) as c:
        assert (await c.fetch(http_server.url("/ok"))).status == 200
        assert (await c.fetch(http_server.url("/ok", host="svc.internal"))).status == 200


@pytest.mark.parametrize("entry", ["not a host", "127.1", "10.0.0.0/33", "*.", "a..b"])
def test_bad_allow_entry_is_config_error(entry: str) -> None:
    with pytest.raises(ConfigError, match="http.allow entry"):
        OutboundClient(settings(), allow=[entry])


# --- 3. DNS pinning ------------------------------------------------------------------------------


async def test_connects_to_the_checked_address_not_the_name(network: RecordingNetwork) -> None:
    dns = FakeDNS({"www.example": ["93.184.216.34"]})
    async with OutboundClient(settings(), resolver=dns, network=network) as c:
        with pytest.raises(OutboundError, match=r"could not connect to http://www.example$"):
            await c.fetch("http://www.example/")
    assert network.seen == [("93.184.216.34", 80)]
    assert dns.looked_up == ["www.example"]  # resolved once, for the check


async def test_dns_rebinding_is_defeated(network: RecordingNetwork) -> None:
    # First lookup public, the next one loopback: the classic rebinding pattern.
    dns = FakeDNS({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    async with OutboundClient(settings(), resolver=dns, network=network) as c:
        with pytest.raises(OutboundError, match="could not connect"):
            await c.fetch("http://rebind.example/", cache=False)
        with pytest.raises(BlockedDestination, match="resolves to 127.0.0.1"):
            await c.fetch("http://rebind.example/", cache=False)
    assert network.seen == [("93.184.216.34", 80)]  # 127.0.0.1 was never dialled
    assert dns.looked_up == ["rebind.example", "rebind.example"]


async def test_pinned_connection_keeps_host_header_and_never_resolves_again(
    http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns = FakeDNS({"pinned.test": ["127.0.0.1"]})
    system_lookups: list[Any] = []
    real_getaddrinfo = socket.getaddrinfo

    def spy(host: Any, *args: Any, **kwargs: Any) -> Any:
        system_lookups.append(host)
        if host == "pinned.test":
            raise AssertionError("second resolution of pinned.test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)  # the system resolver, spied on: never asked
    async with OutboundClient(settings(), allow=LOCAL, resolver=dns) as c:
        result = await c.fetch(http_server.url("/echo", host="pinned.test"))
    seen = json.loads(result.content)
    assert seen["headers"]["host"] == f"pinned.test:{http_server.port}"
    assert "pinned.test" not in system_lookups and dns.looked_up == ["pinned.test"]


async def test_https_uses_original_name_for_sni() -> None:
    hello = bytearray()

    async def tls_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello.extend(await reader.read(4096))  # the ClientHello, then hang up
        writer.close()

    srv = await asyncio.start_server(tls_sink, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    dns = FakeDNS({"secure.test": ["127.0.0.1"]})
    try:
        async with OutboundClient(settings(), allow=LOCAL, resolver=dns) as c:
            with pytest.raises(OutboundError):
                await c.fetch(f"https://secure.test:{port}/")
    finally:
        srv.close()
        await srv.wait_closed()
    assert hello[:1] == b"\x16"  # a TLS handshake record reached the pinned address
    assert b"secure.test" in hello  # ...naming the host from the URL (SNI), not 127.0.0.1


async def test_backend_without_pin_fails_closed() -> None:
    backend = PinnedBackend()
    with pytest.raises(httpcore2.ConnectError, match="no checked address"):
        await backend.connect_tcp("example.com", 80)


# --- 4. redirects --------------------------------------------------------------------------------


async def test_redirect_chain_followed(client: OutboundClient, http_server: LocalServer) -> None:
    result = await client.fetch(http_server.url("/redirect-chain?n=3"))
    assert (result.status, result.content, result.url) == (200, b"hello", http_server.url("/ok"))
    assert http_server.hits["/redirect-chain"] == 4


async def test_too_many_redirects(http_server: LocalServer) -> None:
    async with OutboundClient(settings(max_redirects=2), allow=LOCAL) as c:
        with pytest.raises(OutboundError, match="too many redirects"):
            await c.fetch(http_server.url("/redirect-chain?n=5"))
    assert http_server.hits["/redirect-chain"] == 3


async def test_relative_location_resolved(client: OutboundClient, http_server: LocalServer) -> None:
    result = await client.fetch(http_server.url("/redirect-to?url=ok"))  # relative to /redirect-to
    assert result.url == http_server.url("/ok") and result.content == b"hello"


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.2:{port}/ok", "http://[::1]:{port}/ok", "http://2130706434:{port}/", "http://169.254.169.254/"],
)
async def test_redirect_into_non_allowed_address_refused(
    client: OutboundClient, http_server: LocalServer, target: str
) -> None:
    location = target.format(port=http_server.port)
    with pytest.raises(BlockedDestination, match="refused: .* resolves to"):
        await client.fetch(http_server.url(f"/redirect-to?url={location}"))


async def test_redirect_to_other_scheme_refused(client: OutboundClient, http_server: LocalServer) -> None:
    with pytest.raises(BlockedDestination, match="'file'"):
        await client.fetch(http_server.url("/redirect-to?url=file:///etc/passwd"))


@pytest.mark.parametrize(("status", "method"), [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")])
async def test_redirect_method_rules(
    client: OutboundClient, http_server: LocalServer, status: int, method: str
) -> None:
    result = await client.fetch(
        http_server.url(f"/redirect-to?status={status}&url=/echo"),
        method="POST",
        content=b"payload",
        headers={"Content-Type": "text/plain"},
    )
    echoed = json.loads(result.content)
    assert echoed["method"] == method
    assert echoed["body"] == ("payload" if method == "POST" else "")


async def test_credentials_dropped_on_cross_origin_redirect(http_server: LocalServer) -> None:
    async with OutboundClient(settings(), allow=[*LOCAL, "localhost"]) as c:
        same = await c.fetch(http_server.url("/redirect-to?url=/echo"), headers={"Authorization": "Bearer t"})
        other = http_server.url("/echo", host="localhost")
        cross = await c.fetch(
            http_server.url(f"/redirect-to?url={other}"),
            headers={"Authorization": "Bearer t", "X-API-Key": "k", "Accept": "text/plain"},
        )
    assert json.loads(same.content)["headers"].get("authorization") == "Bearer t"
    sent = json.loads(cross.content)["headers"]
    assert "authorization" not in sent and "x-api-key" not in sent  # any header may be a credential
    assert sent.get("accept") == "text/plain"


# --- 6. size limits ------------------------------------------------------------------------------


async def test_endless_body_raises_quickly(client: OutboundClient, http_server: LocalServer) -> None:
    with pytest.raises(ResponseTooLarge, match="larger than 100000 bytes"):
        await client.fetch(http_server.url("/huge"), max_bytes=100_000)
    await _until(lambda: http_server.open_connections == 0)  # we hung up; the server stopped writing


async def test_endless_body_truncated_on_request(client: OutboundClient, http_server: LocalServer) -> None:
    result = await client.fetch(http_server.url("/huge"), max_bytes=100_000, truncate=True)
    assert (len(result.content), result.truncated) == (100_000, True)
    await _until(lambda: http_server.open_connections == 0)
    assert http_server.streamed < 64 * 1024 * 1024  # only socket buffers' worth went out, not "for ever"


async def test_huge_content_length_refused_before_reading(client: OutboundClient, http_server: LocalServer) -> None:
    with pytest.raises(ResponseTooLarge):
        await client.fetch(http_server.url("/big-length"))  # the server never sends the body


async def test_lying_content_length_reads_only_what_it_declared(
    client: OutboundClient, http_server: LocalServer
) -> None:
    result = await client.fetch(http_server.url("/lying-length"), max_bytes=2048)
    assert (len(result.content), result.truncated) == (100, False)


async def test_compressed_body_limited_after_decoding(client: OutboundClient, http_server: LocalServer) -> None:
    with cpu_budget(10):  # stopped early: inflating the whole 50 MB is what the budget catches
        with pytest.raises(ResponseTooLarge, match="larger than 100000 bytes"):
            await client.fetch(http_server.url("/gzip-bomb"), max_bytes=100_000)
        cut = await client.fetch(http_server.url("/gzip-bomb"), max_bytes=100_000, truncate=True)
    assert (len(cut.content), cut.truncated) == (100_000, True)


async def test_body_at_the_limit_is_whole(client: OutboundClient, http_server: LocalServer) -> None:
    assert (await client.fetch(http_server.url("/ok"), max_bytes=5)).content == b"hello"
    with pytest.raises(ResponseTooLarge):
        await client.fetch(http_server.url("/ok"), max_bytes=4, cache=False)
    cut = await client.fetch(http_server.url("/ok"), max_bytes=4, truncate=True, cache=False)
    assert (cut.content, cut.truncated) == (b"hell", True)


async def test_caller_cannot_raise_the_configured_cap(http_server: LocalServer) -> None:
    async with OutboundClient(settings(max_bytes=2048), allow=LOCAL) as c:
        result = await c.fetch(http_server.url("/huge"), max_bytes=10_000_000, truncate=True)
    assert len(result.content) == 2048


# --- 7. timeouts ---------------------------------------------------------------------------------


async def test_dripping_server_cut_by_overall_deadline(http_server: LocalServer) -> None:
    async with OutboundClient(settings(timeout=0.5), allow=LOCAL) as c:
        with pytest.raises(OutboundError, match=r"timed out after 0.5s fetching http://127.0.0.1:\d+/slow$"):
            await c.fetch(http_server.url("/slow"))  # the overall deadline, not the dripping, ended it


async def test_connect_timeout() -> None:
    # A listener with a full accept queue: the kernel drops further SYNs, so connects hang.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = _fill_accept_queue(port)
    try:
        async with OutboundClient(settings(connect_timeout=0.2, timeout=3.0), allow=LOCAL) as c:
            with pytest.raises(OutboundError, match=f"connecting to http://127.0.0.1:{port} timed out"):
                await c.fetch(f"http://127.0.0.1:{port}/")  # the connect timeout, not the overall 3 s
    finally:
        for s in [*fillers, listener]:
            s.close()


def _fill_accept_queue(port: int) -> list[socket.socket]:
    fillers = []
    for _ in range(16):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
        probe = socket.socket()
        probe.settimeout(0.1)
        try:
            probe.connect(("127.0.0.1", port))
        except TimeoutError:
            return fillers
        finally:
            probe.close()
    pytest.skip("could not make a connect hang on this kernel")


# --- 8. retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_get_retried_on_transient_status(http_server: LocalServer, status: int) -> None:
    async with OutboundClient(settings(retries=2), allow=LOCAL) as c:
        result = await c.fetch(http_server.url(f"/flaky?key=s{status}&fail=2&status={status}"))
    assert (result.status, result.content) == (200, b"recovered")
    assert http_server.hits[f"flaky:s{status}"] == 3


async def test_retries_exhausted_returns_last_answer(http_server: LocalServer) -> None:
    async with OutboundClient(settings(retries=1), allow=LOCAL) as c:
        result = await c.fetch(http_server.url("/status/503"))
    assert result.status == 503 and result.content == b"status body"
    assert http_server.hits["/status/503"] == 2


async def test_get_retried_after_dropped_connection(http_server: LocalServer) -> None:
    async with OutboundClient(settings(retries=1), allow=LOCAL) as c:
        result = await c.fetch(http_server.url("/flaky?key=drop&fail=1&mode=drop"))
    assert result.status == 200 and http_server.hits["flaky:drop"] == 2


async def test_post_never_retried(http_server: LocalServer) -> None:
    async with OutboundClient(settings(retries=3), allow=LOCAL) as c:
        result = await c.fetch(http_server.url("/flaky?key=post&fail=1"), method="POST", content=b"x")
        assert result.status == 503
        with pytest.raises(OutboundError, match="closed the connection"):
            await c.fetch(http_server.url("/flaky?key=postdrop&fail=1&mode=drop"), method="POST", content=b"x")
    assert http_server.hits["flaky:post"] == 1 and http_server.hits["flaky:postdrop"] == 1


async def test_client_errors_not_retried(http_server: LocalServer) -> None:
    async with OutboundClient(settings(retries=3), allow=LOCAL) as c:
        assert (await c.fetch(http_server.url("/status/404"))).status == 404
    assert http_server.hits["/status/404"] == 1


async def test_retry_after_honoured_and_capped(http_server: LocalServer) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    async with OutboundClient(settings(retries=1, timeout=15.0), allow=LOCAL, sleep=record) as c:
        await c.fetch(http_server.url("/flaky?key=ra&fail=1&retry_after=3"))
        await c.fetch(http_server.url("/flaky?key=cap&fail=1&retry_after=3600"))
    assert slept == [3.0, RETRY_AFTER_CAP]


async def test_retry_after_beyond_deadline_returns_the_answer(http_server: LocalServer) -> None:
    async with OutboundClient(settings(retries=3, timeout=1.0), allow=LOCAL) as c:
        result = await c.fetch(http_server.url("/status/503?retry_after=5"))
    # One request: a Retry-After beyond the deadline is not waited for (no retry was sent).
    assert result.status == 503 and http_server.hits["/status/503"] == 1


def test_backoff_is_exponential_with_jitter() -> None:
    for attempt in range(4):
        delays = {backoff(0.5, attempt) for _ in range(50)}
        nominal = 0.5 * 2**attempt
        assert all(nominal * 0.5 <= d <= nominal * 1.5 for d in delays)
        assert len(delays) > 1
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 60) == 0.0  # a past date: no wait
    assert retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now) == 5.0
    assert retry_after("Wed, 21 Oct 2015 09:00:00 GMT", now) == RETRY_AFTER_CAP
    assert retry_after("soon", now) is None


# --- 9. cache ------------------------------------------------------------------------------------


async def test_second_fetch_served_from_cache(client: OutboundClient, http_server: LocalServer) -> None:
    first = await client.fetch(http_server.url("/counter"))
    second = await client.fetch(http_server.url("/counter"))
    assert (first.from_cache, second.from_cache) == (False, True)
    assert first.content == second.content == b"n=1"
    assert http_server.hits["/counter"] == 1
    bypass = await client.fetch(http_server.url("/counter"), cache=False)
    assert bypass.content == b"n=2" and not bypass.from_cache


async def test_cache_entries_expire(http_server: LocalServer) -> None:
    clock = [1000.0]
    async with OutboundClient(settings(cache_ttl=60), allow=LOCAL, clock=lambda: clock[0]) as c:
        await c.fetch(http_server.url("/counter"))
        clock[0] += 59
        assert (await c.fetch(http_server.url("/counter"))).from_cache
        clock[0] += 2
        assert (await c.fetch(http_server.url("/counter"))).content == b"n=2"
    assert http_server.hits["/counter"] == 2


@pytest.mark.parametrize("path", ["/nostore", "/maxage0", "/status/404"])
async def test_uncacheable_responses(client: OutboundClient, http_server: LocalServer, path: str) -> None:
    await client.fetch(http_server.url(path))
    assert not (await client.fetch(http_server.url(path))).from_cache
    assert http_server.hits[path] == 2


async def test_authorized_and_non_get_requests_uncached(client: OutboundClient, http_server: LocalServer) -> None:
    for _ in range(2):
        await client.fetch(http_server.url("/counter"), headers={"Authorization": "Bearer x"})
        await client.fetch(http_server.url("/counter"), method="HEAD")
    assert http_server.hits["/counter"] == 4


async def test_request_headers_are_part_of_the_key(client: OutboundClient, http_server: LocalServer) -> None:
    a = await client.fetch(http_server.url("/counter"), headers={"Accept": "text/html"})
    b = await client.fetch(http_server.url("/counter"), headers={"Accept": "application/json"})
    c = await client.fetch(http_server.url("/counter"), headers={"accept": "text/html"})
    assert (a.content, b.content, c.content, c.from_cache) == (b"n=1", b"n=2", b"n=1", True)


async def test_lru_evicts_oldest(http_server: LocalServer) -> None:
    async with OutboundClient(settings(cache_max_entries=2), allow=LOCAL) as c:
        for path in ("/counter?a", "/counter?b", "/counter?a", "/counter?c"):  # c evicts b, not a
            await c.fetch(http_server.url(path))
        assert (await c.fetch(http_server.url("/counter?a"))).from_cache
        assert not (await c.fetch(http_server.url("/counter?b"))).from_cache


async def test_cached_body_obeys_the_callers_limit(client: OutboundClient, http_server: LocalServer) -> None:
    await client.fetch(http_server.url("/ok"))
    with pytest.raises(ResponseTooLarge):
        await client.fetch(http_server.url("/ok"), max_bytes=3)
    cut = await client.fetch(http_server.url("/ok"), max_bytes=3, truncate=True)
    assert (cut.content, cut.truncated, cut.from_cache) == (b"hel", True, True)


async def test_disk_cache_survives_a_new_client(http_server: LocalServer, tmp_path: Path) -> None:
    cfg = settings(cache_dir=str(tmp_path / "cache"))
    async with OutboundClient(cfg, allow=LOCAL) as c:
        await c.fetch(http_server.url("/counter"))
    files = list((tmp_path / "cache").glob("*.cache"))
    assert len(files) == 1 and len(files[0].stem) == 64
    async with OutboundClient(cfg, allow=LOCAL) as c:
        again = await c.fetch(http_server.url("/counter"))
    assert (again.content, again.from_cache, again.status) == (b"n=1", True, 200)
    assert http_server.hits["/counter"] == 1
    assert not list((tmp_path / "cache").glob(".tmp-*"))  # written atomically, nothing left over


async def test_disk_entries_expire_by_the_clients_clock(http_server: LocalServer, tmp_path: Path) -> None:
    clock = [5000.0]
    cfg = settings(cache_dir=str(tmp_path), cache_ttl=60)
    async with OutboundClient(cfg, allow=LOCAL, clock=lambda: clock[0]) as c:
        await c.fetch(http_server.url("/counter"))
    clock[0] += 30
    async with OutboundClient(cfg, allow=LOCAL, clock=lambda: clock[0]) as c:  # a fresh memory cache
        assert (await c.fetch(http_server.url("/counter"))).from_cache  # from disk
        clock[0] += 31  # 61 s after the first fetch: the memory copy keeps the disk expiry too
        assert (await c.fetch(http_server.url("/counter"))).content == b"n=2"
    assert http_server.hits["/counter"] == 2


async def test_corrupt_disk_entry_is_a_miss(http_server: LocalServer, tmp_path: Path) -> None:
    cfg = settings(cache_dir=str(tmp_path))
    async with OutboundClient(cfg, allow=LOCAL) as c:
        await c.fetch(http_server.url("/counter"))
    (entry,) = tmp_path.glob("*.cache")
    entry.write_bytes(b'{"key": "truncated json')
    async with OutboundClient(cfg, allow=LOCAL) as c:
        again = await c.fetch(http_server.url("/counter"))
    assert (again.content, again.from_cache) == (b"n=2", False)


async def test_disk_cache_not_shared_across_allow_lists(http_server: LocalServer, tmp_path: Path) -> None:
    async with OutboundClient(settings(cache_dir=str(tmp_path)), allow=LOCAL) as c:
        await c.fetch(http_server.url("/counter"))
    async with OutboundClient(settings(cache_dir=str(tmp_path)), allow=[*LOCAL, "10.0.0.0/8"]) as c:
        assert not (await c.fetch(http_server.url("/counter"))).from_cache


# --- 10-12. headers, errors, pooling -------------------------------------------------------------


async def test_user_agent_from_settings(http_server: LocalServer) -> None:
    async with OutboundClient(settings(user_agent="fleet-test/1"), allow=LOCAL) as c:
        plain = await c.fetch(http_server.url("/echo"))
        overridden = await c.fetch(http_server.url("/echo"), headers={"User-Agent": "other"}, cache=False)
    assert json.loads(plain.content)["headers"]["user-agent"] == "fleet-test/1"
    assert json.loads(overridden.content)["headers"]["user-agent"] == "fleet-test/1"


async def test_connection_refused_is_short_outbound_error(client: OutboundClient) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(OutboundError) as info:
        await client.fetch(f"http://127.0.0.1:{port}/x?token=secret")
    assert str(info.value) == f"could not connect to http://127.0.0.1:{port}"
    assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_error_statuses_are_results_unless_refused(client: OutboundClient, http_server: LocalServer) -> None:
    result = await client.fetch(http_server.url("/status/404"))
    assert (result.status, result.content) == (404, b"status body")
    with pytest.raises(OutboundError, match=r"/status/500 answered HTTP 500"):
        await client.fetch(http_server.url("/status/500"), accept_status={200})
    assert (await client.fetch(http_server.url("/ok"), accept_status=range(200, 300))).status == 200


async def test_one_pooled_client(client: OutboundClient, http_server: LocalServer) -> None:
    inner = client._client
    for _ in range(3):
        await client.fetch(http_server.url("/ok"), cache=False)
    assert client._client is inner
    assert http_server.connections == 1 and http_server.hits["/ok"] == 3  # keep-alive reused one connection


async def test_cookies_are_not_kept(client: OutboundClient, http_server: LocalServer) -> None:
    await client.fetch(http_server.url("/cookie"))
    echoed = await client.fetch(http_server.url("/echo"))
    assert "cookie" not in json.loads(echoed.content)["headers"]


async def test_closed_client_refuses_use(http_server: LocalServer) -> None:
    async with OutboundClient(settings(), allow=LOCAL) as c:
        pass
    with pytest.raises(RuntimeError):
        await c.fetch(http_server.url("/ok"))


# --- FetchResult ---------------------------------------------------------------------------------


async def test_result_text_and_content_type(client: OutboundClient, http_server: LocalServer) -> None:
    ok = await client.fetch(http_server.url("/ok"))
    assert (ok.content_type, ok.charset, ok.text()) == ("text/plain", "utf-8", "hello")
    assert ok.headers["content-length"] == "5"  # names lower-cased
    latin = await client.fetch(http_server.url("/latin1"))
    assert (latin.content_type, latin.charset, latin.text()) == ("text/html", "ISO-8859-1", "café")
    odd = await client.fetch(http_server.url("/badcharset"))
    assert odd.text() == "café"  # unknown charset: utf-8


def _result(status: int, body: bytes, ctype: str = "application/json") -> FetchResult:
    return FetchResult(
        url="https://api.example/v1?key=secret", status=status, headers={"content-type": ctype}, content=body
    )


def test_result_json_parses_and_checks_the_shape() -> None:
    assert _result(200, b'{"a": [1]}').json(dict) == {"a": [1]}
    assert _result(200, b"[1, 2]").json(list) == [1, 2]
    assert _result(200, b'"x"').json() == "x"  # no expectation: any JSON value
    assert _result(200, '\ufeff{"a": "é"}'.encode()).json(dict) == {"a": "é"}  # a BOM is tolerated
    latin = _result(200, '{"a": "é"}'.encode("latin-1"), "application/json; charset=ISO-8859-1")
    assert latin.json(dict) == {"a": "é"}  # the declared charset is read
    with pytest.raises(MalformedResponse, match=r"^the registry answered a list in JSON, not an object$"):
        _result(200, b"[1]").json(dict, what="the registry")
    with pytest.raises(MalformedResponse, match=r"answered null in JSON, not a list"):
        _result(200, b"null").json(list)


def test_result_json_refuses_statuses_and_non_json() -> None:
    with pytest.raises(OutboundError, match=r"^https://api.example/v1\?… answered HTTP 503$") as info:
        _result(503, b'{"error": 1}').json(dict)  # the query (a key) stays out of the message
    assert not isinstance(info.value, MalformedResponse)
    with pytest.raises(MalformedResponse, match=r"^SearXNG did not answer JSON \(the text/html body is not JSON\)$"):
        _result(200, b"<html>", "text/html").json(dict, what="SearXNG")
    with pytest.raises(MalformedResponse, match="the body is not JSON"):
        _result(200, b"", "").json()
    with pytest.raises(MalformedResponse, match="is not JSON"):
        _result(200, b"[" * 100_000).json()  # deeper than the parser goes: refused, not a crash


async def test_result_json_of_a_real_answer(client: OutboundClient, http_server: LocalServer) -> None:
    echoed = (await client.fetch(http_server.url("/echo"))).json(dict)
    assert echoed["method"] == "GET"
    with pytest.raises(MalformedResponse, match=r"did not answer JSON \(the text/plain body is not JSON\)"):
        (await client.fetch(http_server.url("/ok"))).json()
    with pytest.raises(OutboundError, match=r"/status/404 answered HTTP 404$"):
        (await client.fetch(http_server.url("/status/404"))).json()


def test_result_without_content_type() -> None:
    r = FetchResult(url="http://x/", status=200, headers={}, content=b"\xff", truncated=False, from_cache=False)
    assert (r.content_type, r.charset, r.text()) == ("", None, "\ufffd")


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    # A bound on a loop that must end, not a speed check: generous, so a busy machine passes too.
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_refusal_messages_never_repeat_credentials():
    with pytest.raises(BlockedDestination) as caught:
        check_url("http://admin:hunter2@example.org/path?token=abc")
    message = str(caught.value)
    assert "hunter2" not in message and "admin" not in message and "abc" not in message
    assert "example.org/path" in message


def test_client_check_uses_the_clients_allow_list() -> None:
    # The pre-flight check callers use (web_fetch before robots.txt and its cache) is the fetch's
    # own policy: a CIDR the client allows passes, the same address without it is refused.
    allowed = OutboundClient(settings(allow=["127.0.0.2/32"]))
    allowed.check("http://127.0.0.2:8765/")
    allowed.check("http://2130706434:8765/")  # 127.0.0.2 as one number: the same address
    with pytest.raises(BlockedDestination, match="loopback"):
        allowed.check("http://127.0.0.3:8765/")
    with pytest.raises(BlockedDestination, match="loopback"):
        OutboundClient(settings()).check("http://127.0.0.2:8765/")
