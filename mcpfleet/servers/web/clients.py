"""The web server's outbound clients: one for pages, one that may also reach the operator's SearXNG."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import HttpSettings


class Clients:
    """The server's outbound clients, opened on first use and closed with the server's lifespan.

    Page fetches use a client with only the fleet's `http.allow`; SearXNG gets its own client that
    may also reach the configured SearXNG host (an internal service, chosen by the operator).
    Neither keeps an HTTP cache: it would be shared by every caller (see fetch.py)."""

    def __init__(self, http: HttpSettings, searxng_url: str | None) -> None:
        self._http = http.model_copy(update={"cache_ttl": 0.0})
        self._searxng_allow = [allow_entry(searxng_url)] if searxng_url else []
        self._pages: OutboundClient | None = None
        self._searxng: OutboundClient | None = None

    def pages(self) -> OutboundClient:
        if self._pages is None:
            self._pages = OutboundClient(self._http)
        return self._pages

    def searxng(self) -> OutboundClient:
        if self._searxng is None:
            self._searxng = OutboundClient(self._http, allow=self._searxng_allow)
        return self._searxng

    async def aclose(self) -> None:
        for client in (self._pages, self._searxng):
            if client is not None:
                await client.aclose()
        self._pages = self._searxng = None


def allow_entry(url: str) -> str:
    """The `http.allow` entry that lets a client reach `url`'s host: the name, or the address as /32 or /128."""
    host = (urlsplit(url).hostname or "").strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    return f"{ip}/{ip.max_prefixlen}"
