"""Web search over configurable backends (ddgs, SearXNG) with fallback and URL de-duplication.

A backend turns a `SearchRequest` into a `SearchAnswer` or raises `BackendFailed`; `Searcher`
tries them in the configured order and answers with the first that succeeds. Result dicts are
plain data: `title`, `url`, `snippet`, `engine`, and `date` when the engine gives one.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio

from mcpfleet.common.errors import MalformedResponse, OutboundError
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.text import clip

logger = logging.getLogger(__name__)

Kind = Literal["web", "news"]
TimeRange = Literal["day", "week", "month", "year"]

MAX_TITLE = 300
MAX_SNIPPET = 600
_DDGS_TIMELIMIT = {"day": "d", "week": "w", "month": "m", "year": "y"}
_DDGS_SAFESEARCH = {"off": "off", "moderate": "moderate", "strict": "on"}
_SEARXNG_SAFESEARCH = {"off": "0", "moderate": "1", "strict": "2"}
_SEARXNG_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class SearchRequest:
    query: str
    max_results: int = 10
    kind: Kind = "web"
    time_range: TimeRange | None = None
    region: str | None = None  # ddgs form: "us-en", "de-de"; "wt-wt" = no region


@dataclass
class SearchAnswer:
    backend: str
    results: list[dict[str, str]]
    answers: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "backend: why" for backends tried before

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"backend": self.backend, "results": self.results}
        for name in ("answers", "suggestions", "failed"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        return data

    def render(self) -> str:
        """Compact text: numbered results, then answers and suggestions when there are any."""
        lines = []
        for number, hit in enumerate(self.results, start=1):
            dated = f" ({hit['date']})" if hit.get("date") else ""
            lines.append(f"{number}. {hit['title'] or hit['url']}{dated}\n   {hit['url']}")
            if hit.get("snippet"):
                lines.append(f"   {hit['snippet']}")
        if not self.results:
            lines.append("no results")
        if self.answers:
            lines.append("answers: " + " | ".join(self.answers))
        if self.suggestions:
            lines.append("suggestions: " + ", ".join(self.suggestions))
        return "\n".join(lines)


class BackendFailed(Exception):
    """One backend could not answer; `empty` means it ran but found nothing."""

    def __init__(self, message: str, *, empty: bool = False) -> None:
        super().__init__(message)
        self.empty = empty


class Backend(Protocol):
    name: str

    async def search(self, request: SearchRequest) -> SearchAnswer: ...


# --------------------------------------------------------------------------------------------
# URL normalisation and de-duplication

_TRACKING = re.compile(
    r"^(utm_[a-z_]+|gclid|gclsrc|dclid|gbraid|wbraid|fbclid|msclkid|yclid|igshid|mc_cid|mc_eid|_hsenc|_hsmi|"
    r"mkt_tok|oly_anon_id|oly_enc_id|vero_id|ref_src|spm)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str) -> str:
    """The URL as a de-duplication key: scheme and host lower-cased, default port, fragment,
    trailing slash and tracking parameters (utm_*, gclid, fbclid...) dropped, the query sorted."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def dedupe(results: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Results in order, each normalised URL once (the first occurrence wins)."""
    seen: set[str] = set()
    unique = []
    for hit in results:
        key = normalise_url(hit["url"])
        if key not in seen:
            seen.add(key)
            unique.append(hit)
    return unique


def _one_line(value: Any, limit: int) -> str:
    """A JSON field from an engine as one clipped line ("" for a missing one)."""
    return clip(" ".join(str(value or "").split()), limit)


def _hit(title: Any, url: Any, snippet: Any, engine: str, date: Any = None) -> dict[str, str] | None:
    url = str(url or "").strip()
    if not url.lower().startswith(("http://", "https://")):
        return None  # engines sometimes return javascript: or relative links; nothing to fetch
    hit = {
        "title": _one_line(title, MAX_TITLE),
        "url": url,
        "snippet": _one_line(snippet, MAX_SNIPPET),
        "engine": engine,
    }
    if date:
        hit["date"] = _one_line(date, 40)
    return hit


