"""One in-memory cache for the fleet: least recently used out first, bounded by entries and size.

Every entry expires at its own time (`put(..., ttl=)`); an expired entry is no longer returned by
`get` but stays, within the bounds, for `stale` (an ETag revalidation needs the old answer) until
it is replaced, refreshed or pushed out. The clock is injectable, so tests move time instead of
sleeping.

Used by the outbound client's memory cache (common/http), web's page and robots.txt caches,
npm's packuments and ui's registry items.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")


@dataclass
class _Entry(Generic[V]):
    value: V
    expires: float
    size: int


class TTLCache(Generic[K, V]):
    """LRU by entries and size; entries expire `ttl` seconds (or their own `put` ttl) after storing.

    Args:
        ttl: seconds an entry is fresh unless `put` says otherwise; <= 0 stores nothing.
        max_entries: at most this many entries; 0 stores nothing.
        max_size: at most this much in total, in the unit `sizeof` measures (bytes, characters);
            None: bounded by entries only. A value larger than this alone is not stored.
        sizeof: the size of a value, when `put` is not given one; default 0.
        clock: seconds, monotonic for a cache that lives in memory only (the default).

    Example:
        pages = TTLCache(ttl=300, max_entries=512, max_size=64_000_000, sizeof=len)
        pages.put(("caller", url), text)
        pages.get(("caller", url))  # text, for 300 s
    """

    def __init__(
        self,
        *,
        ttl: float,
        max_entries: int,
        max_size: int | None = None,
        sizeof: Callable[[V], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_size = max_size
        self._sizeof = sizeof
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """The total size of the entries held (fresh and expired)."""
        return self._size

    def get(self, key: K, default: D = None) -> V | D:  # type: ignore[assignment]
        """The fresh value for `key` (now the most recently used), else `default`."""
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock():
            return default
        self._entries.move_to_end(key)
        return entry.value

    def stale(self, key: K, default: D = None) -> V | D:  # type: ignore[assignment]
        """The value for `key` even if it has expired (for revalidation), else `default`."""
        entry = self._entries.get(key)
        return default if entry is None else entry.value

    def put(self, key: K, value: V, *, ttl: float | None = None, size: int | None = None) -> None:
        """Store `value` for `ttl` seconds (default: the cache's), pushing out the least recently
        used entries past the bounds. Nothing is stored when ttl <= 0 or the value alone is too big."""
        ttl = self.ttl if ttl is None else ttl
        if size is None:
            size = self._sizeof(value) if self._sizeof is not None else 0
        if ttl <= 0 or self.max_entries <= 0 or (self.max_size is not None and size > self.max_size):
            return
        self.pop(key)
        self._entries[key] = _Entry(value, self._clock() + ttl, size)
        self._size += size
        while len(self._entries) > self.max_entries or (self.max_size is not None and self._size > self.max_size):
            self.pop(next(iter(self._entries)))

    def refresh(self, key: K, ttl: float | None = None) -> bool:
        """Make `key` fresh for `ttl` more seconds and the most recently used; False if absent."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        entry.expires = self._clock() + (self.ttl if ttl is None else ttl)
        self._entries.move_to_end(key)
        return True

    def pop(self, key: K) -> None:
        """Forget `key` (no error if absent)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._size -= entry.size

    def clear(self) -> None:
        self._entries.clear()
        self._size = 0
