"""Talking to an npm registry: packuments (cached, ETag-revalidated), search, tarballs, advisories.

Every request goes through the fleet's `OutboundClient` (SSRF guard, deadlines, size caps). The
client's own cache is bypassed (`cache=False`): it never stores requests that carry credentials,
and packuments want revalidation with `If-None-Match` rather than a refetch, so this module keeps
its own small LRU of parsed packuments keyed by URL and form (abbreviated or full).

Abbreviated packuments (`Accept: application/vnd.npm.install-v1+json`) carry versions, dist-tags,
dependencies, engines and deprecations but no READMEs, maintainers or publish times; callers ask
for the full form only when they need those.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mcpfleet.common.cache import TTLCache
from mcpfleet.common.errors import FleetError, OutboundError, UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.servers.npm.npmrc import NpmConfig

ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
FULL = "application/json"
# npm's rules for new names, relaxed to accept the legacy capitalised ones ("JSONStream").
_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9._~-][a-z0-9._~-]*$", re.IGNORECASE | re.ASCII)


class PackageNotFound(UserError):
    """The registry has no package of that name (or hides it without credentials)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def check_name(name: str) -> str:
    name = name.strip()
    bare = name.split("/", 1)[-1]  # npm: neither a name nor a scoped name's part may start with . or _
    if (
        not name
        or len(name) > 214
        or not _NAME.match(name)
        or bare.startswith((".", "_"))
        or name.startswith((".", "_"))
    ):
        raise UserError(f"{name[:100]!r} is not a valid npm package name (e.g. 'react', '@types/node')")
    return name


@dataclass(frozen=True)
class _Entry:
    etag: str | None
    data: dict[str, Any] | None  # None: the registry said 404 (kept briefly, like a found one)


