"""The page cache: TTL, LRU by entries and by characters (time moved by an injected clock)."""

from __future__ import annotations

from mcpfleet.servers.web.fetch import Document, PageCache


def doc(text: str) -> Document:
    return Document("https://example.org/", "", "text/html", text)


def test_entries_expire():
    now = [100.0]
    cache = PageCache(ttl=0.05, max_entries=10, clock=lambda: now[0])
    cache.put(("u", "markdown"), doc("x"))
    assert cache.get(("u", "markdown")).text == "x"
    assert cache.get(("u", "text")) is None  # the format is part of the key
    now[0] += 0.04
    assert cache.get(("u", "markdown")).text == "x"
    now[0] += 0.02
    assert cache.get(("u", "markdown")) is None


def test_least_recently_used_goes_first():
    cache = PageCache(ttl=60, max_entries=2)
    cache.put(("a", "markdown"), doc("a"))
    cache.put(("b", "markdown"), doc("b"))
    cache.get(("a", "markdown"))
    cache.put(("c", "markdown"), doc("c"))
    assert cache.get(("b", "markdown")) is None
    assert cache.get(("a", "markdown")) and cache.get(("c", "markdown"))


def test_bounded_by_characters_and_off_switches():
    cache = PageCache(ttl=60, max_entries=100, max_chars=10)
    cache.put(("a", "markdown"), doc("123456"))
    cache.put(("b", "markdown"), doc("123456"))
    assert cache.get(("a", "markdown")) is None and cache.get(("b", "markdown"))
    cache.put(("big", "markdown"), doc("x" * 11))
    assert cache.get(("big", "markdown")) is None
    for off in (PageCache(ttl=0, max_entries=10), PageCache(ttl=60, max_entries=0)):
        off.put(("a", "markdown"), doc("a"))
        assert off.get(("a", "markdown")) is None
