"""Pod Security Standards per Kubernetes version, exact names, exemptions; List items, strict kinds,
CRDs-catalog directories, DeploymentConfig and readOnlyRootFilesystem. The peer suites
(test_k8s_peer_conformance.py) cover the same ground at scale; these run without ../shared."""

from __future__ import annotations

import json
import textwrap

import pytest

from mcpfleet.servers.k8s.engine import Engine, validate_text
from mcpfleet.servers.k8s.settings import K8sSettings

HARDENED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}


def pod(spec_extra: dict | None = None, container: dict | None = None) -> str:
    spec = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "image": "example/c:1", "securityContext": dict(HARDENED), **(container or {})}],
    }
    for key, value in (spec_extra or {}).items():
        if key == "securityContext":
            spec["securityContext"].update(value)
        else:
            spec[key] = value
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def rules(text: str, version: str, profile: str) -> set[str]:
    return {f.rule for f in validate_text(text, version, profile).findings if f.severity == "error"}


@pytest.mark.parametrize(
    "added, flagged", [(["CHOWN"], False), (["chown"], True), (["CAP_CHOWN"], True), (["SYS_ADMIN"], True)]
)
def test_baseline_capabilities_are_exact_names(added, flagged):
    text = pod(container={"securityContext": {"capabilities": {"add": added}}})
    assert ("capabilities-baseline" in rules(text, "1.33", "baseline")) is flagged


@pytest.mark.parametrize(
    "dropped, flagged", [(["ALL"], False), (["All"], True), (["all"], True), (["NET_RAW", "SYS_ADMIN"], True)]
)
def test_restricted_wants_exactly_all_dropped(dropped, flagged):
    text = pod(container={"securityContext": {**HARDENED, "capabilities": {"drop": dropped}}})
    assert ("capabilities-drop-all" in rules(text, "1.33", "restricted")) is flagged


@pytest.mark.parametrize(
    "sysctl, first_allowed",
    [
        ("net.ipv4.ip_local_reserved_ports", "1.27"),
        ("net.ipv4.tcp_keepalive_time", "1.29"),
        ("net.ipv4.tcp_rmem", "1.32"),
        ("net.ipv4.tcp_notsent_lowat", "1.37"),
    ],
)
def test_sysctls_are_allowed_from_their_version(sysctl, first_allowed):
    text = pod({"securityContext": {"sysctls": [{"name": sysctl, "value": "1"}]}})
    minor = int(first_allowed.split(".")[1])
    assert "sysctls" in rules(text, f"1.{minor - 1}", "baseline")
    assert "sysctls" not in rules(text, first_allowed, "baseline")


def test_proc_mount_in_a_user_namespace_passes_baseline_from_135_only():
    text = pod({"hostUsers": False}, {"securityContext": {**HARDENED, "procMount": "Unmasked"}})
    assert "proc-mount" in rules(text, "1.34", "baseline")
    assert "proc-mount" not in rules(text, "1.35", "baseline")
    assert "proc-mount-restricted" in rules(text, "1.35", "restricted")  # restricted keeps Default
    # in a user namespace from 1.35, running as root is not a restricted finding either
    root = pod({"hostUsers": False, "securityContext": {"runAsUser": 0, "runAsNonRoot": False}})
    assert {"run-as-user", "run-as-non-root"} <= rules(root, "1.34", "restricted")
    assert not {"run-as-user", "run-as-non-root"} & rules(root, "1.35", "restricted")


def test_windows_pods_are_exempt_from_three_restricted_checks():
    text = pod(
        {"os": {"name": "windows"}, "securityContext": {"seccompProfile": None}},
        {"securityContext": {"readOnlyRootFilesystem": True}},
    )
    found = rules(text, "1.33", "restricted")
    assert not {"privilege-escalation", "capabilities-drop-all", "seccomp"} & found
    linux = rules(text.replace('"windows"', '"linux"'), "1.33", "restricted")
    assert {"privilege-escalation", "capabilities-drop-all", "seccomp"} <= linux


