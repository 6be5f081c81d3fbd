"""`[servers.web]`: defaults that work with no config, backend order, clear errors."""

from __future__ import annotations

import pytest

from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.web import SPEC
from mcpfleet.servers.web.settings import WebSettings


def section(**web) -> WebSettings:
    return load_settings(servers={"web": web}).server_section("web", WebSettings)


def test_defaults():
    web = section()
    assert web.backend_order() == ["ddgs"]
    assert web.max_length == 8000 and web.robots is True and web.user_agent is None
    assert SPEC.needs_network and SPEC.missing() is None


def test_searxng_url_puts_searxng_first_with_ddgs_as_fallback():
    assert section(searxng_url="http://searxng.search:8080/").backend_order() == ["searxng", "ddgs"]
    assert section(searxng_url="http://searxng.search:8080").searxng_url == "http://searxng.search:8080"


def test_explicit_order_is_kept():
    web = section(searxng_url="http://searxng:8080", backends=["searxng"])
    assert web.backend_order() == ["searxng"]


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ({"backends": ["searxng"]}, "searxng_url is not set"),
        ({"backends": []}, "at least one"),
        ({"backends": ["google"]}, "backends"),
        ({"searxng_url": "searxng:8080"}, "http"),
        ({"max_length": 10}, "max_length"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_settings_are_config_errors(web, message):
    with pytest.raises(ConfigError, match=message):
        SPEC.create(load_settings(servers={"web": web}))  # the spec's own check, before any runtime


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("MCPFLEET_SERVERS__WEB__SEARXNG_URL", "http://searxng.search:8080")
    monkeypatch.setenv("MCPFLEET_SERVERS__WEB__ROBOTS", "false")
    web = load_settings().server_section("web", WebSettings)
    assert web.backend_order() == ["searxng", "ddgs"] and web.robots is False
