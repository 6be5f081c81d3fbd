"""The contract of the index stores, run for SQLite and for PostgreSQL (a real server): ranking,
query sanitising, refs side by side, atomic replacement; SQLite schema upgrades; packing."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from mcpfleet.common.errors import ConfigError
from mcpfleet.servers.docs.chunking import parse_document
from mcpfleet.servers.docs.packing import pack
from mcpfleet.servers.docs.ranking import bm25, idf, tokens
from mcpfleet.servers.docs.store import Hit, NewDocument, Version, open_index
from mcpfleet.servers.docs.store_postgres import PostgresIndex
from mcpfleet.servers.docs.store_sqlite import SCHEMA_VERSION, SqliteIndex, fts_query
from mcpfleet.servers.docs.weights import page_weight
from mcpfleet.tokens import count_tokens
from postgres_testing import new_database

DOCS = {
    "docs/routing.md": "# Routing\n\nRoutes map URL paths to handlers.\n\n## Dynamic segments\n\nUse `[id]` folders for dynamic segments in a path.\n\n## Redirects\n\nReturn `redirect('/login')` from a handler to send the browser elsewhere.\n",
    "docs/middleware.md": "# Middleware\n\nMiddleware runs before every request.\n\n## Matching paths\n\nA `matcher` limits middleware to some paths. Handlers are not involved.\n",
    "docs/deploy.md": "# Deploying\n\n## Docker\n\nBuild the image with `docker build`. Redirects are configured in the proxy, not here.\n\n## Kubernetes\n\nUse a Deployment and a Service.\n",
    "docs/streaming.md": "# Streaming responses\n\nStream tokens to the client as they are produced.\n\n```python\nasync def gen():\n    for t in tokens:\n        yield t\n```\n",
}


def version(library="acme/web", ref="main", default=True) -> Version:
    return Version(
        library, ref, default, None, "github", "https://github.com/acme/web/blob/main/", None, None, 0, 0, 0.0
    )


def documents(docs: dict[str, str], base="https://github.com/acme/web/blob/main/"):
    for path, text in docs.items():
        doc = parse_document(path, text)
        yield NewDocument(path, doc.title, base + path, doc.text, [(s.heading_path, s.body) for s in doc.sections])


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """Opens handles on one fresh store: each call another handle, as another replica would have."""
    if request.param == "sqlite":
        where = str(tmp_path / "idx" / "docs.sqlite")
        kind = "sqlite"
    else:
        where = kind = new_database(request.getfixturevalue("postgres_url"))
    opened = []

    def open_():
        idx = open_index(kind, where)
        opened.append(idx)
        return idx

    yield open_
    for idx in opened:
        idx.close()


@pytest.fixture
def index(store):
    idx = store()
    idx.replace_version(version(), documents(DOCS))
    return idx


@pytest.mark.parametrize(
    ("query", "heading"),
    [
        ("redirect to login", "Routing > Redirects"),
        ("dynamic segments", "Routing > Dynamic segments"),
        ("middleware matcher", "Middleware > Matching paths"),
        ("kubernetes deployment", "Deploying > Kubernetes"),
        ("streaming", "Streaming responses"),
        ("how do I deploy with docker?", "Deploying > Docker"),
    ],
)
def test_query_finds_the_right_section(index, query, heading):
    hits = index.search(index.find_version("acme/web"), query)
    assert hits and hits[0].heading == heading
    assert hits[0].url.startswith("https://github.com/acme/web/blob/main/docs/")


def test_heading_match_outranks_body_mention(index):
    hits = index.search(index.find_version("acme/web"), "redirects")
    # 'Redirects' is a heading in routing.md and a passing word in deploy.md's body
    assert [h.heading for h in hits[:2]] == ["Routing > Redirects", "Deploying > Docker"]


def test_any_word_matches_when_all_words_do_not(index):
    hits = index.search(index.find_version("acme/web"), "kubernetes zeppelin")
    assert hits and hits[0].heading == "Deploying > Kubernetes"


@pytest.mark.parametrize(
    "query",
    [
        'redirect" OR "x',
        "NEAR(a b)",
        "heading:*",
        "a AND OR NOT",
        "(((",
        "-docker",
        "*",
        "'; DROP TABLE chunks; --",
        "^start",
        "col:value",
        '"',
        "",
    ],
)
def test_fts_syntax_in_queries_never_errors(index, query):
    index.search(index.find_version("acme/web"), query)  # no sqlite3.OperationalError
    expr = fts_query(query)
    assert expr is None or all(part.startswith('"') and part.endswith('"') for part in expr.split(" "))


def test_refs_live_side_by_side_and_default_is_preferred(index):
    index.replace_version(
        version(ref="v1", default=False), documents({"docs/old.md": "# Old\n\nLegacy routing table.\n"})
    )
    assert [v.ref for v in index.versions("acme/web")] == ["main", "v1"]
    assert index.find_version("ACME/web").ref == "main"
    v1 = index.find_version("acme/web", "v1")
    assert [h.path for h in index.search(v1, "routing")] == ["docs/old.md"]
    assert all(h.path != "docs/old.md" for h in index.search(index.find_version("acme/web"), "routing"))
    assert index.find_version("acme/web", "v9") is None


def test_reindex_replaces_and_leaves_no_stale_rows(index):
    index.replace_version(version(), documents({"docs/new.md": "# New\n\nOnly page now about routing.\n"}))
    v = index.find_version("acme/web")
    assert v.files == 1 and v.chunks == 1
    assert [h.path for h in index.search(v, "routing")] == ["docs/new.md"]
    assert index.search(v, "middleware") == [] and index.document(v, "docs/routing.md") is None
    if isinstance(index, SqliteIndex):
        conn = sqlite3.connect(index.path)
        assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'middleware'").fetchone() == (0,)
    else:
        assert pg_rows(index) == {"docs_documents": (1, 0), "docs_chunks": (1, 0), "docs_postings": (7, 0)}


def pg_rows(index: PostgresIndex) -> dict[str, tuple[int, int]]:
    """(rows, rows of no stored version) of each table."""
    with index._connection() as conn:
        return {
            t: conn.execute(
                f"SELECT count(*), count(*) FILTER (WHERE version_id NOT IN (SELECT id FROM docs_versions)) FROM {t}"
            ).fetchone()
            for t in ("docs_documents", "docs_chunks", "docs_postings")
        }


def test_delete_version_removes_one_ref(index):
    index.replace_version(version(ref="v1", default=False), documents({"docs/old.md": "# Old\n\nLegacy.\n"}))
    assert index.delete_version("acme/web", "v1") and not index.delete_version("acme/web", "v1")
    assert [v.ref for v in index.versions()] == ["main"]
    assert index.search(index.find_version("acme/web"), "middleware")


def test_a_failed_reindex_keeps_the_old_version(index):
    def broken():
        yield from documents({"docs/new.md": "# New\n\ntext\n"})
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        index.replace_version(version(), broken())
    v = index.find_version("acme/web")
    assert v.files == 4 and index.search(v, "middleware")


def test_readers_see_old_or_new_never_half(store):
    idx = store()
    idx.replace_version(version(), documents(DOCS))
    big = {f"docs/p{i}.md": f"# Page {i}\n\nrouting entry {i}\n" for i in range(300)}
    seen: set[int] = set()
    stop = threading.Event()

    def reader():
        reader_index = store()  # another connection, as another replica would have
        while not stop.is_set():
            v = reader_index.find_version("acme/web")
            if v is not None:
                seen.add(len(reader_index.paths(v)))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            idx.replace_version(version(), documents(big))
            idx.replace_version(version(), documents(DOCS))
    finally:
        stop.set()
        thread.join()
    assert seen <= {4, 300}, seen


def test_a_reader_keeps_the_old_version_while_a_reindex_runs(store):
    """The writer stops half-way through its documents; another handle still reads the old version,
    unblocked, and sees the new one only once the writer commits."""
    writer, reader = store(), store()
    writer.replace_version(version(), documents(DOCS))
    halfway, resume = threading.Event(), threading.Event()

    def slow_documents():
        new = list(documents({f"docs/n{i}.md": f"# Zeppelin {i}\n\nzeppelin mooring {i}\n" for i in range(50)}))
        yield from new[:25]
        halfway.set()
        assert resume.wait(60)
        yield from new[25:]

    thread = threading.Thread(target=writer.replace_version, args=(version(), slow_documents()))
    thread.start()
    try:
        assert halfway.wait(60)
        v = reader.find_version("acme/web")
        assert (
            v.files == 4
            and next(h.heading for h in reader.search(v, "middleware matcher")) == "Middleware > Matching paths"
        )
        assert reader.search(v, "zeppelin") == [] and len(reader.paths(v)) == 4
    finally:
        resume.set()
        thread.join(60)
    v = reader.find_version("acme/web")
    assert v.files == 50 and len(reader.search(v, "zeppelin mooring")) == 40 and reader.search(v, "middleware") == []


def test_bm25_here_is_fts5s(tmp_path):
    """ranking.bm25 (what the PostgreSQL store computes) gives FTS5's own bm25() on the same rows."""
    rows = [
        ("Install > Helm", "docs install", "helm install the chart helm"),
        ("Upgrade", "docs upgrade", "upgrade the release with helm"),
        ("Storage", "docs storage", "a long body " * 30 + "about storage uri and helm"),
    ]
    conn = sqlite3.connect(tmp_path / "b.sqlite")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(heading, place, body, tokenize='unicode61')")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    fts5 = dict(conn.execute('SELECT rowid, -bm25(t, 4, 2, 1) FROM t WHERE t MATCH \'"helm" OR "install"\''))
    lengths = [sum(len(tokens(col)) for col in row) for row in rows]
    avg = sum(lengths) / len(rows)
    df = {w: sum(1 for row in rows if w in tokens(" ".join(row))) for w in ("helm", "install")}
    for rowid, row in enumerate(rows, 1):
        freqs = [
            (idf(len(rows), df[w]), 4 * tokens(row[0]).count(w) + 2 * tokens(row[1]).count(w) + tokens(row[2]).count(w))
            for w in df
            if w in tokens(" ".join(row))
        ]
        assert bm25(freqs, lengths[rowid - 1], avg) == pytest.approx(fts5[rowid], rel=1e-9)


