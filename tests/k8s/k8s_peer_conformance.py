"""Run the peers' own test fixtures (../shared/peer-suites/k8s) through the engine and compare.

A `fail` case agrees when the engine reports a finding of the case's family; a `pass` case agrees
when it reports none (families and their matching rules are the suite's `expected.yaml`). Known,
deliberate differences are listed in `peer_differences.yaml` beside this file, each with its
reason; the README's k8s section shows the same list.

    python tests/k8s/k8s_peer_conformance.py [SUITE_DIR]   # prints agreement per peer and family
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DIFFERENCES_FILE = HERE / "peer_differences.yaml"
PEERS = ("psa", "kubeconform", "kube-linter", "polaris")


@dataclass(frozen=True)
class Outcome:
    peer: str
    case: str  # a stable id: file, document and version
    family: str
    expect: str
    got: str  # "fail" when a finding of the family was reported
    in_scope: bool

    @property
    def agrees(self) -> bool:
        return self.expect == self.got


def load_differences() -> dict[str, dict]:
    """Case id → {reason, scope?}: cases we answer differently from the peer on purpose."""
    data = yaml.safe_load(DIFFERENCES_FILE.read_text(encoding="utf-8")) or {}
    return {d["case"]: d for d in data.get("differences", [])}


def _matches(family: dict, finding) -> bool:
    rules = family.get("rules") or []
    if rules and finding.rule not in rules:
        return False
    if not rules and not family.get("path_re"):
        return False  # e.g. `base`: nothing counts as that family
    if family.get("path_re") and not re.search(family["path_re"], finding.path):
        return False
    if family.get("msg_re") and not re.search(family["msg_re"], finding.message):
        return False
    if family.get("text_re") and not re.search(family["text_re"], finding.render()):
        return False
    severities = family.get("severities")
    return not severities or finding.severity in severities


def case_id(peer: str, case: dict, version: str | None = None) -> str:
    out = case["file"]
    if "document" in case:
        out += f"#{case['document']}"
    if case.get("crd_dirs"):
        out += "+crds:" + ",".join(case["crd_dirs"])
    if version and peer == "psa":
        out += f"@{version}"
    return out


def run(suite: Path) -> list[Outcome]:
    from mcpfleet.servers.k8s.engine import Engine
    from mcpfleet.servers.k8s.settings import K8sSettings

    expected = yaml.safe_load((suite / "expected.yaml").read_text(encoding="utf-8"))
    families = expected["families"]
    overrides = load_differences_families()
    engines: dict[tuple, Engine] = {}
    out: list[Outcome] = []
    for peer in PEERS:
        for case in expected[peer]:
            crd_dirs = tuple(str(suite / d) for d in case.get("crd_dirs") or ())
            engine = engines.get(crd_dirs)
            if engine is None:
                engine = engines[crd_dirs] = Engine(K8sSettings(crd_dirs=list(crd_dirs)))
            family = {**families[case["family"]], **overrides.get(case["family"], {})}
            text = (suite / case["file"]).read_text(encoding="utf-8")
            profile = case.get("level") or case.get("profile")
            versions = case.get("versions") or [case.get("version")]
            in_scope = case.get("scope") not in SCOPES_NOT_CLAIMED and family.get("claimed", True) is not False
            for version in versions:
                report = engine.validate_text(text, version, profile)
                findings = [f for f in report.findings if "document" not in case or f.document == case["document"]]
                if case.get("require_schema") and any(f.rule == "unknown-kind" for f in findings):
                    got = "fail"  # the schema had to be found and used
                else:
                    got = "fail" if any(_matches(family, f) for f in findings) else "pass"
                out.append(Outcome(peer, case_id(peer, case, version), case["family"], case["expect"], got, in_scope))
    return out


# Scopes the README does not claim (none today: DeploymentConfig pod templates are inspected).
SCOPES_NOT_CLAIMED: set[str] = set()


def load_differences_families() -> dict[str, dict]:
    """Family refinements of ours (e.g. which severities count), from peer_differences.yaml."""
    data = yaml.safe_load(DIFFERENCES_FILE.read_text(encoding="utf-8")) or {}
    return data.get("families") or {}


def summarise(outcomes: list[Outcome]) -> dict[tuple[str, str], tuple[int, int]]:
    """(peer, family) → (agreeing, total) over in-scope outcomes; family '*' is the peer's total."""
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for o in outcomes:
        if not o.in_scope:
            continue
        for key in ((o.peer, o.family), (o.peer, "*")):
            table[key][0] += o.agrees
            table[key][1] += 1
    return {k: (v[0], v[1]) for k, v in table.items()}


def main(argv: list[str]) -> int:
    suite = Path(argv[1]) if len(argv) > 1 else HERE.parents[2] / "shared" / "peer-suites" / "k8s"
    outcomes = run(suite)
    table = summarise(outcomes)
    for (peer, family), (ok, total) in sorted(table.items()):
        print(f"{peer:12} {family:28} {ok:4}/{total:<4} {100 * ok / total:5.1f} %")
    known = load_differences()
    for o in outcomes:
        if not o.agrees:
            mark = "known" if o.case in known else "NEW"
            print(f"{mark:5} {o.peer} {o.case} family={o.family} expect={o.expect} got={o.got}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    raise SystemExit(main(sys.argv))
