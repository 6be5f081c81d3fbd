"""Bad input to every ui tool over MCP (in memory, with the runtime's middleware), against the local
registry of conftest.py and the real Tailwind compiler. Every call ends in an answer or a refusal a
model can act on, never `internal error`."""

from __future__ import annotations

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_input_testing import answer
from fleet_testing import fleet_client
from local_http import serving
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.ui import SPEC

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(SPEC.missing() is not None, reason=str(SPEC.missing())),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ui(registry_server):
    mp = pytest.MonkeyPatch()
    mp.setenv("ACME_TEST_TOKEN", "acme-test-token-123")
    settings = load_settings(
        http={"allow": ["127.0.0.1"]},
        servers={"ui": registry_server.ui_section()},
    )
    async with fleet_client(SPEC, settings) as c:  # telemetry masks crashes
        yield c
    mp.undo()


CLASSES = [
    "\x00",
    "a\x00b",
    "\u202e\u200b",
    "😀",
    "p-4 {",
    "p-4 }",
    "}{",
    "[[[",
    "]]]",
    "'",
    '"',
    "p-4\nm-2\r\n\tm-1",
    "bg-[url('x')]",
    'font-["x"]',
    "content-['}']",
    "content-['\\']",
    "[--x:{}]",
    "[&_{}]:p-4",
    "[@media(x){}]:p-4",
    "[x:y;}body{color:red]",
    "data-[x=']']:p-4",
    "hover:",
    ":",
    "!",
    "p-4/",
    "bg-red-500/[",
    "\\",
    "\x1b[31m",
    "<script>",
    "@apply p-4",
    "w-[" + "(" * 150 + "]",
    " ".join(["p-4"] * 3000),
    "ｐ-４",
    "\ud7ff",
]


@pytest.mark.parametrize("classes", CLASSES, ids=range(len(CLASSES)))
async def test_odd_class_strings(ui, classes):
    result = await answer(ui, "ui_tailwind", {"classes": classes})
    if not isinstance(result, str):
        data = result.structured_content
        assert "css" in data and all(isinstance(u, str) for u in data["unknown"])


@pytest.mark.parametrize("classes", ["", " ", "\n\t"])
async def test_no_classes_is_refused(ui, classes):
    assert "give at least one class" in await answer(ui, "ui_tailwind", {"classes": classes})


THEMES = [
    "\x00",
    "😀",
    "{",
    "}",
    "@theme {",
    "@theme { --color-x: #0af; } }",
    "@theme{}",
    "@theme { --x: \x00; }",
    "@theme { " + "{" * 500 + "}" * 500 + " }",
    "/* } */",
    "@theme { /* } */ }",
    "@media x { }",
    "@tailwind utilities;",
    "@theme { @apply p-4; }",
    "@theme { --*: initial; }",
    "@theme { --spacing: 1e400px; }",
    "--color-x: #0af;",
    '@theme { --color-x: url("javascript:x") }',
    "@theme reference { --x: 1 }",
    "@theme { --a: 1;" * 3000 + "}",
]


@pytest.mark.parametrize("theme", THEMES, ids=range(len(THEMES)))
async def test_odd_themes(ui, theme):
    await answer(ui, "ui_tailwind", {"classes": "p-4 bg-x", "theme": theme})


@pytest.mark.parametrize("prefix", ["", " ", "\x00", "😀", "*", "%", ".*", "(", "[", "\\", "--", "--color-"])
async def test_odd_theme_prefixes(ui, prefix):
    await answer(ui, "ui_theme", {"prefix": prefix})


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "\x00",
        "😀",
        "\u202e\u200b",
        "@",
        "@acme/",
        "@/x",
        "@nope/x",
        "http://",
        "ftp://x/y.json",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://[::1]/x.json",
        "http://localhost:0/x.json",
        "http://ex ample.com/x.json",
        "//x/y",
        "../../etc/passwd",
        "button/../x",
        "button?x=1",
        "%2e%2e",
        "@acme/../x",
        "broken-item",
        "uses-broken",
        "deep-0",
        "loop-a",
        "x" * 500,
        "data:application/json,{}",
    ],
)
async def test_odd_item_names(ui, name):
    await answer(ui, "ui_component", {"name": name})


@pytest.mark.parametrize(
    "registry",
    [
        "",
        " ",
        "\x00",
        "@",
        "@nope",
        "acme",
        "http://",
        "ftp://x",
        "file:///",
        "{name}",
        "http://127.0.0.1:1/{name}.json",
        "x" * 500,
    ],
)
async def test_odd_registries(ui, registry):
    await answer(ui, "ui_components", {"registry": registry, "query": "x"})
    await answer(ui, "ui_component", {"name": "button", "registry": registry})


