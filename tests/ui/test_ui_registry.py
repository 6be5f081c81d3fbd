"""shadcn registries against a real HTTP registry on 127.0.0.1: listing, items, dependencies, validation, caching."""

from __future__ import annotations

import time

import pytest

from mcpfleet.common.errors import BlockedDestination, UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.ui.registry import (
    MalformedItem,
    RegistryClient,
    get_component,
    list_components,
    pick_registry,
    validate_item,
)
from mcpfleet.servers.ui.settings import UiSettings


@pytest.fixture
async def registries(ui_config, acme_token):
    clients = []

    def make(http: dict | None = None, clock=time.monotonic, **section) -> RegistryClient:
        settings = load_settings(
            http={"allow": ["127.0.0.1"], **(http or {})}, servers={"ui": {**ui_config, **section}}
        )
        ui = settings.server_section("ui", UiSettings)
        client = OutboundClient(settings.http, allow=ui.allow)
        clients.append(client)
        return RegistryClient(client, ui, clock=clock)

    yield make
    for client in clients:
        await client.aclose()


# --- validation (no network) ---------------------------------------------------------------------


def test_valid_item_keeps_its_parts():
    item = validate_item(
        {
            "name": "x",
            "type": "registry:block",
            "dependencies": ["zod"],
            "registryDependencies": ["button"],
            "files": [{"path": "a/page.tsx", "type": "registry:page", "target": "app/page.tsx", "content": "c"}],
            "cssVars": {"light": {"a": "1"}},
        }
    )
    assert item["files"][0]["target"] == "app/page.tsx"
    assert item["dependencies"] == ["zod"] and item["cssVars"] == {"light": {"a": "1"}}


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ([1, 2], "must be a JSON object"),
        ({"type": "registry:ui", "files": []}, "'name' is missing"),
        ({"name": "x", "type": "ui", "files": []}, "'type' is 'ui'"),
        (
            {"name": "x", "type": "registry:ui", "files": [{"type": "registry:ui", "content": ""}]},
            "files[0].path is missing",
        ),
        (
            {"name": "x", "type": "registry:ui", "files": [{"path": "p", "type": "registry:file", "content": ""}]},
            "files[0].target is required for registry:file",
        ),
        (
            {"name": "x", "type": "registry:ui", "files": [{"path": "p", "type": "registry:ui"}]},
            "files[0].content is missing",
        ),
        ({"name": "x", "type": "registry:ui", "files": "a.tsx"}, "'files' must be a list"),
        (
            {"name": "x", "type": "registry:ui", "registryDependencies": "button"},
            "'registryDependencies' must be a list",
        ),
        ({"name": "x", "type": "registry:ui", "cssVars": {"light": {"a": 1}}}, "cssVars.light"),
    ],
)
def test_malformed_items_say_what_is_wrong(data, complaint):
    with pytest.raises(MalformedItem) as caught:
        validate_item(data)
    assert complaint in str(caught.value)


def test_an_item_with_too_many_files_is_refused_before_it_is_checked():
    with pytest.raises(MalformedItem, match="lists 100000 files; at most 1000"):
        validate_item({"name": "x", "type": "registry:ui", "files": [{}] * 100_000})


def test_registry_forms():
    section = UiSettings(registries={"@acme": "https://acme.example/r/{name}.json"})
    assert pick_registry(None, section).official
    acme = pick_registry("@acme", section)
    assert acme.url("hero", "x") == "https://acme.example/r/hero.json"
    assert acme.index_url == "https://acme.example/r/registry.json"
    listed = pick_registry("https://reg.example/r/registry.json", section)
    assert listed.url("card", "x") == "https://reg.example/r/card.json"
    base = pick_registry("https://reg.example/r/", section)
    assert (base.index_url, base.url("a b", "x")) == (
        "https://reg.example/r/registry.json",
        "https://reg.example/r/a%20b.json",
    )
    with pytest.raises(UserError, match="unknown registry namespace '@nope'"):
        pick_registry("@nope", section)
    with pytest.raises(UserError, match="neither a URL"):
        pick_registry("file:///etc/passwd", section)


# --- over HTTP -------------------------------------------------------------------------------------


async def test_list_and_search(registries):
    client = registries()
    everything = await list_components(client, None, None)
    names = [i["name"] for i in everything.items]
    assert {"button", "dialog", "login-form", "use-mobile"} <= set(names)
    assert "button-demo" not in names  # examples are not in the index
    assert everything.malformed_entries == 1  # bad-entry has a type outside registry:*
    found = await list_components(client, "dialog", None)
    assert [i["name"] for i in found.items] == ["dialog"]
    hooks = await list_components(client, "hook", None)
    assert [i["name"] for i in hooks.items] == ["use-mobile"]
    none = await list_components(client, "zzzz-nothing", None)
    assert none.total == 0 and "no items match" in none.text()


async def test_component_with_nested_dependencies(registries):
    answer = await get_component(registries(), "login-form", None, None)
    assert answer.kind == "registry:block"
    assert answer.command == "npx shadcn@latest add login-form"
    resolved = {r["name"]: r["required_by"] for r in answer.resolved}
    assert resolved == {"card": "login-form", "dialog": "login-form", "button": "dialog"}
    assert answer.npm_all == ["@radix-ui/react-dialog", "@radix-ui/react-slot", "class-variance-authority"]
    page = next(f for f in answer.files if f["type"] == "registry:page")
    assert page["target"] == "app/login/page.tsx" and "export default function Page" in page["content"]
    assert answer.problems == []


