"""Fetching a page as readable text, with a cache so paging through it downloads it once.

The download goes through the fleet's `OutboundClient` (SSRF guard, DNS pinning, redirect
checks, size and time caps); robots.txt is checked first when enabled; the body becomes text in
a worker thread (`extract.extract`). The extracted text is cached by (URL, format) for
`cache_ttl` seconds, so `start_index` paging reads the cache, not the network.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from mcpfleet.common.errors import OutboundError, UserError
from mcpfleet.common.http import OutboundClient, check_url
from mcpfleet.servers.web.config import WebSettings
from mcpfleet.servers.web.extract import Format, extract, is_pdf
from mcpfleet.servers.web.robots import RobotsPolicy

_CACHE_MAX_CHARS = 64_000_000  # bounds the page cache whatever cache_entries says


@dataclass(frozen=True)
class Document:
    url: str  # final URL after redirects
    title: str
    content_type: str
    text: str
    notes: tuple[str, ...] = ()


class PageCache:
    """LRU of extracted pages by entries and characters; entries expire after `ttl` seconds."""

    def __init__(self, ttl: float, max_entries: int, max_chars: int = _CACHE_MAX_CHARS) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._chars = 0
        self._entries: OrderedDict[tuple[str, str], tuple[float, Document]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Document | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: tuple[str, str], document: Document) -> None:
        if self._ttl <= 0 or self._max_entries == 0 or len(document.text) > self._max_chars:
            return
        self._drop(key)
        self._entries[key] = (time.monotonic() + self._ttl, document)
        self._chars += len(document.text)
        while len(self._entries) > self._max_entries or self._chars > self._max_chars:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._chars -= len(entry[1].text)


class PageFetcher:
    def __init__(
        self,
        section: WebSettings,
        client: Callable[[], OutboundClient],
        robots: RobotsPolicy | None,
        *,
        concurrency: int = 4,
    ) -> None:
        self._section = section
        self._client = client
        self._robots = robots
        self._cache = PageCache(section.cache_ttl, section.cache_entries)
        self._limiter = anyio.CapacityLimiter(concurrency)  # extraction threads at once

    async def get(self, url: str, fmt: Format) -> tuple[Document, bool]:
        """The page as text and whether it came from the page cache."""
        url = url.strip()
        check_url(url)  # scheme, credentials, numeric private hosts: refused before anything is sent
        key = (url, fmt)
        cached = self._cache.get(key)
        if cached is not None:
            return cached, True
        if self._robots is not None:
            await self._robots.check(url)
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
        extracted = await anyio.to_thread.run_sync(
            lambda: extract(
                content, ctype, response.charset, response.url, fmt,
                pdf_max_pages=section.pdf_max_pages, max_chars=section.max_chars,
            ),
            limiter=self._limiter,
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