@pytest.mark.parametrize("style", [" ", "\x00", "../x", "{name}", "a/b", "a b"])
async def test_odd_styles(ui, style):
    refusal = await answer(ui, "ui_component", {"name": "button", "style": style})
    assert isinstance(refusal, str) and "not a style name" in refusal


# -- registries that answer JSON of the wrong shape ------------------------------------------------

GOOD = {
    "name": "good",
    "type": "registry:ui",
    "files": [{"path": "ui/good.tsx", "type": "registry:ui", "content": "x"}],
}
ODD_ITEMS = {
    "type-list": {**GOOD, "type": ["registry:ui"]},
    "type-object": {**GOOD, "type": {"a": 1}},
    "file-type-object": {**GOOD, "files": [{"path": "p.tsx", "type": {"a": 1}, "content": "x"}]},
    "file-type-list": {**GOOD, "files": [{"path": "p.tsx", "type": ["registry:page"], "content": "x"}]},
    "name-number": {**GOOD, "name": 5},
    "deps-object": {**GOOD, "registryDependencies": {"a": 1}, "dependencies": "react"},
    "deps-odd": {**GOOD, "registryDependencies": ["", " ", "\x00", "@", "http://", "../x", "good"]},
    "css-vars-list": {**GOOD, "cssVars": ["x"]},
    "css-vars-odd": {**GOOD, "cssVars": {"light": {"a": 5}, "dark": "x"}},
    "files-object": {**GOOD, "files": {"a": 1}},
    "list": [GOOD],
    "string": "x",
    "null": None,
    "number": 5,
    "nested": [[[[[[[[[[[[]]]]]]]]]]]],
}
ODD_INDEXES = {
    "index-types": [
        {"name": "a", "type": ["registry:ui"]},
        {"name": "b", "type": {"x": 1}},
        {"name": 5, "type": "registry:ui"},
        {"name": "ok", "type": "registry:ui", "description": ["x"]},
        None,
        5,
        "x",
    ],
    "index-string": "x",
    "index-items-object": {"items": {"a": 1}},
    "index-null": None,
}


def odd_answer(path: str):
    key = path.strip("/").removesuffix(".json").split("/")[-1]
    if key == "registry":  # /<index-name>/registry.json: the index itself
        key = path.strip("/").split("/")[0]
    found = {**ODD_ITEMS, **ODD_INDEXES, "good": GOOD}
    return (200, found[key]) if key in found else (404, {})


@pytest.fixture(scope="module")
def odd_registry():
    with serving(odd_answer) as base:
        yield base


@pytest.mark.parametrize("key", sorted(ODD_ITEMS))
async def test_items_of_the_wrong_shape_are_reported_as_malformed(ui, odd_registry, key):
    # a "type" that is a list or an object used to crash the check (an unhashable set member)
    refusal = await answer(ui, "ui_component", {"name": f"{odd_registry}/items/{key}.json"})
    if key == "deps-odd":  # the item is fine; its odd dependencies are reported beside it
        assert not isinstance(refusal, str), refusal
    else:
        assert isinstance(refusal, str) and ("malformed" in refusal or "JSON object" in refusal), refusal


@pytest.mark.parametrize("key", sorted(ODD_INDEXES))
async def test_indexes_of_the_wrong_shape(ui, odd_registry, key):
    result = await answer(ui, "ui_components", {"registry": f"{odd_registry}/{key}/{{name}}.json"})
    if key == "index-types":
        assert [i["name"] for i in result.structured_content["items"]] == ["ok"]
        assert result.structured_content["malformed_entries"] == 6


# -- property: no class string crashes ui_tailwind ---------------------------------------------------

PIECES = st.sampled_from(
    [
        "p-4",
        "hover:",
        "md:",
        "bg-",
        "[",
        "]",
        "(",
        ")",
        "{",
        "}",
        "'",
        '"',
        ":",
        ";",
        "/",
        "!",
        "-",
        "_",
        "&",
        "@",
        "*",
        "\\",
        " ",
        "\n",
        "\x00",
        "😀",
        "\u202e",
        "red-500",
        "50",
        "--x",
        "url(",
        "calc(",
        "shadow",
        "rounded",
        "opacity-",
    ]
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(PIECES, min_size=1, max_size=25).map("".join))
async def test_property_no_class_string_crashes_tailwind(ui, classes):
    await answer(ui, "ui_tailwind", {"classes": classes})
