"""lookup.Lookup without MCP, against the real Verdaccio of tests/npm/conftest.py: the typed
results' own text, header and source (what `untrusted_answer` then wraps)."""

from __future__ import annotations

import pytest
import pytest_asyncio

from mcpfleet.common.errors import UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import HttpSettings
from mcpfleet.servers.npm.lookup import NPM_OUTSIDE, Lookup
from mcpfleet.servers.npm.registry import RegistryClient
from mcpfleet.servers.npm.settings import NpmSettings, registry_config

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lookup(verdaccio):
    # Only public packages here: no token, so the private scope stays out of these tests.
    section = NpmSettings(registry=verdaccio.url)
    http = OutboundClient(HttpSettings(allow=["127.0.0.1"], retries=0))
    yield Lookup(RegistryClient(http, registry_config(section)), section)
    await http.aclose()


async def test_package_facts_name_their_source_and_keep_the_summary(lookup):
    facts = await lookup.package("alpha", "^1.0.0")
    assert facts.source == "npm:alpha@1.1.0" and facts.header == ""
    assert facts.as_dict()["version"] == "1.1.0" and "partial" not in facts.as_dict()
    assert facts.text().startswith("alpha@1.1.0: ")
    assert facts.outside_keys == NPM_OUTSIDE and "license" in facts.outside_keys


async def test_versions_header_says_what_npm_would_install(lookup):
    every = await lookup.versions("alpha", "", 2)
    assert every.header == "alpha: 7 version(s)" and "range" not in every.as_dict()
    assert every.text().splitlines()[-1] == "... 5 more"
    ranged = await lookup.versions("alpha", "^1.0.0", 30)
    assert ranged.header == "alpha: 2 version(s) satisfy '^1.0.0'; npm would install 1.1.0"
    assert ranged.as_dict()["matching"] == 2 and ranged.as_dict()["normalized"]
    assert "DEPRECATED: 1.0.0 corrupts data" in ranged.text()
    nothing = await lookup.versions("alpha", "^5", 30)
    assert nothing.text() == "(none)" and nothing.install is None


async def test_dependencies_text_by_depth(lookup):
    direct = await lookup.dependencies("app", "", 1)
    assert direct.tree is None and direct.header == "" and direct.source == "npm:app@1.0.0"
    assert "dependencies: alpha ^1.0.0, cyc-a ^1.0.0, zero ^0.1.0" in direct.text().splitlines()
    tree = await lookup.dependencies("app", "", 4)
    assert tree.as_dict()["nodes"] == 7 and "cyc-a@1.0.0 (^1.0.0) [cycle]" in tree.text()


async def test_readme_header_pages_and_unknown_names(lookup):
    readme = await lookup.readme("alpha", "", 0, 1000)
    assert readme.source == "npm:alpha@1.1.0/README"
    assert readme.header.startswith("README of alpha@1.1.0 [characters 0-")
    assert readme.as_dict()["content"] == readme.text() and readme.as_dict()["next_start_index"]
    with pytest.raises(UserError, match="existing names close to it: alpha"):
        await lookup.package("alpha_", "")
