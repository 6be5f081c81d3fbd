"""Tailwind v4 traps, through the real compiler: v3 syntax that compiles to invalid CSS, the compiler's
own v4 spellings, and dark mode as shadcn/ui projects declare it."""

from __future__ import annotations

import json
import re

import pytest

from mcpfleet.common.errors import UserError
from mcpfleet.servers.ui.settings import UiSettings, missing_node_parts
from mcpfleet.servers.ui.tailwind import compile_classes, v3_rename, v4_spelling

SECTION = UiSettings()
pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(missing_node_parts(SECTION) is not None, reason=str(missing_node_parts(SECTION))),
]


async def tw(worker, classes: str, theme: str = "", preset: str = "tailwind") -> dict:
    return await compile_classes(worker, classes, theme, SECTION, preset)


def body(css: str, selector: str) -> str:
    """The declarations of the rule for `selector` (escaped as the compiler writes it)."""
    match = re.search(re.escape(selector) + r" \{\n(.*?)\n\}", css, re.DOTALL)
    assert match, f"no rule {selector} in {css[:300]}"
    return match.group(1)


async def test_v3_variable_syntax_is_invalid_css_and_gets_its_v4_form(worker):
    found = await tw(worker, "w-[--sidebar-width] max-w-[--skeleton-width] p-4")
    assert found["checked"] is True
    assert found["invalid"] == [
        {"class": "w-[--sidebar-width]", "property": "width", "value": "--sidebar-width", "v4": "w-(--sidebar-width)"},
        {
            "class": "max-w-[--skeleton-width]",
            "property": "max-width",
            "value": "--skeleton-width",
            "v4": "max-w-(--skeleton-width)",
        },
    ]
    assert "invalid CSS from w-[--sidebar-width]: width: --sidebar-width" in found["text"]
    assert "write w-(--sidebar-width)" in found["text"]
    fixed = await tw(worker, "w-(--sidebar-width) max-w-(--skeleton-width)")
    assert fixed["invalid"] == [] and fixed["spelling"] == []
    assert "width: var(--sidebar-width);" in fixed["css"]


async def test_every_class_with_invalid_output_is_flagged(worker):
    found = await tw(worker, "w-[foo] bg-[--brand] z-[--z] w-[calc(100%-1rem)] bg-red-500 [--x:1px]")
    assert [(i["class"], i["property"]) for i in found["invalid"]] == [
        ("w-[foo]", "width"),
        ("bg-[--brand]", "background-color"),
        ("z-[--z]", "z-index"),
    ]
    assert found["invalid"][0]["v4"] is None  # nothing to suggest: foo is no width at all


async def test_gradient_and_important_get_the_v4_spelling_with_the_same_css(worker):
    found = await tw(worker, "bg-gradient-to-r !p-2 hover:!bg-red-500")
    assert {r["class"]: r["v4"] for r in found["renamed"]} == {"bg-gradient-to-r": "bg-linear-to-r"}
    assert {r["class"]: r["v4"] for r in found["spelling"]} == {
        "!p-2": "p-2!",
        "hover:!bg-red-500": "hover:bg-red-500!",
    }
    assert "v4 spelling of !p-2: p-2!" in found["text"]
    assert found["invalid"] == []
    v4 = await tw(worker, "bg-linear-to-r p-2!")
    # the same gradient (v4's name adds an @supports fallback for browsers without oklab interpolation)
    for css, selector in ((found["css"], ".bg-gradient-to-r"), (v4["css"], ".bg-linear-to-r")):
        rule = body(css, selector)
        assert "to right in oklab;" in rule and "background-image: linear-gradient(var(--tw-gradient-stops));" in rule
    assert body(found["css"], r".\!p-2") == body(v4["css"], r".p-2\!")
    assert v4["renamed"] == [] and v4["spelling"] == []


# Classes whose canonical spelling our rules claim; the compiler's canonicalizeCandidates is the judge.
CANONICAL = [
    "!p-2",
    "hover:!bg-red-500",
    "group-data-[collapsible=icon]:!size-8",
    "md:!flex",
    "-mt-0",
    "-inset-x-0",
    "-translate-y-0",
    "start-auto",
    "end-px",
    "-start-full",
    "flex-grow",
    "flex-shrink-0",
    *(f"bg-gradient-to-{way}" for way in ("t", "tr", "r", "br", "b", "bl", "l", "tl")),
    "p-2",
    "mt-4",
    "inset-s-4",
    "w-(--x)",  # already canonical: no finding
]


