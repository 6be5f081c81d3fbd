"""Every example passes the schema and the cerit profile: no errors, and warnings only for CRD kinds."""

from __future__ import annotations

import pytest

from mcpfleet.common.errors import UserError
from mcpfleet.servers.k8s.engine import fix_text, validate_text
from mcpfleet.servers.k8s.examples import example, topics

ISSUE_TOPICS = {
    "vllm",
    "sglang",
    "vllm-multinode",
    "kserve",
    "dra-gpu",
    "podmonitor",
    "keda",
    "web-app",
    "cronjob",
    "statefulset",
}
CRD_KINDS = {"LeaderWorkerSet", "InferenceService", "PodMonitor", "ScaledObject"}


def test_the_issue_topics_are_all_there():
    assert set(topics()) == ISSUE_TOPICS
    listing = example()
    assert {t["topic"] for t in listing["topics"]} == ISSUE_TOPICS
    assert all(t["description"] for t in listing["topics"])


@pytest.mark.parametrize("topic", sorted(ISSUE_TOPICS))
@pytest.mark.parametrize("profile", ["cerit", "restricted", "baseline"])
def test_examples_pass_their_own_validator(topic, profile):
    manifest = example(topic)["manifest"]
    report = validate_text(manifest, profile=profile)
    assert report.errors == 0, report.text()
    assert {(f.rule, f.kind) for f in report.findings} <= {("unknown-kind", k) for k in CRD_KINDS}, report.text()
    assert report.documents >= 1
    # nothing for the fixer to do either
    assert fix_text(manifest, profile=profile).applied == []


def test_examples_say_what_they_contain():
    vllm = example("vllm")["manifest"]
    assert "nvidia.com/gpu" in vllm and "kind: Service" in vllm and "/dev/shm" in vllm
    assert "leaderworkerset.x-k8s.io" in example("lws")["manifest"]
    assert "resource.k8s.io/v1\n" in example("DRA")["manifest"]
    assert "vllm:num_requests_running" in example("keda")["manifest"]
    assert "volumeClaimTemplates" in example("statefulset")["manifest"]


def test_the_dra_example_needs_kubernetes_134():
    report = validate_text(example("dra-gpu")["manifest"], "1.33", "cerit")
    assert [f.rule for f in report.findings] == ["api-not-available"]


def test_unknown_topic():
    with pytest.raises(UserError, match="topics: "):
        example("mainframe")


@pytest.mark.parametrize(
    "asked, topic",
    [
        ("multi-node", "vllm-multinode"),
        ("pod-monitor", "podmonitor"),
        ("PodMonitor", "podmonitor"),
        ("LeaderWorkerSet", "vllm-multinode"),
        ("web app", "web-app"),
        ("stateful_set", "statefulset"),
    ],
)
def test_topics_match_whatever_the_separators(asked, topic):
    assert example(asked)["topic"] == topic
