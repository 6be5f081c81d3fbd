"""Where pods live in workload kinds, and small round-trip editing helpers for fixes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mcpfleet.servers.k8s.documents import Document

# kind → paths of pod specs inside it
POD_SPEC_PATHS: dict[str, tuple[tuple, ...]] = {
    "Pod": (("spec",),),
    "PodTemplate": (("template", "spec"),),
    "Deployment": (("spec", "template", "spec"),),
    "StatefulSet": (("spec", "template", "spec"),),
    "DaemonSet": (("spec", "template", "spec"),),
    "ReplicaSet": (("spec", "template", "spec"),),
    "ReplicationController": (("spec", "template", "spec"),),
    "Job": (("spec", "template", "spec"),),
    "CronJob": (("spec", "jobTemplate", "spec", "template", "spec"),),
    "DeploymentConfig": (("spec", "template", "spec"),),  # OpenShift apps.openshift.io/v1
    "LeaderWorkerSet": (
        ("spec", "leaderWorkerTemplate", "leaderTemplate", "spec"),
        ("spec", "leaderWorkerTemplate", "workerTemplate", "spec"),
    ),
    "InferenceService": (("spec", "predictor"),),  # KServe: the predictor inlines PodSpec fields
}
SERVING_KINDS = {
    "Deployment",
    "DeploymentConfig",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
    "LeaderWorkerSet",
    "InferenceService",
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


# Mappings are plain dicts when validating (libyaml) and ruamel's CommentedMap (a dict) when fixing.
@dataclass
class PodSpec:
    path: tuple
    spec: dict[str, Any]
    doc: Document

    @property
    def kind(self) -> str:
        return self.doc.kind


@dataclass
class Container:
    path: tuple
    data: dict[str, Any]
    pod: PodSpec
    list_name: str

    @property
    def name(self) -> str:
        return str(self.data.get("name", "?"))

    @property
    def is_init(self) -> bool:
        return self.list_name != "containers"


def seq(value: Any) -> list:
    """`value` if it is a YAML sequence, else []: `volumes: 5` or `ports: true` is a schema error,
    and a rule that iterated it used to crash the whole call."""
    return value if isinstance(value, list) else []


def get(node: Any, *path: Any) -> Any:
    for key in path:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def pod_specs(doc: Document) -> list[PodSpec]:
    found = []
    for path in POD_SPEC_PATHS.get(doc.kind, ()):
        spec = get(doc.data, *path)
        if isinstance(spec, dict):
            found.append(PodSpec(path, spec, doc))
    return found


def containers(pod: PodSpec, lists: tuple[str, ...] = CONTAINER_LISTS) -> Iterator[Container]:
    for list_name in lists:
        items = pod.spec.get(list_name)
        if isinstance(items, list):
            for i, c in enumerate(items):
                if isinstance(c, dict):
                    yield Container(pod.path + (list_name, i), c, pod, list_name)


def all_containers(doc: Document, lists: tuple[str, ...] = CONTAINER_LISTS) -> Iterator[Container]:
    for pod in pod_specs(doc):
        yield from containers(pod, lists)


class NotFixable(Exception):
    """A fix met a value of the wrong type: the schema finding says what; nothing is overwritten."""


def ensure_map(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """parent[key] as a mapping, created (at the end of parent) when missing or null."""
    from ruamel.yaml.comments import CommentedMap  # fixes only: validation never imports ruamel

    value = parent.get(key)
    if value is None:
        value = CommentedMap()
        parent[key] = value
    elif not isinstance(value, dict):
        raise NotFixable(key)
    return value


def ensure_seq(parent: dict[str, Any], key: str) -> list[Any]:
    from ruamel.yaml.comments import CommentedSeq

    value = parent.get(key)
    if value is None:
        value = CommentedSeq()
        parent[key] = value
    elif not isinstance(value, list):
        raise NotFixable(key)
    return value


def pod_meta(pod: PodSpec) -> Any:
    """The metadata next to a pod spec (template metadata, or the Pod's own)."""
    return get(pod.doc.data, *pod.path[:-1], "metadata")