async def test_our_spelling_rules_agree_with_the_compiler(worker):
    compiler = await worker.canonicalize(CANONICAL)  # its first call builds indexes for seconds
    for candidate in CANONICAL:
        ours = v4_spelling(candidate) or v3_rename(candidate)
        assert (ours["v4"] if ours else candidate) == compiler.get(candidate, candidate), candidate


async def test_the_official_registry_classes_are_valid_v4(worker):
    # sidebar.tsx from the real registry: every class it uses compiles to valid CSS, in v4 spelling.
    from shared_data import shared_path

    item = shared_path("peer-data", "shadcn-registry", "r", "styles", "new-york-v4", "sidebar.json")
    source = json.loads(item.read_text(encoding="utf-8"))["files"][0]["content"]
    classes = sorted(
        {
            c
            for text in re.findall(r'"([^"\n]*)"', source)
            for c in text.split()
            if re.fullmatch(r"[a-z0-9!:\[\]()/.=&>*_%-]+", c) and "-" in c
        }
    )[:300]
    found = await tw(worker, " ".join(classes), preset="shadcn")
    assert len(classes) > 100
    assert "w-(--sidebar-width)" in classes
    assert found["invalid"] == [] and found["spelling"] == []


async def test_dark_is_the_dark_class_in_a_shadcn_project(worker):
    plain = await tw(worker, "dark:bg-red-500 bg-background")
    assert "prefers-color-scheme: dark" in plain["css"] and plain["unknown"] == ["bg-background"]
    shadcn = await tw(worker, "dark:bg-background text-muted-foreground rounded-lg", preset="shadcn")
    assert shadcn["unknown"] == [] and "prefers-color-scheme" not in shadcn["css"]
    assert ":is(.dark *)" in shadcn["css"] and "background-color: var(--background);" in shadcn["css"]
    assert "border-radius: var(--radius);" in shadcn["css"]
    assert shadcn["dark"] == "@custom-variant dark (&:is(.dark *))"
    assert "/* dark: is @custom-variant dark (&:is(.dark *)) */" in shadcn["text"]


async def test_a_theme_may_declare_its_own_variants(worker):
    own = await tw(worker, "dark:underline", theme="@custom-variant dark (&:where(.dark, .dark *));")
    assert ":where(.dark, .dark *)" in own["css"] and "prefers-color-scheme" not in own["css"]
    # the user's dark variant replaces the preset's instead of clashing with it
    both = await tw(worker, "dark:underline", theme="@custom-variant dark (&:where(.dark, .dark *));", preset="shadcn")
    assert ":where(.dark, .dark *)" in both["css"] and ":is(.dark *)" not in both["css"]
    block = await tw(
        worker,
        "hocus:underline",
        theme="@custom-variant hocus { &:hover { @slot; } &:focus { @slot; } }\n@theme { --color-x: #0af; }",
    )
    assert ":hover" in block["css"] and ":focus" in block["css"] and block["unknown"] == []
    with_variant = await tw(
        worker,
        "pointer-fine:underline",
        theme="@custom-variant pointer-fine { @variant hover { @media (pointer: fine) { @slot; } } }",
    )
    assert "(pointer: fine)" in with_variant["css"]


@pytest.mark.parametrize(
    "theme",
    [
        '@custom-variant x { @import "y.css"; }',
        "@custom-variant x (&:hover); @utility evil { color: red; }",
        "@custom-variant x (&:hover); .evil { color: red; }",
    ],
)
async def test_variants_open_no_door(worker, theme):
    with pytest.raises(UserError, match="not allowed|only @theme and @custom-variant"):
        await tw(worker, "x:underline", theme=theme)


async def test_an_unknown_preset_is_refused(worker):
    with pytest.raises(UserError, match="preset must be one of tailwind, shadcn"):
        await tw(worker, "p-4", preset="bootstrap")
