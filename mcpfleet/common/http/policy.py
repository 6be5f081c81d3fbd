"""The SSRF policy: which URLs may be fetched and which addresses may be reached.

The rules (schemes, refused ranges, IPv4 embedded in IPv6, numeric host forms, allow lists) are
listed in the package docstring (common/http/__init__.py); this module implements them, with no
network access except through the resolver a caller passes to `resolve_checked`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2

from mcpfleet.common.errors import BlockedDestination, ConfigError, OutboundError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses it resolves to, in resolver order
Resolver = Callable[[str, int], Awaitable[list[str]]]

SCHEMES = {"http": 80, "https": 443}
_POLICY = "outbound requests may only reach public addresses"


# --------------------------------------------------------------------------------------------
# Allow lists


@dataclass(frozen=True)
class AllowList:
    """Destinations exempt from the policy: CIDRs, host names and `*.suffix` wildcards."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".internal.example" for "*.internal.example"

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
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
            if not _HOSTNAME.fullmatch(name) or numeric_host(name) is not None:
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
AllowEntries = Sequence[str] | AllowList


def allow_list(allow: AllowEntries) -> AllowList:
    return allow if isinstance(allow, AllowList) else AllowList.parse(allow)


# --------------------------------------------------------------------------------------------
# URLs


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def display(url: str) -> str:
    """The URL for messages: without credentials, query and fragment, which often carry keys."""
    base = _USERINFO.sub(r"\1…@", url.split("#", 1)[0])
    return base.split("?", 1)[0] + ("?…" if "?" in base else "")


def parse_url(url: str, allow: AllowList) -> httpx2.URL:
    """The URL as httpx2 will send it, after the checks that need no DNS."""
    url = url.strip()  # models often paste URLs with stray whitespace
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in SCHEMES:
        named = f"scheme {scheme!r}" if scheme and scheme.isascii() and scheme.isalnum() else "no scheme"
        raise BlockedDestination(f"refused: {display(url)} has {named}; only http and https URLs can be fetched")
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL:
        # httpx2 cannot send it anyway; still name the range of a numeric host it rejects
        # (`0177.0.0.1`), since that is usually what the caller was trying.
        try:
            _refuse_numeric(url, urlsplit(url).hostname or "", allow)
        except ValueError:  # urlsplit rejects it too
            pass
        raise BlockedDestination(f"refused: {display(url)} is not a valid URL") from None
    if parsed.scheme not in SCHEMES:  # a scheme written oddly enough to slip past the split
        raise BlockedDestination(f"refused: {display(url)}: only http and https URLs can be fetched")
    if parsed.userinfo:
        raise BlockedDestination(f"refused: {display(url)} contains user credentials (user:password@)")
    if not parsed.raw_host:
        raise BlockedDestination(f"refused: {display(url)} has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise BlockedDestination(f"refused: {display(url)} has an invalid port")
    _refuse_numeric(url, host_of(parsed), allow)
    return parsed


def check_url(url: str, allow: AllowEntries = ()) -> None:
    """Syntactic checks, no DNS: scheme, credentials, host present, numeric hosts in a refused range."""
    parse_url(url, allow_list(allow))


def host_of(url: httpx2.URL) -> str:
    """The host as the connection pool sees it: IDNA-encoded, IPv6 without brackets."""
    return url.raw_host.decode("ascii")


def port_of(url: httpx2.URL) -> int:
    return url.port or SCHEMES[url.scheme]


def _refuse_numeric(label: str, host: str, allow: AllowList) -> None:
    ip = numeric_host(host)
    if ip is not None and not allow.allows_address(ip):
        reason = classify(ip)
        if reason:
            raise BlockedDestination(_refusal(label, ip, reason))


def _refusal(label: str, ip: IPAddress, reason: str) -> str:
    return f"refused: {display(label)} resolves to {ip}, {reason} ({_POLICY})"


def numeric_host(host: str) -> IPAddress | None:
    """An address written as the host, in any form the C library would also accept."""
    host = host.strip("[]").replace("%25", "%")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return inet_aton(host)


_AT_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")  # "0x" alone is 0, as in glibc


def inet_aton(host: str) -> ipaddress.IPv4Address | None:
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


# --------------------------------------------------------------------------------------------
# Address classification


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


def classify(ip: IPAddress) -> str | None:
    """Why `ip` may not be reached, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and int(ip) > 1:  # :: and ::1 are not IPv4-compatible
        embedded = embedded_v4(ip)
        if embedded is not None:
            kind, v4, refused_anyway = embedded
            reason = classify(v4) or refused_anyway
            return f"{reason} ({kind} {v4})" if reason else None
    for net, reason in _V4_REFUSED if ip.version == 4 else _V6_REFUSED:
        if ip in net:
            return reason
    # Everything else IANA lists as special-purpose: 192.0.0.0/24, 2001::/23, ...
    return None if ip.is_global else "a special-purpose (non-public) address"


def embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address, str | None] | None:
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


# --------------------------------------------------------------------------------------------
# Resolution


async def system_resolver(host: str, port: int) -> list[str]:
    """All addresses of `host` from the system resolver, in its order (the default `Resolver`)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_checked(
    host: str, port: int, allow: AllowEntries = (), *, resolver: Resolver = system_resolver
) -> list[str]:
    """The addresses to connect to for `host`, every one of them allowed; else BlockedDestination.

    Args:
        host: a name or an address in any form (`example.org`, `[::1]`, `2130706433`).
        allow: allow-list entries (CIDRs, names, `*.suffix`) exempt from the policy.
        resolver: `async (host, port) -> [address, ...]`; the system resolver by default.
    """
    return await checked_addresses(host, port, allow_list(allow), label=host, resolver=resolver)


async def checked_addresses(host: str, port: int, allow: AllowList, *, label: str, resolver: Resolver) -> list[str]:
    host = host.strip("[]")
    numeric = numeric_host(host)
    if numeric is not None:  # no DNS for addresses, whatever form they are written in
        addresses = [numeric]
    else:
        try:
            found = await resolver(host, port)
        except (OSError, UnicodeError):
            found = []
        if not found:
            raise OutboundError(f"cannot resolve host {host!r}")
        if allow.allows_name(host):
            return found
        addresses = [ipaddress.ip_address(a) for a in found]
    for ip in addresses:  # any refused address refuses the host: the resolver picks, not us
        reason = None if allow.allows_address(ip) else classify(ip)
        if reason:
            raise BlockedDestination(_refusal(label, ip, reason))
    return [str(ip) for ip in addresses]
