"""Where callers' knowledge bases live: in memory (one replica) or in Redis (several replicas).

Only program text is stored; a worker loads it into a fresh temporary module per query. Every
key is scoped by a hash of the caller's verified identity, so caller B cannot name, list, read
or delete caller A's knowledge bases: there is no API that takes another caller's identity.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mcpfleet.common.errors import ConfigError, FleetError, LimitExceeded, UserError

KB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class KbInfo:
    name: str
    size: int
    updated: float


class KbStore(Protocol):
    async def put(self, caller: str, name: str, text: str) -> None: ...
    async def get(self, caller: str, name: str) -> str | None: ...
    async def list(self, caller: str) -> list[KbInfo]: ...
    async def delete(self, caller: str, name: str) -> bool: ...
    async def ping(self) -> bool: ...
    async def aclose(self) -> None: ...


def check_name(name: str) -> str:
    if not isinstance(name, str) or not KB_NAME.match(name):
        raise UserError(
            f"knowledge base name {str(name)[:40]!r} must be 1-64 letters, digits, '_' or '-', starting with a letter"
        )
    return name


def caller_key(caller: str) -> str:
    """The store key of a caller: the SHA-256 (hex) of the FULL identity string, never a prefix.

    Identities are namespaced by how they were proven (`key:alice`, `jwt:<issuer>:<sub>`,
    `local`) and may be long; hashing all of it keeps two that share a prefix apart. The
    identity itself is never parsed here.
    """
    return hashlib.sha256(caller.encode("utf-8")).hexdigest()


class _Limits:
    def __init__(self, max_kbs: int, max_bytes: int) -> None:
        self.max_kbs = max_kbs
        self.max_bytes = max_bytes

    def check_size(self, text: str) -> None:
        size = len(text.encode("utf-8"))
        if size > self.max_bytes:
            raise LimitExceeded(f"knowledge base is {size} bytes; the limit is {self.max_bytes}")

    def check_count(self, existing: Sequence[str], name: str) -> None:
        if name not in existing and len(existing) >= self.max_kbs:
            raise LimitExceeded(f"you have {len(existing)} knowledge bases, the limit; delete one first")


class MemoryStore(_Limits):
    """Per-process store: fine for one replica and tests; lost on restart."""

    def __init__(self, max_kbs: int = 50, max_bytes: int = 256_000) -> None:
        super().__init__(max_kbs, max_bytes)
        self._data: dict[str, dict[str, tuple[str, float]]] = {}

    async def put(self, caller: str, name: str, text: str) -> None:
        self.check_size(text)
        kbs = self._data.setdefault(caller_key(caller), {})
        self.check_count(list(kbs), check_name(name))
        kbs[name] = (text, time.time())

    async def get(self, caller: str, name: str) -> str | None:
        entry = self._data.get(caller_key(caller), {}).get(check_name(name))
        return entry[0] if entry else None

    async def list(self, caller: str) -> list[KbInfo]:
        kbs = self._data.get(caller_key(caller), {})
        return [KbInfo(n, len(t.encode("utf-8")), u) for n, (t, u) in sorted(kbs.items())]

    async def delete(self, caller: str, name: str) -> bool:
        return self._data.get(caller_key(caller), {}).pop(check_name(name), None) is not None

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


class RedisStore(_Limits):
    """One Redis hash per caller: field = knowledge base name, value = JSON {text, updated}."""

    PREFIX = "mcpfleet:prolog:kb:"

    def __init__(self, url: str, max_kbs: int = 50, max_bytes: int = 256_000) -> None:
        super().__init__(max_kbs, max_bytes)
        try:
            import redis.asyncio as redis
        except ImportError:
            raise ConfigError("a redis:// store needs the redis package: pip install 'mcpfleet[prolog]'") from None
        self._redis = redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._errors = (redis.RedisError, OSError)

    def _key(self, caller: str) -> str:
        return self.PREFIX + caller_key(caller)

    async def _do(self, method: str, *args):
        try:
            return await getattr(self._redis, method)(*args)
        except self._errors:
            raise FleetError("the knowledge-base store is unavailable right now; try again shortly") from None

    async def put(self, caller: str, name: str, text: str) -> None:
        self.check_size(text)
        key = self._key(caller)
        existing = [n.decode() for n in await self._do("hkeys", key)]
        self.check_count(existing, check_name(name))
        await self._do("hset", key, name, json.dumps({"text": text, "updated": time.time()}))

    async def get(self, caller: str, name: str) -> str | None:
        raw = await self._do("hget", self._key(caller), check_name(name))
        return json.loads(raw)["text"] if raw else None

    async def list(self, caller: str) -> list[KbInfo]:
        entries = await self._do("hgetall", self._key(caller))
        infos = []
        for name, raw in sorted(entries.items()):
            value = json.loads(raw)
            infos.append(KbInfo(name.decode(), len(value["text"].encode("utf-8")), value["updated"]))
        return infos

    async def delete(self, caller: str, name: str) -> bool:
        return bool(await self._do("hdel", self._key(caller), check_name(name)))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:  # readiness answer, not a crash
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()


def open_store(url: str, max_kbs: int, max_bytes: int) -> MemoryStore | RedisStore:
    if url == "memory":
        return MemoryStore(max_kbs, max_bytes)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url, max_kbs, max_bytes)
    raise ConfigError(f"servers.prolog.store must be 'memory' or a redis:// URL, not {url!r}")
