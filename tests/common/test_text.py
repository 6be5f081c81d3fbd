"""The runtime's text helpers: `clip`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpfleet.common.text import clip


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),  # at the limit: whole, no marker
        ("eleven char", 10, "eleven ch…"),  # one past: cut to the limit, the marker included
        ("", 3, ""),
        ("ab", 1, "…"),
    ],
)
def test_clip_cuts_to_the_limit_with_a_marker(text, limit, expected):
    assert clip(text, limit) == expected


@given(st.text(max_size=200), st.integers(min_value=1, max_value=100))
def test_clip_never_passes_the_limit_and_keeps_the_start(text, limit):
    cut = clip(text, limit)
    assert len(cut) <= limit
    assert cut == text or (cut.endswith("…") and text.startswith(cut[:-1]))


def test_importing_it_loads_nothing_heavy():
    # worker processes and the CLI's quick paths import it: FastMCP (over a second) must not come along
    code = "import sys, mcpfleet.common.text; print('fastmcp' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]
