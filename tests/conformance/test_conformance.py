"""The official MCP conformance suite against `mcpfleet serve` over HTTP, for every server.

.ci/conformance.sh installs the pinned suite and Node 22 (npm packages) into .tools/ and runs the
scenarios that apply to a tools-only server: initialize, ping, tools-list, logging, empty
resources/prompts lists, SSE streams and DNS-rebinding protection. The suite sends no
credentials, so the fleet runs on loopback without auth here.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fleet_testing import REPO, subprocess_env
from mcpfleet.registry import all_specs

pytestmark = pytest.mark.conformance

PLUGINS = ["fleet_testing:ECHO"]


@pytest.fixture(scope="module")
def fleet_url(tmp_path_factory):
    from fleet_testing import serving  # the CLI subprocess harness

    with serving(tmp_path_factory.mktemp("conformance"), "all") as (url, _, _):
        yield url


@pytest.mark.parametrize("server", [s.name for s in all_specs(PLUGINS)])
def test_server_passes_the_conformance_suite(fleet_url, server):
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to install the MCP conformance suite (see README: Testing)")
    result = subprocess.run(
        ["bash", str(REPO / ".ci" / "conformance.sh"), f"{fleet_url}/{server}/mcp"],
        capture_output=True,
        text=True,
        timeout=600,
        env=subprocess_env(),
    )
    print(result.stdout[-4000:], result.stderr[-2000:])
    assert result.returncode == 0, (
        f"conformance failures for {server}:\n{result.stdout[-3000:]}\n{result.stderr[-1000:]}"
    )
