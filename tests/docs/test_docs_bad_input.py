"""Bad input to every docs tool over MCP (in memory, with the runtime's middleware), against the
GitHub/GitLab stand-in of docs_forge.py serving a repository of broken documents. Every call ends
in an answer or a refusal a model can act on, never `internal error`."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
from fastmcp import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_input_testing import answer
from docs_forge import WIDGETS_MAIN, WIDGETS_V1, FakeForge, docs_settings, write_tree
from fleet_testing import running_app
from mcpfleet.common.app import build_server
from mcpfleet.servers.docs import SPEC

in_module_loop = pytest.mark.asyncio(loop_scope="module")

# What real repositories contain now and then: notebooks of the wrong shape, odd names, NULs.
ODD_REPO = {
    "README.md": "# Odd\n\nThe odd repository.\n",
    "docs/guide.md": "# Guide\n\n## Setup\n\nRun the setup wizard.\n",
    "docs/list.ipynb": "[1, 2]",
    "docs/cells-number.ipynb": json.dumps({"cells": 5}),
    "docs/odd-cells.ipynb": json.dumps(
        {
            "cells": [
                5,
                {"cell_type": 7, "source": 9},
                {"cell_type": "markdown", "source": ["# Notebook\n", 1, None, "kept text\n"]},
                {"cell_type": "code", "source": {"a": 1}},
            ],
            "metadata": {"kernelspec": ["x"]},
        }
    ),
    "docs/not-json.ipynb": "not json",
    "docs/deep.ipynb": "[" * 100_000 + "]" * 100_000,
    "docs/empty.md": "",
    "docs/nul.md": "# N\x00ul\n\na\x00b\n",
    "docs/rtl \u202e.md": "# RTL\u202e\u200b\n\n\u05e9\u05dc\u05d5\u05dd\n",
    "docs/emoji😀.md": "# 😀\n\ntext\n",
    "docs/front.md": "---\ntitle: [1, 2\n---\n# Front\n",
    "docs/fence.md": "```\n" * 101,
    "docs/adorn.rst": "====\n\n====\nTitle\n====\n\n----\n",
    "docs/unclosed.mdx": "import X from 'y'\n\n<X {...{a: '}'}} />\n\n# H\n\n```\nunclosed",
}


@pytest.fixture(scope="module")
def odd_forge():
    fake = FakeForge()
    fake.add(
        "acme/widgets", {"main": WIDGETS_MAIN, "v1": WIDGETS_V1}, description="Dashboard widgets toolkit", stars=42
    )
    fake.add("odd/repo", {"main": ODD_REPO}, description="x\x00y \u202e", stars=-5)
    with running_app(fake.app()) as url:
        fake.base = url
        yield fake


def docs_server(forge: FakeForge, tmp):
    write_tree(tmp / "roots" / "handbook", WIDGETS_MAIN)
    settings = docs_settings(forge.base, tmp / "index.sqlite", local_roots=[str(tmp / "roots")])
    return build_server(SPEC, settings).server  # telemetry masks crashes as production does


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def docs(odd_forge, tmp_path_factory):
    async with Client(docs_server(odd_forge, tmp_path_factory.mktemp("docs-bad-input")), timeout=60) as c:
        yield c


@in_module_loop
async def test_a_repository_with_broken_notebooks_is_indexed(docs):
    # a notebook cell whose source list holds a number used to fail the whole repository
    result = await answer(docs, "docs_index", {"repo": "odd/repo"})
    assert not isinstance(result, str), result
    assert result.structured_content["status"] == "done" and result.structured_content["files"] >= 8
    page = await answer(docs, "docs_read", {"library": "odd/repo", "path": "docs/odd-cells.ipynb"})
    assert "kept text" in page.structured_content["content"]
    found = await answer(docs, "docs_search", {"library": "odd/repo", "query": "setup wizard"})
    assert found.structured_content["sections"][0]["path"] == "docs/guide.md"


@in_module_loop
@pytest.mark.parametrize("ref", ["main\n", "v1\n", "main\r\n", " main"])
async def test_a_ref_with_a_line_break_is_not_a_ref(docs, ref):
    refusal = await answer(docs, "docs_index", {"repo": "acme/widgets", "ref": ref})
    assert isinstance(refusal, str) and "is not a git ref" in refusal
    resolved = await answer(docs, "docs_resolve", {"name": "acme/widgets"})
    versions = [v for c in resolved.structured_content["candidates"] for v in c["versions"]]
    assert all(v == v.strip() for v in versions), versions  # no "main\n" beside "main"


@in_module_loop
@pytest.mark.parametrize("library", [" ", "@", "@v1", "@main", " @v1 "])
async def test_a_library_id_without_a_name_is_refused(docs, library):
    await answer(docs, "docs_index", {"repo": "acme/widgets"})
    for tool, args in (("docs_search", {"query": "install"}), ("docs_read", {"path": ""})):
        refusal = await answer(docs, tool, {"library": library, **args})
        # before: the empty name matched every library and the first indexed one answered
        assert isinstance(refusal, str) and "names no library" in refusal


@in_module_loop
@pytest.mark.parametrize(
    "repo",
    [
        " ",
        "\x00",
        "😀",
        "\u202e\u200b",
        "x" * 300,
        "/",
        "a/",
        "a/b/c",
        "../..",
        "acme/../widgets",
        "gitlab:",
        "gitlab:/x",
        "github:",
        "local:",
        "https://github.com/",
        "https://gitlab.com/",
        "ftp://github.com/a/b",
        "file:///etc",
        "acme/widgets@",
        "acme/widgets@@",
        "acme/widgets@v1:../..",
        "acme/wid%67ets",
        "acme/widgets?x",
        "-/-",
        "~/x",
        "ａｃｍｅ/widgets",
    ],
)
async def test_odd_repository_names(docs, repo):
    await answer(docs, "docs_index", {"repo": repo})


@in_module_loop
@pytest.mark.parametrize(
    "query",
    [
        "\x00",
        "a\x00b",
        "😀",
        "\u202e\u200b",
        "*",
        '"',
        "'",
        "AND",
        "OR NOT",
        "NEAR(a b)",
        "heading:x",
        "{a}",
        "(",
        "^",
        "-",
        "a*",
        '"unclosed',
        "the of and a",
        "日本語",
        "'); DROP TABLE chunks;--",
        "%",
        "_",
        "\\",
        "x" * 500,
    ],
)
async def test_odd_queries_are_words_not_syntax(docs, query):
    await answer(docs, "docs_index", {"repo": "odd/repo"})
    result = await answer(docs, "docs_search", {"library": "odd/repo", "query": query, "tokens": 200})
    assert not isinstance(result, str), result  # FTS syntax never reaches SQLite: always an answer


@in_module_loop
@pytest.mark.parametrize(
    "path",
    [
        "",
        " ",
        "\x00",
        "/",
        "//",
        ".",
        "..",
        "../..",
        "docs/",
        "/docs",
        "docs/../README.md",
        "docs/rtl \u202e.md",
        "docs/emoji😀.md",
        "docs/*",
        "%",
        "_",
        "\\",
        "x" * 1000,
        "https://github.com/odd/repo/blob/main/README.md",
        "docs/guide.md#setup",
    ],
)
@pytest.mark.parametrize("start", [0, 10**30])
async def test_odd_paths_and_offsets(docs, path, start):
    await answer(docs, "docs_index", {"repo": "odd/repo"})
    result = await answer(docs, "docs_read", {"library": "odd/repo", "path": path, "start_index": start})
    if start and not isinstance(result, str):
        pytest.fail(f"start_index {start} past the end was answered: {result}")


@in_module_loop
@pytest.mark.parametrize(
    "name", ["\x00", "a\x00b", "😀", "%", "*", '"', "(", "\\", "@scope/pkg", "gitlab:group/sub/tool"]
)
async def test_odd_names_to_resolve(docs, name):
    await answer(docs, "docs_resolve", {"name": name})


# -- property: no query or path crashes docs_search / docs_read -------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    query=TEXT,
    path=st.one_of(TEXT, st.sampled_from(["", "docs", "docs/guide.md", "README.md"])),
    library=st.one_of(TEXT, st.sampled_from(["odd/repo", "acme/widgets", "odd/repo@main", "acme/widgets@v1"])),
)
def test_property_no_text_crashes_search_or_read(odd_forge, tmp_path_factory, query, path, library):
    async def run() -> None:
        # a fresh server per example: leaving the in-memory client runs the lifespan's shutdown
        async with Client(docs_server(odd_forge, _tmp(tmp_path_factory)), timeout=60) as c:
            await answer(c, "docs_search", {"library": library[:200], "query": query, "tokens": 200})
            await answer(c, "docs_read", {"library": library[:200], "path": path})

    asyncio.run(run())


_tmps: list = []


def _tmp(tmp_path_factory):
    if not _tmps:
        _tmps.append(tmp_path_factory.mktemp("docs-property"))
    return _tmps[0]
