"""Search: URL normalisation, the SearXNG and ddgs adapters against a real local server, fallback.

SearXNG answers from recorded JSON in its real format. ddgs runs for real with its DuckDuckGo
HTML engine pointed at the fixture server (its engines' URLs are class attributes); where ddgs
cannot be pointed anywhere (news needs a token from duckduckgo.com) a stand-in DDGS returns the
library's own result objects or raises its own exceptions.
"""

from __future__ import annotations

import time
from typing import ClassVar

import pytest
from ddgs.engines.duckduckgo import Duckduckgo
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException
from ddgs.results import NewsResult

from mcpfleet.common.errors import OutboundError
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import HttpSettings
from mcpfleet.servers.web.clients import allow_entry
from mcpfleet.servers.web.search import (
    BackendFailed,
    DdgsBackend,
    Searcher,
    SearchRequest,
    SearxngBackend,
    dedupe,
    normalise_url,
)
from web_site import Site

HTTP = HttpSettings(timeout=3, connect_timeout=1, retries=0, backoff=0, cache_ttl=0)


@pytest.fixture(scope="module")
def site():
    with Site() as s:
        yield s


@pytest.fixture
async def searxng(site):
    site.searxng_mode = "ok"
    async with OutboundClient(HTTP, allow=["localhost"]) as client:
        yield SearxngBackend(site.base, lambda: client, engines=["google", "brave"], safesearch="moderate")


@pytest.fixture
def local_ddg(site, monkeypatch):
    site.ddg_mode = "ok"
    monkeypatch.setattr(Duckduckgo, "search_url", f"http://127.0.0.1:{site.port}/html/")
    return DdgsBackend("duckduckgo", "moderate", timeout=10)


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTPS://Example.COM:443/a/", "https://example.com/a"),
        ("http://example.com:80/a#frag", "http://example.com/a"),
        ("https://example.com/a?utm_source=x&b=2&a=1&fbclid=zz&gclid=1", "https://example.com/a?b=2&a=1"),
        ("https://example.com/", "https://example.com"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
    ],
)
def test_equivalent_urls_normalise_alike(a, b):
    assert normalise_url(a) == normalise_url(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/a", "http://example.com/a"),
        ("https://example.com/a", "https://example.com/b"),
        ("https://example.com/a?id=1", "https://example.com/a?id=2"),
        ("https://example.com:8443/a", "https://example.com/a"),
        ("https://example.com/A", "https://example.com/a"),
    ],
)
def test_different_urls_stay_different(a, b):
    assert normalise_url(a) != normalise_url(b)


def test_dedupe_keeps_first_occurrence_in_order():
    hits = [
        {"url": u, "title": t}
        for u, t in [
            ("https://a.org/x/", "1"),
            ("https://b.org", "2"),
            ("https://A.org/x?utm_medium=m", "3"),
            ("https://b.org/#top", "4"),
        ]
    ]
    assert [h["title"] for h in dedupe(hits)] == ["1", "2"]


# --- SearXNG ----------------------------------------------------------------------------------


async def test_searxng_sends_the_documented_parameters(site, searxng):
    await searxng.search(SearchRequest("kubernetes egress", 5, "web", "week", "de-de"))
    method, path, _ = site.requests[-1]
    assert method == "GET" and path.startswith("/search?")
    from urllib.parse import parse_qs, urlsplit

    params = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    assert params == {
        "q": "kubernetes egress",
        "format": "json",
        "pageno": "1",
        "safesearch": "1",
        "categories": "general",
        "engines": "google,brave",
        "language": "de-DE",
        "time_range": "week",
    }