def test_text_with_nul_characters_and_odd_words_is_stored(index):
    index.replace_version(
        version(ref="odd", default=False),
        documents(
            {"docs/nul.md": "# Bytes \x00\n\na NUL \x00 in the middle, storage_uri, naïve café, 東京 and 3.11\n"}
        ),
    )
    v = index.find_version("acme/web", "odd")
    for query in ("storage_uri", "naïve", "東京", "3.11", "bytes nul"):
        assert [h.path for h in index.search(v, query)] == ["docs/nul.md"], query


def test_document_and_folder_listing(index):
    v = index.find_version("acme/web")
    title, text, url = index.document(v, "docs/routing.md")
    assert title == "Routing" and "Dynamic segments" in text and url.endswith("docs/routing.md")
    assert [p for p, _ in index.paths(v, "docs/")] == sorted(DOCS)
    assert index.paths(v, "docs/r") == [("docs/routing.md", "Routing")]
    assert index.paths(v, "doc%") == [] and index.paths(v, "docs_") == []  # LIKE wildcards are literal


def test_all_words_is_a_boost_not_a_filter(index):
    # only deploy.md's Docker section holds both words; before, it alone came back
    hits = index.search(index.find_version("acme/web"), "docker redirects")
    assert hits[0].heading == "Deploying > Docker"
    assert "Routing > Redirects" in [h.heading for h in hits[1:]]


