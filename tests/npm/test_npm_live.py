"""A few answers compared with `npm view` against the public registry (MCPFLEET_LIVE_NPM=1 only).

Off by default: tests reach only 127.0.0.1. The variable is read at import time because the
suite's autouse fixture clears MCPFLEET_* variables before each test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from fastmcp.exceptions import ToolError

from fleet_testing import fleet_client
from mcpfleet.common.settings import load_settings
from mcpfleet.common.untrusted import unwrap

LIVE = os.environ.get("MCPFLEET_LIVE_NPM") == "1"
pytestmark = pytest.mark.skipif(
    not LIVE or shutil.which("npm") is None,
    reason="live registry test: set MCPFLEET_LIVE_NPM=1 (needs npm and the internet)",
)


def npm_view(*args: str):
    out = subprocess.run(["npm", "view", *args, "--json"], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


async def test_matches_npm_view():
    # Allow-listed by name: behind some egress proxies the registry resolves to a non-public address.
    async with fleet_client("npm", load_settings(http={"allow": ["registry.npmjs.org"]}), timeout=120) as c:
        pkg = (await c.call_tool("npm_package", {"name": "react"})).structured_content
        assert pkg["version"] == npm_view("react", "version")
        assert pkg["dist_tags"]["latest"] == npm_view("react", "dist-tags")["latest"]
        assert unwrap(pkg["license"]) == npm_view("react", "license")

        matching = npm_view("react@^17", "version")
        versions = (await c.call_tool("npm_versions", {"name": "react", "range": "^17"})).structured_content
        assert {r["version"] for r in versions["versions"]} == set(matching)
        assert versions["install"] == max(matching, key=lambda v: tuple(int(p) for p in v.split(".")))

        deps = (await c.call_tool("npm_dependencies", {"name": "express", "version": "4.18.2"})).structured_content
        assert deps["dependencies"] == npm_view("express@4.18.2", "dependencies")

        with pytest.raises(ToolError, match="no package named"):
            await c.call_tool("npm_package", {"name": "reactt-surely-not-a-package-0x9"})
