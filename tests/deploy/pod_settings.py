"""The settings a rendered pod would load: its env (values and Secret keys) and its mounted config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from mcpfleet.common.settings import Settings, load_settings

CONFIG_MOUNT = "/etc/mcpfleet/config.yaml"


def container_env(deployment: dict, secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The container's `env` as the kubelet resolves it; a secretKeyRef must name a key of `secrets`
    ((secret name, key) -> value), so a wrong Secret name or key fails here as the pod would."""
    env: dict[str, str] = {}
    for entry in deployment["spec"]["template"]["spec"]["containers"][0].get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) in secrets, (
            f"{entry['name']}: no Secret {ref['name']!r} with key {ref['key']!r}"
        )
        env[entry["name"]] = secrets[(ref["name"], ref["key"])]
    return env


def pod_settings(
    deployment: dict,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    secrets: dict[tuple[str, str], str] | None = None,
    config_maps: list[dict] = (),
) -> Settings:
    """`load_settings()` with exactly the pod's MCPFLEET_* variables, and its ConfigMap's
    config.yaml where MCPFLEET_CONFIG points at the mount."""
    env = container_env(deployment, secrets or {})
    for name in list(os.environ):
        if name.startswith("MCPFLEET_"):
            monkeypatch.delenv(name)
    if env.get("MCPFLEET_CONFIG") == CONFIG_MOUNT:
        config = next(cm for cm in config_maps if "config.yaml" in cm.get("data", {}))
        path = tmp_path / "config.yaml"
        path.write_text(config["data"]["config.yaml"])
        env["MCPFLEET_CONFIG"] = str(path)
        assert yaml.safe_load(path.read_text()) is not None
    for name, value in env.items():
        if name.startswith("MCPFLEET_"):
            monkeypatch.setenv(name, value)
    return load_settings()
