"""A real LiteLLM proxy for the gateway tests and benchmarks: where it is installed, the keys, its
environment and its config around what `mcpfleet config litellm` prints.

LiteLLM lives in its own venv, `.tools/litellm` (scripts/litellm-env.sh). It runs without a
database, so the clients use its master key.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LITELLM = REPO / ".tools" / "litellm" / "bin" / "litellm"
MASTER = "sk-litellm-master-0123456789"  # the LiteLLM key clients use (no database: the master key)
GATEWAY_KEY = "fleet-gateway-key-0123456789"  # the fleet API key LiteLLM sends upstream
KEY_ENV = "MCPFLEET_GATEWAY_KEY"


def require_litellm() -> None:
    """Skip the calling module when LiteLLM is not installed; fail instead under MCPFLEET_REQUIRE_LITELLM."""
    import pytest

    if LITELLM.exists():
        return
    if os.environ.get("MCPFLEET_REQUIRE_LITELLM"):
        raise RuntimeError(f"MCPFLEET_REQUIRE_LITELLM is set but {LITELLM} is missing: run scripts/litellm-env.sh")
    pytest.skip("LiteLLM is not installed in .tools/litellm (bash scripts/litellm-env.sh)", allow_module_level=True)


def proxy_config(rendered: str, *general: str) -> str:
    """`mcpfleet config litellm`'s output as a whole config.yaml: the master key, no models, and
    any further `general_settings` lines (e.g. "mcp_disabled_capabilities: [prompts, resources]")."""
    settings = "".join(f"  {line}\n" for line in (f"master_key: {MASTER}", *general))
    return f"{rendered}general_settings:\n{settings}model_list: []\n"


def proxy_env(home: Path, **extra: str) -> dict[str, str]:
    """LiteLLM's environment: none of ours (no MCPFLEET_*, no venv), the fleet key in KEY_ENV, the
    bundled model cost map (offline), a throwaway HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPFLEET_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({KEY_ENV: GATEWAY_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HOME": str(home), **extra})
    return env


def proxy_cmd(config: Path, port: int) -> list[str]:
    return [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
