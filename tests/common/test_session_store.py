"""A fleet server keeps FastMCP's session state in common.session_state: py-key-value never loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUPPORT = Path(__file__).resolve().parents[1] / "support"

PROGRAM = """
import json, sys
import httpx2
from fleet_testing import ECHO, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.settings import load_settings

headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
with running_app(build_http_app([ECHO], load_settings())) as url:
    for method, params in (("tools/list", {}), ("tools/call", {"name": "echo_say", "arguments": {"text": "hi"}})):
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        answer = httpx2.post(f"{url}/echo/mcp", content=json.dumps(body), headers=headers, timeout=30)
        print(answer.status_code, "echo_say" in answer.text or "hi" in answer.text)
print(sorted({m.split(".")[0] for m in sys.modules} & {"key_value", "beartype"}))
"""


def test_a_served_fleet_lists_and_calls_without_py_key_value():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=180, env=env, check=True
    ).stdout.split("\n")
    assert out[:3] == ["200 True", "200 True", "[]"], out
