"""Configuration: defaults, file, environment, and clear errors."""

from __future__ import annotations

import pytest

from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import load_settings


def test_embedded_defaults_serve_loopback_without_config():
    s = load_settings()
    assert (s.host, s.port, s.auth.enabled) == ("127.0.0.1", 8080, False)
    assert s.base_url == "http://127.0.0.1:8080"


def test_environment_nested_and_json_values(monkeypatch):
    monkeypatch.setenv("MCPFLEET_PORT", "9001")
    monkeypatch.setenv("MCPFLEET_LIMITS__TOOL_TIMEOUT", "7.5")
    monkeypatch.setenv("MCPFLEET_LIMITS__TOOL_TIMEOUTS", '{"math_solve": 60}')
    s = load_settings()
    assert s.port == 9001 and s.limits.tool_timeout == 7.5
    assert s.limits.tool_timeouts == {"math_solve": 60}


@pytest.mark.parametrize(
    "suffix,text",
    [
        (".toml", "port = 9100\n[limits]\nmax_output_chars = 4000\n[servers.math]\ndigits = 30\n"),
        (".yaml", "port: 9100\nlimits:\n  max_output_chars: 4000\nservers:\n  math:\n    digits: 30\n"),
    ],
)
def test_config_file_and_env_precedence(tmp_path, monkeypatch, suffix, text):
    path = tmp_path / f"fleet{suffix}"
    path.write_text(text)
    s = load_settings(path)
    assert s.port == 9100 and s.limits.max_output_chars == 4000 and s.servers["math"] == {"digits": 30}
    monkeypatch.setenv("MCPFLEET_PORT", "9200")
    assert load_settings(path).port == 9200  # environment beats the file
    assert load_settings(path, port=9300).port == 9300  # CLI flags beat both


def test_server_sections_are_validated_by_the_server_model():
    from pydantic import BaseModel

    class MathSection(BaseModel):
        model_config = {"extra": "forbid"}
        digits: int = 15

    s = load_settings(servers={"math": {"digits": "many"}})
    with pytest.raises(ConfigError, match="servers.math: digits"):
        s.server_section("math", MathSection)
    assert load_settings().server_section("math", MathSection).digits == 15


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"port": 70000}, "port: Input should be less than or equal to 65535"),
        ({"limits": {"tool_timeout": -1}}, "limits.tool_timeout"),
        ({"limits": {"tool_timout": 3}}, "limits.tool_timout: Extra inputs are not permitted"),
        ({"plugins": ["no_colon"]}, "must look like package.module:SPEC"),
    ],
)
def test_bad_values_name_the_setting(overrides, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_settings(**overrides)


def test_unreadable_or_malformed_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 1")
    with pytest.raises(ConfigError, match="is not valid toml"):
        load_settings(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_settings(top)


def test_lists_and_tables_of_a_server_section_come_from_the_environment_as_json(monkeypatch):
    """`servers` is a free-form map: MCPFLEET_SERVERS__<NAME>__<KEY> values arrive as text."""
    from pydantic import BaseModel

    class Section(BaseModel):
        roots: list[str] = []
        catalog: dict[str, str] = {}
        note: str = ""

    monkeypatch.setenv("MCPFLEET_SERVERS__DEMO__ROOTS", '["/docs", "/more"]')
    monkeypatch.setenv("MCPFLEET_SERVERS__DEMO__CATALOG", '{"acme": "acme/web"}')
    monkeypatch.setenv("MCPFLEET_SERVERS__DEMO__NOTE", '["kept as text"]')
    section = load_settings().server_section("demo", Section)
    assert section.roots == ["/docs", "/more"] and section.catalog == {"acme": "acme/web"}
    assert section.note == '["kept as text"]'
    monkeypatch.setenv("MCPFLEET_SERVERS__DEMO__ROOTS", "[not json")
    with pytest.raises(ConfigError, match="servers.demo: roots"):
        load_settings().server_section("demo", Section)
