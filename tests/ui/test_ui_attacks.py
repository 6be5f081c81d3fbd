"""`servers.ui.allow` exempts the operator's internal registries from the SSRF guard; it must not
let a caller (or a registry item) reach any other URL on those hosts or ranges."""

from __future__ import annotations

import pytest

from mcpfleet.common.errors import BlockedDestination
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.ui.registry import RegistryClient, get_component, list_components, official, resolve_ref
from mcpfleet.servers.ui.settings import UiSettings


@pytest.fixture
async def allowed_only_for_registries(ui_config, acme_token):
    # 127.0.0.1 is allowed for the ui server's configured registries only, not fleet-wide
    settings = load_settings(servers={"ui": {**ui_config, "allow": ["127.0.0.1"]}})
    ui = settings.server_section("ui", UiSettings)
    trusted = OutboundClient(settings.http, allow=ui.allow)
    public = OutboundClient(settings.http)
    yield RegistryClient(trusted, ui, public)
    await trusted.aclose()
    await public.aclose()


async def test_configured_registries_still_reach_allowed_hosts(allowed_only_for_registries):
    client = allowed_only_for_registries
    assert (await get_component(client, "card", None, None)).name == "card"
    assert (await get_component(client, "@acme/hero", None, None)).name == "hero"
    # a URL dependency named by a configured registry's item, on that registry's origin
    uses = await get_component(client, "uses-url", None, None)
    assert {r["name"] for r in uses.resolved} >= {"extra", "cta"}


async def test_a_caller_url_is_not_exempt(allowed_only_for_registries, registry_server):
    client = allowed_only_for_registries
    base = registry_server.base
    before = dict(registry_server.hits)
    with pytest.raises(BlockedDestination):
        await get_component(client, f"{base}/plain/extra.json", None, None)
    with pytest.raises(BlockedDestination):
        await get_component(client, "extra", f"{base}/plain/registry.json", None)
    with pytest.raises(BlockedDestination):
        await list_components(client, None, f"{base}/acme/registry.json")
    assert dict(registry_server.hits) == before  # nothing was sent


async def test_the_cache_does_not_answer_a_caller_url(allowed_only_for_registries, registry_server):
    client = allowed_only_for_registries
    await get_component(client, "card", None, None)  # cached from the trusted fetch
    with pytest.raises(BlockedDestination):
        await get_component(client, f"{registry_server.base}/r/styles/new-york-v4/card.json", None, None)


def test_url_references_inherit_trust_only_on_configured_origins(ui_config):
    ui = UiSettings(**{**ui_config, "allow": ["10.0.0.0/8"]})
    same_origin = ui_config["official_index"].rsplit("/r/", 1)[0] + "/anything.json"
    shadcn = official(ui)
    assert resolve_ref(same_origin, shadcn, ui, "new-york-v4", from_trusted=True).registry.trusted
    assert not resolve_ref(same_origin, shadcn, ui, "new-york-v4", from_trusted=False).registry.trusted
    assert not resolve_ref("http://10.1.2.3/r/x.json", shadcn, ui, "new-york-v4", from_trusted=True).registry.trusted


@pytest.fixture(scope="module")
def big_items():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from fleet_testing import running_app

    async def big(request):
        name = request.path_params["name"]
        return JSONResponse(
            {
                "name": name,
                "type": "registry:ui",
                "files": [{"path": f"ui/{name}.tsx", "type": "registry:ui", "content": "x" * 300_000}],
            }
        )

    with running_app(Starlette(routes=[Route("/big/{name}.json", big)])) as url:
        yield url


async def test_the_item_cache_is_bounded_by_bytes(ui_config, big_items):
    settings = load_settings(http={"allow": ["127.0.0.1"]}, servers={"ui": ui_config})
    ui = settings.server_section("ui", UiSettings)
    async with OutboundClient(settings.http) as http:
        client = RegistryClient(http, ui, cache_bytes=1_000_000)
        for n in range(8):  # caller-chosen URLs, ~300 KB each; cache_entries (512) alone would keep all
            await get_component(client, f"{big_items}/big/item{n}.json", None, None)
        assert 0 < len(client.cache) <= 3
        assert client.cache.size <= 1_000_000
        # the newest is still served from the cache
        assert (await get_component(client, f"{big_items}/big/item7.json", None, None)).name == "item7"
