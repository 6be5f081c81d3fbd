"""The pieces of one fetch: reading a capped body, short error messages, the retry policy."""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import math
import random

import anyio
import httpx2

from mcpfleet.common.errors import OutboundError, ResponseTooLarge
from mcpfleet.common.http.policy import display
from mcpfleet.common.http.result import FetchResult

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
RETRY_STATUSES = {429, 502, 503, 504}
IDEMPOTENT = {"GET", "HEAD", "OPTIONS"}
RETRY_AFTER_CAP = 10.0  # seconds; a server asking for longer gets its error response instead


# --------------------------------------------------------------------------------------------
# Bodies


async def read_body(response: httpx2.Response, limit: int, truncate: bool, url: str) -> tuple[bytes, bool]:
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
        raise network_error(exc, response.request.url) from None
    return bytes(body), False


def _too_large(url: str, limit: int) -> str:
    return f"response from {display(url)} is larger than {limit} bytes"


def apply_limit(result: FetchResult, limit: int, truncate: bool, url: str) -> FetchResult:
    """A cached body obeys the caller's limit just as a fresh one would."""
    if len(result.content) <= limit:
        return result
    if not truncate:
        raise ResponseTooLarge(_too_large(url, limit))
    return dataclasses.replace(result, content=result.content[:limit], truncated=True)


async def close(response: httpx2.Response) -> None:
    # Shielded: after a deadline the response must still be closed, or its connection leaks.
    with anyio.CancelScope(shield=True):
        await response.aclose()


def network_error(exc: Exception, url: httpx2.URL) -> OutboundError:
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


# --------------------------------------------------------------------------------------------
# Retries


def retryable(exc: httpx2.TransportError) -> bool:
    # Failures before or instead of an answer; a read timeout means the server is slow, and
    # asking again would only spend the deadline twice.
    return isinstance(exc, httpx2.NetworkError | httpx2.RemoteProtocolError | httpx2.ConnectTimeout)


def backoff(base: float, attempt: int) -> float:
    """Exponential backoff with ±50% jitter, so clients that failed together retry apart."""
    return base * 2**attempt * (0.5 + random.random())


def retry_after(value: str | None, now: float) -> float | None:
    """Retry-After in seconds (a number or an HTTP date, read against `now`, epoch seconds),
    capped; None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def time_left() -> float:
    return anyio.current_effective_deadline() - anyio.current_time()