class RegistryClient:
    """One registry configuration's view of npm: packuments, search, tarballs and advisories."""

    def __init__(
        self,
        http: OutboundClient,
        config: NpmConfig,
        *,
        audit_url: str | None = None,
        cache_ttl: float = 300.0,
        cache_entries: int = 512,
        cache_bytes: int = 64_000_000,
        max_packument_bytes: int = 32_000_000,
        max_tarball_bytes: int = 20_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.config = config
        self.audit_url = audit_url or config.registry + "-/npm/v1/security/advisories/bulk"
        self.cache_ttl = cache_ttl
        self.max_packument_bytes = max_packument_bytes
        self.max_tarball_bytes = max_tarball_bytes
        # (URL, full) -> packument; sized by the bytes it was sent as. Expired entries stay (within
        # the bounds) for an If-None-Match revalidation.
        self._cache: TTLCache[tuple[str, bool], _Entry] = TTLCache(
            ttl=cache_ttl, max_entries=cache_entries, max_size=cache_bytes, clock=clock
        )
        self._inflight: dict[tuple[str, bool], asyncio.Future] = {}
        self.requests = 0  # network requests sent (tests and benchmarks read it)
        self.revalidated = 0  # of which answered 304 Not Modified

    # -- requests ---------------------------------------------------------------------------------

    async def _fetch(
        self,
        url: str,
        *,
        accept: str = FULL,
        method: str = "GET",
        body: bytes | None = None,
        extra: dict[str, str] | None = None,
        max_bytes: int | None = None,
    ):
        headers = {"Accept": accept, **(extra or {})}
        auth = self.config.auth_for(url)
        if auth:
            headers["Authorization"] = auth
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.requests += 1
        try:
            return await self.http.fetch(
                url, method=method, headers=headers, content=body, max_bytes=max_bytes, cache=False
            )
        except FleetError as exc:
            # The client's messages name URLs, not headers; redact anyway, in case a token was
            # put into a URL by a misconfigured registry entry.
            raise type(exc)(self.config.redact(str(exc))) from None

    def packument_url(self, name: str) -> str:
        return self.config.registry_for(name) + quote(name, safe="@")

    async def packument(self, name: str, *, full: bool = False) -> dict[str, Any]:
        """The packument of `name` (abbreviated unless `full`), from cache when fresh."""
        name = check_name(name)
        key = (self.packument_url(name), full)
        entry = self._cache.get(key)
        if entry is None and not full:
            entry = self._cache.get((key[0], True))  # a full packument answers abbreviated questions too
        if entry is not None:
            if entry.data is None:
                raise PackageNotFound(name, self._not_found(name))
            return entry.data
        entry = self._cache.stale(key)
        pending = self._inflight.get(key)
        if pending is not None:  # one request per packument, however many callers want it
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            data = await self._load(name, key, entry)
            future.set_result(data)
            return data
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._inflight[key]

    def _not_found(self, name: str) -> str:
        return f"no package named {name!r} in {self.config.registry_for(name)}"

    async def _load(self, name: str, key: tuple[str, bool], stale: _Entry | None) -> dict[str, Any]:
        url, full = key
        extra = {"If-None-Match": stale.etag} if stale is not None and stale.etag else None
        result = await self._fetch(
            url, accept=FULL if full else ABBREVIATED, extra=extra, max_bytes=self.max_packument_bytes
        )
        if result.status == 304 and stale is not None and stale.data is not None:
            self.revalidated += 1
            self._cache.refresh(key)
            return stale.data
        if result.status == 404:
            self._cache.put(key, _Entry(None, None), ttl=min(self.cache_ttl, 60.0), size=0)
            raise PackageNotFound(name, self._not_found(name))
        if result.status in (401, 403):
            raise UserError(
                f"the registry refused access to {name!r} (HTTP {result.status}): a private package needs a token "
                "for its registry in the server's npmrc setting"
            )
        data = well_formed(result.json(dict, what=f"the registry (package {name!r})"), name)
        self._cache.put(key, _Entry(result.headers.get("etag"), data), size=len(result.content))
        return data

    async def exists(self, name: str) -> bool:
        try:
            await self.packument(name)
        except (PackageNotFound, UserError):
            return False
        return True

    async def search(self, text: str, size: int) -> list[dict[str, Any]]:
        """Search results as the registry's `/-/v1/search` sends them; UserError where it is not served."""
        url = f"{self.config.registry}-/v1/search?text={quote(text)}&size={size}"
        result = await self._fetch(url, max_bytes=5_000_000)
        if result.status in (404, 405, 501):
            raise UserError(
                f"{self.config.registry} does not serve search (/-/v1/search answered HTTP {result.status}); "
                "npm_package checks a name directly"
            )
        objects = result.json(dict, what="registry search").get("objects", [])
        if not isinstance(objects, list):
            raise OutboundError("registry search answered JSON whose 'objects' is not a list")
        return [o for o in objects if isinstance(o, dict) and isinstance(o.get("package"), dict)][:size]

    async def tarball(self, url: str) -> bytes:
        result = await self._fetch(url, accept="application/octet-stream", max_bytes=self.max_tarball_bytes)
        if result.status != 200:
            raise OutboundError(f"the registry answered HTTP {result.status} for the package tarball")
        return result.content

    async def advisories(self, wanted: dict[str, list[str]]) -> dict[str, Any]:
        """POST the bulk-advisory request; the registry's answer, name -> list of advisories."""
        result = await self._fetch(
            self.audit_url, method="POST", body=json.dumps(wanted).encode(), max_bytes=20_000_000
        )
        if result.status in (404, 405, 501):
            raise UserError(
                f"this registry does not serve the bulk advisory endpoint (HTTP {result.status}); "
                "set servers.npm.audit_url to one that does"
            )
        return result.json(dict, what="the advisory endpoint")


def well_formed(packument: dict[str, Any], name: str) -> dict[str, Any]:
    """The packument with the shapes every reader assumes, checked once where it arrives (it is a
    registry's untrusted JSON): `versions` an object of manifest objects, `dist-tags` an object of
    version strings. A manifest or tag of another shape is left out, as npm skips what it cannot
    read; `versions` of another shape is the registry's error."""
    versions = packument.get("versions", {})
    if not isinstance(versions, dict):
        raise OutboundError(f"the registry (package {name!r}) sent a packument whose 'versions' is not an object")
    tags = packument.get("dist-tags")
    packument["versions"] = {v: m for v, m in versions.items() if isinstance(m, dict)}
    packument["dist-tags"] = (
        {t: v for t, v in tags.items() if isinstance(t, str) and isinstance(v, str)} if isinstance(tags, dict) else {}
    )
    return packument
