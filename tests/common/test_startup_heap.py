"""A started fleet leaves its start-up heap out of the cyclic garbage collector's passes."""

from __future__ import annotations

import gc

from fleet_testing import ECHO, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.settings import load_settings


def test_a_started_fleet_freezes_its_start_up_heap(api_keys):
    with running_app(build_http_app([ECHO], load_settings(auth={"api_keys": api_keys}))):
        # Full collections no longer walk the modules and servers (~80 ms each, every few hundred calls).
        assert gc.get_freeze_count() > 10_000
