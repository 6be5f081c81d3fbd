"""Outbound HTTP for every server: one pooled client with an SSRF guard, limits, retries and a cache.

SSRF policy
-----------
Servers fetch URLs that callers (people or models) choose, from inside a cluster that can reach
things the caller must not: the cloud metadata service, databases, other tenants' pods, the
fleet's own admin endpoints. So every request, and every redirect hop, passes these checks:

* Only `http` and `https`; no user:password@ in the URL.
* The host is resolved once and *every* address it resolves to must be public. Loopback, RFC 1918
  private, link-local (169.254.169.254 included), CGNAT 100.64/10, 0.0.0.0/8, unspecified,
  multicast, broadcast, reserved, documentation, benchmarking and other special-purpose ranges,
  IPv6 ULA fc00::/7, link-local, site-local and multicast are refused. Every IPv6 form that
  carries an IPv4 address is judged by the IPv4 address it embeds: IPv4-mapped ::ffff:a.b.c.d,
  IPv4-translated ::ffff:0:a.b.c.d (RFC 2765/6145), NAT64 64:ff9b::/96 and 6to4 2002::/16 pass
  only when that address is public; IPv4-compatible ::a.b.c.d (deprecated), Teredo 2001::/32 and
  local-use NAT64 64:ff9b:1::/48 are refused whatever they embed (the message names it).
* Numeric hosts (`2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1`) are parsed the way
  `inet_aton` reads them, so they are classified without relying on the resolver.
* The connection goes to the exact address that was checked (DNS pinning, which defeats DNS
  rebinding); the Host header, SNI and certificate check still use the name from the URL.
* `HttpSettings.allow` (plus the client's own `allow`) exempts destinations: CIDRs
  (`10.1.0.0/16`, `::1/128`) allow addresses in the range; host names (`db.internal`, or
  `*.internal.example` for any name below it) allow that name whatever it resolves to.

Requests go out without proxies from the environment and without a cookie jar (the client is
shared by every tenant of a server, so nothing may carry over from one request to the next).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import email.utils
import hashlib
import http.cookiejar
import ipaddress
import json
import logging
import math
import os
import random
import re
import socket
import tempfile
import time
from collections import OrderedDict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import anyio
import httpcore2
import httpx2

from mcpfleet.common.errors import BlockedDestination, ConfigError, OutboundError, ResponseTooLarge
from mcpfleet.common.settings import HttpSettings

__all__ = ["FetchResult", "OutboundClient", "check_url", "resolve_checked"]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCHEMES = {"http": 80, "https": 443}
_POLICY = "outbound requests may only reach public addresses"
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_RETRY_STATUSES = {429, 502, 503, 504}
_IDEMPOTENT = {"GET", "HEAD", "OPTIONS"}
_RETRY_AFTER_CAP = 10.0  # seconds; a server asking for longer gets its error response instead
# Requests carrying credentials are never cached: the cache is shared by every caller of a server.
_PRIVATE_REQUEST_HEADERS = {"authorization", "proxy-authorization", "cookie"}
# The only request headers that follow a redirect to another origin: anything else (Authorization,
# Cookie, X-API-Key, PRIVATE-TOKEN, ...) may be a credential meant for the origin the caller named.
_CROSS_ORIGIN_HEADERS = {"accept", "accept-language", "accept-encoding", "user-agent", "cache-control", "pragma"}
_MEMORY_CACHE_BYTES = 64 * 1024 * 1024  # bounds the in-memory cache whatever cache_max_entries says


# --------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    headers: dict[str, str]
    content: bytes
    truncated: bool = False
    from_cache: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for param in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip("\"'") or None
        return None

    def text(self) -> str:
        try:
            return self.content.decode(self.charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# Destination policy


@dataclass(frozen=True)
class _AllowList:
    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".internal.example" for "*.internal.example"

    @classmethod
    def parse(cls, entries: Iterable[str]) -> _AllowList:
        networks: list[IPNetwork] = []
        names: set[str] = set()
        suffixes: list[str] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = entry.removeprefix("*.")
            if not _HOSTNAME.fullmatch(name) or _numeric_host(name) is not None:
                raise ConfigError(f"http.allow entry {raw!r} is neither a CIDR nor a host name")
            if entry.startswith("*."):
                suffixes.append("." + name)
            else:
                names.add(name)
        return cls(tuple(networks), frozenset(names), tuple(suffixes))

    def allows_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def allows_address(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


_HOSTNAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
AllowEntries = Sequence[str] | _AllowList


def _allow_list(allow: AllowEntries) -> _AllowList:
    return allow if isinstance(allow, _AllowList) else _AllowList.parse(allow)


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def _display(url: str) -> str:
    """The URL for messages: without credentials, query and fragment, which often carry keys."""
    base = _USERINFO.sub(r"\1…@", url.split("#", 1)[0])
    return base.split("?", 1)[0] + ("?…" if "?" in base else "")


def _parse_url(url: str, allow: _AllowList) -> httpx2.URL:
    """The URL as httpx2 will send it, after the checks that need no DNS."""
    url = url.strip()  # models often paste URLs with stray whitespace
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in _SCHEMES:
        named = f"scheme {scheme!r}" if scheme and scheme.isascii() and scheme.isalnum() else "no scheme"
        raise BlockedDestination(f"refused: {_display(url)} has {named}; only http and https URLs can be fetched")
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL:
        # httpx2 cannot send it anyway; still name the range of a numeric host it rejects
        # (`0177.0.0.1`), since that is usually what the caller was trying.
        try:
            _refuse_numeric(url, urlsplit(url).hostname or "", allow)
        except ValueError:  # urlsplit rejects it too
            pass
        raise BlockedDestination(f"refused: {_display(url)} is not a valid URL") from None
    if parsed.scheme not in _SCHEMES:  # a scheme written oddly enough to slip past the split
        raise BlockedDestination(f"refused: {_display(url)}: only http and https URLs can be fetched")
    if parsed.userinfo:
        raise BlockedDestination(f"refused: {_display(url)} contains user credentials (user:password@)")
    if not parsed.raw_host:
        raise BlockedDestination(f"refused: {_display(url)} has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise BlockedDestination(f"refused: {_display(url)} has an invalid port")
    _refuse_numeric(url, _host(parsed), allow)
    return parsed


def check_url(url: str, allow: AllowEntries = ()) -> None:
    """Syntactic checks, no DNS: scheme, credentials, host present, numeric hosts in a refused range."""
    _parse_url(url, _allow_list(allow))


def _host(url: httpx2.URL) -> str:
    """The host as the connection pool sees it: IDNA-encoded, IPv6 without brackets."""
    return url.raw_host.decode("ascii")


def _port(url: httpx2.URL) -> int:
    return url.port or _SCHEMES[url.scheme]


def _refuse_numeric(label: str, host: str, allow: _AllowList) -> None:
    ip = _numeric_host(host)
    if ip is not None and not allow.allows_address(ip):
        reason = _classify(ip)
        if reason:
            raise BlockedDestination(_refusal(label, ip, reason))


def _refusal(label: str, ip: IPAddress, reason: str) -> str:
    return f"refused: {_display(label)} resolves to {ip}, {reason} ({_POLICY})"


def _numeric_host(host: str) -> IPAddress | None:
    """An address written as the host, in any form the C library would also accept."""
    host = host.strip("[]").replace("%25", "%")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _inet_aton(host)


_AT_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")  # "0x" alone is 0, as in glibc


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """`inet_aton` semantics: 1-4 parts, each decimal, octal (0...) or hex (0x...); the last part
    fills the remaining bytes. So `127.1`, `0x7f000001`, `2130706433` and `0177.0.0.1` all mean
    127.0.0.1. Written out rather than calling socket.inet_aton so it means the same everywhere."""
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(_AT_PART.fullmatch(p) for p in parts):
        return None
    values = [int(p[2:] or "0", 16) if p[:2].lower() == "0x" else int(p, 8) if p[0] == "0" else int(p) for p in parts]
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), why) for net, why in pairs)


# First match wins, so specific entries come before the ranges that contain them.
_V4_REFUSED = _nets(
    ("0.0.0.0/32", "an unspecified address"),
    ("0.0.0.0/8", "a 'this network' (0.0.0.0/8) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", "a private (RFC 1918) address"),
    ("172.16.0.0/12", "a private (RFC 1918) address"),
    ("192.168.0.0/16", "a private (RFC 1918) address"),
    ("169.254.169.254/32", "a link-local address (the cloud metadata service)"),
    ("169.254.0.0/16", "a link-local address"),
    ("100.64.0.0/10", "a carrier-grade NAT (RFC 6598) address"),
    ("192.0.0.0/24", "a special-purpose (IETF protocol assignment) address"),
    ("192.0.2.0/24", "a documentation (special-purpose) address"),
    ("198.51.100.0/24", "a documentation (special-purpose) address"),
    ("203.0.113.0/24", "a documentation (special-purpose) address"),
    ("198.18.0.0/15", "a benchmarking (special-purpose) address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "a broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
)
_V6_REFUSED = _nets(
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("fc00::/7", "a unique local (ULA) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address (deprecated)"),
    ("ff00::/8", "a multicast address"),
    ("2001:db8::/32", "a documentation (special-purpose) address"),
    ("3fff::/20", "a documentation (special-purpose) address"),
    ("2001:2::/48", "a benchmarking (special-purpose) address"),
    ("100::/64", "a discard-only (special-purpose) address"),
)
# IPv6 ranges whose low 32 bits are an IPv4 destination (RFC 4291, 2765/6145, 6052), and the
# deprecated or tunnelling forms that are refused whatever IPv4 address they carry.
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_TEREDO = ipaddress.ip_network("2001::/32")
_COMPATIBLE_REASON = "a deprecated form"
_TEREDO_REASON = "a tunnel address"


def _classify(ip: IPAddress) -> str | None:
    """Why `ip` may not be reached, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and int(ip) > 1:  # :: and ::1 are not IPv4-compatible
        embedded = _embedded_v4(ip)
        if embedded is not None:
            kind, v4, refused_anyway = embedded
            reason = _classify(v4) or refused_anyway
            return f"{reason} ({kind} {v4})" if reason else None
    for net, reason in _V4_REFUSED if ip.version == 4 else _V6_REFUSED:
        if ip in net:
            return reason
    # Everything else IANA lists as special-purpose: 192.0.0.0/24, 2001::/23, ...
    return None if ip.is_global else "a special-purpose (non-public) address"


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address, str | None] | None:
    """(form, embedded IPv4 address, reason to refuse even a public one) for the IPv6 forms that
    deliver to an IPv4 address, which is what must be judged; None for plain IPv6."""
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _MAPPED:
        return "IPv4-mapped", low, None
    if ip in _TRANSLATED:
        return "IPv4-translated", low, None
    if ip in _NAT64:
        return "NAT64 for", low, None
    if ip.sixtofour is not None:
        return "6to4 for", ip.sixtofour, None
    if ip in _TEREDO and ip.teredo is not None:
        return "Teredo for", ip.teredo[1], _TEREDO_REASON  # the client's address, de-obfuscated
    if ip in _COMPATIBLE:
        return "IPv4-compatible", low, _COMPATIBLE_REASON
    return None


