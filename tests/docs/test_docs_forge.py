"""Indexing from a forge speaking GitHub's and GitLab's REST shapes on 127.0.0.1, and resolving names."""

from __future__ import annotations

import pytest
import pytest_asyncio

from docs_forge import TOKEN, TOKEN_ENV, WIDGETS_MAIN, build_tarball, docs_settings, write_tree
from mcpfleet.common.errors import BlockedDestination, UserError
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.docs.library import open_librarian
from mcpfleet.servers.docs.sources import parse_source

pytestmark = pytest.mark.asyncio(loop_scope="module")


def make_librarian(settings):
    """The Librarian as the server builds it, and its client."""
    return open_librarian(settings)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def librarian(forge, tmp_path_factory):
    lib, client = make_librarian(docs_settings(forge.base, tmp_path_factory.mktemp("forge") / "docs.sqlite"))
    yield lib
    await client.aclose()


async def test_index_github_default_branch_via_redirected_tarball(librarian, forge):
    steps = []

    async def progress(done, total, message):
        steps.append((done, total, message))

    result = await librarian.index_source("acme/widgets", None, local_roots=[], progress=progress)
    v = result.version
    assert (v.library, v.ref, v.is_default, v.source) == ("acme/widgets", "main", True, "github")
    assert v.commit and v.description == "Dashboard widgets toolkit" and v.stars == 4200
    paths = [p for p, _ in librarian.index.paths(v)]
    assert paths == [
        "README.md",
        "docs/getting-started.md",
        "docs/guides/caching.mdx",
        "docs/reference/api.rst",
        "docs/security.md",
        "docs/tutorials/notebook.ipynb",
    ]
    requested = [path for path, _ in forge.requests]
    assert "/repos/acme/widgets/tarball/main" in requested
    assert any(p.startswith("/codeload/acme/widgets/legacy.tar.gz/main?token=") for p in requested)
    assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1] == 100
    assert [s[0] for s in steps] == sorted(s[0] for s in steps)  # progress only moves forward


async def test_search_returns_sections_with_heading_path_file_and_blob_url(librarian):
    result = await librarian.search("acme/widgets", "authentication token client", 4000)
    first = result["sections"][0]
    assert first["heading"] == "Getting started > Authentication"
    assert first["path"] == "docs/getting-started.md"
    assert first["url"] == "https://github.com/acme/widgets/blob/main/docs/getting-started.md"
    assert "```python\nfrom widgets import Client" in first["text"]  # the code block came along whole
    assert "sparkline secret" not in result["text"] and "generated output" not in result["text"]


async def test_rst_notebook_and_mdx_are_searchable(librarian):
    assert (await librarian.search("acme/widgets", "panel refresh redraws", 2000))["sections"][0][
        "heading"
    ] == "API reference > Panel"
    assert (await librarian.search("acme/widgets", "sparkline panel", 2000))["sections"][0][
        "path"
    ] == "docs/tutorials/notebook.ipynb"
    redis = await librarian.search("acme/widgets", "share panel cache between replicas redis", 2000)
    assert redis["sections"][0]["heading"] == "Caching > Redis backend"


async def test_a_second_ref_is_indexed_beside_the_first(librarian):
    await librarian.index_source("acme/widgets", "v1", local_roots=[])
    old = await librarian.search("acme/widgets@v1", "authentication", 1000)
    new = await librarian.search("acme/widgets", "authentication", 1000)
    assert "basic auth" in old["text"] and old["ref"] == "v1"
    assert "API token" in new["text"] and new["ref"] == "main"
    assert [v.ref for v in librarian.index.versions("acme/widgets")] == ["main", "v1"]


async def test_catalog_names_and_folders(librarian):
    # "gizmo" is acme/widgets@v1 limited to docs/: searching by name indexes it on demand
    assert librarian.index.delete_version("acme/widgets", "v1")
    result = await librarian.search("Gizmo", "authentication", 1000)
    assert result["library"] == "acme/widgets" and result["ref"] == "v1" and result["indexed_now"]
    assert [p for p, _ in librarian.index.paths(librarian.index.find_version("acme/widgets", "v1"))] == [
        "docs/getting-started.md"
    ]


async def test_private_repository_needs_the_token(librarian, forge, monkeypatch):
    with pytest.raises(UserError, match="not found"):
        await librarian.index_source("acme/internal", None, local_roots=[])
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    result = await librarian.index_source("acme/internal", None, local_roots=[])
    assert result.version.files == 2
    sent = [h for p, h in forge.requests if p == "/repos/acme/internal"]
    assert sent[-1]["authorization"] == f"Bearer {TOKEN}"
    assert "authorization" not in sent[0]


async def test_missing_ref_and_repository(librarian):
    with pytest.raises(UserError, match="no such ref"):
        await librarian.index_source("acme/widgets", "v404", local_roots=[])
    with pytest.raises(UserError, match="not found"):
        await librarian.index_source("acme/nothing", None, local_roots=[])


async def test_gitlab_project(librarian):
    result = await librarian.index_source("gitlab:group/sub/tool", None, local_roots=[])
    assert result.version.library == "gitlab:group/sub/tool"
    found = await librarian.search("gitlab:group/sub/tool", "fast usage", 500)
    assert found["sections"][0]["url"] == "https://gitlab.example/group/sub/tool/-/blob/main/README.md"