# --------------------------------------------------------------------------------------------
# ddgs


class DdgsBackend:
    """The `ddgs` metasearch library. Its calls are synchronous, so they run in worker threads
    (at most `concurrency` at once) under a deadline. Its HTTP goes to the fixed public search
    engines through its own client, not through the fleet's SSRF-guarded one."""

    name = "ddgs"

    def __init__(
        self,
        backend: str = "auto",
        safesearch: str = "moderate",
        timeout: float = 20.0,
        *,
        factory: Callable[..., Any] | None = None,
        concurrency: int = 4,
    ) -> None:
        self._backend = backend
        self._safesearch = _DDGS_SAFESEARCH[safesearch]
        self._timeout = timeout
        self._factory = factory
        self._limiter = anyio.CapacityLimiter(concurrency)

    def _call(self, request: SearchRequest) -> list[dict[str, Any]]:
        factory = self._factory
        if factory is None:
            from ddgs import DDGS

            factory = DDGS
        # ddgs's own timeout is per engine request; ours (below) bounds the whole call.
        client = factory(timeout=max(1, math.ceil(self._timeout / 2)))
        kwargs: dict[str, Any] = {
            "safesearch": self._safesearch,
            "timelimit": _DDGS_TIMELIMIT.get(request.time_range or ""),
            "max_results": request.max_results,
        }
        if request.region:
            kwargs["region"] = request.region
        if request.kind == "news":
            return client.news(request.query, backend="auto", **kwargs)  # news has its own engines
        return client.text(request.query, backend=self._backend, **kwargs)

    async def search(self, request: SearchRequest) -> SearchAnswer:
        from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

        try:
            with anyio.fail_after(self._timeout):
                raw = await anyio.to_thread.run_sync(self._call, request, abandon_on_cancel=True, limiter=self._limiter)
        except TimeoutError:
            raise BackendFailed(f"no answer within {self._timeout:g}s") from None
        except RatelimitException:
            raise BackendFailed("rate limited by the search engines") from None
        except TimeoutException:
            raise BackendFailed("the search engines timed out") from None
        except DDGSException as exc:
            message = str(exc)
            if "no results" in message.lower():
                raise BackendFailed("no results", empty=True) from None
            logger.info("ddgs failed: %s", message)
            raise BackendFailed("the search engines could not be reached") from None
        results = []
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict):
                continue
            if request.kind == "news":
                hit = _hit(item.get("title"), item.get("url"), item.get("body"), _ddgs_engine(item), item.get("date"))
            else:
                hit = _hit(item.get("title"), item.get("href"), item.get("body"), "ddgs")
            if hit:
                results.append(hit)
        return SearchAnswer(self.name, results)


def _ddgs_engine(item: dict[str, Any]) -> str:
    source = _one_line(item.get("source"), 60)  # news: the publisher
    return f"ddgs ({source})" if source else "ddgs"


# --------------------------------------------------------------------------------------------
# SearXNG


