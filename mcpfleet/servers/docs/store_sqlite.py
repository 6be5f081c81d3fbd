"""The embedded index: SQLite with FTS5 (BM25 over heading, path and body columns), in WAL mode.

One file holds every library. Readers and writers are separate connections; WAL lets any number
of readers (threads, processes, replicas on a shared volume that supports locking) read while one
writer writes. Ranking: ranking.py, with FTS5's own bm25().
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from mcpfleet.common.errors import ConfigError
from mcpfleet.servers.docs.ranking import (
    BODY_WEIGHT,
    HEADING_WEIGHT,
    PLACE_WEIGHT,
    best_candidates,
    place,
    query_terms,
    rank,
)
from mcpfleet.servers.docs.store import DocsIndex, Hit, NewDocument, Version
from mcpfleet.servers.docs.weights import page_weight

log = logging.getLogger("mcpfleet.docs")
SCHEMA_VERSION = 2  # PRAGMA user_version; 0 = the first layout (no path column, no page weights)

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    library TEXT NOT NULL, ref TEXT NOT NULL, is_default INTEGER NOT NULL DEFAULT 0,
    commit_sha TEXT, source TEXT NOT NULL, url_base TEXT, description TEXT, stars INTEGER,
    files INTEGER NOT NULL, chunks INTEGER NOT NULL, indexed_at REAL NOT NULL,
    PRIMARY KEY (library, ref)
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, library TEXT NOT NULL, ref TEXT NOT NULL, path TEXT NOT NULL,
    title TEXT NOT NULL, url TEXT, text TEXT NOT NULL,
    about TEXT NOT NULL DEFAULT '', weight REAL NOT NULL DEFAULT 1.0
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_path ON documents (library, ref, path);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, library TEXT NOT NULL, ref TEXT NOT NULL,
    ord INTEGER NOT NULL, heading TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_version ON chunks (library, ref);
"""
FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    heading, place, body, lib UNINDEXED, content='', tokenize='porter unicode61 remove_diacritics 2'
);
"""
# Contentless FTS (content=''): the text lives once, in `chunks` and `documents`; the FTS table
# keeps only the inverted index. Deleting from it needs the original values, which those still have.
# `heading` is the heading path (page title first), `place` the file path's words and the page's
# description and sidebar label: a file called Kubernetes.md no longer weighs like a heading.
WEIGHT_CACHE_VERSIONS = 64


def fts_query(text: str, mode: str = "and") -> str | None:
    """A user's words as an FTS5 expression: every word quoted, so no FTS syntax gets through."""
    terms = query_terms(text)
    if not terms:
        return None
    joiner = " OR " if mode == "or" else " "
    return joiner.join(f'"{t}"' for t in terms)


