"""Worker-process targets of the k8s server: parsing, schema checks, rules and fixes run here.

The server runs them in a `WorkerPool` (memory and CPU rlimits, a wall-clock timeout, a fresh
process after a crash), so one huge or hostile manifest costs one worker, never the server or
the other callers. Arguments and results are plain data: the settings as a dict, the manifest
text in; the report as a dict out. Each worker keeps one Engine per distinct settings (in
practice one), built by `warm` at start from `K8S_WORKER_SETTINGS`, so calls find compiled schemas.
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "K8S_WORKER_SETTINGS"
MAX_ENGINES = 4
_engines: dict[str, Any] = {}
_WARM_TEXT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: warm}
spec:
  selector: {matchLabels: {app: warm}}
  template:
    metadata: {labels: {app: warm}}
    spec:
      containers: [{name: warm, image: "example/warm:1"}]
---
apiVersion: v1
kind: Service
metadata: {name: warm}
spec: {selector: {app: warm}, ports: [{port: 80}]}
"""


def engine_for(settings: dict):
    """The worker's Engine for these (worker) settings, built once."""
    from mcpfleet.servers.k8s.engine import Engine
    from mcpfleet.servers.k8s.settings import K8sSettings

    key = json.dumps(settings, sort_keys=True)
    engine = _engines.get(key)
    if engine is None:
        if len(_engines) >= MAX_ENGINES:
            _engines.clear()
        engine = _engines[key] = Engine(K8sSettings.model_validate(settings))
    return engine


def warm() -> None:
    """Worker start-up: build the engine for the server's settings and compile the default
    version's common schemas, so the first call is as fast as the others."""
    settings = json.loads(os.environ.get(ENV) or "{}")
    engine_for(settings).validate_text(_WARM_TEXT)


def validate(settings: dict, text: str, kubernetes_version: str | None, profile: str | None) -> dict:
    report = engine_for(settings).validate_text(text, kubernetes_version, profile)
    return {**report.as_dict(), "text": report.text()}


def fix(settings: dict, text: str, kubernetes_version: str | None, profile: str | None) -> dict:
    result = engine_for(settings).fix_text(text, kubernetes_version, profile)
    return {**result.as_dict(), "text": result.text()}


def missing_kinds(settings: dict, text: str, kubernetes_version: str | None) -> list[tuple[str, str]]:
    """(apiVersion, kind) pairs in `text` that no bundled or configured schema knows."""
    from mcpfleet.servers.k8s.crds import missing_kinds as missing
    from mcpfleet.servers.k8s.documents import YamlSyntaxError

    engine = engine_for(settings)
    version, _ = engine.resolve(kubernetes_version, None)
    try:
        docs = engine.parse(text)
    except YamlSyntaxError:
        return []
    return missing(engine, docs, version)
