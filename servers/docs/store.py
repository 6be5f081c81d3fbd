"""The on-disk index: SQLite with FTS5 (BM25, headings weighted above bodies), in WAL mode.

One file holds every library and every indexed ref of it side by side (library = `owner/repo`,
version = git ref). Re-indexing a ref replaces its rows in one transaction, so a reader sees the
old version or the new one, never half. Readers and writers are separate connections; WAL lets
any number of readers (threads, processes, replicas on a shared volume that supports locking)
read while one writer writes.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mcpfleet.common.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    library TEXT NOT NULL, ref TEXT NOT NULL, is_default INTEGER NOT NULL DEFAULT 0,
    commit_sha TEXT, source TEXT NOT NULL, url_base TEXT, description TEXT, stars INTEGER,
    files INTEGER NOT NULL, chunks INTEGER NOT NULL, indexed_at REAL NOT NULL,
    PRIMARY KEY (library, ref)
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, library TEXT NOT NULL, ref TEXT NOT NULL, path TEXT NOT NULL,
    title TEXT NOT NULL, url TEXT, text TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_path ON documents (library, ref, path);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, library TEXT NOT NULL, ref TEXT NOT NULL,
    ord INTEGER NOT NULL, heading TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_version ON chunks (library, ref);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    heading, body, lib UNINDEXED, content='', tokenize='porter unicode61 remove_diacritics 2'
);
"""
# Contentless FTS (content=''): the text lives once, in `chunks`; the FTS table keeps only the
# inverted index. Deleting from it needs the original values, which `chunks` still has.
HEADING_WEIGHT = 4.0
BODY_WEIGHT = 1.0
STOPWORDS = frozenset(
    "a an and are as at be by do does for from how i in is it me my of on or the this to use using what "
    "when where which who why with can should".split()
)
MAX_TERMS = 16


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


def fts_query(text: str, mode: str = "and") -> str | None:
    """A user's words as an FTS5 expression: every word quoted, so no FTS syntax gets through."""
    words = re.findall(r"\w+", text.lower())
    terms = [w for w in dict.fromkeys(words) if w not in STOPWORDS] or list(dict.fromkeys(words))
    terms = terms[:MAX_TERMS]
    if not terms:
        return None
    joiner = " OR " if mode == "or" else " "
    return joiner.join(f'"{t}"' for t in terms)


