"""The SQLite FTS5 index: ranking, query sanitising, refs side by side, atomic replacement, packing."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from mcpfleet.common.tokens import count_tokens
from mcpfleet.servers.docs.chunking import parse_document
from mcpfleet.servers.docs.packing import pack
from mcpfleet.servers.docs.store import DocsIndex, Hit, NewDocument, Version, fts_query

DOCS = {
    "docs/routing.md": "# Routing\n\nRoutes map URL paths to handlers.\n\n## Dynamic segments\n\nUse `[id]` folders for dynamic segments in a path.\n\n## Redirects\n\nReturn `redirect('/login')` from a handler to send the browser elsewhere.\n",
    "docs/middleware.md": "# Middleware\n\nMiddleware runs before every request.\n\n## Matching paths\n\nA `matcher` limits middleware to some paths. Handlers are not involved.\n",
    "docs/deploy.md": "# Deploying\n\n## Docker\n\nBuild the image with `docker build`. Redirects are configured in the proxy, not here.\n\n## Kubernetes\n\nUse a Deployment and a Service.\n",
    "docs/streaming.md": "# Streaming responses\n\nStream tokens to the client as they are produced.\n\n```python\nasync def gen():\n    for t in tokens:\n        yield t\n```\n",
}


def version(library="acme/web", ref="main", default=True) -> Version:
    return Version(library, ref, default, None, "github", "https://github.com/acme/web/blob/main/", None, None, 0, 0, 0.0)


def documents(docs: dict[str, str], base="https://github.com/acme/web/blob/main/"):
    for path, text in docs.items():
        doc = parse_document(path, text)
        yield NewDocument(path, doc.title, base + path, doc.text, [(s.heading_path, s.body) for s in doc.sections])


@pytest.fixture
def index(tmp_path):
    idx = DocsIndex(tmp_path / "idx" / "docs.sqlite")
    idx.replace_version(version(), documents(DOCS))
    yield idx
    idx.close()


@pytest.mark.parametrize(("query", "heading"), [
    ("redirect to login", "Routing > Redirects"),
    ("dynamic segments", "Routing > Dynamic segments"),
    ("middleware matcher", "Middleware > Matching paths"),
    ("kubernetes deployment", "Deploying > Kubernetes"),
    ("streaming", "Streaming responses"),
    ("how do I deploy with docker?", "Deploying > Docker"),
])
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


@pytest.mark.parametrize("query", [
    'redirect" OR "x', "NEAR(a b)", "heading:*", "a AND OR NOT", "(((", "-docker", "*", "'; DROP TABLE chunks; --",
    "^start", "col:value", "\"", "",
])
def test_fts_syntax_in_queries_never_errors(index, query):
    index.search(index.find_version("acme/web"), query)  # no sqlite3.OperationalError
    expr = fts_query(query)
    assert expr is None or all(part.startswith('"') and part.endswith('"') for part in expr.split(" "))


def test_refs_live_side_by_side_and_default_is_preferred(index):
    index.replace_version(version(ref="v1", default=False), documents({"docs/old.md": "# Old\n\nLegacy routing table.\n"}))
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
    conn = sqlite3.connect(index.path)
    assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'middleware'").fetchone() == (0,)


def test_a_failed_reindex_keeps_the_old_version(index):
    def broken():
        yield from documents({"docs/new.md": "# New\n\ntext\n"})
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        index.replace_version(version(), broken())
    v = index.find_version("acme/web")
    assert v.files == 4 and index.search(v, "middleware")


def test_readers_see_old_or_new_never_half(tmp_path):
    idx = DocsIndex(tmp_path / "d.sqlite")
    idx.replace_version(version(), documents(DOCS))
    big = {f"docs/p{i}.md": f"# Page {i}\n\nrouting entry {i}\n" for i in range(300)}
    seen: set[int] = set()
    stop = threading.Event()

    def reader():
        reader_index = DocsIndex(tmp_path / "d.sqlite")  # another connection, as another replica would have
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


def test_document_and_folder_listing(index):
    v = index.find_version("acme/web")
    title, text, url = index.document(v, "docs/routing.md")
    assert title == "Routing" and "Dynamic segments" in text and url.endswith("docs/routing.md")
    assert [p for p, _ in index.paths(v, "docs/")] == sorted(DOCS)
    assert index.paths(v, "docs/r") == [("docs/routing.md", "Routing")]
    assert index.paths(v, "doc%") == [] and index.paths(v, "docs_") == []  # LIKE wildcards are literal


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
