"""The official shadcn/ui registry (new-york-v4, ../shared/peer-data/shadcn-registry) on 127.0.0.1:
what `ui_component` gives must be what `shadcn add` writes; search covers the whole catalogue.

The expectations are read from the registry's own JSON (the raw files and registryDependencies)
or are facts of the shadcn CLI (its alias rules, the 16 sidebar variables dashboard-01 installs,
3 results for "date picker" and 7 for "login").
"""

from __future__ import annotations

import json
import re

import pytest

from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.ui.registry import RegistryClient, get_component, list_components
from mcpfleet.servers.ui.settings import UiSettings
from shadcn_sample import COMPARED, STYLE

IMPORT = re.compile(r"""\bfrom\s*["']([^"']+)["']|\bimport\s*["']([^"']+)["']""")
SIDEBAR_VARS = {
    "sidebar-background",
    "sidebar-foreground",
    "sidebar-primary",
    "sidebar-primary-foreground",
    "sidebar-accent",
    "sidebar-accent-foreground",
    "sidebar-border",
    "sidebar-ring",
}


@pytest.fixture
async def shadcn(shadcn_config):
    settings = load_settings(http={"allow": ["127.0.0.1"]}, servers={"ui": shadcn_config})
    section = settings.server_section("ui", UiSettings)
    client = OutboundClient(settings.http, allow=section.allow)
    yield RegistryClient(client, section)
    await client.aclose()


def raw(root, name: str) -> dict:
    return json.loads((root / "r" / "styles" / STYLE / f"{name}.json").read_text(encoding="utf-8"))


def closure(root, name: str) -> tuple[set[str], set[str]]:
    """The registry-dependency tree of `name` and the npm packages of the whole tree, from the raw files."""
    seen, npm, todo = (
        set(),
        set(raw(root, name).get("dependencies", [])),
        list(raw(root, name).get("registryDependencies", [])),
    )
    while todo:
        dep = todo.pop()
        if dep in seen:
            continue
        seen.add(dep)
        data = raw(root, dep)
        npm |= set(data.get("dependencies", []))
        todo += data.get("registryDependencies", [])
    return seen, npm


def imports(content: str) -> list[str]:
    return [a or b for a, b in IMPORT.findall(content)]


@pytest.mark.parametrize("name", COMPARED)
async def test_an_item_is_what_shadcn_add_writes(shadcn, shadcn_registry, name):
    _, root = shadcn_registry
    answer = await get_component(shadcn, name, None, None)
    tree, npm = closure(root, name)
    assert {r["name"] for r in answer.resolved} == tree
    assert set(answer.npm_all) == npm
    assert answer.command == f"npx shadcn@latest add {name}"
    source = raw(root, name)
    # every file is there, in the registry's order; none dropped
    assert [f["path"] for f in answer.files] == [f["path"] for f in source["files"]]
    for f in answer.files:
        text = f["content"] or ""
        assert "@/registry/" not in text
        for spec in imports(text):
            if spec.startswith(("@/components/ui/", "@/hooks/")):
                # a ui or hook import names an item the tree installs, or is reported
                assert spec.rsplit("/", 1)[-1] in tree | {name} or spec in answer.unlisted_imports, spec
            elif spec.startswith("@/"):
                assert spec == "@/lib/utils" or spec.startswith(("@/components/", "@/lib/", "@/hooks/")), spec
    raw_specs = [s for f in source["files"] for s in imports(f["content"]) if s.startswith("@/registry/")]
    assert sum(f["imports_rewritten"] for f in answer.files) == len(raw_specs)


async def test_imports_the_tree_does_not_install_are_reported(shadcn):
    # The official dialog imports the button but lists no registryDependencies: `shadcn add dialog`
    # writes a file whose import is missing in a project without the button.
    dialog = await get_component(shadcn, "dialog", None, None)
    assert dialog.registry_dependencies == [] and dialog.unlisted_imports == ["@/components/ui/button"]
    assert "dialog.tsx imports @/components/ui/button, which no registryDependency installs" in dialog.text()
    sidebar = await get_component(shadcn, "sidebar", None, None)
    assert sidebar.unlisted_imports == []


async def test_imports_follow_the_cli_rules(shadcn):
    sidebar = (await get_component(shadcn, "sidebar", None, None, file="sidebar.tsx")).files[0]
    whole = sidebar["content"]
    for line in (
        'from "@/components/ui/button"',
        'from "@/hooks/use-mobile"',
        'from "@/lib/utils"',
        'from "@/components/ui/sheet"',
    ):
        assert line in whole
    dashboard = await get_component(shadcn, "dashboard-01", None, None, file="page.tsx")
    page = dashboard.files[0]["content"]
    assert 'from "@/components/app-sidebar"' in page and 'from "@/components/ui/sidebar"' in page
    assert dashboard.files[0]["target"] == "app/dashboard/page.tsx"


