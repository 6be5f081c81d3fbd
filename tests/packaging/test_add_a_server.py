"""Adding a server is one folder plus its name in the registry, and the wheel ships it.

As a new maintainer would: copy the project, add `mcpfleet/servers/dummy/` (the template in
tests/packaging/dummy_server/) and "dummy" in `mcpfleet.registry.NAMES`, build the wheel (what
the image installs), install it into a fresh venv, then `mcpfleet list`, `mcpfleet serve dummy`
and the manifest generator must all know the new server. Nothing is edited besides the folder
and the registry line: packages and package data come from the folders (setup.py).

The fresh venv gets the dependencies by a .pth line naming the project venv's site-packages,
written after the wheel is installed (so pip sees an empty venv) and without the project's
editable finder (site-packages' own .pth files are not run for a path added that way).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from fastmcp import Client

from fleet_testing import REPO, serving, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

TEMPLATE = Path(__file__).resolve().parent / "dummy_server"
STEP_TIMEOUT = 300  # seconds for one build or install step on a busy machine


def copy_project(dest: Path) -> None:
    """The checkout as git sees it: tracked and untracked files, not what .gitignore drops."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            check=True,
            timeout=60,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def add_dummy_server(src: Path) -> None:
    shutil.copytree(TEMPLATE, src / "mcpfleet" / "servers" / "dummy", ignore=shutil.ignore_patterns("__pycache__"))
    registry = src / "mcpfleet" / "registry.py"
    text, count = re.subn(r"(NAMES: tuple\[str, \.\.\.\] = \()([^)]*)\)", r'\1\2, "dummy")', registry.read_text())
    assert count == 1, "mcpfleet/registry.py no longer spells NAMES as this test expects"
    registry.write_text(text)


def run(*cmd: str | Path, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=STEP_TIMEOUT, **kwargs)
    assert result.returncode == 0, f"{cmd}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """The copy with the dummy server, its wheel, and a fresh venv with the wheel installed."""
    if importlib.util.find_spec("wheel") is None:
        pytest.fail("the wheel package is missing: pip install -e '.[test]'")
    root = tmp_path_factory.mktemp("add-a-server")
    src, dist, venv = root / "src", root / "dist", root / "venv"
    copy_project(src)
    add_dummy_server(src)
    # offline: the build uses this venv's setuptools and wheel instead of downloading them
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        src,
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--quiet",
        "--wheel-dir",
        dist,
    )
    (wheel,) = dist.glob("mcpfleet-*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout.strip())
    (site / "_mcpfleet_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    home = root / "home"
    home.mkdir()
    # no test plugins, nothing of the checkout on the path, no state outside the tmp folder
    overrides = {
        "MCPFLEET_PLUGINS": "[]",
        "PYTHONPATH": "",
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    return {
        "src": src,
        "wheel": wheel,
        "venv": venv,
        "python": python,
        "site": site,
        "home": home,
        "overrides": overrides,
        "env": subprocess_env(**overrides),
    }


def test_the_wheel_holds_the_new_folder_and_the_venv_imports_it_from_there(installed):
    listing = run(sys.executable, "-m", "zipfile", "-l", installed["wheel"]).stdout
    for name in ("__init__.py", "settings.py", "server.py", "repeat.py"):
        assert f"mcpfleet/servers/dummy/{name}" in listing
    probe = (
        "import json, mcpfleet.servers.dummy as d, mcpfleet.registry as r; "
        "print(json.dumps([d.__file__, [s.name for s in r.servers()]]))"
    )
    # run from a folder of its own: `python -c` puts the working directory first on sys.path
    where, names = json.loads(run(installed["python"], "-c", probe, env=installed["env"], cwd=installed["home"]).stdout)
    assert Path(where).is_relative_to(installed["site"])  # the wheel's copy, not the checkout's
    assert names[-1] == "dummy" and "dummy" not in names[:-1]


def test_mcpfleet_list_shows_the_new_server(installed):
    result = run(installed["venv"] / "bin" / "mcpfleet", "list", "dummy", "--json", env=installed["env"])
    (row,) = json.loads(result.stdout)
    assert row["name"] == "dummy" and [t["name"] for t in row["tools"]] == ["dummy_repeat"]
    assert row["tokens"] > 0


async def test_mcpfleet_serve_runs_the_new_server(installed, tmp_path):
    # the section reaches the server's settings model
    env = {**installed["overrides"], "MCPFLEET_SERVERS__DUMMY__TIMES": "3"}
    with serving(tmp_path, "dummy", command=[str(installed["venv"] / "bin" / "mcpfleet")], **env) as (url, _, log):
        async with Client(f"{url}/dummy/mcp", timeout=30) as client:
            answer = await client.call_tool("dummy_repeat", {"word": "hello"})
            assert answer.content[0].text == "hello hello hello"
            assert answer.structured_content == {"word": "hello", "times": 3}
            refused = await client.call_tool("dummy_repeat", {"word": "two words"}, raise_on_error=False)
            assert refused.is_error and refused.content[0].text == "give one word to repeat, e.g. 'hello'"
    assert "Traceback" not in log.read_text()


def test_the_manifest_generator_includes_the_new_server(installed):
    src = installed["src"]
    run(installed["python"], src / "manifests" / "generate.py", env=installed["env"], cwd=src)
    deployment = yaml.safe_load((src / "manifests" / "base" / "dummy" / "deployment.yaml").read_text())
    assert deployment["metadata"]["name"] == "mcpfleet-dummy"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["serve", "dummy"]
    base = yaml.safe_load((src / "manifests" / "base" / "kustomization.yaml").read_text())
    assert "dummy" in base["resources"]