async def test_cycle_is_resolved_once(registries):
    answer = await get_component(registries(), "loop-a", None, None)
    assert sorted(r["name"] for r in answer.resolved) == ["card", "loop-b", "loop-c"]
    assert answer.problems == []


async def test_dependency_chain_is_bounded(registries):
    answer = await get_component(registries(max_dependencies=5), "deep-0", None, None)
    assert len(answer.resolved) == 5
    assert any("stopped after 5" in p for p in answer.problems)


async def test_css_vars_docs_and_examples(registries):
    answer = await get_component(registries(), "button", None, None)
    assert answer.css_vars["dark"] == {"primary": "oklch(0.922 0 0)"}
    assert answer.dependencies == ["@radix-ui/react-slot", "class-variance-authority"]
    assert answer.examples[0]["name"] == "button-demo" and "<Button>" in answer.examples[0]["content"]
    assert "--primary: oklch(0.205 0 0)" in answer.text() and "asChild" in answer.text()
    # an item without a -demo item simply has no examples
    assert (await get_component(registries(), "card", None, None)).examples == []


async def test_style_picks_the_item_url(registries):
    answer = await get_component(registries(), "card", None, "default")
    assert "/styles/default/card.json" in answer.url and "default style" in answer.description
    with pytest.raises(UserError, match="not a style name"):
        await get_component(registries(), "card", None, "../etc")


async def test_malformed_item_and_missing_item(registries):
    client = registries()
    with pytest.raises(MalformedItem) as caught:
        await get_component(client, "broken-item", None, None)
    message = str(caught.value)
    assert "'broken-item'" in message and "'type'" in message and "files[0].path is missing" in message
    assert "files[1].target is required" in message and "'dependencies' must be a list" in message
    with pytest.raises(UserError, match="no item 'nope' in registry shadcn.*ui_components lists them"):
        await get_component(client, "nope", None, None)
    with pytest.raises(UserError, match="not an item name"):
        await get_component(client, "../../secret", None, None)


async def test_bad_dependencies_are_reported_not_fatal(registries):
    answer = await get_component(registries(), "uses-broken", None, None)
    assert [r["name"] for r in answer.resolved] == ["button"]
    problems = " | ".join(answer.problems)
    assert "broken-item" in problems and "malformed" in problems
    assert "no-such-item" in problems and "404" in problems


async def test_namespaced_registry_with_token(registries):
    client = registries()
    listing = await list_components(client, None, "@acme")
    assert sorted(i["name"] for i in listing.items) == ["brand-theme", "cta", "hero"]
    hero = await get_component(client, "@acme/hero", None, None)
    assert hero.command == "npx shadcn@latest add @acme/hero"
    # @acme/cta from acme, bare "button" from the official registry, then button's own tree
    assert {r["name"]: r["url"].split("/")[3] for r in hero.resolved} == {"cta": "acme", "button": "r"}
    assert hero.npm_all == ["@radix-ui/react-slot", "class-variance-authority", "lucide-react", "motion"]
    same = await get_component(client, "hero", "@acme", None)
    assert same.url == hero.url
    theme = await get_component(client, "@acme/brand-theme", None, None)
    assert theme.files == [] and theme.css_vars["light"]["brand"] == "oklch(0.6 0.2 250)"


async def test_namespace_without_its_token(registries, monkeypatch):
    monkeypatch.delenv("ACME_TEST_TOKEN")
    with pytest.raises(UserError, match="needs the environment variable ACME_TEST_TOKEN"):
        await get_component(registries(), "@acme/hero", None, None)


async def test_url_dependencies_and_url_registry(registries, registry_server):
    client = registries()
    answer = await get_component(client, "uses-url", None, None)
    assert {r["name"] for r in answer.resolved} == {"extra", "cta", "card"}
    item_url = f"{registry_server.base}/plain/extra.json"
    direct = await get_component(client, item_url, None, None)
    assert direct.command == f"npx shadcn@latest add {item_url}" and direct.examples == []
    by_registry = await get_component(client, "extra", f"{registry_server.base}/plain/registry.json", None)
    assert by_registry.url == item_url
    with pytest.raises(MalformedItem, match="is not JSON"):
        await get_component(client, "notjson", f"{registry_server.base}/plain/", None)


async def test_items_are_cached_for_the_ttl(registries, registry_server):
    now = [0.0]
    client = registries(http={"cache_ttl": 0}, cache_ttl=0.5, clock=lambda: now[0])  # the registry cache, not HTTP's
    path = "/r/styles/new-york-v4/card.json"
    before = registry_server.hits[path]
    await get_component(client, "card", None, None)
    await get_component(client, "card", None, None)
    assert registry_server.hits[path] == before + 1
    now[0] += 0.7
    await get_component(client, "card", None, None)
    assert registry_server.hits[path] == before + 2


async def test_registry_fetches_pass_the_ssrf_guard(ui_config, acme_token):
    settings = load_settings(servers={"ui": ui_config})  # 127.0.0.1 not allowed
    ui = settings.server_section("ui", UiSettings)
    async with OutboundClient(settings.http, allow=ui.allow) as http:
        with pytest.raises(BlockedDestination, match="loopback"):
            await get_component(RegistryClient(http, ui), "card", None, None)
