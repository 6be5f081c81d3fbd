"""What the web tools do, without MCP: a search over the configured backends, one page read in parts.

Results are typed and hold outside text (titles, snippets, page text): each says where it came
from (`source`), which structured keys hold prose (`outside_keys`) and a line of our own
(`header`), and `common.untrusted.untrusted_answer` marks it. `as_dict()` is the structured
content, `text()` what the model reads.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcpfleet.common.errors import UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.untrusted import OUTSIDE_KEYS, Page, page
from mcpfleet.servers.web.extract import Format
from mcpfleet.servers.web.fetch import Document, PageFetcher
from mcpfleet.servers.web.search import (
    Backend,
    DdgsBackend,
    Kind,
    SearchAnswer,
    Searcher,
    SearchRequest,
    SearxngBackend,
    TimeRange,
)
from mcpfleet.servers.web.settings import WebSettings


def search_words(text: str) -> str:
    """`text` with control characters (NUL, ESC...) as spaces, trimmed; "" when nothing visible is
    left (only blanks, zero-width or bidi marks). Format characters inside words stay (ZWNJ is part
    of Persian spelling, ZWJ of emoji sequences)."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text).strip()
    return text if any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text) else ""


def searcher_for(section: WebSettings, searxng_client: Callable[[], OutboundClient]) -> Searcher:
    """The configured backends, in the configured order, behind one fallback `Searcher`."""
    backends: list[Backend] = []
    for name in section.backend_order():
        if name == "searxng":
            backends.append(
                SearxngBackend(
                    section.searxng_url or "",
                    searxng_client,
                    engines=section.searxng_engines,
                    categories=section.searxng_categories,
                    language=section.searxng_language,
                    safesearch=section.safesearch,
                )
            )
        else:
            backends.append(DdgsBackend(section.ddgs_backend, section.safesearch, section.search_timeout))
    return Searcher(backends)


@dataclass(frozen=True)
class SearchResults:
    request: SearchRequest
    answer: SearchAnswer
    header = ""
    outside_keys = OUTSIDE_KEYS

    @property
    def source(self) -> str:
        return f"web search ({self.answer.backend})"

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.request.query, "kind": self.request.kind, **self.answer.as_dict()}

    def text(self) -> str:
        return self.answer.render()


@dataclass(frozen=True)
class PagePart:
    document: Document
    part: Page
    from_cache: bool
    outside_keys = OUTSIDE_KEYS

    @property
    def source(self) -> str:
        return self.document.url

    @property
    def header(self) -> str:
        # The page's title is the page's text: inside the untrusted wrapper (and scanned for
        # injection), never in the header, which the model reads as this server's own words.
        about = "; ".join((self.document.content_type, *self.document.notes))
        return "\n".join(filter(None, (f"{self.document.url} ({about})", self.part.note())))

    def as_dict(self) -> dict[str, Any]:
        d = self.document
        return {
            "url": d.url,
            "title": d.title,
            "content_type": d.content_type,
            "content": self.part.text,
            **self.part.as_dict(),
            "notes": list(d.notes),
            "from_cache": self.from_cache,
        }

    def text(self) -> str:
        if self.document.title:
            return f"title: {' '.join(self.document.title.split())}\n\n{self.part.text}"
        return self.part.text


class Web:
    """The web tools' logic over one searcher and one page fetcher."""

    def __init__(self, searcher: Searcher, fetcher: PageFetcher) -> None:
        self.searcher = searcher
        self.fetcher = fetcher

    async def search(
        self, query: str, max_results: int, kind: Kind, time_range: TimeRange | None, region: str | None
    ) -> SearchResults:
        words = search_words(query)
        if not words:  # else the engines get nothing to search for and fail as if they were down
            raise UserError("the query has no words; give words to search for, e.g. 'kubernetes network policy'")
        request = SearchRequest(words, max_results, kind, time_range, region)
        return SearchResults(request, await self.searcher.search(request))

    async def read(self, url: str, fmt: Format, caller: str, start_index: int, max_length: int) -> PagePart:
        """Part of the page at `url` (fetched, or from the caller's cache) from `start_index`."""
        document, from_cache = await self.fetcher.get(url, fmt, caller)
        return PagePart(document, page(document.text, start_index, max_length), from_cache)
