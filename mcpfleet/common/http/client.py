"""`OutboundClient`: one connection pool per server, every request and every redirect hop checked."""

from __future__ import annotations

import http.cookiejar
import time
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from types import TracebackType
from typing import Self

import anyio
import httpcore2
import httpx2

from mcpfleet.common.errors import OutboundError
from mcpfleet.common.http.caches import ResponseCache
from mcpfleet.common.http.fetching import (
    IDEMPOTENT,
    REDIRECT_STATUSES,
    RETRY_STATUSES,
    apply_limit,
    backoff,
    close,
    network_error,
    read_body,
    retry_after,
    retryable,
    time_left,
)
from mcpfleet.common.http.pinning import PIN, Pin, PinnedTransport
from mcpfleet.common.http.policy import (
    AllowList,
    Resolver,
    checked_addresses,
    display,
    host_of,
    parse_url,
    port_of,
    system_resolver,
)
from mcpfleet.common.http.result import FetchResult
from mcpfleet.common.settings import HttpSettings

# The only request headers that follow a redirect to another origin: anything else (Authorization,
# Cookie, X-API-Key, PRIVATE-TOKEN, ...) may be a credential meant for the origin the caller named.
_CROSS_ORIGIN_HEADERS = {"accept", "accept-language", "accept-encoding", "user-agent", "cache-control", "pragma"}


class OutboundClient:
    """The outbound HTTP client of a server: one connection pool, every request checked.

    Args:
        settings: the fleet's `http` section (timeouts, caps, retries, cache, `allow`).
        allow: allow-list entries added to `settings.allow` for this client only.
        resolver: `async (host, port) -> [address, ...]`; the system resolver by default.
        clock: wall-clock seconds for cache expiry and Retry-After dates; `time.time` by default.
        sleep: `async (seconds)` between retries; `anyio.sleep` by default.
        network: the httpcore2 network backend that dials the checked addresses (default: the
            real one); a test can pass one that records targets instead of connecting.

    Example:
        async with OutboundClient(settings.http) as client:
            data = (await client.fetch("https://registry.npmjs.org/react")).json(dict)
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        allow: Sequence[str] = (),
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        network: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        self._settings = settings
        entries = [*settings.allow, *allow]
        self._allow = AllowList.parse(entries)
        self._resolver = resolver
        self._clock = clock
        self._sleep = sleep
        self._client = httpx2.AsyncClient(
            transport=PinnedTransport(httpx2.Limits(max_connections=100, max_keepalive_connections=20), network),
            follow_redirects=False,  # each hop is checked in _follow
            trust_env=False,
            timeout=httpx2.Timeout(settings.timeout, connect=settings.connect_timeout),
            headers={"User-Agent": settings.user_agent},
            cookies=_no_cookies(),
        )
        # The allow list is part of cache keys: see ResponseCache.key
        self._cache = ResponseCache(settings, ",".join(sorted(entries)), clock)

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
        parse_url(url, self._allow)

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
        parsed = parse_url(url, self._allow)  # fail fast, before the cache, on a bad URL
        key = self._cache.key(method, parsed, request_headers, content) if cache else None

        result = await self._cache.get(key) if key else None
        if result is not None:
            result = apply_limit(result, limit, truncate, url)
        else:
            result = await self._fetch_with_deadline(url, parsed, method, request_headers, content, limit, truncate)
            if key and result.status == 200 and not result.truncated:
                await self._cache.put(key, result)
        if accept_status is not None and result.status not in accept_status:
            raise OutboundError(f"{display(url)} answered HTTP {result.status}")
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
            raise OutboundError(f"timed out after {timeout:g}s fetching {display(url)}") from None

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
                if response.status_code not in REDIRECT_STATUSES or location is None:
                    body, truncated = await read_body(response, limit, truncate, url)
                    return FetchResult(
                        url=str(response.url),
                        status=response.status_code,
                        headers={k.lower(): v for k, v in response.headers.items()},
                        content=body,
                        truncated=truncated,
                    )
            finally:
                await close(response)
            parsed, method, headers, content = self._redirect(
                parsed, response.status_code, location, method, headers, content
            )
        raise OutboundError(f"too many redirects (more than {self._settings.max_redirects}) fetching {display(url)}")

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
            raise OutboundError(f"{display(str(current))} redirected to an invalid URL") from None
        next_url = parse_url(str(target), self._allow)
        headers = dict(headers)
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, content = "GET", None
            headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
        origin = (current.scheme, current.raw_host, port_of(current))
        if (next_url.scheme, next_url.raw_host, port_of(next_url)) != origin:
            # Credentials were meant for the origin the caller named, not for where it points.
            headers = {k: v for k, v in headers.items() if k.lower() in _CROSS_ORIGIN_HEADERS}
        return next_url, method, headers, content

    async def _send_retrying(
        self, url: httpx2.URL, method: str, headers: dict[str, str], content: bytes | None
    ) -> httpx2.Response:
        """Send; for idempotent methods retry connection failures and 429/502/503/504."""
        attempts = 1 + (self._settings.retries if method in IDEMPOTENT else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._send(url, method, headers, content)
            except httpx2.TransportError as exc:
                delay = backoff(self._settings.backoff, attempt)
                if last or not retryable(exc) or delay > time_left():
                    raise network_error(exc, url) from None
                await self._sleep(delay)
                continue
            if last or response.status_code not in RETRY_STATUSES:
                return response
            asked = retry_after(response.headers.get("retry-after"), self._clock())
            delay = backoff(self._settings.backoff, attempt) if asked is None else asked
            if delay > time_left():  # waiting would only end in a timeout; the answer is better
                return response
            await close(response)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, url: httpx2.URL, method: str, headers: dict[str, str], content: bytes | None
    ) -> httpx2.Response:
        host, port = host_of(url), port_of(url)
        addresses = await checked_addresses(host, port, self._allow, label=str(url), resolver=self._resolver)
        request = self._client.build_request(method, url, headers=headers, content=content)
        request.headers["User-Agent"] = self._settings.user_agent  # the fleet's, whatever the caller set
        token = PIN.set(Pin(host, port, tuple(addresses)))
        try:
            return await self._client.send(request, stream=True)
        finally:
            PIN.reset(token)


def _no_cookies() -> http.cookiejar.CookieJar:
    # An empty allowed_domains list blocks every domain, so Set-Cookie is never stored.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
