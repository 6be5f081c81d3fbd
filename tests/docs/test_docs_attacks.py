"""Adversarial callers of the docs server: repository strings that walk the forge API with the
server's token, and index runs piled up in the background."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from budgets import cpu_budget
from docs_forge import TOKEN, TOKEN_ENV, docs_settings
from fleet_testing import running_app
from mcpfleet.common.errors import UserError
from mcpfleet.servers.docs.jobs import IndexJobs, Running
from mcpfleet.servers.docs.library import open_librarian
from mcpfleet.servers.docs.sources import parse_source

pytestmark = pytest.mark.asyncio(loop_scope="module")

TRAVERSALS = [
    "../user",
    "github:../user",
    "github:acme/..",
    "./..",
    "acme/.",
    "gitlab:../../admin",
    "gitlab:g/../x",
    "https://github.com/../user",
    "https://github.com/acme/widgets/tree/..",
    "github.com/%2e%2e/user",
    "https://github.com/acme/widgets/tree/%2e%2e",
    "https://gitlab.com/../../api/v4/user",
    "https://github.com/acme/wid gets",
    "https://github.com/acme/w%2fx",
]


@pytest.mark.parametrize("spec", TRAVERSALS)
async def test_source_strings_cannot_walk_the_forge_api(spec):
    try:
        source = parse_source(spec)
    except UserError:
        return
    # a local form is fine (it is checked against local_roots); a remote one must be plain names
    assert source.kind == "local" or all(
        p not in (".", "..") and "%" not in p and " " not in p for p in source.path.split("/")
    ), source
    assert source.ref is None or (source.ref not in (".", "..") and "%" not in source.ref)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def librarian(forge, tmp_path_factory):
    settings = docs_settings(forge.base, tmp_path_factory.mktemp("attacks") / "docs.sqlite")
    lib, client = open_librarian(settings)
    yield lib
    await client.aclose()


@pytest.fixture(scope="module")
def catch_all():
    """A forge that records every path it is asked for (the fake forge only records its routes)."""
    seen: list[tuple[str, str | None]] = []

    async def anything(request: Request) -> Response:
        seen.append((request.url.path, request.headers.get("authorization")))
        return JSONResponse({"full_name": "x/y", "default_branch": "main"})

    app = Starlette(routes=[Route("/{path:path}", anything)])
    with running_app(app) as url:
        yield url, seen


async def test_the_token_never_reaches_an_api_path_outside_repos(catch_all, tmp_path, monkeypatch):
    url, seen = catch_all
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    settings = docs_settings(url + "/api/v3", tmp_path / "docs.sqlite")
    lib, client = open_librarian(settings)
    try:
        for spec in (
            "github:../user",
            "https://github.com/../../admin",
            "github:../../admin",
            "acme/widgets@..%2F..%2Fuser",
        ):
            with pytest.raises(UserError):
                await lib.index_source(spec, None, local_roots=[])
        with pytest.raises(UserError):
            await lib.index_source("acme/widgets", "../../../user", local_roots=[])
    finally:
        await client.aclose()
    assert all(path.startswith("/api/v3/repos/") and ".." not in path for path, _ in seen), seen


async def test_background_index_runs_are_capped():
    jobs = IndexJobs()
    release = asyncio.Event()

    async def slow(progress):
        await release.wait()
        raise UserError("stopped")

    async def quiet(done, total, message):
        return None

    started = []
    for n in range(IndexJobs.MAX_RUNNING):
        started.append(await jobs.run(f"repo-{n}", slow, quiet, wait=0.01))
    assert all(isinstance(r, Running) for r in started)
    with pytest.raises(UserError, match="indexing runs"):
        await jobs.run("one-more", slow, quiet, wait=0.01)
    # joining a run already going is still fine
    assert isinstance(await jobs.run("repo-0", slow, quiet, wait=0.01), Running)
    release.set()
    await jobs.aclose()
    await asyncio.sleep(0.05)
    # once they finish, new runs start again
    release.clear()
    assert isinstance(await jobs.run("after", slow, quiet, wait=0.01), Running)
    release.set()
    await jobs.aclose()


# -- hostile repository content: anyone can publish a repository and have it indexed -------------

HOSTILE_DOCS = [
    ("closing-hashes.md", "# " + " #" * 50_000 + "x\n"),
    ("long-title.md", "# " + "![a](" * 50_000 + "\n"),
    ("setext-title.md", "[" * 100_000 + "\n===\n"),
    ("unclosed-comments.mdx", "<!--" * 100_000),
    ("rst-title.rst", "[" * 100_000 + "\n" + "=" * 100_001 + "\n"),
    # JSX tags that never close inside braces, tags on one long line with inline-code backticks,
    # module statements that never balance: each rescanned the rest of the text per tag or line
    ("unclosed-braces.mdx", "<A{" * 200_000),
    ("one-line-tags.mdx", "<A>`" * 50_000),
    ("unbalanced-exports.mdx", "export const x = (\n" * 50_000),
    ("front-matter.md", "---\n" + "title: a\n" * 100_000 + "---\n# T\n\nbody\n"),
]


@pytest.mark.parametrize("path,text", HOSTILE_DOCS, ids=[p for p, _ in HOSTILE_DOCS])
async def test_hostile_documents_chunk_in_linear_time(path, text):

    from mcpfleet.servers.docs.chunking import parse_document

    with cpu_budget(10):  # each took minutes (quadratic regexes) before the fix
        doc = parse_document(path, text, 3000)
    assert all(len(s.heading_path) < 2000 for s in doc.sections)


async def test_headings_keep_their_meaning():
    from mcpfleet.servers.docs.chunking import parse_document

    doc = parse_document("a.md", "# Title ##\n\nbody\n\n## C# tips #\n\nmore\n<!-- hidden -->\n", 3000)
    assert [s.heading_path for s in doc.sections][-2:] == ["Title", "Title > C# tips"]
    mdx = parse_document("b.mdx", "# T\n\nkeep <!-- drop --> this <!-- and\nthis --> too <!-- open\n", 3000)
    body = " ".join(s.body for s in mdx.sections)
    assert "keep" in body and "this" in body and "too" in body and "drop" not in body