def test_path_words_weigh_less_than_headings(store):
    # "install with helm on kubernetes": kubernetes.md (another product, path only) must not beat helm.md
    idx = store()
    idx.replace_version(
        version(),
        documents(
            {
                "docs/platforms/kubernetes.md": "# Platforms\n\nIt runs on many platforms, and on clusters too.\n",
                "docs/helm.md": "# Install on Kubernetes with Helm\n\nAdd the chart repository, then install the release.\n",
            }
        ),
    )
    hits = idx.search(idx.find_version("acme/web"), "install on kubernetes with helm")
    assert [h.path for h in hits] == ["docs/helm.md", "docs/platforms/kubernetes.md"]
    idx.close()


def test_generated_reference_weighs_less_than_the_guide(store):
    signatures = "".join(
        f"## storage_uri_{i}\n\n```python\ndef storage_uri_{i}(self, storage_uri)\n```\n\n"
        f"- `storage_uri`: the storage uri\n\n"
        for i in range(400)
    )
    guide = "# Storage\n\n## Storage URI\n\nSet `storageUri` to where the model is: s3://, gs:// or pvc://.\n"
    idx = store()
    docs = []
    pages = {"docs/reference/client-api.md": "# Client API\n\n" + signatures, "docs/storage.md": guide}
    for path, text in pages.items():
        doc = parse_document(path, text)
        weight = page_weight(path, doc.text, len(doc.sections))
        docs.append(
            NewDocument(
                path, doc.title, None, doc.text, [(s.heading_path, s.body) for s in doc.sections], weight=weight
            )
        )
    assert docs[0].weight < 0.5 and docs[1].weight == 1.0
    idx.replace_version(version(), docs)
    hits = idx.search(idx.find_version("acme/web"), "storage uri")
    assert hits[0].path == "docs/storage.md"
    idx.close()


def test_one_page_cannot_fill_the_answer(store):
    # ten sections of one page match best, but the other page's section still ranks among the first few
    knobs = "".join(f"## Autoscaling knob {i}\n\nautoscaling metric {i}\n\n" for i in range(10))
    long_page = "# Autoscaling\n\n" + knobs
    idx = store()
    idx.replace_version(
        version(), documents({"docs/a.md": long_page, "docs/b.md": "# KEDA\n\nAutoscaling with KEDA on a metric.\n"})
    )
    paths = [h.path for h in idx.search(idx.find_version("acme/web"), "autoscaling metric")]
    assert len(paths) == 11 and "docs/b.md" in paths[:4]
    idx.close()