def test_probe_and_lifecycle_hosts_are_forbidden_from_134():
    text = pod(
        container={
            "readinessProbe": {"httpGet": {"port": 80, "host": "10.0.0.1"}},
            "lifecycle": {"preStop": {"tcpSocket": {"port": 80, "host": "example.org"}}},
        }
    )
    assert "host-probes" not in rules(text, "1.33", "baseline")
    report = validate_text(text, "1.34", "baseline")
    hits = [f for f in report.findings if f.rule == "host-probes"]
    assert {f.path for f in hits} == {
        "spec.containers[0].readinessProbe.httpGet.host",
        "spec.containers[0].lifecycle.preStop.tcpSocket.host",
    }
    assert all(f.control == "hostProbesAndHostLifecycle" and f.as_dict()["control"] == f.control for f in hits)
    assert "[PSA hostProbesAndHostLifecycle]" in hits[0].render()


def test_container_engine_t_is_an_selinux_type_from_131():
    text = pod({"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}})
    assert "selinux" in rules(text, "1.30", "baseline") and "selinux" not in rules(text, "1.31", "baseline")


def test_list_items_are_validated_as_documents():
    text = textwrap.dedent("""\
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: ConfigMap
            metadata: {name: ok}
          - apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: "two"
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: web, image: "example/web:1"}]}
        """)
    report = validate_text(text, profile="best-practices")
    [bad] = [f for f in report.findings if f.rule == "schema"]
    assert bad.path == "items[1].spec.replicas" and bad.kind == "Deployment" and bad.line == 11
    assert validate_text("apiVersion: v1\nkind: List\nitems: []\n").errors == 0


@pytest.mark.parametrize(
    "api_version, kind, hint",
    [("v1", "Deployment", "apps/v1"), ("apps/v1", "Service", "v1"), ("apps/v1", "Deploymnet", None)],
)
def test_a_kind_missing_from_a_kubernetes_group_is_an_error(api_version, kind, hint):
    report = validate_text(f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n")
    [finding] = [f for f in report.findings if f.severity == "error"]
    assert finding.rule == "api-not-available" and report.errors == 1
    assert (f"served as {hint}" in finding.message) if hint else "served as" not in finding.message
    # a CRD group is not Kubernetes': still a warning
    assert validate_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n").errors == 0


def test_catalog_schemas_without_a_kind_enum_load_from_crd_dirs(tmp_path):
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
        },
    }
    (tmp_path / "example.com").mkdir()
    (tmp_path / "example.com" / "widget_v1.json").write_text(json.dumps(schema))
    engine = Engine(K8sSettings(crd_dirs=[str(tmp_path)]))
    good = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"
    assert engine.validate_text(good).findings == []
    bad = engine.validate_text(good.replace("size: 3", "size: big, colour: red"))
    assert {f.path for f in bad.findings} == {"spec.size", "spec.colour"}
    # a schema that appears in the directory later (the fetch cache) is found without a restart
    (tmp_path / "example.com" / "gadget_v1.json").write_text(json.dumps(schema))
    assert engine.validate_text(good.replace("Widget", "Gadget")).findings == []


def test_deployment_configs_are_inspected_like_deployments():
    text = textwrap.dedent("""\
        apiVersion: apps.openshift.io/v1
        kind: DeploymentConfig
        metadata: {name: dc}
        spec:
          selector: {app: other}
          template:
            metadata: {labels: {app: dc}}
            spec:
              containers: [{name: c, image: "example/c:1", securityContext: {privileged: true}}]
        """)
    found = {f.rule for f in validate_text(text, profile="baseline").findings}
    assert {"privileged", "selector-labels", "read-only-root-filesystem", "unknown-kind"} <= found


def test_read_only_root_filesystem_is_a_best_practice_warning():
    text = pod(container={"securityContext": {**HARDENED, "readOnlyRootFilesystem": False}})
    [finding] = [f for f in validate_text(text, profile="cerit").findings if f.rule == "read-only-root-filesystem"]
    assert finding.severity == "warning" and not finding.fixable
    assert "read-only-root-filesystem" not in {f.rule for f in validate_text(pod(), profile="restricted").findings}