async def test_searxng_results_are_mapped_and_deduplicated(searxng):
    answer = await Searcher([searxng]).search(SearchRequest("kubernetes egress policy"))
    assert answer.backend == "searxng"
    urls = [h["url"] for h in answer.results]
    # five recorded results, two of them the same page as an earlier one
    assert urls == [
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
        "https://www.tigera.io/learn/guides/kubernetes-security/kubernetes-egress/",
        "HTTPS://GitHub.com:443/ahmetb/kubernetes-network-policy-recipes/",
    ]
    first = answer.results[0]
    assert first["title"] == "Network Policies | Kubernetes"
    assert first["engine"] == "searxng (google, duckduckgo, brave)"
    assert first["snippet"].startswith("If you want to control traffic flow")
    assert answer.results[1]["date"] == "2023-08-14T00:00:00"
    assert answer.suggestions == ["kubernetes egress gateway", "kubernetes network policy examples"]
    assert "1. Network Policies | Kubernetes" in answer.render()


async def test_searxng_news_uses_the_news_category(site, searxng):
    answer = await searxng.search(SearchRequest("kubernetes release", kind="news"))
    assert "categories=news" in site.requests[-1][1]
    assert answer.results[0]["date"] == "2024-04-17T15:00:00"
    assert answer.results[0]["engine"] == "searxng (bing news, yahoo news)"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("429", "rate limited by SearXNG"),
        ("403", "enable json in search.formats"),
        ("html", "did not answer JSON"),
        ("unresponsive", "no engine answered: google too many requests; duckduckgo CAPTCHA"),
    ],
)
async def test_searxng_failures_are_named(site, searxng, mode, message):
    site.searxng_mode = mode
    with pytest.raises(BackendFailed, match=message) as info:
        await searxng.search(SearchRequest("kubernetes egress policy"))
    assert not info.value.empty


async def test_searxng_unreachable_is_a_failure():
    async with OutboundClient(HTTP, allow=["localhost"]) as client:
        from fleet_testing import free_port

        backend = SearxngBackend(f"http://localhost:{free_port()}", lambda: client)
        with pytest.raises(BackendFailed, match="could not connect"):
            await backend.search(SearchRequest("x"))


def test_searxng_host_is_allowed_for_its_own_client_only():
    assert allow_entry("http://searxng.search.svc:8080") == "searxng.search.svc"
    assert allow_entry("http://10.0.3.7:8080/") == "10.0.3.7/32"
    assert allow_entry("http://[fd00::5]:8080/") == "fd00::5/128"


# --- ddgs -------------------------------------------------------------------------------------


async def test_ddgs_text_search_through_the_real_library(site, local_ddg):
    answer = await local_ddg.search(SearchRequest("kubernetes egress policy", max_results=5, time_range="month"))
    method, path, body = site.requests[-1]
    assert (method, path) == ("POST", "/html/")
    assert "q=kubernetes+egress+policy" in body and "df=m" in body
    urls = [h["url"] for h in answer.results]
    assert "https://kubernetes.io/docs/concepts/services-networking/network-policies/" in urls
    assert not any("duckduckgo.com/y.js" in u for u in urls)  # ddgs drops DuckDuckGo's ads
    assert all(h["engine"] == "ddgs" and h["title"] and h["snippet"] for h in answer.results)
    deduped = await Searcher([local_ddg]).search(SearchRequest("kubernetes egress policy"))
    assert len(deduped.results) == 2  # the tracking-parameter duplicate is gone


class StandInDDGS:
    """Stands in for ddgs.DDGS where ddgs cannot be pointed at a local server."""

    calls: ClassVar[list] = []
    behaviour = "news"

    def __init__(self, timeout=None):
        self.timeout = timeout

    def news(self, query, **kwargs):
        StandInDDGS.calls.append(("news", query, kwargs))
        return self._answer()

    def text(self, query, **kwargs):
        StandInDDGS.calls.append(("text", query, kwargs))
        return self._answer()

    def _answer(self):
        b = StandInDDGS.behaviour
        if b == "ratelimit":
            raise RatelimitException("https://duckduckgo.com/news.js 202 Ratelimit")
        if b == "timeout":
            raise TimeoutException("https://duckduckgo.com/news.js timed out")
        if b == "empty":
            raise DDGSException("No results found.")
        if b == "broken":
            raise DDGSException("ConnectError: secret internal detail")
        if b == "hang":
            time.sleep(3)
            return []
        result = NewsResult()  # the library's own result object, normalisers included
        result.date = "2024-04-17T15:00:00+00:00"
        result.title = "Kubernetes &amp; <b>1.30</b> released"
        result.body = "The project released version 1.30."
        result.url = "https://www.example-news.com/2024/04/kubernetes-1-30-released"
        result.image = "https://www.example-news.com/img.png"
        result.source = "Example News"
        return [result.__dict__]


