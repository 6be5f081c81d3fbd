"""`mcpfleet k8s ...`: exit codes and output as CI and people use them (in-process main, plus one
real subprocess for stdin)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fleet_testing import mcpfleet_cmd, subprocess_env
from mcpfleet.cli import main
from mcpfleet.servers.k8s.examples import EXAMPLES_DIR

CORPUS = Path(__file__).parent / "corpus"


def test_validate_clean_files_exits_0_with_json(capsys):
    code = main(["k8s", "validate", "--profile", "cerit", "--format", "json", str(CORPUS / "good-fleet-cerit.yaml")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["errors"] == 0 and out["warnings"] == 1
    [finding] = out["findings"]
    assert set(finding) == {
        "document",
        "kind",
        "name",
        "path",
        "line",
        "rule",
        "severity",
        "message",
        "fixable",
        "file",
    }
    assert finding["rule"] == "unknown-kind" and finding["kind"] == "ServiceMonitor"
    assert finding["file"].endswith("good-fleet-cerit.yaml")


def test_validate_errors_exit_1_and_name_file_and_line(capsys):
    code = main(["k8s", "validate", "--profile", "restricted", str(CORPUS / "restricted-minimal-pod.yaml")])
    captured = capsys.readouterr()
    assert code == 1
    assert "restricted-minimal-pod.yaml:" in captured.out and " error run-as-non-root Pod/minimal " in captured.out
    assert "4 error(s), 3 warning(s)" in captured.err  # image-tag, probes, read-only-root-filesystem


def test_validate_a_directory_and_a_version(capsys):
    code = main(
        ["k8s", "validate", "--profile", "cerit", "--kubernetes-version", "1.34", "--format", "json", str(EXAMPLES_DIR)]
    )
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
    (tmp_path / "profiles" / "lenient.yaml").write_text(
        "name: lenient\nextends: restricted\nrules: {probes: off, image-tag: off, read-only-root-filesystem: off}\n"
    )
    config = tmp_path / "mcpfleet.toml"
    config.write_text(f'[servers.k8s]\nprofile = "lenient"\nprofile_dirs = ["{tmp_path / "profiles"}"]\n')
    good = tmp_path / "pod.yaml"
    good.write_text((CORPUS / "restricted-minimal-pod.yaml").read_text())
    assert main(["k8s", "validate", "--config", str(config), "--format", "json", str(good)]) == 1
    before = json.loads(capsys.readouterr().out)
    assert {f["rule"] for f in before["findings"]} == {
        "run-as-non-root",
        "seccomp",
        "privilege-escalation",
        "capabilities-drop-all",
    }  # probes, image-tag, read-only... are off
    assert main(["k8s", "fix", "--config", str(config), "--in-place", str(good)]) == 0
    capsys.readouterr()
    assert main(["k8s", "validate", "--config", str(config), "--format", "json", str(good)]) == 0
    assert json.loads(capsys.readouterr().out) == {"findings": [], "errors": 0, "warnings": 0}


def test_stdin_in_a_real_process():
    text = (CORPUS / "yaml-syntax.yaml").read_text()
    proc = subprocess.run(
        mcpfleet_cmd("k8s", "validate", "--format", "json", "-"),
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
    )
    assert proc.returncode == 1, proc.stderr
    [finding] = json.loads(proc.stdout)["findings"]
    assert finding["rule"] == "yaml-syntax" and finding["line"] == 12 and finding["file"] == "-"


def test_validate_searches_folders_recursively(tmp_path, capsys):
    (tmp_path / "apps" / "web").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    good = (CORPUS / "good-fleet-cerit.yaml").read_text()
    (tmp_path / "top.yaml").write_text(good)
    (tmp_path / "apps" / "web" / "deep.yml").write_text(good.replace("replicas:", "replicas: 'two'\n  x:", 1))
    (tmp_path / "apps" / "cm.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}')
    (tmp_path / ".git" / "ignored.yaml").write_text("not: [valid")
    (tmp_path / "apps" / "notes.txt").write_text("not a manifest")
    code = main(["k8s", "validate", "--profile", "cerit", "--format", "json", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    files = {f["file"] for f in out["findings"] if f["severity"] == "error"}
    assert code == 1 and out["errors"] >= 1
    assert files == {str(tmp_path / "apps" / "web" / "deep.yml")}  # the broken copy, found two levels down
    assert main(["k8s", "validate", str(tmp_path / "apps" / "cm.json")]) == 0  # JSON is YAML


def test_the_k8s_command_imports_only_what_it_uses(tmp_path):
    """`mcpfleet k8s validate` on a good file and `mcpfleet --help` load neither FastMCP (the
    MCP runtime) nor ruamel (round-trip YAML for fixes) nor the other commands' modules."""
    import subprocess
    import sys

    manifest = tmp_path / "cm.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {a: b}\n")
    probe = (
        "import sys, contextlib, io\nfrom mcpfleet.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        code = main(sys.argv[1:])\n    except SystemExit as exc:\n        code = exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('fastmcp', 'mcp', 'ruamel', 'sympy')\n"
        "               or m in ('mcpfleet.servers.docs.cli', 'mcpfleet.evals.cli', 'mcpfleet.litellm'))\n"
        "print(code, heavy)\n"
    )
    for argv, code in ((["k8s", "validate", str(manifest)], 0), (["--help"], 0)):
        run = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=60)
        assert run.stdout.strip() == f"{code} []", run.stdout + run.stderr


def test_the_command_list_matches_what_the_modules_register():
    """mcpfleet/cli.py lists each command module's help without importing it; they must agree."""
    from mcpfleet.cli import COMMAND_MODULES, build_parser

    full = build_parser()._subparsers._group_actions[0]
    helps = {a.dest: a.help for a in full._choices_actions}
    assert {name: help_ for name, (_, help_) in COMMAND_MODULES.items()} == {n: helps[n] for n in COMMAND_MODULES}
    quick = build_parser(only="")._subparsers._group_actions[0]
    assert {a.dest: a.help for a in quick._choices_actions} == helps  # `mcpfleet --help` shows the same list
