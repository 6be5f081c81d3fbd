"""docs_resolve offline: catalog names, aliases and filler words, indexed libraries, names spelled alike.
No forge at all here (forges=None), as on a machine without network: every answer comes from disk."""

from __future__ import annotations

import pytest
import pytest_asyncio

from docs_forge import write_tree
from mcpfleet.servers.docs.catalog import library_match, name_key
from mcpfleet.servers.docs.library import Librarian
from mcpfleet.servers.docs.settings import DocsSettings
from mcpfleet.servers.docs.store_sqlite import SqliteIndex

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def librarian(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resolve")
    settings = DocsSettings(index_path=str(tmp / "docs.sqlite"), catalog={"handbook": "acme/handbook"})
    lib = Librarian(SqliteIndex(settings.index_path), settings, forges=None)
    for name in ("ollama", "open-webui"):
        root = write_tree(tmp / name, {"README.md": f"# {name}\n\nAbout {name}.\n"})
        await lib.index_source(str(root), None, local_roots=None, name=name)
    yield lib
    lib.index.close()


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("k8s", "kubernetes/website"),
        ("k8s docs", "kubernetes/website"),
        ("Kubernetes", "kubernetes/website"),
        ("kubernetes documentation", "kubernetes/website"),
        ("Open WebUI", "open-webui/docs"),
        ("ollama docs", "ollama/ollama"),
        ("nextjs", "vercel/next.js"),
        ("Tailwind", "tailwindlabs/tailwindcss.com"),
        ("pydantc", "pydantic/pydantic"),  # a typo still finds it
        ("handbook", "acme/handbook"),
    ],
)
async def test_names_resolve_offline(librarian, name, first):
    result = await librarian.resolve(name)
    assert result["candidates"] and result["candidates"][0]["id"] == first, result["text"]
    assert result["note"] is None  # nothing was asked of a forge


async def test_indexed_local_libraries_are_found_by_their_names(librarian):
    ollama = {c["id"]: c for c in (await librarian.resolve("ollama docs"))["candidates"]}
    assert ollama["local/ollama"]["indexed"] and ollama["local/ollama"]["versions"] == ["local"]
    webui = [c["id"] for c in (await librarian.resolve("Open WebUI"))["candidates"]]
    assert "local/open-webui" in webui and webui.index("open-webui/docs") < webui.index("local/open-webui")
    assert "local/ollama" in [c["id"] for c in (await librarian.resolve("olama"))["candidates"]]


async def test_unknown_names_find_nothing_and_say_so(librarian):
    result = await librarian.resolve("zzqqxx")
    assert result["candidates"] == [] and "no library found" in result["text"]


async def test_search_by_the_name_of_an_indexed_library(librarian):
    # 'ollama' is also a catalog entry (ollama/ollama, not indexed, and no forge here): the indexed
    # local copy answers instead of an error
    found = await librarian.search("ollama docs", "about", 500)
    assert found["library"] == "local/ollama" and found["sections"][0]["path"] == "README.md"


async def test_name_keys_and_library_matches():
    assert name_key("k8s docs") == name_key("Kubernetes") == "kubernetes"
    assert name_key("Open WebUI") == name_key("open-webui documentation") == "openwebui"
    assert name_key("docs") == "docs"  # only filler: the words stay
    assert library_match("ollama", "local/ollama") == "exact"
    assert library_match("widgets", "acme/widgets-pro") == "near"
    assert library_match("widgtes", "acme/widgets") == "fuzzy"
    assert library_match("react", "acme/widgets") is None
