"""`[servers.math]`: the section's model refuses what it does not know, naming the setting."""

from __future__ import annotations

import pytest

from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.math.settings import MathSettings


@pytest.mark.parametrize(
    "section,message",
    [
        ({"timeout": 0}, "servers.math: timeout"),
        ({"timeout": 601}, "servers.math: timeout"),
        ({"pool_size": 0}, "servers.math: pool_size"),
        ({"memory_mb": 64}, "servers.math: memory_mb"),
        ({"timout": 5}, "servers.math: timout: Extra inputs are not permitted"),
    ],
)
def test_bad_math_settings_name_the_setting(section, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(servers={"math": section}).server_section("math", MathSettings)


def test_math_settings_default_to_the_workers_section():
    section = load_settings().server_section("math", MathSettings)
    assert (section.pool_size, section.memory_mb, section.timeout) == (None, None, 20.0)
    assert (
        load_settings(servers={"math": {"timeout": 5, "pool_size": 3}}).server_section("math", MathSettings).pool_size
        == 3
    )
