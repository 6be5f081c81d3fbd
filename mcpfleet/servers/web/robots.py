"""robots.txt, fetched once per origin and honoured for the server's user agent.

A robots.txt that answers 4xx means no rules (allowed). One that cannot be read — 5xx, timeout,
network error — is not taken as permission: the fetch is refused until it can be read.

Rules are remembered per caller namespace (see fetch.py): a shared entry would let one caller
time whether another had recently read a site.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from mcpfleet.common.cache import TTLCache
from mcpfleet.common.errors import BlockedDestination, OutboundError, UserError
from mcpfleet.common.http import OutboundClient

ROBOTS_MAX_BYTES = 512_000  # what Google reads; the rest is ignored
MAX_ENTRIES = 4096  # (caller, origin) pairs remembered
_UNKNOWN = object()  # not remembered (None is remembered: "allow all")


class RobotsPolicy:
    def __init__(
        self,
        client: Callable[[], OutboundClient],
        user_agent: str,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._agent = user_agent
        # (namespace, origin) -> rules; None rules: allow all
        self._rules: TTLCache[tuple[str, str], RobotFileParser | None] = TTLCache(
            ttl=ttl, max_entries=MAX_ENTRIES, clock=clock
        )

    async def check(self, url: str, namespace: str = "") -> None:
        """Return if `url` may be fetched; raise UserError if robots.txt disallows it, OutboundError
        if robots.txt cannot be read, BlockedDestination if its origin is refused. `namespace`
        keeps one caller's remembered rules apart from another's."""
        parts = urlsplit(url.strip())
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        rules = await self._rules_for(namespace, origin)
        if rules is not None and not rules.can_fetch(self._agent, url.strip()):
            raise UserError(
                f"{origin}/robots.txt does not allow fetching this URL for our user agent; "
                "the site asks not to be read automatically"
            )

    async def _rules_for(self, namespace: str, origin: str) -> RobotFileParser | None:
        key = (namespace, origin)
        cached = self._rules.get(key, _UNKNOWN)
        if cached is not _UNKNOWN:
            return cached  # type: ignore[return-value]
        try:
            response = await self._client().fetch(f"{origin}/robots.txt", max_bytes=ROBOTS_MAX_BYTES, truncate=True)
        except BlockedDestination:
            raise
        except OutboundError as exc:
            raise OutboundError(
                f"{origin}/robots.txt could not be read ({exc}); not fetching without it, retry later"
            ) from None
        if response.status >= 500 or response.status == 429:
            raise OutboundError(
                f"{origin}/robots.txt answered HTTP {response.status}; that is not taken as permission, retry later"
            )
        rules: RobotFileParser | None = None
        if 200 <= response.status < 300:
            rules = RobotFileParser()
            rules.parse(response.content.decode("utf-8", errors="replace").splitlines())
        self._rules.put(key, rules)
        return rules
