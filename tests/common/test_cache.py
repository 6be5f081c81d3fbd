"""The fleet's one in-memory cache: per-entry TTL, LRU by entries and by size, an injected clock."""

from __future__ import annotations

from mcpfleet.common.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_at_their_own_time() -> None:
    clock = Clock()
    cache: TTLCache[str, str] = TTLCache(ttl=60, max_entries=10, clock=clock)
    cache.put("default", "a")
    cache.put("short", "b", ttl=5)
    clock.now += 5
    assert cache.get("short") is None and cache.get("default") == "a"  # expired at exactly its ttl
    clock.now += 55
    assert cache.get("default") is None
    assert cache.get("missing", "fallback") == "fallback"


def test_stale_values_stay_for_revalidation_until_refreshed() -> None:
    clock = Clock()
    cache: TTLCache[str, str] = TTLCache(ttl=10, max_entries=10, clock=clock)
    cache.put("k", "v")
    clock.now += 11
    assert cache.get("k") is None and cache.stale("k") == "v" and len(cache) == 1
    assert cache.refresh("k") is True
    assert cache.get("k") == "v"
    clock.now += 9
    assert cache.get("k") == "v"  # refreshed for the full ttl from the refresh
    assert cache.refresh("absent") is False and cache.stale("absent") is None


def test_least_recently_used_goes_first() -> None:
    cache: TTLCache[str, str] = TTLCache(ttl=60, max_entries=2)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"  # a is now the most recently used
    cache.put("c", "3")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("1", None, "3")
    cache.refresh("a")
    cache.put("d", "4")  # a was refreshed, so c goes
    assert cache.get("c") is None and cache.get("a") == "1"


def test_bounded_by_size_and_oversized_values_are_not_kept() -> None:
    cache: TTLCache[str, bytes] = TTLCache(ttl=60, max_entries=100, max_size=10, sizeof=len)
    cache.put("a", b"123456")
    cache.put("b", b"123456")
    assert cache.get("a") is None and cache.get("b") == b"123456" and cache.size == 6
    cache.put("big", b"x" * 11)
    assert cache.get("big") is None and cache.get("b") == b"123456"  # the big one pushed nothing out
    cache.put("b", b"12")  # replacing an entry counts its new size only
    assert cache.size == 2
    cache.put("sized", b"", size=8)  # an explicit size wins over sizeof
    assert cache.size == 10 and len(cache) == 2
    cache.pop("sized")
    assert cache.size == 2 and cache.get("sized") is None


def test_off_switches_store_nothing() -> None:
    for off in (TTLCache(ttl=0, max_entries=10), TTLCache(ttl=60, max_entries=0)):
        off.put("a", "1")
        assert off.get("a") is None and len(off) == 0
    cache: TTLCache[str, str] = TTLCache(ttl=60, max_entries=10)
    cache.put("a", "1", ttl=0)  # a per-entry ttl of 0 is "do not keep"
    assert cache.get("a") is None


def test_none_can_be_told_from_a_miss_with_a_default() -> None:
    cache: TTLCache[str, None] = TTLCache(ttl=60, max_entries=10)
    cache.put("known", None)
    missing = object()
    assert cache.get("known", missing) is None and cache.get("other", missing) is missing
    cache.clear()
    assert len(cache) == 0 and cache.size == 0 and cache.get("known", missing) is missing
