"""The fleet's own Kubernetes manifests pass this engine's `cerit` profile (issue 4: "the fleet's
own manifests are validated by this engine in CI"). Skipped while manifests/ does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpfleet.servers.k8s.engine import validate_text

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
FILES = sorted(MANIFESTS.rglob("*.yaml")) if MANIFESTS.is_dir() else []


@pytest.mark.skipif(not FILES, reason="no manifests/ yet")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(MANIFESTS)) for p in FILES])
def test_fleet_manifest_passes_cerit(path: Path):
    report = validate_text(path.read_text(), profile="cerit", file=str(path))
    assert report.errors == 0, report.text()
    # CRD kinds without a bundled schema (ServiceMonitor) are the only acceptable warnings
    assert {f.rule for f in report.findings} <= {"unknown-kind"}, report.text()
