"""Fetching a page as readable text, with a cache so paging through it downloads it once.

The URL is checked first with the outbound client's own policy (`OutboundClient.check`, the
fleet's `http.allow` included), then robots.txt when enabled; the download goes through the
fleet's `OutboundClient` (SSRF guard, DNS pinning, redirect checks, size and time caps); the body
becomes text in the server's worker pool (`extracting.PooledExtractor`). The extracted text is
cached by (caller, URL, format) for `cache_ttl` seconds, so `start_index` paging reads the cache,
not the network.

Caches are per caller. A shared cache would tell one caller what another read: `from_cache`
directly, and the time a hit saves indirectly. So every entry here (pages, robots.txt rules) is
keyed by a hash of the full caller identity, and the web server's outbound clients keep no HTTP
cache of their own (see server.py): a caller's call is as fast or slow as if no one else had
fetched the URL.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from mcpfleet.common.cache import TTLCache
from mcpfleet.common.errors import OutboundError, UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.servers.web.extract import Extracted, Format, is_pdf
from mcpfleet.servers.web.robots import RobotsPolicy
from mcpfleet.servers.web.settings import WebSettings

_CACHE_MAX_CHARS = 64_000_000  # bounds the page cache whatever cache_entries says


@dataclass(frozen=True)
class Document:
    url: str  # final URL after redirects
    title: str
    content_type: str
    text: str
    notes: tuple[str, ...] = ()


class PageCache(TTLCache[tuple[str, ...], Document]):
    """Extracted pages by (caller, URL, format): LRU by entries and characters, `ttl` seconds each."""

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        max_chars: int = _CACHE_MAX_CHARS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            ttl=ttl, max_entries=max_entries, max_size=max_chars, sizeof=lambda d: len(d.text), clock=clock
        )


class Extractor(Protocol):
    def __call__(
        self,
        content: bytes,
        content_type: str,
        charset: str | None,
        url: str,
        fmt: Format,
        *,
        pdf_max_pages: int,
        max_chars: int,
    ) -> Awaitable[Extracted]: ...


def caller_key(caller: str) -> str:
    """The cache namespace of a caller: a hash of the whole identity (never a prefix of it)."""
    return hashlib.sha256(caller.encode("utf-8", "surrogatepass")).hexdigest()


class PageFetcher:
    def __init__(
        self,
        section: WebSettings,
        client: Callable[[], OutboundClient],
        robots: RobotsPolicy | None,
        extractor: Extractor,
    ) -> None:
        self._section = section
        self._client = client
        self._robots = robots
        self._extract = extractor
        self._cache = PageCache(section.cache_ttl, section.cache_entries)

    async def get(self, url: str, fmt: Format, caller: str) -> tuple[Document, bool]:
        """The page as text and whether it came from this caller's own earlier fetch."""
        url = url.strip()
        # scheme, credentials, numeric hosts: refused before anything is sent, by the very policy
        # (allow list included) the download will apply
        self._client().check(url)
        namespace = caller_key(caller)
        key = (namespace, url, fmt)
        cached = self._cache.get(key)
        if cached is not None:
            return cached, True
        if self._robots is not None:
            await self._robots.check(url, namespace)
        document = await self._download(url, fmt)
        self._cache.put(key, document)
        return document, False

    async def _download(self, url: str, fmt: Format) -> Document:
        section = self._section
        cap = max(section.max_bytes, section.pdf_max_bytes)
        response = await self._client().fetch(url, max_bytes=cap, truncate=True, headers={"Accept": _ACCEPT})
        if response.status >= 400:
            raise OutboundError(f"the page answered HTTP {response.status}{_STATUS_HINT.get(response.status, '')}")
        if not 200 <= response.status < 300:
            raise OutboundError(f"the page answered HTTP {response.status} without content to show")
        content = response.content
        ctype = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        notes: list[str] = []
        if is_pdf(ctype, content):
            if response.truncated or len(content) > section.pdf_max_bytes:
                raise UserError(f"the PDF is larger than {section.pdf_max_bytes} bytes, the limit for PDFs")
        elif response.truncated or len(content) > section.max_bytes:
            content = content[: section.max_bytes]
            notes.append(f"the page is larger than {section.max_bytes} bytes; only the start was read")
        extracted = await self._extract(
            content,
            ctype,
            response.charset,
            response.url,
            fmt,
            pdf_max_pages=section.pdf_max_pages,
            max_chars=section.max_chars,
        )
        return Document(response.url, extracted.title, ctype or "unknown", extracted.text, (*extracted.notes, *notes))


_ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/*;q=0.8,*/*;q=0.5"
_STATUS_HINT = {
    401: " (login required)",
    403: " (forbidden: the site refuses automated access or needs a login)",
    404: " (not found: check the URL)",
    410: " (gone)",
    429: " (rate limited: retry later)",
}