async def _resolve(host: str, port: int) -> list[str]:
    """All addresses of `host`, in resolver order. Tests replace this to fake DNS."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_checked(host: str, port: int, allow: AllowEntries = ()) -> list[str]:
    """The addresses to connect to for `host`, every one of them allowed; else BlockedDestination."""
    return await _resolve_checked(host, port, _allow_list(allow), label=host)


async def _resolve_checked(host: str, port: int, allow: _AllowList, *, label: str) -> list[str]:
    host = host.strip("[]")
    numeric = _numeric_host(host)
    if numeric is not None:  # no DNS for addresses, whatever form they are written in
        addresses = [numeric]
    else:
        try:
            found = await _resolve(host, port)
        except (OSError, UnicodeError):
            found = []
        if not found:
            raise OutboundError(f"cannot resolve host {host!r}")
        if allow.allows_name(host):
            return found
        addresses = [ipaddress.ip_address(a) for a in found]
    for ip in addresses:  # any refused address refuses the host: the resolver picks, not us
        reason = None if allow.allows_address(ip) else _classify(ip)
        if reason:
            raise BlockedDestination(_refusal(label, ip, reason))
    return [str(ip) for ip in addresses]


# --------------------------------------------------------------------------------------------
# DNS pinning: the connection pool connects to the checked addresses, never to a name.


@dataclass(frozen=True)
class _Pin:
    host: str
    port: int
    addresses: tuple[str, ...]


# Set around each send. The pool opens connections in the sending task, so the backend sees it.
_PIN: contextvars.ContextVar[_Pin | None] = contextvars.ContextVar("mcpfleet_http_pin", default=None)


class _PinnedBackend(httpcore2.AsyncNetworkBackend):
    """Network backend whose connect_tcp swaps the host for the address checked for this request.

    The pool keys connections and sets SNI/certificate checks by the URL's host name, so only the
    TCP target changes. Without a pin for exactly this host and port it refuses (fail closed).
    """

    def __init__(self) -> None:
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        pin = _PIN.get()
        if pin is None or pin.host != host or pin.port != port:
            raise httpcore2.ConnectError(f"no checked address for {host}:{port}")
        failure: Exception | None = None
        for address in pin.addresses:  # all were checked; try them in resolver order
            try:
                return await self._connect_ip(address, port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def _connect_ip(
        self,
        address: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None,
    ) -> httpcore2.AsyncNetworkStream:
        return await self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(self, *args: object, **kwargs: object) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("unix sockets are not used for outbound requests")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class _PinnedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport (its exception mapping and streams) over a pool using _PinnedBackend."""

    def __init__(self, limits: httpx2.Limits) -> None:
        # trust_env here only means SSL_CERT_FILE/SSL_CERT_DIR: operators' CA bundles, not proxies.
        ssl_context = httpx2.create_ssl_context(trust_env=True)
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # AsyncHTTPTransport takes no network_backend, so replace the pool it built. Check the
        # attribute is there first: if a release renames it, fail here rather than silently send
        # requests through a pool that resolves names itself.
        if not isinstance(getattr(self, "_pool", None), httpcore2.AsyncConnectionPool):
            raise RuntimeError("httpx2 transport internals changed; DNS pinning cannot be installed")
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(),
        )


