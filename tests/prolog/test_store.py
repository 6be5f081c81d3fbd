"""Knowledge-base stores: in memory and in a real redis-server on 127.0.0.1."""

from __future__ import annotations

import hashlib

import pytest

from fleet_testing import free_port
from mcpfleet.common.errors import FleetError, LimitExceeded, UserError
from mcpfleet.servers.prolog.store import (
    MemoryStore,
    RedisStore,
    caller_key,
    open_store,
)
from redis_testing import redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
async def store(request, redis_url):
    s = MemoryStore(max_kbs=3, max_bytes=1000) if request.param == "memory" else RedisStore(redis_url, 3, 1000)
    if request.param == "redis":
        await s._redis.flushdb()
    yield s
    await s.aclose()


async def test_put_get_list_delete(store):
    await store.put("alice", "family", "parent(tom, bob).")
    assert await store.get("alice", "family") == "parent(tom, bob)."
    await store.put("alice", "family", "parent(tom, liz).")  # replaces
    assert await store.get("alice", "family") == "parent(tom, liz)."
    assert [i.name for i in await store.list("alice")] == ["family"]
    assert await store.delete("alice", "family") is True
    assert await store.delete("alice", "family") is False
    assert await store.list("alice") == []


async def test_callers_never_see_each_other(store):
    await store.put("alice", "secret", "code(42).")
    assert await store.get("bob", "secret") is None
    assert await store.list("bob") == []
    assert await store.delete("bob", "secret") is False
    assert await store.get("alice", "secret") == "code(42)."


async def test_identities_are_kept_whole(store):
    # Two long identities with a common prefix (over 128 characters), and the same name proven
    # two ways, are four callers.
    prefix = "jwt:https://issuer.example/:" + "s" * 200
    callers = [prefix + "-one", prefix + "-two", "key:alice", "jwt:https://issuer.example/:alice"]
    for i, caller in enumerate(callers):
        await store.put(caller, "mine", f"owner({i}).")
    for i, caller in enumerate(callers):
        assert await store.get(caller, "mine") == f"owner({i})."
        assert [k.name for k in await store.list(caller)] == ["mine"]


def test_caller_key_is_the_hash_of_the_full_identity():
    long = "key:" + "a" * 300
    assert caller_key(long) == hashlib.sha256(long.encode()).hexdigest()
    assert caller_key(long) != caller_key(long[:-1] + "b") and len(caller_key(long)) == 64


async def test_redis_keys_hold_no_identity(redis_url):
    store = RedisStore(redis_url)
    await store._redis.flushdb()
    await store.put("key:alice-secret-name", "family", "parent(tom, bob).")
    keys = [k.decode() for k in await store._redis.keys("*")]
    assert keys == [RedisStore.PREFIX + caller_key("key:alice-secret-name")]
    assert "alice" not in keys[0]
    await store.aclose()


async def test_limits_and_names(store):
    with pytest.raises(LimitExceeded, match="limit is 1000"):
        await store.put("alice", "big", "a." * 600)
    for i in range(3):
        await store.put("alice", f"kb{i}", "a.")
    with pytest.raises(LimitExceeded, match="delete one first"):
        await store.put("alice", "kb3", "a.")
    await store.put("alice", "kb0", "b.")  # replacing does not count
    for bad in ("", "../x", "a b", "x" * 65, "1abc"):
        with pytest.raises(UserError):
            await store.get("alice", bad)


async def test_two_redis_clients_share_state_like_two_replicas(redis_url):
    one, two = RedisStore(redis_url), RedisStore(redis_url)
    await one.put("carol", "shared", "fact(1).")
    assert await two.get("carol", "shared") == "fact(1)."
    await one.aclose()
    await two.aclose()


async def test_redis_outage_is_a_clear_error():
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    assert await store.ping() is False
    with pytest.raises(FleetError, match="store is unavailable"):
        await store.get("alice", "family")
    await store.aclose()


def test_store_url_is_validated():
    from mcpfleet.common.errors import ConfigError

    assert isinstance(open_store("memory", 1, 1000), MemoryStore)
    with pytest.raises(ConfigError, match="memory' or a redis:// URL"):
        open_store("postgres://x", 1, 1000)
