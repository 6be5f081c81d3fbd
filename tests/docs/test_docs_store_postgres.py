"""What only the PostgreSQL store has to get right, against a real server: replicas creating the
schema together, one indexer per library, clean errors for an unreachable or refusing database."""

from __future__ import annotations

import socket
import threading

import pytest

from fleet_testing import free_port
from mcpfleet.common.errors import ConfigError, UserError
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.docs.settings import DocsSettings
from mcpfleet.servers.docs.store import open_index
from mcpfleet.servers.docs.store_postgres import SCHEMA_VERSION, IndexBusy, PostgresIndex
from postgres_testing import PASSWORD, new_database
from test_docs_store import DOCS, documents, version


@pytest.fixture
def url(postgres_url):
    return new_database(postgres_url)


def test_replicas_starting_together_create_the_schema_once(url):
    replicas = [PostgresIndex(url) for _ in range(4)]
    start = threading.Barrier(len(replicas))
    results: list[object] = []

    def first_use(idx: PostgresIndex) -> None:
        start.wait(30)
        try:
            results.append(idx.versions())
        except Exception as exc:  # collected: the assertion below shows it
            results.append(exc)

    threads = [threading.Thread(target=first_use, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [[]] * 4
    with replicas[0]._connection() as conn:
        assert conn.execute("SELECT version FROM docs_schema").fetchall() == [(SCHEMA_VERSION,)]
    for r in replicas:
        r.close()


def test_a_database_written_by_a_newer_version_is_refused(url):
    idx = PostgresIndex(url)
    with idx._connection() as conn:
        conn.execute("UPDATE docs_schema SET version = %s", (SCHEMA_VERSION + 1,))
    idx.close()
    with pytest.raises(ConfigError, match="newer mcpfleet"):
        PostgresIndex(url).versions()


def test_one_indexer_per_library_across_replicas(url):
    """While one replica writes acme/web, another is told so at once; other libraries go on."""
    first, second = PostgresIndex(url), PostgresIndex(url)
    halfway, resume = threading.Event(), threading.Event()

    def paused():
        yield from documents(DOCS)
        halfway.set()
        assert resume.wait(60)

    thread = threading.Thread(target=first.replace_version, args=(version(), paused()))
    thread.start()
    try:
        assert halfway.wait(60)
        with pytest.raises(IndexBusy, match="acme/web is being indexed by another replica"):
            second.replace_version(version(ref="v2", default=False), documents({"docs/x.md": "# X\n\nx\n"}))
        with pytest.raises(IndexBusy):
            second.delete_version("ACME/web", "main")  # the lock is the library's, in any case
        other = second.replace_version(version("acme/other"), documents({"docs/y.md": "# Y\n\nyak\n"}))
        assert other.files == 1
    finally:
        resume.set()
        thread.join(60)
    assert second.find_version("acme/web").files == 4
    # the lock went with the transaction: the next run gets it
    assert second.replace_version(version(ref="v2", default=False), documents({"docs/x.md": "# X\n\nx\n"})).files == 1
    first.close()
    second.close()


def test_an_unreachable_database_is_a_clean_error_not_a_hang(caplog):
    closed = PostgresIndex(f"postgresql://fleet:secret@127.0.0.1:{free_port()}/docs")
    with pytest.raises(UserError, match=r"cannot be reached right now; try again") as err:
        closed.versions()
    assert "secret" not in str(err.value) and not closed.ping()
    # a port that accepts and never answers: the connect timeout ends the wait
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        port = silent.getsockname()[1]
        idx = PostgresIndex(f"postgresql://fleet:secret@127.0.0.1:{port}/docs?connect_timeout=1")
        with pytest.raises(UserError, match="cannot be reached"):
            idx.search(version(), "anything")
    finally:
        silent.close()
    assert "127.0.0.1" in caplog.text  # the operator's log says where


def test_a_refused_login_names_the_setting_not_the_password(postgres_url):
    wrong = postgres_url.replace(PASSWORD, "not-the-password")
    with pytest.raises(ConfigError, match="servers.docs.store: .*refused the login") as err:
        PostgresIndex(wrong).versions()
    assert "not-the-password" not in str(err.value)
    with pytest.raises(ConfigError, match="servers.docs.store"):
        PostgresIndex(postgres_url.rsplit("/", 1)[0] + "/no_such_db").versions()
    with pytest.raises(ConfigError, match="not a valid postgresql"):
        PostgresIndex("postgresql://fleet@127.0.0.1:5432/db?bogus_option=1")


def test_the_store_is_set_by_the_environment_as_the_chart_does(url, monkeypatch, tmp_path):
    monkeypatch.setenv("MCPFLEET_SERVERS__DOCS__STORE", url)
    section = load_settings(servers={"docs": {"local_roots": [str(tmp_path)]}}).server_section("docs", DocsSettings)
    assert section.store == url and section.local_roots == [str(tmp_path)]
    idx = open_index(section.store, section.index_path)
    assert isinstance(idx, PostgresIndex) and idx.ping()
    idx.close()
    monkeypatch.setenv("MCPFLEET_SERVERS__DOCS__STORE", "mysql://root:pw@db/docs")
    with pytest.raises(ConfigError, match="servers.docs: store: .*'sqlite' or a postgresql://") as err:
        load_settings().server_section("docs", DocsSettings)
    assert "pw@" not in str(err.value)


async def test_readiness_follows_the_database(url):
    """/readyz runs the docs server's ready check: a ping of the store."""
    from mcpfleet.common.spec import ready_checks
    from mcpfleet.servers.docs.server import build

    for store, expected in ((url, True), (f"postgresql://fleet:x@127.0.0.1:{free_port()}/docs", False)):
        server = build(load_settings(servers={"docs": {"store": store, "default_catalog": False}}))
        [check] = ready_checks(server)
        assert await check() is expected, store


def test_a_stalled_query_ends_at_the_statement_timeout(url):
    """A search stuck behind a lock (here an exclusive one a test holds) ends with a clean error at
    the statement timeout, and the connection it used serves the next call."""
    import psycopg

    idx = PostgresIndex(url + "?options=-c%20statement_timeout%3D1000")
    idx.replace_version(version(), documents(DOCS))  # writes set their own, longer timeout
    v = idx.find_version("acme/web")
    with psycopg.connect(url) as blocker:  # not autocommit: the lock is held until the block ends
        blocker.execute("LOCK TABLE docs_postings IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(UserError, match="took too long to answer"):
            idx.search(v, "redirects")
    assert idx.search(v, "redirects")
    idx.close()