def _no_cookies() -> http.cookiejar.CookieJar:
    # An empty allowed_domains list blocks every domain, so Set-Cookie is never stored.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


# --------------------------------------------------------------------------------------------
# Cache


def _now() -> float:
    return time.time()  # wall clock: disk entries outlive the process


def _store_ttl(headers: Mapping[str, str], ttl: float) -> float:
    """How long a 200 response may be kept (0 = not at all), given its Cache-Control."""
    directives = {d.strip().lower() for d in headers.get("cache-control", "").split(",")}
    # The cache is shared by all callers, so "private" responses are not kept either.
    if directives & {"no-store", "no-cache", "private"} or headers.get("vary", "").strip() == "*":
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() in ("max-age", "s-maxage") and value.strip().isdigit():
            ttl = min(ttl, float(value))
    return ttl


class _MemoryCache:
    """LRU by entries and bytes; entries carry their own expiry."""

    def __init__(self, max_entries: int, max_bytes: int = _MEMORY_CACHE_BYTES) -> None:
        self._entries: OrderedDict[str, tuple[float, FetchResult]] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0

    def get(self, key: str) -> FetchResult | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= _now():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, result: FetchResult, expires: float) -> None:
        if self._max_entries == 0 or len(result.content) > self._max_bytes:
            return
        self._drop(key)
        self._entries[key] = (expires, result)
        self._bytes += len(result.content)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[1].content)


