"""Ready manifests (examples/*.yaml, package data): each passes the schema and the `cerit` profile."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from mcpfleet.common import errors

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
ALIASES = {
    "sgl": "sglang",
    "lws": "vllm-multinode",
    "leaderworkerset": "vllm-multinode",
    "multinode": "vllm-multinode",
    "inferenceservice": "kserve",
    "dra": "dra-gpu",
    "resourceclaimtemplate": "dra-gpu",
    "scaledobject": "keda",
    "web": "web-app",
    "webapp": "web-app",
    "statefulset-pvc": "statefulset",
    "pvc": "statefulset",
    "cron": "cronjob",
    "vllm-openai": "vllm",
}


@lru_cache(maxsize=1)
def topics() -> dict[str, str]:
    """topic → one-line description (the file's first comment line)."""
    out = {}
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        out[path.stem] = first.lstrip("# ").strip()
    return out


def _compact(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def example(topic: str | None = None) -> dict:
    """The manifest for a topic, or the list of topics when none is given."""
    available = topics()
    if not topic:
        text = "topics (call again with one):\n" + "\n".join(f"{k}: {v}" for k, v in available.items())
        return {"topics": [{"topic": k, "description": v} for k, v in available.items()], "text": text}
    # Separators do not matter: 'multi-node', 'multi_node', 'pod monitor' and 'PodMonitor' all match.
    compact = "".join(ch for ch in topic.lower() if ch.isalnum())
    by_compact = {_compact(k): k for k in available} | {_compact(a): t for a, t in ALIASES.items()}
    key = by_compact.get(compact)
    if key is None:
        matches = {k for c, k in by_compact.items() if compact and compact in c}
        if len(matches) != 1:
            raise errors.UserError(f"no example {topic!r}; topics: {', '.join(available)}")
        key = matches.pop()
    manifest = (EXAMPLES_DIR / f"{key}.yaml").read_text(encoding="utf-8")
    return {"topic": key, "description": available[key], "manifest": manifest, "text": manifest}