@pytest.fixture
def stand_in():
    StandInDDGS.calls = []
    StandInDDGS.behaviour = "news"
    return StandInDDGS


async def test_ddgs_news_result_shape(stand_in):
    backend = DdgsBackend("auto", "strict", timeout=5, factory=stand_in)
    answer = await backend.search(SearchRequest("kubernetes", 3, "news", "day", "uk-en"))
    kind, query, kwargs = stand_in.calls[0]
    assert (kind, query) == ("news", "kubernetes")
    assert kwargs == {"safesearch": "on", "timelimit": "d", "max_results": 3, "region": "uk-en", "backend": "auto"}
    assert answer.results == [
        {
            "title": "Kubernetes & 1.30 released",
            "url": "https://www.example-news.com/2024/04/kubernetes-1-30-released",
            "snippet": "The project released version 1.30.",
            "engine": "ddgs (Example News)",
            "date": "2024-04-17T15:00:00+00:00",
        }
    ]


@pytest.mark.parametrize(
    ("behaviour", "message", "empty"),
    [
        ("ratelimit", "rate limited", False),
        ("timeout", "timed out", False),
        ("broken", "could not be reached", False),
        ("empty", "no results", True),
    ],
)
async def test_ddgs_exceptions_become_backend_failures(stand_in, behaviour, message, empty):
    stand_in.behaviour = behaviour
    with pytest.raises(BackendFailed, match=message) as info:
        await DdgsBackend(factory=stand_in).search(SearchRequest("x"))
    assert info.value.empty is empty and "secret" not in str(info.value)


async def test_ddgs_call_is_bounded_by_the_search_timeout(stand_in):
    stand_in.behaviour = "hang"
    with pytest.raises(BackendFailed, match="no answer within 0.5s"):  # the timeout, not the hang, ended it
        await DdgsBackend(timeout=0.5, factory=stand_in).search(SearchRequest("x"))


# --- fallback ---------------------------------------------------------------------------------


async def test_fallback_to_the_next_backend_when_one_is_rate_limited(site, searxng, local_ddg):
    site.searxng_mode = "429"
    answer = await Searcher([searxng, local_ddg]).search(SearchRequest("kubernetes egress policy"))
    assert answer.backend == "ddgs" and answer.results
    assert answer.failed == ["searxng: rate limited by SearXNG"]
    assert "failed" in answer.as_dict()


async def test_first_backend_that_answers_wins(site, searxng, local_ddg):
    before = site.count("/html/")
    answer = await Searcher([searxng, local_ddg]).search(SearchRequest("kubernetes egress policy"))
    assert answer.backend == "searxng" and answer.failed == []
    assert site.count("/html/") == before  # the second backend was not asked


async def test_ddgs_seeing_nothing_falls_through_to_searxng(site, searxng, local_ddg):
    site.ddg_mode = "ratelimit"  # DuckDuckGo's 202: ddgs reports no results
    answer = await Searcher([local_ddg, searxng]).search(SearchRequest("kubernetes egress policy"))
    assert answer.backend == "searxng" and answer.failed == ["ddgs: no results"]


async def test_all_backends_failing_is_a_retryable_error(site, searxng, stand_in):
    site.searxng_mode = "unresponsive"
    stand_in.behaviour = "ratelimit"
    with pytest.raises(OutboundError, match=r"retry in a minute.*searxng: no engine answered.*ddgs: rate limited"):
        await Searcher([searxng, DdgsBackend(factory=stand_in)]).search(SearchRequest("x"))


async def test_nothing_found_anywhere_is_an_empty_answer(stand_in):
    stand_in.behaviour = "empty"
    answer = await Searcher([DdgsBackend(factory=stand_in)]).search(SearchRequest("x"))
    assert answer.results == [] and answer.render() == "no results"