async def test_resolve_catalog_index_and_github_search(librarian):
    widgets = await librarian.resolve("widgets")
    ids = [c["id"] for c in widgets["candidates"]]
    assert ids[0] == "acme/widgets"
    first = widgets["candidates"][0]
    assert first["indexed"] and set(first["versions"]) == {"main", "v1"} and first["origin"] == "catalog"
    assert first["stars"] == 4200 and first["description"] == "Dashboard widgets toolkit"
    gadgets = await librarian.resolve("gadgets")
    found = {c["id"]: c for c in gadgets["candidates"]}
    assert found["acme/gadgets"]["origin"] == "github" and found["acme/gadgets"]["stars"] == 12
    assert not found["acme/gadgets"]["indexed"]
    assert "acme/internal" not in found  # search never shows private repositories without a token
    gizmo = (await librarian.resolve("gizmo"))["candidates"][0]
    assert gizmo["id"] == "acme/widgets@v1" and gizmo["origin"] == "catalog"
    kit = (await librarian.resolve("Gadget Kit"))["candidates"][0]  # not indexed: metadata from the forge
    assert (kit["id"], kit["indexed"], kit["stars"], kit["description"]) == (
        "acme/gadgets",
        False,
        12,
        "Gadgets for widgets",
    )
    nothing = await librarian.resolve("zzqqxx")
    assert nothing["candidates"] == [] and "no library found" in nothing["text"]


async def test_resolve_asks_the_forge_only_when_nothing_offline_matches(librarian, forge):
    before = len(forge.requests)
    widgets = await librarian.resolve("Widgets docs")  # filler words dropped, catalog name matched
    assert widgets["candidates"][0]["id"] == "acme/widgets"
    assert {c["origin"] for c in widgets["candidates"]} <= {"catalog", "index"}
    assert not any(path.startswith("/search/") for path, _ in forge.requests[before:])
    gadgets = await librarian.resolve("gadgets")  # no catalog name or indexed library matches it
    assert "github" in [c["origin"] for c in gadgets["candidates"]]


async def test_unindexed_library_error_is_actionable(librarian):
    with pytest.raises(UserError, match="not indexed; docs_resolve finds its id, docs_index indexes it"):
        await librarian.read("nobody/nothing-here", "", 0)


async def test_local_sources_only_below_roots(librarian, tmp_path):
    root = write_tree(tmp_path / "handbook", WIDGETS_MAIN)
    with pytest.raises(UserError, match="local_roots"):
        await librarian.index_source("/etc", None, local_roots=[str(tmp_path)])
    with pytest.raises(UserError, match="local_roots"):
        await librarian.index_source(str(tmp_path / "handbook" / ".." / ".."), None, local_roots=[str(tmp_path)])
    result = await librarian.index_source(str(root), None, local_roots=[str(tmp_path)])
    assert result.version.library == "local/handbook" and result.version.url_base is None
    hit = (await librarian.search("local/handbook", "redis backend", 500))["sections"][0]
    assert hit["path"] == "docs/guides/caching.mdx" and hit["url"] is None


async def test_local_tarball_cli_style(librarian, tmp_path):
    archive = tmp_path / "manual.tar.gz"
    archive.write_bytes(
        build_tarball(
            {
                "README.md": "# Manual\n\n## Backup\n\nRun nightly backups.\n",
                "ops/restore.md": "# Restore\n\nFrom the vault.\n",
                "ops/old/x.md": "# Old\n\nOld.\n",
                "context7.json": '{"folders": ["", "ops"], "excludeFolders": ["ops/old"]}',
            },
            top="manual-1.0",
        )
    )
    result = await librarian.index_source(str(archive), None, local_roots=None)
    assert result.version.library == "local/manual"
    assert [p for p, _ in librarian.index.paths(result.version)] == ["README.md", "ops/restore.md"]
    assert (await librarian.read("local/manual", "README.md", 0))["title"] == "Manual"


async def test_ssrf_guard_applies_without_the_allow_list(tmp_path, forge):
    settings = docs_settings(forge.base, tmp_path / "d.sqlite")
    settings = load_settings(servers=settings.servers)  # same docs section, no http.allow
    lib, client = make_librarian(settings)
    try:
        with pytest.raises(BlockedDestination, match="loopback"):
            await lib.index_source("acme/widgets", None, local_roots=[])
    finally:
        await client.aclose()


async def test_source_forms():  # async: the module-wide asyncio mark applies to every test here
    assert parse_source("vercel/next.js@v15.0.0").__dict__ == {
        "kind": "github",
        "path": "vercel/next.js",
        "ref": "v15.0.0",
        "folders": (),
    }
    assert parse_source("https://github.com/a/b/tree/dev").ref == "dev"
    assert parse_source("owner/repo@main:docs,guides").folders == ("docs", "guides")
    assert parse_source("gitlab:g/s/p@v1").library == "gitlab:g/s/p"
    assert parse_source("./x/y.tar.gz").library == "local/y"
    # pasted without a scheme, as people copy them from the address bar
    assert parse_source("github.com/vllm-project/vllm").library == "vllm-project/vllm"
    assert parse_source("www.GitHub.com/a/b/tree/v1").ref == "v1"
    assert parse_source("gitlab.com/g/s/p").kind == "gitlab"
    for bad in ("not a repo", "a/b@..", "a/b@x y", "http://evil/x"):
        with pytest.raises(UserError):
            parse_source(bad)
