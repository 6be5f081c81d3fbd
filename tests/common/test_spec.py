"""The server registry: names, plugins, and servers whose dependencies are missing."""

from __future__ import annotations

import pytest

from fleet_testing import ECHO, build_echo
from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import load_settings
from mcpfleet.common.spec import ServerSpec, requires
from mcpfleet.registry import all_specs, select_specs

ABSENT = ServerSpec(name="absent", title="Absent", description="needs what is not here", build=build_echo,
                    missing=requires(("no_such_module_mcpfleet",), (), "pip install nothing"))


def test_all_skips_servers_that_cannot_run_but_naming_one_explains_why():
    assert select_specs([ECHO, ABSENT], ["all"]) == [ECHO]
    assert select_specs([ECHO, ABSENT], ["absent"]) == [ABSENT]
    with pytest.raises(ConfigError, match="'absent' cannot run here: the Python package 'no_such_module_mcpfleet'"):
        ABSENT.create(load_settings())
    missing_program = requires((), ("no-such-program-mcpfleet",), "apt-get install it")
    assert "program 'no-such-program-mcpfleet' is not installed (apt-get install it)" in missing_program()


def test_names_and_plugins_are_validated():
    with pytest.raises(ValueError):
        ServerSpec(name="Bad Name", title="", description="", build=build_echo)
    with pytest.raises(ConfigError, match="cannot import"):
        all_specs(["no_such_pkg_mcpfleet:SPEC"])
    with pytest.raises(ConfigError, match="is not a ServerSpec"):
        all_specs(["fleet_testing:KEYS"])
    with pytest.raises(ConfigError, match="two servers are named 'echo'"):
        all_specs(["fleet_testing:ECHO", "fleet_testing:ECHO"])
    with pytest.raises(ConfigError, match="unknown server 'nope'"):
        select_specs([ECHO], ["nope"])


def test_registry_ships_every_named_server_once():
    from mcpfleet.registry import NAMES, servers

    SERVERS = servers()
    assert [s.name for s in SERVERS] == list(NAMES)
    assert len(set(NAMES)) == len(NAMES)
    # egress is what NetworkPolicies are generated from: the servers that fetch say so
    assert {s.name for s in SERVERS if s.needs_network} == {"web", "docs", "npm", "ui"}


async def test_the_whole_fleet_fits_its_tool_definition_budget():
    """Open models often run with 8k-16k contexts: every tool definition is paid on every turn."""
    from mcpfleet.common.settings import load_settings
    from mcpfleet.tokens import tools_tokens
    from mcpfleet.registry import servers

    SERVERS = servers()
    settings = load_settings()
    tools = []
    for spec in SERVERS:
        if spec.missing():
            pytest.fail(f"{spec.name} cannot be built here: {spec.missing()}")
        own = await spec.create(settings).list_tools(run_middleware=False)
        assert own and all(t.name.startswith(f"{spec.name}_") for t in own), spec.name  # <server>_<verb>
        tools += own
    assert len({t.name for t in tools}) == len(tools) == 31
    assert tools_tokens(tools) <= 6000