class _DiskCache:
    """One file per key: a JSON metadata line, then the body. Anything unreadable is a miss."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def path(self, key: str) -> Path:
        return self._dir / f"{key}.cache"

    def get(self, key: str) -> tuple[float, FetchResult] | None:
        path = self.path(key)
        try:
            meta_line, _, body = path.read_bytes().partition(b"\n")
            meta = json.loads(meta_line)
            if meta["key"] != key or meta["length"] != len(body):
                raise ValueError("mismatch")
            result = FetchResult(
                url=str(meta["url"]),
                status=int(meta["status"]),
                headers={str(k): str(v) for k, v in meta["headers"].items()},
                content=body,
            )
            expires = float(meta["expires"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._remove(path)  # corrupt or from another format: a miss
            return None
        if expires <= _now():
            self._remove(path)
            return None
        return expires, result

    def put(self, key: str, result: FetchResult, expires: float) -> None:
        meta = {"key": key, "url": result.url, "status": result.status, "headers": result.headers}
        meta |= {"expires": expires, "length": len(result.content)}
        try:
            self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Write beside the target and rename: readers see the old file or the new, never half.
            fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(json.dumps(meta).encode() + b"\n" + result.content)
                os.replace(tmp, self.path(key))
            except BaseException:
                self._remove(Path(tmp))
                raise
        except OSError as exc:  # a cache that cannot write is just a smaller cache
            logger.warning("http cache: cannot write %s: %s", self._dir, exc.strerror)

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink()
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# Client


class OutboundClient:
    """The outbound HTTP client of a server: one connection pool, every request checked."""

    def __init__(self, settings: HttpSettings, *, allow: Sequence[str] = ()) -> None:
        self._settings = settings
        entries = [*settings.allow, *allow]
        self._allow = _AllowList.parse(entries)
        self._allow_id = ",".join(sorted(entries))  # part of cache keys: see _cache_key
        self._client = httpx2.AsyncClient(
            transport=_PinnedTransport(httpx2.Limits(max_connections=100, max_keepalive_connections=20)),
            follow_redirects=False,  # each hop is checked in _follow
            trust_env=False,
            timeout=httpx2.Timeout(settings.timeout, connect=settings.connect_timeout),
            headers={"User-Agent": settings.user_agent},
            cookies=_no_cookies(),
        )
        self._memory = _MemoryCache(settings.cache_max_entries)
        self._disk = _DiskCache(Path(settings.cache_dir)) if settings.cache_dir else None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def check(self, url: str) -> None:
        """The checks `fetch` makes before any DNS (scheme, credentials, numeric hosts), with this
        client's allow list: for callers that must refuse a URL before other work (a robots.txt
        lookup, a cache), so that they apply exactly the policy the fetch itself will."""
        _parse_url(url, self._allow)

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        max_bytes: int | None = None,
        truncate: bool = False,
        cache: bool = True,
        accept_status: Container[int] | None = None,
    ) -> FetchResult:
        """Fetch `url`, following redirects. Statuses >= 400 come back as results unless
        `accept_status` is given and lacks them. `max_bytes` can lower the configured cap, not
        raise it; past it the body is cut (`truncate=True`) or ResponseTooLarge is raised."""
        method = method.upper()
        request_headers = dict(headers or {})
        cap = self._settings.max_bytes
        limit = cap if max_bytes is None else min(max(max_bytes, 0), cap)
        parsed = _parse_url(url, self._allow)  # fail fast, before the cache, on a bad URL
        key = self._cache_key(method, parsed, request_headers, content) if cache else None

        result = await self._cache_get(key) if key else None
        if result is not None:
            result = _apply_limit(result, limit, truncate, url)
        else:
            result = await self._fetch_with_deadline(url, parsed, method, request_headers, content, limit, truncate)
            if key and result.status == 200 and not result.truncated:
                await self._cache_put(key, result)
        if accept_status is not None and result.status not in accept_status:
            raise OutboundError(f"{_display(url)} answered HTTP {result.status}")
        return result

    # -- one fetch: deadline, redirects, retries -------------------------------------------------

    async def _fetch_with_deadline(
        self,
        url: str,
        parsed: httpx2.URL,
        method: str,
        headers: dict[str, str],
        content: bytes | None,
        limit: int,
        truncate: bool,
    ) -> FetchResult:
        timeout = self._settings.timeout
        try:
            # One deadline over everything: resolution, every hop, retries and the whole body,
            # so a server that drips a byte per second cannot hold a request for ever.
            with anyio.fail_after(timeout):
                return await self._follow(url, parsed, method, headers, content, limit, truncate)
        except TimeoutError:
            raise OutboundError(f"timed out after {timeout:g}s fetching {_display(url)}") from None

    async def _follow(
        self,
        url: str,
        parsed: httpx2.URL,
        method: str,
        headers: dict[str, str],
        content: bytes | None,
        limit: int,
        truncate: bool,
    ) -> FetchResult:
        for _hop in range(self._settings.max_redirects + 1):
            response = await self._send_retrying(parsed, method, headers, content)
            try:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECT_STATUSES or location is None:
                    body, truncated = await _read_body(response, limit, truncate, url)
                    return FetchResult(
                        url=str(response.url),
                        status=response.status_code,
                        headers={k.lower(): v for k, v in response.headers.items()},
                        content=body,
                        truncated=truncated,
                    )
            finally:
                await _close(response)
            parsed, method, headers, content = self._redirect(
                parsed, response.status_code, location, method, headers, content
            )
        raise OutboundError(f"too many redirects (more than {self._settings.max_redirects}) fetching {_display(url)}")

    def _redirect(
        self,
        current: httpx2.URL,
        status: int,
        location: str,
        method: str,
        headers: dict[str, str],
        content: bytes | None,
    ) -> tuple[httpx2.URL, str, dict[str, str], bytes | None]:
        """The next hop, as a browser would make it; the URL passes the same checks as the first."""
        try:
            target = current.join(location.strip())
        except httpx2.InvalidURL:
            raise OutboundError(f"{_display(str(current))} redirected to an invalid URL") from None
        next_url = _parse_url(str(target), self._allow)
        headers = dict(headers)
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, content = "GET", None
            headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
        if (next_url.scheme, next_url.raw_host, _port(next_url)) != (current.scheme, current.raw_host, _port(current)):
            # Credentials were meant for the origin the caller named, not for where it points.
            headers = {k: v for k, v in headers.items() if k.lower() in _CROSS_ORIGIN_HEADERS}
        return next_url, method, headers, content

    async def _send_retrying(
        self, url: httpx2.URL, method: str, headers: dict[str, str], content: bytes | None
    ) -> httpx2.Response:
        """Send; for idempotent methods retry connection failures and 429/502/503/504."""
        attempts = 1 + (self._settings.retries if method in _IDEMPOTENT else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._send(url, method, headers, content)
            except httpx2.TransportError as exc:
                delay = _backoff(self._settings.backoff, attempt)
                if last or not _retryable(exc) or delay > _time_left():
                    raise _network_error(exc, url) from None
                await _sleep(delay)
                continue
            if last or response.status_code not in _RETRY_STATUSES:
                return response
            delay = _retry_after(response.headers.get("retry-after"))
            delay = _backoff(self._settings.backoff, attempt) if delay is None else delay
            if delay > _time_left():  # waiting would only end in a timeout; the answer is better
                return response
            await _close(response)
            await _sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, url: httpx2.URL, method: str, headers: dict[str, str], content: bytes | None
    ) -> httpx2.Response:
        host, port = _host(url), _port(url)
        addresses = await _resolve_checked(host, port, self._allow, label=str(url))
        request = self._client.build_request(method, url, headers=headers, content=content)
        request.headers["User-Agent"] = self._settings.user_agent  # the fleet's, whatever the caller set
        token = _PIN.set(_Pin(host, port, tuple(addresses)))
        try:
            return await self._client.send(request, stream=True)
        finally:
            _PIN.reset(token)

    # -- cache ---------------------------------------------------------------------------------

    def _cache_key(
        self, method: str, url: httpx2.URL, headers: Mapping[str, str], content: bytes | None
    ) -> str | None:
        if method != "GET" or content is not None or self._settings.cache_ttl <= 0:
            return None
        names = {k.lower() for k in headers}
        if names & _PRIVATE_REQUEST_HEADERS:
            return None
        # Every request header is part of the key (Accept, Accept-Language, API keys...), and so
        # is the allow-list: a disk cache shared with a client allowed more must not leak to this one.
        material = [method, str(url), sorted((k.lower(), v) for k, v in headers.items()), self._allow_id]
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()

    async def _cache_get(self, key: str) -> FetchResult | None:
        result = self._memory.get(key)
        if result is None and self._disk is not None:
            entry = await anyio.to_thread.run_sync(self._disk.get, key)
            if entry is not None:
                expires, result = entry
                self._memory.put(key, result, expires)
        return dataclasses.replace(result, from_cache=True) if result is not None else None

    async def _cache_put(self, key: str, result: FetchResult) -> None:
        ttl = _store_ttl(result.headers, self._settings.cache_ttl)
        if ttl <= 0:
            return
        expires = _now() + ttl
        self._memory.put(key, result, expires)
        if self._disk is not None:
            await anyio.to_thread.run_sync(self._disk.put, key, result, expires)


# --------------------------------------------------------------------------------------------
# Helpers of the fetch path


async def _read_body(response: httpx2.Response, limit: int, truncate: bool, url: str) -> tuple[bytes, bool]:
    """Read at most `limit` bytes (decoded), stopping as soon as the body passes it."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > limit and "content-encoding" not in response.headers:
        raise ResponseTooLarge(_too_large(url, limit))  # no need to read what we would reject
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            room = limit - len(body)
            if len(chunk) > room:
                if not truncate:
                    raise ResponseTooLarge(_too_large(url, limit))
                body += chunk[:room]
                return bytes(body), True
            body += chunk
    except (httpx2.TransportError, httpx2.DecodingError) as exc:
        raise _network_error(exc, response.request.url) from None
    return bytes(body), False