class DocsIndex:
    """The index file. Thread-safe: one connection per thread for reads, one lock for writes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._created = False

    def _create(self) -> None:
        """The file and its tables, on first use (building a server for `mcpfleet list` writes nothing)."""
        with self._write_lock:
            if self._created:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            except (OSError, sqlite3.Error) as exc:
                raise ConfigError(f"servers.docs.index_path: cannot open {self.path} ({exc})") from None
            try:
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(SCHEMA)
            finally:
                conn.close()
            self._created = True

    def _connect(self) -> sqlite3.Connection:
        if not self._created:
            self._create()
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @property
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
        return conn

    def ping(self) -> bool:
        return self._reader.execute("SELECT 1").fetchone() == (1,)

    # -- writing ---------------------------------------------------------------------------------

    def replace_version(self, version: Version, documents: Iterable[NewDocument]) -> Version:
        """Store `documents` as `version` of its library, replacing that ref in one transaction."""
        with self._write_lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._delete(conn, version.library, version.ref)
                files = chunks = 0
                for doc in documents:
                    cur = conn.execute(
                        "INSERT INTO documents (library, ref, path, title, url, text) VALUES (?,?,?,?,?,?)",
                        (version.library, version.ref, doc.path, doc.title, doc.url, doc.text),
                    )
                    doc_id = cur.lastrowid
                    files += 1
                    for ord_, (heading, body) in enumerate(doc.sections):
                        cur = conn.execute(
                            "INSERT INTO chunks (doc_id, library, ref, ord, heading, body) VALUES (?,?,?,?,?,?)",
                            (doc_id, version.library, version.ref, ord_, heading, body),
                        )
                        conn.execute(
                            "INSERT INTO chunks_fts (rowid, heading, body, lib) VALUES (?,?,?,?)",
                            (cur.lastrowid, _searchable(heading, doc.path), body, ""),
                        )
                        chunks += 1
                if version.is_default:
                    conn.execute("UPDATE versions SET is_default = 0 WHERE library = ?", (version.library,))
                stored = Version(**{**version.__dict__, "files": files, "chunks": chunks, "indexed_at": time.time()})
                conn.execute(
                    "INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (stored.library, stored.ref, int(stored.is_default), stored.commit, stored.source,
                     stored.url_base, stored.description, stored.stars, files, chunks, stored.indexed_at),
                )
                conn.execute("COMMIT")
                return stored
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.close()

    def delete_version(self, library: str, ref: str) -> bool:
        with self._write_lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                found = self._delete(conn, library, ref)
                conn.execute("COMMIT")
                return found
            finally:
                conn.close()

    @staticmethod
    def _delete(conn: sqlite3.Connection, library: str, ref: str) -> bool:
        rows = conn.execute(
            "SELECT c.id, c.heading, c.body, d.path FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.library = ? AND c.ref = ?", (library, ref),
        ).fetchall()
        conn.executemany(
            "INSERT INTO chunks_fts (chunks_fts, rowid, heading, body, lib) VALUES ('delete', ?, ?, ?, '')",
            [(cid, _searchable(h, p), b) for cid, h, b, p in rows],
        )
        conn.execute("DELETE FROM chunks WHERE library = ? AND ref = ?", (library, ref))
        conn.execute("DELETE FROM documents WHERE library = ? AND ref = ?", (library, ref))
        cur = conn.execute("DELETE FROM versions WHERE library = ? AND ref = ?", (library, ref))
        return cur.rowcount > 0

    # -- reading ---------------------------------------------------------------------------------

    def versions(self, library: str | None = None) -> list[Version]:
        sql = "SELECT * FROM versions" + (" WHERE lower(library) = lower(?)" if library else "")
        rows = self._reader.execute(sql + " ORDER BY library, is_default DESC, indexed_at DESC",
                                    (library,) if library else ()).fetchall()
        return [Version(r[0], r[1], bool(r[2]), *r[3:]) for r in rows]

    def find_version(self, library: str, ref: str | None = None) -> Version | None:
        """The ref asked for, else the default branch's index, else the latest indexed."""
        found = self.versions(library)
        if ref is not None:
            return next((v for v in found if v.ref == ref), None)
        return found[0] if found else None

    def search(self, version: Version, query: str, limit: int = 40) -> list[Hit]:
        """Best sections first (BM25); all words must match, else any may."""
        for mode in ("and", "or"):
            expr = fts_query(query, mode)
            if expr is None:
                return []
            rows = self._reader.execute(
                "SELECT c.id, d.path, d.url, c.heading, c.body, bm25(chunks_fts, ?, ?, 0) AS score "
                "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.doc_id "
                "WHERE chunks_fts MATCH ? AND c.library = ? AND c.ref = ? ORDER BY score LIMIT ?",
                (HEADING_WEIGHT, BODY_WEIGHT, expr, version.library, version.ref, limit),
            ).fetchall()
            if rows:
                return [Hit(*r) for r in rows]
        return []

    def document(self, version: Version, path: str) -> tuple[str, str, str | None] | None:
        """(title, text, url) of one document."""
        row = self._reader.execute(
            "SELECT title, text, url FROM documents WHERE library = ? AND ref = ? AND path = ?",
            (version.library, version.ref, path),
        ).fetchone()
        return tuple(row) if row else None  # type: ignore[return-value]

    def paths(self, version: Version, prefix: str = "") -> list[tuple[str, str]]:
        """(path, title) of the documents below `prefix` ('' for all), sorted by path."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [tuple(r) for r in self._reader.execute(  # type: ignore[misc]
            "SELECT path, title FROM documents WHERE library = ? AND ref = ? AND path LIKE ? ESCAPE '\\' "
            "ORDER BY path", (version.library, version.ref, pattern),
        ).fetchall()]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _searchable(heading: str, path: str) -> str:
    """The heading column: heading path plus the file's name words, so 'routing' finds routing.md."""
    stem = Path(path).stem.replace("-", " ").replace("_", " ")
    return f"{heading} {stem}"
