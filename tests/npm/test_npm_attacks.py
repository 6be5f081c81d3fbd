"""Package names a hostile caller might send: none may change the path the registry is asked for."""

from __future__ import annotations

import pytest

from mcpfleet.common.errors import UserError
from mcpfleet.servers.npm.npmrc import parse_npmrc
from mcpfleet.servers.npm.registry import RegistryClient, check_name

BAD_NAMES = [
    "@acme/..",
    "@acme/.",
    "@acme/.hidden",
    "@acme/_private",
    "..",
    ".bin",
    "_x",
    "@acme/../x",
    "a/../b",
    "@acme%2f..",
    "%2e%2e",
    "a\\b",
    "@acme/x/..",
    "http://evil/x",
    "a?b",
    "a#b",
    "@/x",
    "a b",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_path_changing_names_are_refused(name):
    with pytest.raises(UserError):
        check_name(name)


@pytest.mark.parametrize("name", ["react", "@types/node", "JSONStream", "lodash.merge", "@acme/ui-kit", "a_b"])
def test_real_names_pass_and_stay_one_path_segment(name):
    config = parse_npmrc("@acme:registry=https://npm.acme.example/\n", "https://registry.npmjs.org/", {})
    client = RegistryClient(http=None, config=config)  # type: ignore[arg-type]  # only builds URLs here
    url = client.packument_url(check_name(name))
    registry = config.registry_for(name)
    assert url.startswith(registry)
    rest = url[len(registry) :]
    assert "/" not in rest and ".." not in rest and "?" not in rest and "#" not in rest
