"""Odd but valid YAML never crashes a rule or a fix: every shape is a finding or nothing."""

from __future__ import annotations

import importlib.util

import pytest

from mcpfleet.common.errors import ConfigError
from mcpfleet.servers.k8s.engine import Engine, fix_text, validate_text
from mcpfleet.servers.k8s.settings import K8sSettings

POD = "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {spec}\n"
ODD_SPECS = [
    "null",
    "[]",
    "'text'",
    "{containers: x}",
    "{containers: [1, null, [], x]}",
    "{containers: [{name: c}]}",
    "{containers: [{name: c, securityContext: []}]}",
    "{containers: [{name: c, securityContext: {capabilities: x}}]}",
    "{containers: [{name: c, securityContext: {capabilities: {drop: x, add: 7}}}]}",
    "{containers: [{name: c, resources: {requests: 5}}]}",
    "{containers: [{name: c, resources: {limits: []}}]}",
    "{containers: [{name: c, resources: {requests: {nvidia.com/gpu: x}, limits: {nvidia.com/gpu: [1]}}}]}",
    "{containers: [{name: c, ports: '80'}]}",
    "{containers: [{name: c, ports: [80, {containerPort: x}]}]}",
    "{containers: [{name: c, args: [--tensor-parallel-size], command: 'vllm serve'}]}",
    "{containers: [{name: c, args: ['--tp=x', '--tp', 'y', \"unbalanced 'quote\"], resources: {limits: {a/gpu: 1}}}]}",
    "{containers: [{name: c, volumeMounts: [x, {mountPath: /dev/shm}]}], volumes: x}",
    "{volumes: [x, {name: v, emptyDir: {medium: Memory, sizeLimit: lots}}], containers: []}",
    "{securityContext: x, containers: [{name: c, image: 7}]}",
    "{securityContext: {sysctls: [x, {}]}, hostNetwork: yes}",
    "{containers: [{name: c, startupProbe: {failureThreshold: x, periodSeconds: true}, image: vllm/vllm-openai}]}",
]


@pytest.mark.parametrize("spec", ODD_SPECS)
@pytest.mark.parametrize("profile", ["cerit", "best-practices"])
def test_odd_pod_specs(spec, profile):
    text = POD.format(spec=spec)
    report = validate_text(text, profile=profile)
    assert all(f.line and f.rule for f in report.findings)
    result = fix_text(text, profile=profile)
    assert validate_text(result.fixed, profile=profile).errors == result.remaining.errors


@pytest.mark.parametrize(
    "text",
    [
        "",
        "---\n---\n",
        "# only a comment\n",
        "42\n",
        "'a string'\n",
        "[1, 2]\n",
        "{}\n",
        "kind: 5\napiVersion: [x]\n",
        "apiVersion: v1\nkind: Service\nmetadata: x\nspec: {selector: [a]}\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: x, template: []}\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchExpressions: [x, {key: a}]},"
        " template: {metadata: {labels: x}, spec: {containers: []}}}\n",
        "a: &x {b: *x}\n",
        "? [complex, key]\n: value\n",
        "1: one\n2: two\n",
        "date: 2024-01-01\nkind: =\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  <<: {a: b}\n",
    ],
)
def test_odd_documents(text):
    report = validate_text(text, profile="cerit")
    assert report.errors >= 0  # no exception, and findings are well formed
    assert all(f.severity in ("error", "warning", "info") for f in report.findings)
    if not any(f.rule == "yaml-syntax" for f in report.findings):
        fix_text(text, profile="cerit")


def test_live_cluster_crds_need_the_kubernetes_client():
    if importlib.util.find_spec("kubernetes") is not None:
        pytest.skip("the kubernetes client is installed; this checks the message when it is not")
    with pytest.raises(ConfigError, match="pip install kubernetes"):
        Engine(K8sSettings(cluster_crds=True))


def test_fixes_never_overwrite_a_value_of_the_wrong_type():
    text = POD.format(
        spec="{securityContext: [], containers: [{name: c, image: a:1, securityContext: {capabilities: x}}]}"
    )
    result = fix_text(text, profile="restricted")
    assert {a["rule"] for a in result.applied} == {"privilege-escalation"}
    assert "securityContext: []" in result.fixed and "capabilities: x" in result.fixed
    assert {"schema", "run-as-non-root", "seccomp", "capabilities-drop-all"} <= {
        f.rule for f in result.remaining.findings
    }
