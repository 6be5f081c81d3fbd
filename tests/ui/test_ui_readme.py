"""The README's ui examples, run through the tools on the official registry (../shared, on 127.0.0.1)
and the real Tailwind compiler: each returns what the README says it returns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet_testing import fleet_client
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.ui import SPEC

pytestmark = pytest.mark.skipif(SPEC.missing() is not None, reason=str(SPEC.missing()))
README = Path(__file__).resolve().parents[2] / "README.md"


def ui_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("\n## ui\n") : text.index("\n## Serving\n")]


# (tool, arguments, check on (structured content, text)) — every README example of the ui table.
def _names(data: dict) -> list[str]:
    return [i["name"] for i in data["items"]]


EXAMPLES = [
    ("ui_components", {}, lambda d, t: d["total"] == 471),
    (
        "ui_components",
        {"query": "date picker"},
        lambda d, t: _names(d) == ["date-picker-demo", "date-picker-with-presets", "date-picker-with-range"],
    ),
    (
        "ui_components",
        {"query": "login"},
        lambda d, t: len(_names(d)) == 7 and _names(d)[:5] == [f"login-0{i}" for i in range(1, 6)],
    ),
    ("ui_components", {"registry": "@acme"}, lambda d, t: "hero" in _names(d)),
    (
        "ui_component",
        {"name": "dialog"},
        lambda d, t: "dialog.tsx imports @/components/ui/button, which no registryDependency installs" in t,
    ),
    (
        "ui_component",
        {"name": "dashboard-01"},
        lambda d, t: (
            len(d["files"]) == 11
            and len(d["npm_all"]) == 14
            and len(d["dependencies"]) == 7
            and len(d["resolved"]) == 23
            and len(d["registryDependencies"]) == 19
            and sum(len(v) for v in d["cssVars"].values()) == 16
            and d["cssVars_from"] == ["sidebar"]
            and 'from "@/components/app-sidebar"' in d["files"][0]["content"]
            and 'from "@/components/ui/sidebar"' in d["files"][0]["content"]
            and [f["path"].rsplit("/", 1)[-1] for f in d["files"] if f["content"] is None] == ["site-header.tsx"]
            and "site-header.tsx" in t.split("not shown (budget)")[1]
        ),
    ),
    (
        "ui_component",
        {"name": "sidebar", "file": "sidebar.tsx", "start_index": 19978},
        lambda d, t: (
            d["files"][0]["start_index"] == 19978
            and d["files"][0]["next_start_index"] is None
            and d["files"][0]["total_length"] == 21641
            and "  useSidebar,\n}" in d["files"][0]["content"]
        ),
    ),
    ("ui_component", {"name": "@acme/hero"}, lambda d, t: d["command"] == "npx shadcn@latest add @acme/hero"),
    (
        "ui_tailwind",
        {"classes": "p-4 hover:bg-sky-500 md:flex w-[37px]"},
        lambda d, t: (
            "padding: calc(var(--spacing) * 4);" in d["css"]
            and "width: 37px;" in d["css"]
            and d["unknown"] == []
            and d["invalid"] == []
        ),
    ),
    (
        "ui_tailwind",
        {"classes": "w-[--sidebar-width] bg-gradient-to-r !p-2"},
        lambda d, t: (
            "invalid CSS from w-[--sidebar-width]: width: --sidebar-width" in t
            and d["invalid"][0]["v4"] == "w-(--sidebar-width)"
            and {r["class"]: r["v4"] for r in d["renamed"] + d["spelling"]}
            == {"w-[--sidebar-width]": "w-(--sidebar-width)", "bg-gradient-to-r": "bg-linear-to-r", "!p-2": "p-2!"}
            and t.count("w-(--sidebar-width)") == 1
        ),
    ),
    (
        "ui_tailwind",
        {"classes": "dark:bg-background", "preset": "shadcn"},
        lambda d, t: (
            ":is(.dark *)" in d["css"]
            and "background-color: var(--background);" in d["css"]
            and "prefers-color-scheme" not in d["css"]
        ),
    ),
    (
        "ui_tailwind",
        {"classes": "bg-brand", "theme": "@theme { --color-brand: oklch(0.6 0.2 250); }"},
        lambda d, t: "--color-brand: oklch(0.6 0.2 250);" in d["css"] and d["unknown"] == [],
    ),
    ("ui_theme", {}, lambda d, t: "color" in d["namespaces"]),
    ("ui_theme", {"prefix": "color-sky"}, lambda d, t: "--color-sky-500" in d["tokens"]),
    ("ui_theme", {"prefix": "breakpoint"}, lambda d, t: d["tokens"].get("--breakpoint-md") == "48rem"),
]


def test_every_readme_example_is_run_here():
    section = ui_section()
    for tool, args, _ in EXAMPLES:
        shown = json.dumps(args, ensure_ascii=False)
        assert f"`{shown}`" in section, f"{tool} {shown} is not (or no longer) a README example"
    table = [line for line in section.splitlines() if line.startswith("| `ui_")]
    in_table = sum(line.count("`{") for line in table)
    assert in_table == len(EXAMPLES)


async def test_readme_examples_return_what_they_claim(shadcn_config, registry_server, acme_token):
    acme = {
        "url": f"{registry_server.base}/acme/{{name}}.json",
        "headers": {"Authorization": "Bearer ${ACME_TEST_TOKEN}"},
    }
    settings = load_settings(
        http={"allow": ["127.0.0.1"]}, servers={"ui": {**shadcn_config, "registries": {"@acme": acme}}}
    )
    failed = []
    async with fleet_client(SPEC, settings) as client:  # with the runtime, as a reader's fleet runs it
        for tool, args, check in EXAMPLES:
            result = await client.call_tool(tool, args)
            if not check(result.structured_content, result.content[0].text):
                failed.append(f"{tool} {json.dumps(args)}")
    assert failed == []
