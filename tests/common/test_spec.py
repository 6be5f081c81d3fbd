"""The server registry: names, plugins, the facts on each SPEC, and servers whose dependencies are missing.

Expected sets come from the specs and the folders, never from a restated list: adding a server
is one folder plus its name in `mcpfleet.registry.NAMES`, and these tests follow it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel

from fleet_testing import ECHO, REPO, build_echo
from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import load_settings
from mcpfleet.common.spec import Resources, ServerSpec, import_ref, requires
from mcpfleet.registry import NAMES, all_specs, check_sections, select_specs, servers

ABSENT = ServerSpec(
    name="absent",
    title="Absent",
    description="needs what is not here",
    build=build_echo,
    missing=requires(("no_such_module_mcpfleet",), (), "pip install nothing"),
)
SERVERS_DIR = REPO / "mcpfleet" / "servers"


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


def test_spec_references_and_resources_are_checked_when_written():
    with pytest.raises(ValueError, match="cli 'no colon' must look like 'package.module:name'"):
        ServerSpec(name="x", title="", description="", build=build_echo, cli="no colon", cli_help="h")
    with pytest.raises(ValueError, match="cli and cli_help come together"):
        ServerSpec(name="x", title="", description="", build=build_echo, cli="m:register")
    with pytest.raises(ValueError, match="cpu request 3 is above its limit 2"):
        Resources("3", "1Gi", "2", "2Gi", "1Gi")
    with pytest.raises(ValueError, match="memory request 600Mi is above its limit 512Mi"):
        Resources("100m", "600Mi", "1", "512Mi", "1Gi")
    with pytest.raises(ValueError, match="size '2GB' must look like"):
        Resources("100m", "256Mi", "1", "512Mi", "2GB")
    assert Resources("1500m", "1Gi", "2", "1024Mi", "1Gi").cpu == "1500m"  # 1.5 <= 2 cores, 1Gi == 1024Mi


def test_every_server_folder_is_in_the_registry_once():
    """A folder with a SPEC but no registry line would be tested nowhere and shipped nowhere."""
    folders = {p.parent.name for p in SERVERS_DIR.glob("*/__init__.py") if "SPEC = ServerSpec(" in p.read_text()}
    assert folders == set(NAMES)
    assert len(set(NAMES)) == len(NAMES)
    assert [s.name for s in servers()] == list(NAMES)  # each folder's SPEC carries its folder's name


def _imports_outbound_client_at_module_level(package: Path) -> bool:
    for path in package.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level only: deferred imports are opt-in paths
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mcpfleet.common.http"):
                return True
    return False


def test_egress_is_declared_by_exactly_the_servers_built_on_the_outbound_client():
    """NetworkPolicies are generated from `needs_network`: a server that fetches must say so, and
    one that never fetches must not get egress. (k8s fetches CRD schemas only when configured to,
    from a deferred import, and stays without egress by default.)"""
    for spec in servers():
        fetches = _imports_outbound_client_at_module_level(SERVERS_DIR / spec.name)
        assert spec.needs_network == fetches, spec.name


def test_every_reference_on_a_spec_resolves():
    for spec in servers():
        assert callable(import_ref(spec.build)), spec.name
        model = spec.settings_model()
        assert model is not None and issubclass(model, BaseModel), spec.name  # the template: settings.py
        assert model.__name__ == f"{spec.name.capitalize()}Settings", spec.name
        if spec.cli:
            assert callable(import_ref(spec.cli)), spec.name
        if spec.data_volume:
            assert spec.resources is not None, f"{spec.name}: a data volume needs its disk limit stated"


def test_config_sections_must_name_a_server_and_validate():
    specs = list(servers())
    some = specs[0]
    model = some.settings_model()
    field_name = next(iter(model.model_fields))
    check_sections(specs, load_settings())  # no sections: nothing to check
    unknown = f"{some.name}x"
    with pytest.raises(ConfigError, match=rf"servers\.{unknown}: there is no server '{unknown}'; known servers: "):
        check_sections(specs, load_settings(servers={unknown: {}}))
    with pytest.raises(ConfigError, match=rf"servers\.{some.name}: "):
        check_sections(specs, load_settings(servers={some.name: {field_name: object()}}))
    with pytest.raises(ConfigError, match=rf"servers\.{some.name}: "):
        check_sections(specs, load_settings(servers={some.name: {"no_such_setting_mcpfleet": 1}}))


async def test_the_whole_fleet_fits_its_tool_definition_budget():
    """Open models often run with 8k-16k contexts: every tool definition is paid on every turn."""
    from mcpfleet.tokens import tools_tokens

    settings = load_settings()
    tools = []
    for spec in servers():
        if spec.missing():
            pytest.fail(f"{spec.name} cannot be built here: {spec.missing()}")
        own = await spec.create(settings).list_tools(run_middleware=False)
        assert own and all(t.name.startswith(f"{spec.name}_") for t in own), spec.name  # <server>_<verb>
        assert tools_tokens(own) <= 1200, f"{spec.name}: {tools_tokens(own)} tokens of tool definitions"
        tools += own
    assert len({t.name for t in tools}) == len(tools)
    assert tools_tokens(tools) <= 6000
