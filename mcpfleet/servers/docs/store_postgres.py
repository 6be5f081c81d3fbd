"""The shared index: PostgreSQL full-text search, for several replicas reading and writing one database.

Words are split as FTS5's unicode61 splits them (ranking.tokens) and stemmed by PostgreSQL's
English Snowball stemmer (a text search configuration without stop words, as FTS5's porter
keeps them). Each section's lexemes are stored once as postings — (lexeme, section, frequency in
heading, place and body, section length) — so a query reads only its words' postings through
one B-tree, and BM25 is computed in ranking.py with FTS5's formula over the version's own
statistics. Everything else — page weights, coverage, the per-page decay — is ranking.py too.

Writes: one indexer per library across replicas (`pg_try_advisory_xact_lock` keyed by the
library); a re-index builds the new version's rows under a new version id and switches in the
same transaction, so readers (plain MVCC snapshots, never blocked) see the old version until
commit. The tables are created on first use under an advisory lock, with their schema version
in `docs_schema`, so replicas starting together create them once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator

from mcpfleet.common.errors import ConfigError, UserError
from mcpfleet.servers.docs.ranking import (
    BODY_WEIGHT,
    HEADING_WEIGHT,
    PLACE_WEIGHT,
    best_candidates,
    bm25,
    idf,
    place,
    query_terms,
    rank,
    tokens,
)
from mcpfleet.servers.docs.store import DocsIndex, Hit, NewDocument, Version

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
except ImportError:  # the store is optional; open_index says what to install
    psycopg = None  # type: ignore[assignment]

log = logging.getLogger("mcpfleet.docs")
SCHEMA_VERSION = 1
CONFIG = "mcpfleet_docs"  # the text search configuration
LOCK_CLASS = 0x6D636664  # "mcfd": the advisory locks' first key; the second is the library's hash
SCHEMA_LOCK_CLASS = LOCK_CLASS + 1
CONNECT_TIMEOUT = 5  # seconds; a URL's own connect_timeout wins
STATEMENT_TIMEOUT_MS = 15_000  # reads; a URL's options=-c statement_timeout=... wins
WRITE_STATEMENT_TIMEOUT = "300s"  # one statement of an index run (the postings of a big library)
WRITE_IDLE_TIMEOUT = "120s"  # a writer that stops talking mid-run (its pod died) loses its lock
POOL_SIZE = 8  # connections per process
POOL_WAIT = 10.0  # seconds a call waits for a free connection
BATCH_DOCS = 200  # documents copied per round trip while indexing
MAX_INDEXED_CHARS = 400_000  # of one section's words (a tsvector holds at most 1 MB)
WEIGHT_CACHE_VERSIONS = 64

SCHEMA = f"""
CREATE TABLE docs_schema (version integer NOT NULL);
CREATE TABLE docs_versions (
    id bigint PRIMARY KEY, library text NOT NULL, ref text NOT NULL, is_default boolean NOT NULL,
    commit_sha text, source text NOT NULL, url_base text, description text, stars integer,
    files integer NOT NULL, chunks integer NOT NULL, tokens bigint NOT NULL, indexed_at double precision NOT NULL,
    UNIQUE (library, ref)
);
CREATE INDEX docs_versions_library ON docs_versions (lower(library));
CREATE SEQUENCE docs_version_ids;
CREATE TABLE docs_documents (
    version_id bigint NOT NULL, doc integer NOT NULL, path text NOT NULL, title text NOT NULL, url text,
    text text NOT NULL, about text NOT NULL, weight real NOT NULL, PRIMARY KEY (version_id, doc)
);
CREATE INDEX docs_documents_path ON docs_documents (version_id, path);
CREATE TABLE docs_chunks (
    version_id bigint NOT NULL, chunk integer NOT NULL, doc integer NOT NULL, heading text NOT NULL,
    body text NOT NULL, PRIMARY KEY (version_id, chunk)
);
CREATE TABLE docs_postings (
    version_id bigint NOT NULL, lexeme text NOT NULL, chunk integer NOT NULL, doc integer NOT NULL,
    heading smallint NOT NULL, place smallint NOT NULL, body smallint NOT NULL, length integer NOT NULL
);
CREATE INDEX docs_postings_lexeme ON docs_postings (version_id, lexeme);
CREATE TEXT SEARCH DICTIONARY {CONFIG}_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR asciiword, word, numword WITH {CONFIG}_stem
"""
# The new version's sections and their words, for the one statement that writes their postings
STAGING = """CREATE TEMP TABLE docs_staging (
    chunk integer, doc integer, heading text, body text, heading_words text, place_words text, body_words text,
    length integer) ON COMMIT DROP"""
POSTINGS = f"""
INSERT INTO docs_postings (version_id, lexeme, chunk, doc, heading, place, body, length)
SELECT %s, u.lexeme, s.chunk, s.doc, cardinality(array_positions(u.weights, 'A')),
       cardinality(array_positions(u.weights, 'B')), cardinality(array_positions(u.weights, 'D')), s.length
