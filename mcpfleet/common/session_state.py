"""FastMCP's session-state store without py-key-value: a bounded dict with FastMCP's TTLs.

FastMCP reads session state on every tools/list (its per-session visibility rules) and builds
its store on first use: py-key-value's `PydanticAdapter` over a `MemoryStore`, whose import (with
beartype) costs ~0.2 s of CPU, paid at start-up because the first tools/list is pre-warmed before
/readyz. The fleet serves stateless HTTP (every request is a session of its own) and its tools
keep no session state, so this store does the same job for the cost of a dict. Values are kept
as JSON and validated back on read, as the adapter does: a caller gets a copy, and a value that
cannot be serialised is refused when stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from mcpfleet.common.compat import FASTMCP_STATE_STORAGE, FASTMCP_STATE_STORE

_ATTRIBUTE = FASTMCP_STATE_STORE


class SessionState:
    """The calls FastMCP makes on its state store (`get`, `put`, `delete` of pydantic models)."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[str | None, str], tuple[type[BaseModel], str, float | None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str, *, collection: str | None = None, default: Any = None) -> Any:
        entry = self._entries.get((collection, key))
        if entry is None:
            return default
        model, data, expires = entry
        if expires is not None and self._clock() >= expires:
            del self._entries[(collection, key)]
            return default
        return model.model_validate_json(data)

    async def put(self, key: str, value: BaseModel, *, collection: str | None = None, ttl: float | None = None) -> None:
        data = value.model_dump_json()  # a value JSON cannot hold fails here, as with the adapter
        self._entries.pop((collection, key), None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest write goes first
        expires = None if ttl is None else self._clock() + float(ttl)
        self._entries[(collection, key)] = (type(value), data, expires)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        return self._entries.pop((collection, key), None) is not None


def install(server: Any, store: SessionState | None = None) -> bool:
    """Give a FastMCP server this store before its first request. False (and nothing changed)
    when the server already has a store or this FastMCP keeps it elsewhere."""
    if getattr(server, FASTMCP_STATE_STORAGE, None) is not None or getattr(server, _ATTRIBUTE, False) is not None:
        return False
    setattr(server, _ATTRIBUTE, store or SessionState())
    return True


def installed(server: Any) -> bool:
    """Whether the server keeps its session state in this module's store."""
    return isinstance(getattr(server, _ATTRIBUTE, None), SessionState)