def _too_large(url: str, limit: int) -> str:
    return f"response from {_display(url)} is larger than {limit} bytes"


def _apply_limit(result: FetchResult, limit: int, truncate: bool, url: str) -> FetchResult:
    """A cached body obeys the caller's limit just as a fresh one would."""
    if len(result.content) <= limit:
        return result
    if not truncate:
        raise ResponseTooLarge(_too_large(url, limit))
    return dataclasses.replace(result, content=result.content[:limit], truncated=True)


async def _close(response: httpx2.Response) -> None:
    # Shielded: after a deadline the response must still be closed, or its connection leaks.
    with anyio.CancelScope(shield=True):
        await response.aclose()


def _retryable(exc: httpx2.TransportError) -> bool:
    # Failures before or instead of an answer; a read timeout means the server is slow, and
    # asking again would only spend the deadline twice.
    return isinstance(exc, httpx2.NetworkError | httpx2.RemoteProtocolError | httpx2.ConnectTimeout)


def _network_error(exc: Exception, url: httpx2.URL) -> OutboundError:
    """A short message naming what failed; the details (addresses, errno text) go to the log."""
    origin = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
    logger.debug("outbound request to %s failed", origin, exc_info=exc)
    if isinstance(exc, httpx2.ConnectTimeout):
        return OutboundError(f"connecting to {origin} timed out")
    if isinstance(exc, httpx2.TimeoutException):
        return OutboundError(f"{origin} did not answer in time")
    if isinstance(exc, httpx2.ConnectError):
        return OutboundError(f"could not connect to {origin}")
    if isinstance(exc, httpx2.RemoteProtocolError):
        return OutboundError(f"{origin} closed the connection or sent an invalid response")
    if isinstance(exc, httpx2.DecodingError):
        return OutboundError(f"{origin} sent a body that cannot be decoded")
    return OutboundError(f"network error talking to {origin} ({type(exc).__name__})")


def _backoff(base: float, attempt: int) -> float:
    """Exponential backoff with ±50% jitter, so clients that failed together retry apart."""
    return base * 2**attempt * (0.5 + random.random())


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), capped; None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - _now()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP)


def _time_left() -> float:
    return anyio.current_effective_deadline() - anyio.current_time()


async def _sleep(seconds: float) -> None:
    await anyio.sleep(seconds)  # a module function so tests can record delays instead of waiting