FROM docs_staging s, unnest(setweight(to_tsvector('{CONFIG}', s.heading_words), 'A')
                            || setweight(to_tsvector('{CONFIG}', s.place_words), 'B')
                            || to_tsvector('{CONFIG}', s.body_words)) AS u
"""
# One snapshot: the version's statistics and, per query word and section holding it, the
# column-weighted frequency (ranking.py's weights, passed in) and the section's length. A query
# word that splits into several ('storage_uri') counts where a section holds all of its parts, as
# often as its rarest part.
SEARCH = f"""
WITH v AS (SELECT id, chunks, tokens FROM docs_versions WHERE library = %(library)s AND ref = %(ref)s),
t AS (SELECT q.n, u.lexeme, count(*) OVER (PARTITION BY q.n) AS parts
      FROM unnest(%(terms)s::text[]) WITH ORDINALITY AS q(words, n), unnest(to_tsvector('{CONFIG}', q.words)) AS u)
SELECT v.id, v.chunks, v.tokens, t.n, p.chunk, min(p.doc), min(p.length),
       min(%(heading)s * p.heading + %(place)s * p.place + %(body)s * p.body)
FROM v, t JOIN docs_postings p ON p.lexeme = t.lexeme WHERE p.version_id = v.id
GROUP BY v.id, v.chunks, v.tokens, t.n, p.chunk HAVING count(*) = min(t.parts)
"""
VERSION_COLUMNS = (
    "library, ref, is_default, commit_sha, source, url_base, description, stars, files, chunks, indexed_at"
)


def library_lock_key(library: str) -> int:
    """The advisory lock's second key for a library (a signed 32-bit hash of its lower-case id)."""
    return int.from_bytes(hashlib.blake2b(library.lower().encode(), digest_size=4).digest(), "big", signed=True)


class IndexBusy(UserError):
    """Another replica (or process) is indexing this library right now."""


