"""The peers' own fixtures (../shared/peer-suites/k8s): PSA, kubeconform, kube-linter, Polaris.

Every case runs (PSA at each version it lists). Agreement must be at least 99 % on PSA for every
Kubernetes version, 98 % on kubeconform, and 100 % on kube-linter and Polaris outside the
deliberate differences of peer_differences.yaml, which the README's k8s section lists too.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from k8s_peer_conformance import load_differences, run, summarise

from shared_data import shared_path

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def outcomes():
    return run(shared_path("peer-suites", "k8s"))


def _rate(items) -> float:
    return sum(o.agrees for o in items) / len(items)


def _failures(items) -> str:
    return "\n".join(f"{o.case} ({o.family}): peer {o.expect}, we {o.got}" for o in items if not o.agrees)


def test_every_peer_and_case_ran(outcomes):
    counts = defaultdict(int)
    for o in outcomes:
        counts[o.peer] += 1
    # 160 PSA fixtures over their versions, and every case of the other three
    assert (
        counts["psa"] > 160 and counts["kubeconform"] == 27 and counts["kube-linter"] == 82 and counts["polaris"] == 66
    )


def test_psa_agrees_on_every_version(outcomes):
    by_version = defaultdict(list)
    for o in outcomes:
        if o.peer == "psa":
            by_version[o.case.rsplit("@", 1)[1]].append(o)
    assert len(by_version) == 13  # 1.25 .. 1.37
    for version, items in sorted(by_version.items()):
        assert _rate(items) >= 0.99, f"Kubernetes {version}:\n{_failures(items)}"


def test_kubeconform_agrees(outcomes):
    items = [o for o in outcomes if o.peer == "kubeconform"]
    assert _rate(items) >= 0.98, _failures(items)


@pytest.mark.parametrize("peer", ["kube-linter", "polaris"])
def test_linters_agree_on_everything_in_scope(outcomes, peer):
    known = load_differences()
    items = [o for o in outcomes if o.peer == peer and o.in_scope and o.case not in known]
    assert items and _rate(items) == 1.0, _failures(items)


def test_the_difference_list_is_current(outcomes):
    """Each listed difference still differs (a fixed one must leave the list) and has a reason."""
    known = load_differences()
    by_case = {o.case: o for o in outcomes}
    for case, entry in known.items():
        assert case in by_case, f"{case}: no such case in the suite"
        assert not by_case[case].agrees, f"{case} agrees with {entry['peer']} now; remove it from the list"
        assert len(entry.get("reason", "")) > 20


def test_the_readme_lists_the_differences():
    section = README.read_text(encoding="utf-8")
    for case in load_differences():
        assert f"`{case}`" in section, f"README's k8s section does not list {case}"


def test_summary_counts_in_scope_cases(outcomes):
    table = summarise(outcomes)
    assert table[("psa", "*")][1] == sum(o.peer == "psa" for o in outcomes)
    assert all(ok <= total for ok, total in table.values())
