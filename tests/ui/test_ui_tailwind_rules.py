"""Tailwind rules checked without the compiler: v3 renames, theme refusals, theme tokens, bounds, set-up checks."""

from __future__ import annotations

import asyncio

import pytest

from mcpfleet.common.errors import UserError
from mcpfleet.servers.ui.settings import UiSettings, missing_node_parts
from mcpfleet.servers.ui.tailwind import check_theme, compile_classes, parse_theme_tokens, theme_answer, v3_rename

SECTION = UiSettings()
installed = pytest.mark.skipif(missing_node_parts(SECTION) is not None, reason=str(missing_node_parts(SECTION)))


def test_rename_lookup_keeps_variants_and_importance():
    assert v3_rename("md:hover:!shadow")["v4"] == "md:hover:!shadow-sm"
    assert v3_rename("[&:nth-child(3)]:blur-sm")["v4"] == "[&:nth-child(3)]:blur-xs"
    assert v3_rename("text-opacity-[0.3]")["v4"] == "text-black/[0.3]"
    assert v3_rename("shadow-xs") is None and v3_rename("grow") is None


@pytest.mark.parametrize(
    "theme",
    [
        '@import "/etc/passwd";',
        '@theme { --color-x: red; } @plugin "./evil.js";',
        '@config "../tailwind.config.js";',
        '@source "/";',
        "@utility evil { color: red; }",
        "@custom-variant x { @apply p-4; }",
        r'@\69mport "/etc/passwd";',  # a CSS escape in the at-rule name
        "@theme { --a: 1; } @tailwind utilities;",
    ],
)
def test_theme_refuses_at_rules_that_load_or_add_things(theme):
    with pytest.raises(UserError, match="not allowed in the theme"):
        check_theme(theme, SECTION)


def test_theme_allows_keyframes_and_wraps_bare_declarations():
    assert check_theme("--color-x: red;", SECTION) == "@theme {\n--color-x: red;\n}"
    kept = "@theme { --animate-wiggle: wiggle 1s infinite; @keyframes wiggle { 50% { rotate: 3deg; } } }"
    assert check_theme(kept, SECTION) == kept
    with pytest.raises(UserError, match="braces"):
        check_theme("@theme { --a: 1;", SECTION)
    with pytest.raises(UserError, match="braces"):
        check_theme("--a: 1; } } @theme { {", SECTION)


@pytest.mark.parametrize(
    "theme",
    [
        "@theme { --a: 1; } .evil { color: red; }",
        "--a: 1; } .evil { color: red; } @theme {",  # closing the wrapper early
        "@theme { --a: 1; } html",
    ],
)
def test_theme_allows_nothing_outside_theme_blocks(theme):
    with pytest.raises(UserError, match="only @theme and @custom-variant blocks are allowed at the top|braces"):
        check_theme(theme, SECTION)
    with pytest.raises(UserError, match="at most"):
        check_theme("--a: 1;" * 5000, SECTION)


def test_class_bounds():
    with pytest.raises(UserError, match="at least one class"):
        asyncio.run(compile_classes(None, "   ", "", SECTION))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="at most 3 per call"):
        asyncio.run(compile_classes(None, "a b c d", "", UiSettings(max_classes=3)))  # type: ignore[arg-type]


@installed
def test_theme_tokens_from_the_installed_theme_css():
    spacing = theme_answer(SECTION, "spacing")
    assert spacing["tokens"] == {"--spacing": "0.25rem"}
    red = theme_answer(SECTION, "--color-red")["tokens"]
    assert red["--color-red-500"] == "oklch(63.7% 0.237 25.331)" and len(red) == 11
    assert theme_answer(SECTION, "breakpoint")["tokens"]["--breakpoint-md"] == "48rem"
    summary = theme_answer(SECTION, None)
    assert summary["namespaces"]["color"] > 200 and summary["tokens"] == {}
    with pytest.raises(UserError, match="no theme token starts with '--colour'"):
        theme_answer(SECTION, "colour")


def test_theme_parser():
    css = """
    @theme default {
      --font-sans:
        ui-sans-serif, system-ui;  /* a comment; with a semicolon */
      --color-a: red;
      @keyframes spin { to { transform: rotate(360deg); } }
      --animate-spin: spin 1s linear infinite;
    }
    @theme default inline reference { --blur: 8px; }
    """
    tokens = {t.name: t for t in parse_theme_tokens(css)}
    assert tokens["--font-sans"].value == "ui-sans-serif, system-ui"
    assert tokens["--animate-spin"].value == "spin 1s linear infinite"
    assert tokens["--blur"].deprecated and not tokens["--color-a"].deprecated
    assert "transform" not in " ".join(tokens)


def test_missing_node_parts_names_the_fix(tmp_path):
    assert "install.sh" in missing_node_parts(UiSettings(node_modules=str(tmp_path)))
    assert "is not installed" in missing_node_parts(UiSettings(node="no-such-node-binary"))