class PostgresIndex(DocsIndex):
    """The index in a PostgreSQL database (`[servers.docs] store = "postgresql://…"`). Thread-safe."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        if psycopg is None:
            raise ConfigError(
                "servers.docs.store = postgresql://… needs the psycopg driver: "
                "pip install 'mcpfleet[docs]' (or psycopg[binary])"
            )
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            raise ConfigError("servers.docs.store: not a valid postgresql:// URL") from None
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
        params.setdefault("application_name", "mcpfleet-docs")
        # a dead network never hangs a call: unacknowledged data fails after this, idle links are probed
        params.setdefault("tcp_user_timeout", str(STATEMENT_TIMEOUT_MS + 5000))
        params.setdefault("keepalives_idle", "30")
        # set after connecting, not as a startup option: poolers such as PgBouncer refuse those
        self._set_timeout = "statement_timeout" not in str(params.get("options") or "")
        self._conninfo = make_conninfo("", **params)
        self.where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
        self._idle: list = []
        self._lock = threading.Lock()
        self._pool_size = pool_size
        self._slots = threading.BoundedSemaphore(pool_size)
        self._ready = False
        self._weight_cache: dict[int, dict[int, float]] = {}

    # -- connections -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator:
        """A pooled autocommit connection; database failures become messages a model can act on."""
        if not self._slots.acquire(timeout=POOL_WAIT):
            raise UserError(f"the docs index is busy ({self._pool_size} queries running here); try again in a moment")
        conn = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed or conn.broken:
                conn = self._open()
            if not self._ready:
                self._create(conn)
            yield conn
        except psycopg.errors.QueryCanceled:
            raise UserError(
                "the docs index took too long to answer (its statement_timeout); try fewer words or again in a moment"
            ) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.warning("docs index %s: %s", self.where, _first_line(exc))
            raise UserError("the docs index (PostgreSQL) cannot be reached right now; try again in a minute") from None
        finally:
            if conn is not None:
                if conn.closed or conn.broken or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.close()
                else:
                    with self._lock:
                        self._idle.append(conn)
            self._slots.release()

    def _open(self):
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True)
            if self._set_timeout:
                conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            return conn
        except psycopg.OperationalError as exc:
            detail = _first_line(exc)
            if "authentication failed" in detail or "does not exist" in detail:
                # wrong credentials or database: the operator's to fix, not a passing outage
                log.error("docs index %s: %s", self.where, detail)
                raise ConfigError(
                    f"servers.docs.store: PostgreSQL at {self.where} refused the login or has no "
                    "such database; check the URL's user, password and database"
                ) from None
            raise

    def _create(self, conn) -> None:
        """The tables on first use, once across replicas starting together (an advisory lock)."""
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (SCHEMA_LOCK_CLASS,))
                exists = conn.execute("SELECT to_regclass('docs_schema')").fetchone()[0] is not None
                found = conn.execute("SELECT max(version) FROM docs_schema").fetchone()[0] if exists else None
                if found is not None and found > SCHEMA_VERSION:
                    raise ConfigError(
                        f"servers.docs.store: the database holds a docs index of schema {found}, "
                        f"written by a newer mcpfleet (this one reads {SCHEMA_VERSION}); upgrade"
                    )
                if found is None:
                    for statement in SCHEMA.split(";\n"):
                        conn.execute(statement)
                    conn.execute("INSERT INTO docs_schema VALUES (%s)", (SCHEMA_VERSION,))
                    log.info("docs index %s: tables created (schema %d)", self.where, SCHEMA_VERSION)
        except psycopg.errors.InsufficientPrivilege:
            raise ConfigError(
                f"servers.docs.store: the database user may not create the docs tables at {self.where}; "
                "grant it CREATE on the schema (or run once as its owner)"
            ) from None
        self._ready = True

    def ping(self) -> bool:
        try:
            with self._connection() as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except (UserError, ConfigError):
            return False

    # -- writing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _library_lock(self, conn, library: str) -> Iterator[None]:
        """A write transaction holding the library's lock, or IndexBusy when another holds it."""
        with conn.transaction():
            conn.execute(f"SET LOCAL statement_timeout = '{WRITE_STATEMENT_TIMEOUT}'")
            conn.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{WRITE_IDLE_TIMEOUT}'")
            got = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", (LOCK_CLASS, library_lock_key(library))
            ).fetchone()[0]
            if not got:
                raise IndexBusy(
                    f"{library} is being indexed by another replica right now; search it when that "
                    "run finishes (in a minute), or call docs_index again then"
                )
            yield

    def replace_version(self, version: Version, documents: Iterable[NewDocument]) -> Version:
        with self._connection() as conn, self._library_lock(conn, version.library):
            vid = conn.execute("SELECT nextval('docs_version_ids')").fetchone()[0]
            conn.execute(STAGING)
            files = chunks = total_tokens = 0
            batch: list[NewDocument] = []
            for doc in documents:
                batch.append(doc)
                if len(batch) >= BATCH_DOCS:
                    chunks, total_tokens = self._copy(conn, vid, files, chunks, total_tokens, batch)
                    files += len(batch)
                    batch = []
            if batch:
                chunks, total_tokens = self._copy(conn, vid, files, chunks, total_tokens, batch)
                files += len(batch)
            conn.execute("INSERT INTO docs_chunks SELECT %s, chunk, doc, heading, body FROM docs_staging", (vid,))
            conn.execute(POSTINGS, (vid,))
            self._delete(conn, version.library, version.ref)
            if version.is_default:
                conn.execute("UPDATE docs_versions SET is_default = false WHERE library = %s", (version.library,))
            stored = Version(**{**version.__dict__, "files": files, "chunks": chunks, "indexed_at": time.time()})
            conn.execute(
                f"INSERT INTO docs_versions (id, {VERSION_COLUMNS}, tokens) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    vid,
                    stored.library,
                    stored.ref,
                    stored.is_default,
                    stored.commit,
                    stored.source,
                    stored.url_base,
                    stored.description,
                    stored.stars,
                    files,
                    chunks,
                    stored.indexed_at,
                    total_tokens,
                ),
            )
        return stored

    @staticmethod
    def _copy(
        conn, vid: int, first_doc: int, first_chunk: int, total_tokens: int, batch: list[NewDocument]
    ) -> tuple[int, int]:
        """One batch of documents and their sections into the tables (COPY); the running counts."""
        with conn.cursor() as cur:
            with cur.copy(
                "COPY docs_documents (version_id, doc, path, title, url, text, about, weight) FROM STDIN"
            ) as copy:
                for n, doc in enumerate(batch, first_doc):
                    copy.write_row(
                        (vid, n, doc.path, _clean(doc.title), doc.url, _clean(doc.text), _clean(doc.about), doc.weight)
                    )
            chunk = first_chunk
            with cur.copy("COPY docs_staging FROM STDIN") as copy:
                for n, doc in enumerate(batch, first_doc):
                    place_words = tokens(place(doc.path, doc.about))
                    for heading, body in doc.sections:
                        heading_words, body_words = tokens(heading), tokens(body)
                        length = len(heading_words) + len(place_words) + len(body_words)
                        total_tokens += length
                        copy.write_row(
                            (
                                chunk,
                                n,
                                _clean(heading),
                                _clean(body),
                                " ".join(heading_words),
                                " ".join(place_words),
                                " ".join(body_words)[:MAX_INDEXED_CHARS],
                                length,
                            )
                        )
                        chunk += 1
        return chunk, total_tokens

    def delete_version(self, library: str, ref: str) -> bool:
        with self._connection() as conn, self._library_lock(conn, library):
            return self._delete(conn, library, ref)

    @staticmethod
    def _delete(conn, library: str, ref: str) -> bool:
        row = conn.execute(
            "DELETE FROM docs_versions WHERE library = %s AND ref = %s RETURNING id", (library, ref)
        ).fetchone()
        if row is None:
            return False
        for table in ("docs_postings", "docs_chunks", "docs_documents"):
            conn.execute(f"DELETE FROM {table} WHERE version_id = %s", (row[0],))
        return True

    # -- reading ---------------------------------------------------------------------------------

    def versions(self, library: str | None = None) -> list[Version]:
        where = " WHERE lower(library) = lower(%s)" if library else ""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM docs_versions{where} "
                'ORDER BY library COLLATE "C", is_default DESC, indexed_at DESC',
                (library,) if library else (),
            ).fetchall()
        return [Version(*r) for r in rows]

    def search(self, version: Version, query: str, limit: int = 40) -> list[Hit]:
        """Best sections first (ranking.py), BM25 computed here from the postings."""
        terms = query_terms(query)
        words = [" ".join(tokens(t)) for t in terms]
        if not any(words):
            return []
        with self._connection() as conn:
            rows = conn.execute(
                SEARCH,
                {
                    "library": version.library,
                    "ref": version.ref,
                    "terms": words,
                    "heading": HEADING_WEIGHT,
                    "place": PLACE_WEIGHT,
                    "body": BODY_WEIGHT,
                },
            ).fetchall()
            if not rows:
                return []
            vid, sections, total_tokens = rows[0][:3]
            holders = Counter(row[3] for row in rows)  # query word -> sections holding it
            weights = {n: idf(sections, count) for n, count in holders.items()}
            avg = total_tokens / sections if sections else 0.0
            per_chunk: dict[int, list] = {}
            for _, _, _, n, chunk, doc, length, freq in rows:
                per_chunk.setdefault(chunk, [doc, length, []])[2].append((weights[n], freq))
            matches = [(chunk, doc, bm25(freqs, length, avg)) for chunk, (doc, length, freqs) in per_chunk.items()]
            best = best_candidates(matches, self._weights(conn, vid))
            coverage = {chunk: len(per_chunk[chunk][2]) / len(terms) for _, chunk, _ in best}
            picked = rank(best, coverage, limit)
            found = {
                cid: (path, url, heading, body)
                for cid, path, url, heading, body in conn.execute(
                    "SELECT c.chunk, d.path, d.url, c.heading, c.body FROM docs_chunks c JOIN docs_documents d "
                    "ON d.version_id = c.version_id AND d.doc = c.doc WHERE c.version_id = %s AND c.chunk = ANY(%s)",
                    (vid, [cid for _, cid in picked]),
                ).fetchall()
            }
        return [Hit(cid, *found[cid], score) for score, cid in picked if cid in found]

    def _weights(self, conn, vid: int) -> dict[int, float]:
        """doc -> page weight of one stored version (ids are never reused, so the cache never goes stale)."""
        cached = self._weight_cache.get(vid)
        if cached is None:
            cached = dict(
                conn.execute("SELECT doc, weight FROM docs_documents WHERE version_id = %s", (vid,)).fetchall()
            )
            with self._lock:
                if len(self._weight_cache) >= WEIGHT_CACHE_VERSIONS:
                    self._weight_cache.clear()
                self._weight_cache[vid] = cached
        return cached

    def document(self, version: Version, path: str) -> tuple[str, str, str | None] | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT d.title, d.text, d.url FROM docs_documents d JOIN docs_versions v ON v.id = d.version_id "
                "WHERE v.library = %s AND v.ref = %s AND d.path = %s",
                (version.library, version.ref, path),
            ).fetchone()
        return tuple(row) if row else None

    def paths(self, version: Version, prefix: str = "") -> list[tuple[str, str]]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT d.path, d.title FROM docs_documents d JOIN docs_versions v ON v.id = d.version_id "
                'WHERE v.library = %s AND v.ref = %s AND starts_with(d.path, %s) ORDER BY d.path COLLATE "C"',
                (version.library, version.ref, prefix),
            ).fetchall()
        return [tuple(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _clean(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL characters (SQLite can); a repository's file may."""
    return text.replace("\x00", "\ufffd") if text else text


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
