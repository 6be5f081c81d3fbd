"""The real image: built from the Dockerfile by scripts/build-image.sh (buildah, local debootstrap
bases), run with podman as UID 10001 on a read-only root, and one tool of every server called over
loopback.

Opt-in: it needs root, buildah and podman, and minutes (see the README's "Build the image"), so it
is skipped unless MCPFLEET_IMAGE_TEST=1 (`make test-image` sets it). Asked for, it never skips:
missing tools or a failed build fail it.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx2
import pytest
from fastmcp import Client

from deploy_checks import ROOT
from fleet_testing import free_port
from local_http import serving
from mcpfleet.registry import all_specs

pytestmark = [pytest.mark.image, pytest.mark.timeout(3600)]

IMAGE = os.environ.get("MCPFLEET_IMAGE", "mcpfleet:dev")
ENV = {**os.environ, "BUILDAH_ISOLATION": os.environ.get("BUILDAH_ISOLATION", "chroot")}
# the storage driver the build script used: containers' default, or STORAGE_DRIVER (e.g. vfs)
STORE = ["--storage-driver", os.environ["STORAGE_DRIVER"]] if os.environ.get("STORAGE_DRIVER") else []
if os.environ.get("MCPFLEET_STORAGE_ROOT"):
    STORE += [
        "--root",
        f"{os.environ['MCPFLEET_STORAGE_ROOT']}/root",
        "--runroot",
        f"{os.environ['MCPFLEET_STORAGE_ROOT']}/run",
    ]

if os.environ.get("MCPFLEET_IMAGE_TEST") != "1":
    pytest.skip(
        "image smoke test: set MCPFLEET_IMAGE_TEST=1 or run `make test-image` (needs root, buildah, podman)",
        allow_module_level=True,
    )

PACKUMENT = {
    "name": "left-pad",
    "dist-tags": {"latest": "1.3.0"},
    "versions": {v: {"name": "left-pad", "version": v, "license": "WTFPL"} for v in ("1.0.0", "1.2.0", "1.3.0")},
    "time": {
        "1.0.0": "2014-03-01T00:00:00.000Z",
        "1.2.0": "2016-01-01T00:00:00.000Z",
        "1.3.0": "2018-04-09T00:00:00.000Z",
    },
}
PAGE = (
    b"<html><head><title>Fleet image</title></head><body><article><h1>Image smoke</h1>"
    b"<p>The quokka-7 marker sentence proves the fetch went through the extractor inside the image.</p>"
    b"<p>Another paragraph of plain text keeps the extractor happy.</p></article></body></html>"
)
MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: demo}
spec:
  containers:
    - name: app
      image: nginx:1.27
      bogusField: 1
"""


def answer(path: str) -> tuple[int, object]:
    """The fixture remote: an npm registry (packument wire format) and a web page."""
    if path.split("?")[0] == "/left-pad":
        return 200, PACKUMENT
    if path == "/page.html":
        return 200, PAGE
    return 404, {"error": "Not found"}