def test_an_index_file_of_the_first_schema_is_upgraded_in_place(tmp_path, caplog):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO versions VALUES ('acme/web','main',1,NULL,'github',NULL,NULL,NULL,1,2,0)")
    conn.execute("INSERT INTO documents VALUES (1,'acme/web','main','docs/helm.md','Helm',NULL,'# Helm\n\ntext\n')")
    for cid, heading, body in ((1, "Helm", "Install the chart."), (2, "Helm > Upgrade", "Upgrade the release.")):
        conn.execute("INSERT INTO chunks VALUES (?, 1, 'acme/web', 'main', ?, ?, ?)", (cid, cid, heading, body))
        conn.execute(
            "INSERT INTO chunks_fts (rowid, heading, body, lib) VALUES (?, ?, ?, '')", (cid, heading + " helm", body)
        )
    conn.commit()
    conn.close()
    idx = SqliteIndex(path)
    with caplog.at_level("WARNING", logger="mcpfleet.docs"):
        v = idx.find_version("acme/web")
    assert "upgraded from schema 0" in caplog.text and "2 stored sections" in caplog.text
    assert [h.heading for h in idx.search(v, "helm upgrade")] == ["Helm > Upgrade", "Helm"]
    assert [h.heading for h in idx.search(v, "chart")] == ["Helm"]
    idx.replace_version(version(), documents({"docs/new.md": "# New\n\nchart\n"}))  # old rows deleted cleanly
    assert [h.path for h in idx.search(idx.find_version("acme/web"), "chart")] == ["docs/new.md"]
    idx.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_an_index_file_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigError, match="written by a newer mcpfleet"):
        SqliteIndex(path).versions()


OLD_SCHEMA = """
CREATE TABLE versions (library TEXT NOT NULL, ref TEXT NOT NULL, is_default INTEGER NOT NULL DEFAULT 0,
    commit_sha TEXT, source TEXT NOT NULL, url_base TEXT, description TEXT, stars INTEGER,
    files INTEGER NOT NULL, chunks INTEGER NOT NULL, indexed_at REAL NOT NULL, PRIMARY KEY (library, ref));
CREATE TABLE documents (id INTEGER PRIMARY KEY, library TEXT NOT NULL, ref TEXT NOT NULL, path TEXT NOT NULL,
    title TEXT NOT NULL, url TEXT, text TEXT NOT NULL);
CREATE TABLE chunks (id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, library TEXT NOT NULL, ref TEXT NOT NULL,
    ord INTEGER NOT NULL, heading TEXT NOT NULL, body TEXT NOT NULL);
CREATE VIRTUAL TABLE chunks_fts USING fts5(heading, body, lib UNINDEXED, content='',
    tokenize='porter unicode61 remove_diacritics 2');
"""


# --- packing ---------------------------------------------------------------------------------


def hit(n: int, body: str, heading: str = "H") -> Hit:
    return Hit(n, f"docs/{n}.md", f"https://x/{n}", f"{heading} {n}", body, -1.0)


def test_pack_stays_within_budget_in_rank_order():
    hits = [hit(i, f"Paragraph {i}. " + "alpha beta gamma " * 60) for i in range(10)]
    for budget in (300, 1000, 4000):
        packed = pack(hits, budget)
        assert packed.tokens <= budget
        assert count_tokens(packed.text) <= budget
        ids = [s["path"] for s in packed.sections]
        assert ids == sorted(ids, key=lambda p: int(p.split("/")[1].split(".")[0]))  # rank order kept
        assert packed.left_out == 10 - len(packed.sections)
    assert len(pack(hits, 4000).sections) > len(pack(hits, 1000).sections) > 0


def test_pack_skips_a_section_too_big_and_takes_the_next():
    hits = [hit(0, "small " * 20), hit(1, "huge " * 3000), hit(2, "small too " * 20)]
    packed = pack(hits, 500)
    assert [s["path"] for s in packed.sections] == ["docs/0.md", "docs/2.md"] and packed.left_out == 1


def test_pack_keeps_code_blocks_whole_when_cutting_the_only_section():
    code = "```python\n" + "\n".join(f"value_{i} = compute({i})" for i in range(80)) + "\n```"
    body = "Intro paragraph.\n\nSecond paragraph.\n\n" + code + "\n\nAfter the code."
    packed = pack([hit(0, body)], 200)
    assert packed.sections[0]["partial"] and packed.tokens <= 200
    assert "Second paragraph." in packed.text and "value_0" not in packed.text
    whole = pack([hit(0, body)], 2000)
    assert not whole.sections[0]["partial"] and whole.text.count("```") == 2 and "value_79" in whole.text