class SqliteIndex(DocsIndex):
    """The index file. Thread-safe: one connection per thread for reads, one lock for writes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._created = False
        self._weight_cache: dict[tuple[str, str, float], dict[int, float]] = {}

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
                # A file already at this schema needs no write lock: opening it while another process
                # re-indexes must not wait for that writer (readers are never blocked by a re-index)
                if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    conn.execute("PRAGMA journal_mode=WAL")
                    self._upgrade(conn)
            finally:
                conn.close()
            self._created = True

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Create the tables, or bring an older file up to SCHEMA_VERSION in one transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            has_fts = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchone() is not None
            if found > SCHEMA_VERSION:
                raise ConfigError(
                    f"servers.docs.index_path: {self.path} was written by a newer mcpfleet "
                    f"(index schema {found}, this one reads {SCHEMA_VERSION}); upgrade, or "
                    "point index_path at another file"
                )
            run_script(conn, SCHEMA)
            if has_fts and found < SCHEMA_VERSION:
                self._migrate_v1(conn)
            run_script(conn, FTS_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _migrate_v1(self, conn: sqlite3.Connection) -> None:
        """Schema 0 → 2: the search table gets its path column and pages their weights, rebuilt from
        the stored sections; nothing is dropped but the old inverted index. Front matter titles
        were not kept by schema 0, so they appear once a library is indexed again."""
        columns = {r[1] for r in conn.execute("PRAGMA table_info(documents)")}
        if "about" not in columns:
            conn.execute("ALTER TABLE documents ADD COLUMN about TEXT NOT NULL DEFAULT ''")
        if "weight" not in columns:
            conn.execute("ALTER TABLE documents ADD COLUMN weight REAL NOT NULL DEFAULT 1.0")
        conn.execute("DROP TABLE chunks_fts")
        run_script(conn, FTS_SCHEMA)
        docs = conn.execute(
            "SELECT d.id, d.path, d.text, count(c.id) FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id "
            "GROUP BY d.id"
        ).fetchall()
        conn.executemany(
            "UPDATE documents SET weight = ? WHERE id = ?",
            [(page_weight(path, text, n), doc_id) for doc_id, path, text, n in docs],
        )
        rows = conn.execute(
            "SELECT c.id, c.heading, c.body, d.path, d.about FROM chunks c JOIN documents d ON d.id = c.doc_id"
        ).fetchall()
        conn.executemany(
            "INSERT INTO chunks_fts (rowid, heading, place, body, lib) VALUES (?,?,?,?,'')",
            [(cid, h, place(p, a), b) for cid, h, b, p, a in rows],
        )
        libraries = conn.execute("SELECT count(DISTINCT library) FROM versions").fetchone()[0]
        log.warning(
            "docs index %s: upgraded from schema 0 to %d (search table rebuilt from the %d stored "
            "sections of %d libraries, nothing removed); index a library again (docs_index) to "
            "pick up page titles from front matter",
            self.path,
            SCHEMA_VERSION,
            len(rows),
            libraries,
        )

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
                        "INSERT INTO documents (library, ref, path, title, url, text, about, weight) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        (version.library, version.ref, doc.path, doc.title, doc.url, doc.text, doc.about, doc.weight),
                    )
                    doc_id = cur.lastrowid
                    files += 1
                    for ord_, (heading, body) in enumerate(doc.sections):
                        cur = conn.execute(
                            "INSERT INTO chunks (doc_id, library, ref, ord, heading, body) VALUES (?,?,?,?,?,?)",
                            (doc_id, version.library, version.ref, ord_, heading, body),
                        )
                        conn.execute(
                            "INSERT INTO chunks_fts (rowid, heading, place, body, lib) VALUES (?,?,?,?,?)",
                            (cur.lastrowid, heading, place(doc.path, doc.about), body, ""),
                        )
                        chunks += 1
                if version.is_default:
                    conn.execute("UPDATE versions SET is_default = 0 WHERE library = ?", (version.library,))
                stored = Version(**{**version.__dict__, "files": files, "chunks": chunks, "indexed_at": time.time()})
                conn.execute(
                    "INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        stored.library,
                        stored.ref,
                        int(stored.is_default),
                        stored.commit,
                        stored.source,
                        stored.url_base,
                        stored.description,
                        stored.stars,
                        files,
                        chunks,
                        stored.indexed_at,
                    ),
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
            "SELECT c.id, c.heading, c.body, d.path, d.about FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.library = ? AND c.ref = ?",
            (library, ref),
        ).fetchall()
        conn.executemany(
            "INSERT INTO chunks_fts (chunks_fts, rowid, heading, place, body, lib) VALUES ('delete', ?, ?, ?, ?, '')",
            [(cid, h, place(p, a), b) for cid, h, b, p, a in rows],
        )
        conn.execute("DELETE FROM chunks WHERE library = ? AND ref = ?", (library, ref))
        conn.execute("DELETE FROM documents WHERE library = ? AND ref = ?", (library, ref))
        cur = conn.execute("DELETE FROM versions WHERE library = ? AND ref = ?", (library, ref))
        return cur.rowcount > 0

    # -- reading ---------------------------------------------------------------------------------

    def versions(self, library: str | None = None) -> list[Version]:
        sql = "SELECT * FROM versions" + (" WHERE lower(library) = lower(?)" if library else "")
        rows = self._reader.execute(
            sql + " ORDER BY library, is_default DESC, indexed_at DESC", (library,) if library else ()
        ).fetchall()
        return [Version(r[0], r[1], bool(r[2]), *r[3:]) for r in rows]

    def search(self, version: Version, query: str, limit: int = 40) -> list[Hit]:
        """Best sections first (ranking.py), BM25 from FTS5."""
        terms = query_terms(query)
        if not terms:
            return []
        expr = " OR ".join(f'"{t}"' for t in terms)
        # Ids and BM25 only: reading bodies (or a page's weight, stored after its text) for every
        # match is what made this slow; texts are read for the hits that are returned
        matches = self._reader.execute(
            # CROSS JOIN keeps the FTS table the outer loop: otherwise SQLite may walk the version's
            # chunks and run the MATCH once per chunk
            "SELECT c.id, c.doc_id, -bm25(chunks_fts, ?, ?, ?, 0) FROM chunks_fts "
            "CROSS JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ? AND c.library = ? AND c.ref = ?",
            (HEADING_WEIGHT, PLACE_WEIGHT, BODY_WEIGHT, expr, version.library, version.ref),
        ).fetchall()
        if not matches:
            return []
        best = best_candidates(matches, self._weights(version))
        picked = rank(best, self._coverage(terms, [cid for _, cid, _ in best]), limit)
        rows = {
            cid: (path, url, heading, body)
            for cid, path, url, heading, body in self._reader.execute(
                "SELECT c.id, d.path, d.url, c.heading, c.body FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.id IN ({','.join('?' * len(picked))})",
                [cid for _, cid in picked],
            )
        }
        return [Hit(cid, *rows[cid], score) for score, cid in picked if cid in rows]

    def _weights(self, version: Version) -> dict[int, float]:
        """doc id -> page weight of one indexed version, read once per version (and re-read when it
        is indexed again: the key holds indexed_at)."""
        key = (version.library, version.ref, version.indexed_at)
        cached = self._weight_cache.get(key)
        if cached is None:
            cached = dict(
                self._reader.execute(
                    "SELECT id, weight FROM documents WHERE library = ? AND ref = ?", (version.library, version.ref)
                ).fetchall()
            )
            with self._write_lock:
                if len(self._weight_cache) >= WEIGHT_CACHE_VERSIONS:
                    self._weight_cache.clear()
                self._weight_cache[key] = cached
        return cached

    def _coverage(self, terms: list[str], ids: list[int]) -> dict[int, float]:
        """The share of the query's words each candidate section holds (1.0 = all of them): one
        posting-list read per word, limited to the candidates' rowid range (a library's sections
        are written together, so the range is about one library's), intersected here — an
        `IN (...)` filter inside the FTS query is ten times slower."""
        if len(terms) < 2:
            return dict.fromkeys(ids, 1.0)
        wanted = set(ids)
        low, high = min(ids), max(ids)
        counts = dict.fromkeys(ids, 0)
        for term in terms:
            for (rowid,) in self._reader.execute(
                "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid BETWEEN ? AND ?",
                (f'"{term}"', low, high),
            ):
                if rowid in wanted:
                    counts[rowid] += 1
        return {cid: n / len(terms) for cid, n in counts.items()}

    def document(self, version: Version, path: str) -> tuple[str, str, str | None] | None:
        """(title, text, url) of one document."""
        row = self._reader.execute(
            "SELECT title, text, url FROM documents WHERE library = ? AND ref = ? AND path = ?",
            (version.library, version.ref, path),
        ).fetchone()
        return tuple(row) if row else None

    def paths(self, version: Version, prefix: str = "") -> list[tuple[str, str]]:
        """(path, title) of the documents below `prefix` ('' for all), sorted by path."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [
            tuple(r)
            for r in self._reader.execute(
                "SELECT path, title FROM documents WHERE library = ? AND ref = ? AND path LIKE ? ESCAPE '\\' "
                "ORDER BY path",
                (version.library, version.ref, pattern),
            ).fetchall()
        ]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Each statement of `script` inside the caller's transaction (executescript would commit it)."""
    for statement in script.split(";\n"):
        if statement.strip():
            conn.execute(statement)
