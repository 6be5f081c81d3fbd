"""Fixes: conservative, explained, round-trip (comments, order, style), re-validated."""

from __future__ import annotations

import textwrap

import pytest

from mcpfleet.common.errors import UserError
from mcpfleet.servers.k8s.engine import fix_text, validate_text

DEPLOYMENT = textwrap.dedent("""\
    # Our API. Owned by team-a.
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: api   # keep this name
      labels:
        zeta: "1"
        alpha: "2"
    spec:
      selector:
        matchLabels: {app: api}
      template:
        metadata:
          labels: {app: api}
        spec:
          containers:
          - name: api
            image: example/api:2.0  # pinned
            env:
            - {name: MODE, value: 'prod'}
            resources:
              requests:
                cpu: 250m
                memory: 256Mi
              limits:
                memory: 256Mi
            readinessProbe: {httpGet: {path: /ready, port: 8080}}
            livenessProbe: {httpGet: {path: /live, port: 8080}}
    """)


def test_restricted_fixes_are_applied_and_explained():
    result = fix_text(DEPLOYMENT, profile="restricted")
    assert sorted(a["rule"] for a in result.applied) == [
        "capabilities-drop-all",
        "privilege-escalation",
        "run-as-non-root",
        "seccomp",
    ]
    assert all(a["description"] and a["kind"] == "Deployment" and a["name"] == "api" for a in result.applied)
    # a read-only root filesystem may break the program: reported, never switched on by a fix
    assert result.remaining.errors == 0
    assert [f.rule for f in result.remaining.findings] == ["read-only-root-filesystem"]
    fixed = result.fixed
    for kept in (
        "# Our API. Owned by team-a.",
        "name: api   # keep this name",
        "image: example/api:2.0  # pinned",
        "value: 'prod'",
        "matchLabels: {app: api}",
    ):
        assert kept in fixed
    assert fixed.index("zeta") < fixed.index("alpha")  # key order kept
    assert "      containers:\n      - name: api\n" in fixed  # the sequence indentation style is kept
    assert "+        allowPrivilegeEscalation: false" in result.diff or "allowPrivilegeEscalation: false" in result.diff
    assert all(line.startswith(("+", "-", " ", "@")) for line in result.diff.splitlines()[2:])
    assert not [line for line in result.diff.splitlines()[2:] if line.startswith("-")]  # only additions


def test_cerit_copies_requests_to_limits_and_reports_what_it_cannot_know():
    result = fix_text(DEPLOYMENT, profile="cerit")
    applied = {a["rule"] for a in result.applied}
    assert "resources-limits" in applied
    assert "limits.cpu = requests.cpu (250m)" in " ".join(a["description"] for a in result.applied)
    remaining = {f.rule for f in result.remaining.findings}
    # a user id and ephemeral-storage sizes cannot be known: reported, not guessed
    assert remaining == {"run-as-user-numeric", "ephemeral-storage", "read-only-root-filesystem"}
    assert "runAsUser" not in result.fixed and "ephemeral-storage" not in result.fixed
    assert "not fixed" in result.text()


def test_limits_only_gets_explicit_requests():
    text = DEPLOYMENT.replace("requests:\n            cpu: 250m\n            memory: 256Mi\n", "requests: {}\n")
    text = text.replace(
        "limits:\n            memory: 256Mi", "limits:\n            memory: 256Mi\n            cpu: '1'"
    )
    result = fix_text(text, profile="cerit")
    report = validate_text(result.fixed, profile="cerit")
    assert "resources-limits" not in {f.rule for f in report.findings}
    assert "requests:\n            cpu: '1'\n            memory: 256Mi\n" in result.fixed  # quoting kept


def test_gpu_fixes_add_limits_and_shared_memory():
    text = textwrap.dedent("""\
        apiVersion: v1
        kind: Pod
        metadata: {name: tp}
        spec:
          volumes:
            - name: dshm
              configMap: {name: unrelated}
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.11.0
              args: ["--tensor-parallel-size", "2"]
              resources:
                requests: {nvidia.com/gpu: 2}
        """)
    result = fix_text(text, profile="best-practices")
    assert {a["rule"] for a in result.applied} == {"gpu-limit", "gpu-shm"}
    assert "limits:\n          nvidia.com/gpu: 2" in result.fixed
    assert "- name: dshm-1\n      emptyDir:\n        medium: Memory" in result.fixed  # a free volume name
    assert "mountPath: /dev/shm" in result.fixed
    assert {f.rule for f in result.remaining.findings} == {
        "probes",
        "inference-startup-probe",
        "read-only-root-filesystem",
    }


def test_values_set_on_purpose_are_not_flipped():
    text = textwrap.dedent("""\
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          securityContext: {runAsNonRoot: false, seccompProfile: {type: Unconfined}}
          containers:
            - name: c
              image: example/c:1
              securityContext: {allowPrivilegeEscalation: true, privileged: true}
        """)
    result = fix_text(text, profile="restricted")
    assert {a["rule"] for a in result.applied} == {"capabilities-drop-all"}
    assert "allowPrivilegeEscalation: true" in result.fixed and "runAsNonRoot: false" in result.fixed
    # under restricted, seccompProfile_restricted judges the Unconfined profile (baseline's rule is replaced)
    remaining = {f.rule for f in result.remaining.findings}
    assert {"privilege-escalation", "run-as-non-root", "seccomp", "privileged"} <= remaining
    assert "seccomp-baseline" not in remaining


def test_clean_input_is_returned_unchanged():
    result = fix_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n")
    assert result.applied == [] and result.diff == "" and result.fixed.startswith("apiVersion: v1")


def test_broken_yaml_is_a_user_error():
    with pytest.raises(UserError, match="at line 3, column 2"):
        fix_text("a: 1\nb: [1\nc: 2\n")


def test_documents_on_the_marker_line_and_unchanged_neighbours():
    text = (
        "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n--- # the pod\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 'a:1'}]}\n"
        "--- {apiVersion: v1, kind: Pod, metadata: {name: q}, spec: {containers: [{name: c, image: 'a:1'}]}}\n"
    )
    result = fix_text(text, profile="restricted")
    assert result.fixed.startswith("--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n--- # the pod\n")
    assert (
        "\n---\n{apiVersion: v1, kind: Pod, metadata: {name: q}" in result.fixed
        or "\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: q}" in result.fixed
    )
    assert {a["document"] for a in result.applied} == {1, 2}
    assert result.remaining.errors == 0
