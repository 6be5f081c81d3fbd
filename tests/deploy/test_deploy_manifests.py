"""The kustomize tree: generated from the registry, rendered by the real kubectl, and safe."""

from __future__ import annotations

import sys

import pytest
import yaml

from deploy_checks import (
    MANIFESTS,
    OVERLAYS,
    allows_internet,
    by_kind,
    component,
    docs,
    egress_by_component,
    k8s_validator_available,
    kustomize,
    run,
    security_problems,
    tool,
    validate_with_k8s,
)
from mcpfleet.common.limits import RedisRateLimiter, rate_limiter
from mcpfleet.registry import all_specs
from mcpfleet.servers.docs.settings import DocsSettings
from mcpfleet.servers.prolog.settings import PrologSettings
from pod_settings import pod_settings

sys.path.insert(0, str(MANIFESTS))
import generate


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {overlay: docs(kustomize(overlay)) for overlay in OVERLAYS}


def test_committed_manifests_match_the_generator():
    result = run(sys.executable, str(MANIFESTS / "generate.py"), "--check")
    assert result.returncode == 0, result.stderr


def test_generator_covers_every_registered_server():
    names = {s.name for s in all_specs()}
    files = generate.render(all_specs())
    for name in names:
        for kind in ("deployment", "service", "hpa", "pdb", "networkpolicy", "servicemonitor"):
            assert f"base/{name}/{kind}.yaml" in files
    assert not {p.split("/")[1] for p in files if p.startswith("base/") and p.count("/") == 2} - names


def test_per_server_facts_come_from_the_specs(rendered):
    """Resources and the data volume of each Deployment are its SPEC's (no table in the generator)."""
    specs = {s.name: s for s in all_specs()}
    for dep in by_kind(rendered["base"], "Deployment"):
        spec = specs[component(dep)]
        pod = dep["spec"]["template"]["spec"]
        res = pod["containers"][0]["resources"]
        if spec.resources is None:
            assert res == generate.DEFAULT_RESOURCES
        else:
            assert (res["requests"]["cpu"], res["requests"]["memory"]) == (spec.resources.cpu, spec.resources.memory)
            assert (res["limits"]["cpu"], res["limits"]["memory"]) == (
                spec.resources.cpu_max,
                spec.resources.memory_max,
            )
            assert res["limits"]["ephemeral-storage"] == spec.resources.disk_max
        assert ("data" in {v["name"] for v in pod["volumes"]}) == spec.data_volume, spec.name


def test_chart_servers_block_is_the_registry():
    """values.yaml's servers: block is generated; a hand edit there is drift that --check reports."""
    specs = all_specs()
    values = yaml.safe_load(generate.CHART_VALUES.read_text())
    assert values["servers"] == generate.chart_servers(specs)
    assert list(values["servers"]) == [s.name for s in specs]
    # the chart's fleet-wide default is the generator's default for a server without resources
    assert values["resources"] == generate.DEFAULT_RESOURCES
    text = generate.CHART_VALUES.read_text()
    assert generate.chart_values(specs, text) == text
    edited = text.replace("  k8s:", "  k8s:    {enabled: true, internet: true}\n  k8sold:", 1)
    assert generate.chart_values(specs, edited) == text


