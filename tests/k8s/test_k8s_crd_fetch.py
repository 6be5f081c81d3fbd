"""CRD schemas from a URL template (CRDs-catalog layout) through the fleet's outbound client, cached
on disk, served here by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from fleet_testing import fleet_client
from local_http import serving
from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.k8s.crds import catalog_path, fetch_catalog_schemas
from mcpfleet.servers.k8s.engine import Engine
from mcpfleet.servers.k8s.settings import K8sSettings

SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string", "enum": ["ScaledObject"]},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {"type": "object", "properties": {"name": {"type": "string"}}},
                "minReplicaCount": {"type": "integer"},
                "maxReplicaCount": {"type": "integer"},
                "cooldownPeriod": {"type": "integer"},
                "triggers": {
                    "type": "array",
                    "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
        },
    },
}
GOOD = (
    "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\n"
    "spec: {scaleTargetRef: {name: vllm}, triggers: [{type: cpu, metadata: {value: '50'}}]}\n"
)
BAD = "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\nspec: {scaleTargetRef: {name: vllm}, maxReplicas: 3}\n"


@pytest.fixture
def catalog():
    requests: list[str] = []

    def answer(path: str):
        return (200, SCHEMA) if path == "/keda.sh/scaledobject_v1alpha1.json" else (404, b"not found")

    with serving(answer, record=requests) as base:
        yield base, requests


def settings_for(base: str, cache, allow: bool = True):
    return load_settings(
        http={"allow": ["127.0.0.1"] if allow else []},
        servers={
            "k8s": {
                "crd_url_template": base + "/{group}/{kind}_{version}.json",
                "crd_cache_dir": str(cache),
                "profile": "best-practices",
            }
        },
    )


async def test_schemas_are_fetched_once_then_read_from_the_disk_cache(catalog, tmp_path):
    base, requests = catalog
    settings = settings_for(base, tmp_path / "cache")
    async with fleet_client("k8s", settings) as c:
        bad = (await c.call_tool("k8s_validate", {"manifest": BAD})).structured_content
        assert {(f["rule"], f["path"]) for f in bad["findings"]} == {("schema", "spec"), ("schema", "spec.maxReplicas")}
        good = (await c.call_tool("k8s_validate", {"manifest": GOOD})).structured_content
        assert good["findings"] == []
        unknown = "apiVersion: example.org/v1\nkind: Widget\nmetadata: {name: w}\n"
        assert [
            f["rule"] for f in (await c.call_tool("k8s_validate", {"manifest": unknown})).structured_content["findings"]
        ] == ["unknown-kind"]
    assert requests == ["/keda.sh/scaledobject_v1alpha1.json", "/example.org/widget_v1.json"]
    assert catalog_path(tmp_path / "cache", "keda.sh/v1alpha1", "ScaledObject").is_file()
    # a new server (a restart) reads the cache: no more requests for the ScaledObject
    async with fleet_client("k8s", settings) as c:
        again = (await c.call_tool("k8s_validate", {"manifest": BAD})).structured_content
    assert again["errors"] == 2 and requests.count("/keda.sh/scaledobject_v1alpha1.json") == 1


async def test_the_ssrf_guard_still_applies(catalog, tmp_path):
    base, requests = catalog
    settings = settings_for(base, tmp_path / "cache", allow=False)
    engine = Engine(settings.server_section("k8s", K8sSettings))
    assert await fetch_catalog_schemas(engine, BAD, "1.37", settings.http) == 0
    assert requests == []
    assert [f.rule for f in engine.validate_text(BAD).findings] == ["unknown-kind"]


def test_a_template_needs_a_cache_dir():
    with pytest.raises(ConfigError, match="crd_cache_dir"):
        Engine(K8sSettings(crd_url_template="https://example.org/{group}/{kind}_{version}.json"))


def test_catalog_paths_refuse_odd_names(tmp_path):
    assert catalog_path(tmp_path, "v1", "Pod") is None
    assert catalog_path(tmp_path, "../../etc/v1", "Passwd") is None
    assert catalog_path(tmp_path, "../v1", "Up") is None
    assert catalog_path(tmp_path, "a..b/v1", "Up") is None
    assert catalog_path(tmp_path, "keda.sh/v1alpha1", "Scaled/../Object") is None
    assert (
        catalog_path(tmp_path, "keda.sh/v1alpha1", "ScaledObject")
        == tmp_path / "keda.sh" / "scaledobject_v1alpha1.json"
    )