async def test_aliases_are_configurable(shadcn_config):
    aliases = {"components": "~/ui-kit", "ui": "~/ui-kit/base", "utils": "~/core/cn", "lib": "~/core", "hooks": "~/use"}
    settings = load_settings(http={"allow": ["127.0.0.1"]}, servers={"ui": {**shadcn_config, "aliases": aliases}})
    section = settings.server_section("ui", UiSettings)
    async with OutboundClient(settings.http, allow=section.allow) as http:
        answer = await get_component(RegistryClient(http, section), "sidebar", None, None, file="sidebar.tsx")
    text = answer.files[0]["content"]
    assert 'from "~/ui-kit/base/button"' in text and 'from "~/use/use-mobile"' in text and 'from "~/core/cn"' in text
    assert "@/" not in "".join(imports(text))


async def test_blocks_carry_the_css_variables_of_their_tree(shadcn):
    dashboard = await get_component(shadcn, "dashboard-01", None, None)
    assert set(dashboard.css_vars) == {"light", "dark"}
    assert set(dashboard.css_vars["light"]) == SIDEBAR_VARS == set(dashboard.css_vars["dark"])
    assert sum(len(v) for v in dashboard.css_vars.values()) == 16
    assert dashboard.css_vars_from == ["sidebar"]
    assert "cssVars.light: --sidebar-background: 0 0% 98%" in dashboard.text()
    button = await get_component(shadcn, "button", None, None)
    assert button.css_vars == {} and button.css_vars_from == []
    theme = await get_component(shadcn, "theme-stone", None, None)
    assert theme.css_vars["light"]["background"] and theme.css_vars_from == ["theme-stone"]


async def test_long_files_are_paged_to_the_end(shadcn, shadcn_registry):
    _, root = shadcn_registry
    first = await get_component(shadcn, "sidebar", None, None)
    head = first.files[0]
    # 21,743 characters in the registry, a little fewer once the imports are rewritten
    assert 20_000 < head["total_length"] <= 21_743 and head["next_start_index"] is not None
    assert f"more with file={head['path']!r}, start_index={head['next_start_index']}" in first.text()
    parts, start = [head["content"]], head["next_start_index"]
    for _ in range(10):  # bounded: 21,743 characters are two pages at 20,000
        if start is None:
            break
        nxt = (await get_component(shadcn, "sidebar", None, None, file=head["path"], start_index=start)).files[0]
        parts.append(nxt["content"])
        start = nxt["next_start_index"]
    assert start is None
    whole = "".join(parts)
    assert len(whole) == head["total_length"]
    assert whole.endswith(raw(root, "sidebar")["files"][0]["content"][-200:])  # the end of the file, reached


async def test_no_file_is_dropped_when_the_budget_runs_out(shadcn, shadcn_registry):
    _, root = shadcn_registry
    answer = await get_component(shadcn, "dashboard-01", None, None)
    paths = [f["path"] for f in raw(root, "dashboard-01")["files"]]
    assert [f["path"] for f in answer.files] == paths
    unread = [f for f in answer.files if f["content"] is None]
    assert unread, "60,000 characters cannot hold dashboard-01's 69,737"
    assert "not shown (budget)" in answer.text()
    for f in unread:
        assert f["path"] in answer.text()
        again = await get_component(shadcn, "dashboard-01", None, None, file=f["path"])
        assert again.files[0]["total_length"] == f["total_length"] > 0
    table = await get_component(shadcn, "dashboard-01", None, None, file="data-table.tsx")
    assert 20_000 < table.files[0]["total_length"] <= 26_873 and table.files[0]["next_start_index"]


async def test_paging_needs_a_file_that_exists(shadcn):
    from mcpfleet.common.errors import UserError

    with pytest.raises(UserError, match="its files: registry/new-york-v4/ui/sidebar.tsx"):
        await get_component(shadcn, "sidebar", None, None, file="nope.tsx")
    with pytest.raises(UserError, match="give file"):
        await get_component(shadcn, "sidebar", None, None, start_index=5)
    with pytest.raises(UserError, match="past the end"):
        await get_component(shadcn, "sidebar", None, None, file="sidebar.tsx", start_index=10**6)


async def test_search_covers_the_whole_catalogue(shadcn):
    everything = await list_components(shadcn, None, None)
    assert everything.total == 471 and everything.url.endswith("/new-york-v4/registry.json")
    picker = await list_components(shadcn, "date picker", None)
    assert [i["name"] for i in picker.items] == [
        "date-picker-demo",
        "date-picker-with-presets",
        "date-picker-with-range",
    ]
    login = await list_components(shadcn, "login", None)
    names = [i["name"] for i in login.items]
    assert len(names) == 7 and names[:5] == [f"login-0{i}" for i in range(1, 6)]
    dashboard = await list_components(shadcn, "dashboard", None)
    assert dashboard.items[0]["name"] == "dashboard-01"
    themes = await list_components(shadcn, "theme", None)
    assert {"theme-stone", "theme-zinc"} <= {i["name"] for i in themes.items}
    hooks = await list_components(shadcn, "use-mobile", None)
    assert hooks.items[0] == {"name": "use-mobile", "type": "registry:hook", "description": ""}