def test_a_new_server_reaches_every_output(tmp_path):
    """A server added to the registry (here a plugin-like spec with a data volume and no shared
    store) gets its base objects, stays at one replica in production, and a chart entry."""
    from mcpfleet.common.spec import Resources, ServerSpec

    extra = ServerSpec(
        name="notes",
        title="Notes",
        description="a test server",
        build="mcpfleet.servers.math.server:build",
        resources=Resources("50m", "64Mi", "500m", "128Mi", "3Gi"),
        data_volume=True,
    )
    specs = [*all_specs(), extra]
    for path, text in generate.render(specs).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    objects = docs(run(tool("kubectl"), "kustomize", str(tmp_path / "overlays" / "production")).stdout)
    deps = {component(d): d for d in by_kind(objects, "Deployment")}
    assert deps["notes"]["spec"]["replicas"] == 1  # its data volume is per pod: not scaled to 3
    assert {v["name"] for v in deps["notes"]["spec"]["template"]["spec"]["volumes"]} == {"tmp", "data"}
    assert all(d["spec"]["replicas"] == generate.PRODUCTION_REPLICAS for n, d in deps.items() if n != "notes")
    hpa = {component(h): h["spec"] for h in by_kind(objects, "HorizontalPodAutoscaler")}
    assert hpa["notes"]["maxReplicas"] == 1 and hpa["math"]["minReplicas"] == generate.PRODUCTION_REPLICAS
    assert security_problems(objects) == []
    block = generate.chart_servers(specs)["notes"]
    assert block["dataVolume"] is True and block["resources"]["limits"]["ephemeral-storage"] == "3Gi"


def test_each_overlay_renders_and_passes_the_security_invariants(rendered):
    for overlay, objects in rendered.items():
        assert security_problems(objects) == [], overlay