def runtime_flags() -> list[str]:
    """What lets `podman run` work in a VM or CI runner as well as on a plain host.

    runc with cgroupfs, where installed: crun refuses hybrid cgroup v1/v2 hosts. Explicit nofile and
    nproc limits below the current ones: podman's defaults (1048576) exceed what a confined root
    may set.
    """
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 16384)
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[0], 4096)
    runc = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"] if shutil.which("runc") else []
    return [*runc, "run", "--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    if args[0] == "run":
        args = (*runtime_flags(), *args[1:])
    return subprocess.run(["podman", *STORE, *args], capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.fixture(scope="module")
def image() -> str:
    for tool in ("buildah", "podman", "debootstrap"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed: apt-get install -y buildah podman debootstrap runc")
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-image.sh")],
        capture_output=True,
        text=True,
        timeout=3000,
        cwd=ROOT,
        env={**ENV, "MCPFLEET_IMAGE": IMAGE},
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    print(f"\n{result.stdout.strip().splitlines()[-1]} (test saw {time.monotonic() - started:.0f} s)")
    return IMAGE


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    with serving(answer) as base:
        yield base


@pytest.fixture(scope="module")
def fleet(image: str, remote: str) -> Iterator[dict]:
    """`mcpfleet serve all` from the image: UID 10001, read-only root, no capabilities, host loopback."""
    port = free_port()
    name = f"mcpfleet-image-test-{port}"
    run = podman(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "--read-only",
        "--user",
        "10001:10001",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--tmpfs",
        "/tmp:rw,mode=1777",
        "--volume",
        "/var/lib/mcpfleet",  # the docs index volume: anonymous, owned as in the image, gone with --rm
        "-e",
        'MCPFLEET_HTTP__ALLOW=["127.0.0.1/32"]',  # the fixture remote lives on loopback
        "-e",
        f"MCPFLEET_SERVERS__NPM__REGISTRY={remote}",
        image,
        "all",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    assert run.returncode == 0, run.stderr
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(httpx2.HTTPError):
                ready = httpx2.get(f"{url}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            state = podman("inspect", "--format", "{{.State.Running}}", name)
            if state.stdout.strip() != "true" or time.monotonic() > deadline:
                logs = podman("logs", name)
                raise AssertionError(f"the fleet did not become ready: {(logs.stdout + logs.stderr)[-3000:]}")
            time.sleep(1)
        yield {"url": url, "name": name, "ready": ready.json()}
    finally:
        podman("rm", "-f", "-v", "-t", "10", name)  # -v: its anonymous volume too


def test_the_image_runs_as_10001_on_a_read_only_root(fleet):
    config = json.loads(podman("image", "inspect", IMAGE).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"][-2:] == ["mcpfleet", "serve"]
    ident = podman("exec", fleet["name"], "id", "-u")
    assert ident.stdout.strip() == "10001", ident.stderr
    write = podman("exec", fleet["name"], "touch", "/opt/mcpfleet/probe")
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write.stderr
    tmp = podman("exec", fleet["name"], "touch", "/tmp/probe", "/var/lib/mcpfleet/probe")
    assert tmp.returncode == 0, tmp.stderr


def test_every_server_is_ready(fleet):
    assert sorted(fleet["ready"]["servers"]) == sorted(CALLS) == sorted(s.name for s in all_specs())


CALLS = {
    "math": ("math_solve", {"equations": ["x**2 - 4"], "variables": ["x"]}, ["x = -2", "x = 2"]),
    "prolog": ("prolog_query", {"query": "append(X, [c], [a, b, c])"}, ["X = [a, b]"]),
    "k8s": ("k8s_validate", {"manifest": MANIFEST}, ["run-as-non-root", "unknown field 'bogusField'"]),
    "ui": ("ui_tailwind", {"classes": "p-4"}, [".p-4", "padding: calc(var(--spacing) * 4)"]),
    "docs": ("docs_resolve", {"name": "fastapi"}, ["fastapi/fastapi", "not indexed"]),
    "npm": ("npm_versions", {"name": "left-pad"}, ["1.3.0", "1.2.0", "1.0.0"]),
    "web": ("web_fetch", {"url": "{remote}/page.html"}, ["# Image smoke", "quokka-7 marker sentence"]),
}


@pytest.mark.parametrize("server", sorted(CALLS))
async def test_one_tool_of_every_server_answers_from_the_image(fleet, remote, server):
    tool, args, expected = CALLS[server]
    args = {k: v.format(remote=remote) if isinstance(v, str) and k == "url" else v for k, v in args.items()}
    async with Client(f"{fleet['url']}/{server}/mcp", timeout=120) as client:
        result = await client.call_tool(tool, args, raise_on_error=False)
    text = "\n".join(getattr(part, "text", "") for part in result.content)
    assert not result.is_error, text
    for piece in expected:
        assert piece in text, text