class SearxngBackend:
    """A SearXNG instance's JSON API (`/search?format=json`), through the fleet's outbound client.

    The instance must allow the json format (`search.formats` in its settings.yml)."""

    name = "searxng"

    def __init__(
        self,
        base_url: str,
        client: Callable[[], OutboundClient],
        *,
        engines: Sequence[str] = (),
        categories: Sequence[str] = (),
        language: str = "",
        safesearch: str = "moderate",
    ) -> None:
        self._base = base_url.rstrip("/")
        self._client = client
        self._engines = ",".join(engines)
        self._categories = ",".join(categories) or "general"
        self._language = language
        self._safesearch = _SEARXNG_SAFESEARCH[safesearch]

    def url(self, request: SearchRequest) -> str:
        params = {"q": request.query, "format": "json", "pageno": "1", "safesearch": self._safesearch}
        params["categories"] = "news" if request.kind == "news" else self._categories
        if self._engines:
            params["engines"] = self._engines
        language = _searxng_language(request.region) or self._language
        if language:
            params["language"] = language
        if request.time_range:
            params["time_range"] = request.time_range
        return f"{self._base}/search?{urlencode(params)}"

    async def search(self, request: SearchRequest) -> SearchAnswer:
        try:
            response = await self._client().fetch(
                self.url(request), headers={"Accept": "application/json"}, max_bytes=_SEARXNG_MAX_BYTES
            )
        except OutboundError as exc:
            raise BackendFailed(str(exc)) from None
        if response.status == 429:
            raise BackendFailed("rate limited by SearXNG")
        if response.status == 403:
            raise BackendFailed("SearXNG refused the JSON API (enable json in search.formats of its settings.yml)")
        try:
            data = response.json(what="SearXNG")
        except MalformedResponse as exc:
            raise BackendFailed(f"{exc}; is json missing from search.formats?") from None
        except OutboundError as exc:  # a status other than 2xx
            raise BackendFailed(str(exc)) from None
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise BackendFailed("SearXNG answered JSON without a results list")
        results = []
        for item in data["results"]:
            if not isinstance(item, dict):
                continue
            engines = [str(e) for e in _list(item.get("engines")) or _list(item.get("engine")) if e]
            engine = "searxng" + (f" ({', '.join(engines[:4])})" if engines else "")
            hit = _hit(item.get("title"), item.get("url"), item.get("content"), engine, item.get("publishedDate"))
            if hit:
                results.append(hit)
        answers = [
            _one_line(a.get("answer") if isinstance(a, dict) else a, MAX_SNIPPET) for a in _list(data.get("answers"))
        ]
        suggestions = [_one_line(s, 100) for s in _list(data.get("suggestions"))[:5]]
        if not results and not answers:
            down = [_unresponsive(e) for e in _list(data.get("unresponsive_engines"))]
            if down:
                raise BackendFailed("no engine answered: " + "; ".join(down[:5]))
            raise BackendFailed("no results", empty=True)
        return SearchAnswer(self.name, results, [a for a in answers if a], suggestions)


def _list(value: Any) -> list[Any]:
    """A JSON field that should be a list: a lone string is a list of one, anything else none (a
    number or object there used to end the call with an internal error instead of the fallback)."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, str) and value else []


def _searxng_language(region: str | None) -> str:
    """ddgs's `us-en` as SearXNG's `en-US`; `wt-wt` (no region) as `all`."""
    if not region:
        return ""
    country, _, language = region.partition("-")
    if country == "wt":
        return "all"
    return f"{language}-{country.upper()}" if language else country


def _unresponsive(entry: Any) -> str:
    if isinstance(entry, list | tuple) and entry:
        return _one_line(" ".join(str(p) for p in entry[:2]), 100)
    return _one_line(entry, 100)


# --------------------------------------------------------------------------------------------
# Fallback


class Searcher:
    """Tries the backends in order: the first that answers wins; failures fall through."""

    def __init__(self, backends: Sequence[Backend]) -> None:
        if not backends:
            raise ValueError("no search backends")
        self.backends = list(backends)

    async def search(self, request: SearchRequest) -> SearchAnswer:
        failed: list[str] = []
        all_empty = True
        for backend in self.backends:
            try:
                answer = await backend.search(request)
            except BackendFailed as exc:
                failed.append(f"{backend.name}: {exc}")
                all_empty = all_empty and exc.empty
                continue
            answer.results = dedupe(answer.results)[: request.max_results]
            answer.failed = failed
            return answer
        if all_empty:
            return SearchAnswer(self.backends[-1].name, [], failed=failed)
        raise OutboundError("search failed, retry in a minute or rephrase: " + "; ".join(failed))
