"""The docs index: what every store keeps and answers (`DocsIndex`), and `open_index` to pick one.

One index holds every library and every indexed ref of it side by side (library = `owner/repo`,
version = git ref). Re-indexing a ref replaces its rows in one transaction, so a reader sees the
old version or the new one, never half, and is never blocked by the writer. Two stores:
`store_sqlite.SqliteIndex` (one file, the default) and `store_postgres.PostgresIndex` (one
database that several replicas share). Both rank with ranking.py.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mcpfleet.common.errors import ConfigError


@dataclass(frozen=True)
class Version:
    library: str
    ref: str
    is_default: bool
    commit: str | None
    source: str
    url_base: str | None
    description: str | None
    stars: int | None
    files: int
    chunks: int
    indexed_at: float


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    path: str
    url: str | None
    heading: str
    body: str
    score: float


@dataclass(frozen=True)
class NewDocument:
    path: str
    title: str
    url: str | None
    text: str
    sections: Sequence[tuple[str, str]]  # (heading path, body)
    about: str = ""  # the page's description and sidebar label, searched with its path
    weight: float = 1.0  # weights.page_weight: generated references weigh less


class DocsIndex(abc.ABC):
    """What the docs server needs of an index; thread-safe in every implementation."""

    @abc.abstractmethod
    def ping(self) -> bool:
        """True when the index can be read (the server's /readyz)."""

    @abc.abstractmethod
    def replace_version(self, version: Version, documents: Iterable[NewDocument]) -> Version:
        """Store `documents` as `version` of its library, replacing that ref in one transaction;
        the stored Version (file and section counts, time) is returned."""

    @abc.abstractmethod
    def delete_version(self, library: str, ref: str) -> bool:
        """Remove one indexed ref; False when it was not there."""

    @abc.abstractmethod
    def versions(self, library: str | None = None) -> list[Version]:
        """Indexed versions (of one library, case-insensitive), by library, the default branch first."""

    def find_version(self, library: str, ref: str | None = None) -> Version | None:
        """The ref asked for, else the default branch's index, else the latest indexed."""
        found = self.versions(library)
        if ref is not None:
            return next((v for v in found if v.ref == ref), None)
        return found[0] if found else None

    @abc.abstractmethod
    def search(self, version: Version, query: str, limit: int = 40) -> list[Hit]:
        """Best sections first (see ranking.py); scores are positive, higher is better."""

    @abc.abstractmethod
    def document(self, version: Version, path: str) -> tuple[str, str, str | None] | None:
        """(title, text, url) of one document."""

    @abc.abstractmethod
    def paths(self, version: Version, prefix: str = "") -> list[tuple[str, str]]:
        """(path, title) of the documents below `prefix` ('' for all), sorted by path."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections (the index can be used again afterwards: it reconnects)."""


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_index(store: str, index_path: str | Path) -> DocsIndex:
    """The index `[servers.docs] store` names: 'sqlite' (the file at `index_path`) or a postgresql:// URL.
    Nothing is opened yet: the first call connects (building a server for `mcpfleet list` writes nothing)."""
    if store == "sqlite":
        from mcpfleet.servers.docs.store_sqlite import SqliteIndex

        return SqliteIndex(index_path)
    if store.startswith(POSTGRES_SCHEMES):
        from mcpfleet.servers.docs.store_postgres import PostgresIndex

        return PostgresIndex(store)
    raise ConfigError(
        "servers.docs.store must be 'sqlite' or a postgresql://user:password@host/database URL, "
        f"not {store.split('://')[0] + '://…' if '://' in store else repr(store[:40])}"
    )
