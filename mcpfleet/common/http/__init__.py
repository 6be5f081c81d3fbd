"""Outbound HTTP for every server: one pooled client with an SSRF guard, limits, retries and a cache.

Modules: `policy` (the SSRF policy: allow lists, URL checks, address classification, checked
resolution), `pinning` (connections go to the checked addresses), `caches` (memory + disk
response cache), `fetching` (capped bodies, error messages, retry policy), `result`
(`FetchResult`) and `client` (`OutboundClient`). Import the public names from here.

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

from mcpfleet.common.errors import MalformedResponse
from mcpfleet.common.http.client import OutboundClient
from mcpfleet.common.http.policy import Resolver, check_url, resolve_checked, system_resolver
from mcpfleet.common.http.result import FetchResult

__all__ = [
    "FetchResult",
    "MalformedResponse",
    "OutboundClient",
    "Resolver",
    "check_url",
    "resolve_checked",
    "system_resolver",
]
