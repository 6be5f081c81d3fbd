"""Where the read-only data others wrote lives (`../shared` beside the checkout), for tests.

Tests read it in place and never copy it into the repository. On a user's clone it is absent and
those tests skip with a reason; `.ci/run` sets MCPFLEET_REQUIRE_SHARED=1, which turns the skip
into a failure so CI can never skip them silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MCPFLEET_SHARED_DIR") or REPO.parent / "shared")


def shared_path(*parts: str) -> Path:
    """`../shared/<parts>`, or skip (fail under MCPFLEET_REQUIRE_SHARED) when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent: these tests read the peers' data from ../shared (see the README's Testing section)"
        if os.environ.get("MCPFLEET_REQUIRE_SHARED"):
            pytest.fail(f"MCPFLEET_REQUIRE_SHARED is set but {reason}", pytrace=False)
        pytest.skip(reason)
    return path