def test_base_has_one_of_each_object_per_server(rendered):
    objects = rendered["base"]
    names = {s.name for s in all_specs()}
    for kind in (
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
    ):
        assert sorted(component(o) for o in by_kind(objects, kind)) == sorted(names), kind
    assert all(o["metadata"].get("namespace") == "mcpfleet" for o in objects if o["kind"] != "Namespace")
    ns = by_kind(objects, "Namespace")[0]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for dep in by_kind(objects, "Deployment"):
        args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[:2] == ["serve", component(dep)] and "0.0.0.0" in args
        assert "--insecure-no-auth" not in args  # auth comes from the mcpfleet-auth Secret
        env_from = dep["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        assert env_from == [{"secretRef": {"name": "mcpfleet-auth"}}]


def test_network_policies_follow_the_registry(rendered):
    specs = {s.name: s for s in all_specs()}
    for overlay in ("base", "overlays/production"):
        egress = egress_by_component(rendered[overlay])
        for name, rules in egress.items():
            assert allows_internet(rules) == specs[name].needs_network, (overlay, name)
            if overlay == "base" and not specs[name].needs_network:
                assert rules == [], f"{name} must have no egress at all"
        for np in by_kind(rendered[overlay], "NetworkPolicy"):
            assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
            sources = [peer for rule in np["spec"]["ingress"] for peer in rule["from"]]
            assert {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in sources} == {
                generate.GATEWAY_NAMESPACE,
                generate.MONITORING_NAMESPACE,
            }


def test_private_ranges_are_excluded_from_internet_egress(rendered):
    for rules in egress_by_component(rendered["base"]).values():
        for rule in rules:
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    assert "10.0.0.0/8" in peer["ipBlock"]["except"]
                    assert "169.254.0.0/16" in peer["ipBlock"]["except"]  # cloud metadata


def test_all_overlay_is_one_combined_deployment(rendered):
    objects = rendered["overlays/all"]
    deployments = by_kind(objects, "Deployment")
    assert len(deployments) == 1
    args = deployments[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["serve", "all"]
    assert allows_internet(egress_by_component(objects)["all"]) == any(s.needs_network for s in all_specs())


def test_base_runs_servers_with_pod_state_once(rendered):
    """In the base docs (SQLite) and prolog (memory) keep their state in the pod: one replica."""
    objects = rendered["base"]
    deps = {component(d): d for d in by_kind(objects, "Deployment")}
    hpa = {component(h): h["spec"] for h in by_kind(objects, "HorizontalPodAutoscaler")}
    for name in deps:
        single = name in generate.SHARED_STORES or any(
            v["name"] == "data" for v in deps[name]["spec"]["template"]["spec"]["volumes"]
        )
        assert (deps[name]["spec"]["replicas"] == 1) == single, name
        assert (hpa[name]["maxReplicas"] == 1) == single, name
    assert {"docs", "prolog"} <= set(generate.SHARED_STORES)


def test_production_overlay_wires_the_shared_stores(rendered, monkeypatch, tmp_path):
    """Each pod of the production overlay loads the store URLs from the mcpfleet-stores Secret."""
    urls = {
        (
            generate.STORES_SECRET,
            store.key,
        ): f"{'postgresql' if store.kind == 'postgresql' else 'redis'}://u:pw@{store.key}:1/0"
        for store in (*generate.SHARED_STORES.values(), generate.RATE_LIMIT_STORE)
    }
    objects = rendered["overlays/production"]
    deps = {component(d): d for d in by_kind(objects, "Deployment")}
    for name, dep in deps.items():
        settings = pod_settings(dep, monkeypatch, tmp_path, urls)
        assert isinstance(rate_limiter(settings.limits), RedisRateLimiter), name
        docs_store = settings.server_section("docs", DocsSettings).store
        prolog_store = settings.server_section("prolog", PrologSettings).store
        assert docs_store.startswith("postgresql://") == (name == "docs"), name
        assert prolog_store.startswith("redis://") == (name == "prolog"), name
        pod = dep["spec"]["template"]["spec"]
        assert "data" not in {v["name"] for v in pod["volumes"]}  # the index is in PostgreSQL
        assert "/var/lib/mcpfleet" not in {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    egress = egress_by_component(objects)
    specs = {s.name: s for s in all_specs()}

    def ports(rules):
        return [p["port"] for r in rules for p in r.get("ports", [])]

    for name, rules in egress.items():
        assert ports(rules).count(53) == 2, name  # one DNS rule (UDP + TCP), not a second copy
        assert 6379 in ports(rules) and generate.GATEWAY_JWKS_PORT in ports(rules), name
        assert (5432 in ports(rules)) == (name == "docs"), name
        assert allows_internet(rules) == specs[name].needs_network, name


def test_production_overlay_scales_and_spreads(rendered):
    objects = rendered["overlays/production"]
    for dep in by_kind(objects, "Deployment"):
        assert dep["spec"]["replicas"] == 3
        keys = {c["topologyKey"] for c in dep["spec"]["template"]["spec"]["topologySpreadConstraints"]}
        assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for h in by_kind(objects, "HorizontalPodAutoscaler"):
        assert h["spec"]["minReplicas"] == 3 and h["spec"]["maxReplicas"] >= 3
        assert h["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert by_kind(objects, "PriorityClass")


def test_service_monitors_scrape_metrics(rendered):
    for sm in by_kind(rendered["base"], "ServiceMonitor"):
        assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
        assert sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == component(sm)


def test_a_broken_workload_is_caught_by_the_invariant_check(rendered):
    """The checker itself must notice a regression (guards against a vacuous check)."""
    import copy

    objects = copy.deepcopy(rendered["base"])
    dep = by_kind(objects, "Deployment")[0]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    c["securityContext"]["allowPrivilegeEscalation"] = True
    c["readinessProbe"]["httpGet"]["path"] = f"/{component(dep)}/mcp"
    del c["resources"]["limits"]["memory"]
    problems = security_problems(objects)
    assert any("allowPrivilegeEscalation" in p for p in problems)
    assert any("SSE" in p for p in problems)
    assert any("limits.memory" in p for p in problems)


# --- the k8s server's validator, strict schemas + cerit profile ------------------------------


@pytest.mark.skipif(
    not k8s_validator_available(),
    reason="mcpfleet.servers.k8s.cli (`mcpfleet k8s validate`) is not in this checkout yet",
)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_validator_finds_no_errors_in_overlays(overlay, tmp_path):
    path = tmp_path / "rendered.yaml"
    path.write_text(kustomize(overlay))
    validate_with_k8s(path)
