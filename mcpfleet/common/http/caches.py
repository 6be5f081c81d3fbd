"""The outbound client's response cache: GET answers in memory (LRU) and optionally on disk.

The cache is shared by every caller of a server, so only what any caller could see is kept:
no request with credentials, no `private`/`no-store`/`no-cache` answer, nothing but whole 200s.
Expiry uses the client's clock, the wall clock by default, since disk entries outlive the process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio
import httpx2

from mcpfleet.common.cache import TTLCache
from mcpfleet.common.http.result import FetchResult
from mcpfleet.common.settings import HttpSettings

logger = logging.getLogger(__name__)

MEMORY_CACHE_BYTES = 64 * 1024 * 1024  # bounds the in-memory cache whatever cache_max_entries says
# Requests carrying credentials are never cached: the cache is shared by every caller of a server.
_PRIVATE_REQUEST_HEADERS = {"authorization", "proxy-authorization", "cookie"}


def store_ttl(headers: Mapping[str, str], ttl: float) -> float:
    """How long a 200 response may be kept (0 = not at all), given its Cache-Control."""
    directives = {d.strip().lower() for d in headers.get("cache-control", "").split(",")}
    # The cache is shared by all callers, so "private" responses are not kept either.
    if directives & {"no-store", "no-cache", "private"} or headers.get("vary", "").strip() == "*":
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() in ("max-age", "s-maxage") and value.strip().isdigit():
            ttl = min(ttl, float(value))
    return ttl


class ResponseCache:
    """Memory first, then disk (when `cache_dir` is set); a disk hit is brought into memory."""

    def __init__(self, settings: HttpSettings, allow_id: str, clock: Callable[[], float]) -> None:
        self._ttl = settings.cache_ttl
        self._allow_id = allow_id
        self._clock = clock
        self._memory: TTLCache[str, FetchResult] = TTLCache(
            ttl=settings.cache_ttl,
            max_entries=settings.cache_max_entries,
            max_size=MEMORY_CACHE_BYTES,
            sizeof=lambda result: len(result.content),
            clock=clock,
        )
        self._disk = DiskCache(Path(settings.cache_dir), clock) if settings.cache_dir else None

    def key(self, method: str, url: httpx2.URL, headers: Mapping[str, str], content: bytes | None) -> str | None:
        """The cache key of a request, or None when its answer may not be cached."""
        if method != "GET" or content is not None or self._ttl <= 0:
            return None
        names = {k.lower() for k in headers}
        if names & _PRIVATE_REQUEST_HEADERS:
            return None
        # Every request header is part of the key (Accept, Accept-Language, API keys...), and so
        # is the allow-list: a disk cache shared with a client allowed more must not leak to this one.
        material = [method, str(url), sorted((k.lower(), v) for k, v in headers.items()), self._allow_id]
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()

    async def get(self, key: str) -> FetchResult | None:
        result = self._memory.get(key)
        if result is None and self._disk is not None:
            entry = await anyio.to_thread.run_sync(self._disk.get, key)
            if entry is not None:
                expires, result = entry
                self._memory.put(key, result, ttl=expires - self._clock())
        return dataclasses.replace(result, from_cache=True) if result is not None else None

    async def put(self, key: str, result: FetchResult) -> None:
        ttl = store_ttl(result.headers, self._ttl)
        if ttl <= 0:
            return
        self._memory.put(key, result, ttl=ttl)
        if self._disk is not None:
            await anyio.to_thread.run_sync(self._disk.put, key, result, self._clock() + ttl)


class DiskCache:
    """One file per key: a JSON metadata line, then the body. Anything unreadable is a miss."""

    def __init__(self, directory: Path, clock: Callable[[], float]) -> None:
        self._dir = directory
        self._clock = clock

    def path(self, key: str) -> Path:
        return self._dir / f"{key}.cache"

    def get(self, key: str) -> tuple[float, FetchResult] | None:
        path = self.path(key)
        try:
            meta_line, _, body = path.read_bytes().partition(b"\n")
            meta = json.loads(meta_line)
            if meta["key"] != key or meta["length"] != len(body):
                raise ValueError("mismatch")
            result = FetchResult(
                url=str(meta["url"]),
                status=int(meta["status"]),
                headers={str(k): str(v) for k, v in meta["headers"].items()},
                content=body,
            )
            expires = float(meta["expires"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._remove(path)  # corrupt or from another format: a miss
            return None
        if expires <= self._clock():
            self._remove(path)
            return None
        return expires, result

    def put(self, key: str, result: FetchResult, expires: float) -> None:
        meta = {"key": key, "url": result.url, "status": result.status, "headers": result.headers}
        meta |= {"expires": expires, "length": len(result.content)}
        try:
            self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Write beside the target and rename: readers see the old file or the new, never half.
            fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(json.dumps(meta).encode() + b"\n" + result.content)
                os.replace(tmp, self.path(key))
            except BaseException:
                self._remove(Path(tmp))
                raise
        except OSError as exc:  # a cache that cannot write is just a smaller cache
            logger.warning("http cache: cannot write %s: %s", self._dir, exc.strerror)

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink()
        except OSError:
            pass
