"""`mcpfleet k8s ...`: exit codes and output as CI and people use them (in-process main, plus one
real subprocess for stdin)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fleet_testing import mcpfleet_cmd, subprocess_env
from mcpfleet.common.cli import main
from mcpfleet.servers.k8s.examples import EXAMPLES_DIR

CORPUS = Path(__file__).parent / "corpus"


def test_validate_clean_files_exits_0_with_json(capsys):
    code = main(["k8s", "validate", "--profile", "cerit", "--format", "json", str(CORPUS / "good-fleet-cerit.yaml")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["errors"] == 0 and out["warnings"] == 1
    [finding] = out["findings"]
    assert set(finding) == {"document", "kind", "name", "path", "line", "rule", "severity", "message", "fixable", "file"}
    assert finding["rule"] == "unknown-kind" and finding["kind"] == "ServiceMonitor"
    assert finding["file"].endswith("good-fleet-cerit.yaml")


def test_validate_errors_exit_1_and_name_file_and_line(capsys):
    code = main(["k8s", "validate", "--profile", "restricted", str(CORPUS / "restricted-minimal-pod.yaml")])
    captured = capsys.readouterr()
    assert code == 1
    assert "restricted-minimal-pod.yaml:" in captured.out and " error run-as-non-root Pod/minimal " in captured.out
    assert "4 error(s), 3 warning(s)" in captured.err  # image-tag, probes, read-only-root-filesystem


def test_validate_a_directory_and_a_version(capsys):
    code = main(["k8s", "validate", "--profile", "cerit", "--kubernetes-version", "1.34", "--format", "json",
                 str(EXAMPLES_DIR)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["errors"] == 0
    assert len({f["file"] for f in out["findings"]}) == 4  # the four CRD examples warn once each
    assert main(["k8s", "validate", "--kubernetes-version", "1.33", str(EXAMPLES_DIR / "dra-gpu.yaml")]) == 1


def test_usage_and_io_errors_exit_2(tmp_path, capsys):
    assert main(["k8s", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["k8s", "validate", str(tmp_path)]) == 2  # a directory without YAML
    assert main(["k8s", "validate", "--kubernetes-version", "1.2", str(CORPUS / "image-tags.yaml")]) == 2
    assert main(["k8s", "validate", "--profile", "nope", str(CORPUS / "image-tags.yaml")]) == 2
    assert "unknown profile" in capsys.readouterr().err


def test_fix_prints_yaml_diff_or_rewrites(tmp_path, capsys):
    source = CORPUS / "restricted-minimal-pod.yaml"
    assert main(["k8s", "fix", "--profile", "restricted", str(source)]) == 0
    captured = capsys.readouterr()
    assert "allowPrivilegeEscalation: false" in captured.out and captured.out.startswith("# The smallest pod")
    assert captured.err.count("fixed: ") == 4 and "remaining: " in captured.err

    assert main(["k8s", "fix", "--profile", "restricted", "--diff", str(source)]) == 0
    assert capsys.readouterr().out.startswith("--- original.yaml")

    target = tmp_path / "pod.yaml"
    target.write_text(source.read_text())
    assert main(["k8s", "fix", "--profile", "restricted", "--in-place", str(target)]) == 0
    assert main(["k8s", "validate", "--profile", "restricted", str(target)]) == 0
    assert "seccompProfile" in target.read_text()
    capsys.readouterr()
    # what cannot be fixed leaves exit 1
    assert main(["k8s", "fix", "--profile", "restricted", str(CORPUS / "restricted-explicit-bad.yaml")]) == 1


def test_example_and_rules(capsys):
    assert main(["k8s", "example"]) == 0
    assert "vllm:" in capsys.readouterr().out
    assert main(["k8s", "example", "keda"]) == 0
    assert "kind: ScaledObject" in capsys.readouterr().out
    assert main(["k8s", "example", "cobol"]) == 2
    capsys.readouterr()
    assert main(["k8s", "rules"]) == 0
    assert "cerit" in capsys.readouterr().out
    assert main(["k8s", "rules", "--profile", "cerit"]) == 0
    assert "resources-limits: error [fixable]" in capsys.readouterr().out
    assert main(["k8s", "rules", "--rule", "gpu-shm"]) == 0
    assert "gpu-shm" in capsys.readouterr().out


def test_profile_dirs_from_a_config_file(tmp_path, capsys):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "lenient.yaml").write_text("name: lenient\nextends: restricted\nrules: {probes: off, image-tag: off}\n")
    config = tmp_path / "mcpfleet.toml"
    config.write_text(f'[servers.k8s]\nprofile = "lenient"\nprofile_dirs = ["{tmp_path / "profiles"}"]\n')
    good = tmp_path / "pod.yaml"
    good.write_text((CORPUS / "restricted-minimal-pod.yaml").read_text())
    assert main(["k8s", "validate", "--config", str(config), "--format", "json", str(good)]) == 1
    before = json.loads(capsys.readouterr().out)
    assert {f["rule"] for f in before["findings"]} == {"run-as-non-root", "seccomp", "privilege-escalation",
                                                      "capabilities-drop-all", "read-only-root-filesystem"}  # probes and image-tag are off
    assert main(["k8s", "fix", "--config", str(config), "--in-place", str(good)]) == 0
    capsys.readouterr()
    assert main(["k8s", "validate", "--config", str(config), "--format", "json", str(good)]) == 0
    assert json.loads(capsys.readouterr().out) == {"findings": [], "errors": 0, "warnings": 0}


def test_stdin_in_a_real_process():
    text = (CORPUS / "yaml-syntax.yaml").read_text()
    proc = subprocess.run(mcpfleet_cmd("k8s", "validate", "--format", "json", "-"), input=text, capture_output=True,
                          text=True, timeout=60, env=subprocess_env())
    assert proc.returncode == 1, proc.stderr
    [finding] = json.loads(proc.stdout)["findings"]
    assert finding["rule"] == "yaml-syntax" and finding["line"] == 12 and finding["file"] == "-"
