"""Best practices and GPU-inference rules: warnings in every built-in profile."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

from mcpfleet.servers.k8s.documents import Document
from mcpfleet.servers.k8s.rules import Hit, rule
from mcpfleet.servers.k8s.rules.pods import (
    POD_SPEC_PATHS,
    SERVING_KINDS,
    Container,
    PodSpec,
    all_containers,
    containers,
    ensure_map,
    ensure_seq,
    get,
    pod_specs,
    seq,
)
from mcpfleet.servers.k8s.rules.quantity import parse_quantity

MODEL_LOAD_SECONDS = 600  # a startup probe should allow this long for weights to load
SELECTOR_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
PARALLEL_FLAGS = re.compile(r"^--?(tensor-parallel-size|tp|tp-size|pipeline-parallel-size|pp|pp-size)(?:=(\d+))?$")


@rule("image-tag", "warning", "Images name a tag other than latest (or a digest).", group="practices")
def image_tag(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc):
        image = c.data.get("image")
        if not isinstance(image, str) or not image or "@" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else None
        if tag is None:
            yield Hit(c.path + ("image",), f"container {c.name!r}: image {image!r} has no tag; pin a version")
        elif tag == "latest":
            yield Hit(c.path + ("image",), f"container {c.name!r}: image {image!r} uses 'latest'; pin a version")


@rule("probes", "warning", "Long-running containers have readiness and liveness probes.", group="practices")
def probes(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    if doc.kind not in SERVING_KINDS:
        return
    for c in all_containers(doc, ("containers",)):
        missing = [p for p in ("readinessProbe", "livenessProbe") if not isinstance(c.data.get(p), dict)]
        if missing:
            yield Hit(c.path + (missing[0],), f"container {c.name!r} has no {' or '.join(missing)}")


@rule(
    "read-only-root-filesystem",
    "warning",
    "Containers set securityContext.readOnlyRootFilesystem: true "
    "(write to mounted volumes such as an emptyDir instead). Not a Pod Security Standard control; not fixed "
    "automatically, since a program that writes to its image would then fail.",
    group="practices",
)
def read_only_root_filesystem(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc, ("initContainers", "containers")):
        if get(c.data, "securityContext", "readOnlyRootFilesystem") is not True:
            yield Hit(
                c.path + ("securityContext", "readOnlyRootFilesystem"),
                f"container {c.name!r} should set securityContext.readOnlyRootFilesystem: true",
            )


def _gpu_keys(c: Container) -> set[str]:
    keys = set()
    for section in ("requests", "limits"):
        values = get(c.data, "resources", section)
        if isinstance(values, dict):
            keys |= {str(k) for k in values if str(k).endswith("/gpu")}
    return keys


@rule(
    "gpu-limit",
    "warning",
    "GPU requests have an equal limit (extended resources cannot be overcommitted).",
    fixable=True,
    group="gpu",
)
def gpu_limit(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc, ("initContainers", "containers")):
        for key in sorted(_gpu_keys(c)):
            request = get(c.data, "resources", "requests", key)
            limit = get(c.data, "resources", "limits", key)
            if request is None or (limit is not None and parse_quantity(limit) == parse_quantity(request)):
                continue
            if limit is None:

                def fix(c=c, key=key, request=request) -> str:
                    ensure_map(ensure_map(c.data, "resources"), "limits")[key] = request
                    return f"container {c.name!r}: set limits.{key} = requests.{key} ({request})"

                yield Hit(
                    c.path + ("resources", "limits", key),
                    f"container {c.name!r} requests {key} without a limit; GPUs need limits equal to requests",
                    fix,
                )
            else:
                yield Hit(
                    c.path + ("resources", "limits", key),
                    f"container {c.name!r}: {key} limit {limit} differs from request {request}; make them equal",
                )


def _words(c: Container) -> list[str]:
    words: list[str] = []
    for key in ("command", "args"):
        value = c.data.get(key)
        for item in value if isinstance(value, list) else []:
            text = str(item)
            try:
                words += shlex.split(text) if " " in text else [text]
            except ValueError:
                words += text.split()
    return words


def _parallelism(c: Container) -> int:
    words, size = _words(c), 1
    for i, word in enumerate(words):
        m = PARALLEL_FLAGS.match(word)
        if m:
            value = m[2] or (words[i + 1] if i + 1 < len(words) else "")
            if str(value).isdigit():
                size = max(size, int(value))
    return size


def _is_inference_server(c: Container) -> bool:
    image = str(c.data.get("image", "")).lower()
    words = " ".join(_words(c)).lower()
    return any(s in image for s in ("vllm", "sglang")) or bool(re.search(r"\bvllm\b|\bsglang\b", words))


def _shm_volume(pod: PodSpec, c: Container) -> tuple[bool, bool]:
    """(something is mounted at /dev/shm, it is a memory-backed emptyDir)."""
    for m in seq(c.data.get("volumeMounts")):
        if isinstance(m, dict) and str(m.get("mountPath", "")).rstrip("/") == "/dev/shm":
            for v in seq(pod.spec.get("volumes")):
                if isinstance(v, dict) and v.get("name") == m.get("name"):
                    return True, get(v, "emptyDir", "medium") == "Memory"
            return True, False
    return False, False


@rule(
    "gpu-shm",
    "warning",
    "GPU containers using tensor/pipeline parallelism mount a memory-backed /dev/shm "
    "(NCCL needs more than the 64 MiB default).",
    fixable=True,
    group="gpu",
)
def gpu_shm(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for c in containers(pod, ("containers",)):
            if not _gpu_keys(c) or _parallelism(c) < 2:
                continue
            mounted, memory = _shm_volume(pod, c)
            if memory:
                continue
            if mounted:
                yield Hit(
                    c.path + ("volumeMounts",), f"container {c.name!r}: /dev/shm is not an emptyDir with medium: Memory"
                )
                continue

            def fix(pod=pod, c=c) -> str:
                from ruamel.yaml.comments import CommentedMap

                names = {v.get("name") for v in seq(pod.spec.get("volumes")) if isinstance(v, dict)}
                name = next(n for n in ("dshm", "dshm-1", "dshm-2", "dshm-3", "shm-memory") if n not in names)
                volume = CommentedMap([("name", name), ("emptyDir", CommentedMap([("medium", "Memory")]))])
                volumes, mounts = ensure_seq(pod.spec, "volumes"), ensure_seq(c.data, "volumeMounts")  # both or none
                volumes.append(volume)
                mounts.append(CommentedMap([("name", name), ("mountPath", "/dev/shm")]))
                return (
                    f"container {c.name!r}: mount a memory-backed emptyDir {name!r} at /dev/shm "
                    "(give it a sizeLimit within the memory limit)"
                )

            yield Hit(
                c.path + ("volumeMounts",),
                f"container {c.name!r} uses {_parallelism(c)}-way GPU parallelism without a memory-backed /dev/shm",
                fix,
            )


@rule(
    "inference-startup-probe",
    "warning",
    f"vLLM/SGLang containers have a startup probe allowing {MODEL_LOAD_SECONDS} s or more for model loading.",
    group="gpu",
)
def inference_startup_probe(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc, ("containers",)):
        if not _is_inference_server(c):
            continue
        probe = c.data.get("startupProbe")
        if not isinstance(probe, dict):
            yield Hit(
                c.path + ("startupProbe",),
                f"container {c.name!r} serves a model but has no startupProbe; "
                f"allow >= {MODEL_LOAD_SECONDS} s (e.g. periodSeconds: 10, failureThreshold: 60)",
            )
            continue
        budget = _num(probe.get("initialDelaySeconds"), 0) + _num(probe.get("periodSeconds"), 10) * _num(
            probe.get("failureThreshold"), 3
        )
        if budget < MODEL_LOAD_SECONDS:
            yield Hit(
                c.path + ("startupProbe",),
                f"container {c.name!r}: startupProbe allows {budget} s for model "
                f"loading; raise failureThreshold to allow >= {MODEL_LOAD_SECONDS} s",
            )


def _num(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _matches(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels + matchExpressions) against labels."""
    for k, v in (get(selector, "matchLabels") if isinstance(get(selector, "matchLabels"), dict) else {}).items():
        if str(labels.get(k)) != str(v) or k not in labels:
            return False
    for expr in seq(selector.get("matchExpressions")):
        if not isinstance(expr, dict):
            continue
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in seq(expr.get("values"))]
        present = key in labels
        if op == "In" and not (present and str(labels[key]) in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


MAP_SELECTOR_KINDS = {"ReplicationController", "DeploymentConfig"}  # `selector` is a plain label map


def _template_labels(doc: Document) -> list[dict]:
    """The labels of each pod template in `doc` (a template without a spec still has labels)."""
    found = []
    for path in POD_SPEC_PATHS.get(doc.kind, ()):
        if isinstance(get(doc.data, *path[:-1]), dict):
            labels = get(doc.data, *path[:-1], "metadata", "labels")
            found.append(dict(labels) if isinstance(labels, dict) else {})
    return found


@rule("selector-labels", "error", "Workload selectors match their pod template's labels.", group="practices")
def selector_labels(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    if doc.kind not in SELECTOR_KINDS | MAP_SELECTOR_KINDS:
        return
    selector = get(doc.data, "spec", "selector")
    templates = _template_labels(doc)
    if not isinstance(selector, dict) or not selector or not templates:
        return  # an empty ReplicationController/DeploymentConfig selector defaults to the template's labels
    if doc.kind in MAP_SELECTOR_KINDS:
        selector = {"matchLabels": selector}
    labels = templates[0]
    if not _matches(selector, labels):
        yield Hit(
            ("spec", "selector"),
            f"spec.selector does not match the pod template labels {labels or '{}'}; the API server rejects this",
        )


_LABELS_CACHE: dict[int, tuple[list, dict]] = {}


def _labels_by_namespace(docs: list[Document]) -> dict:
    """Pod template labels of the file per namespace, computed once per file (not per Service)."""
    cached = _LABELS_CACHE.get(id(docs))
    if cached is not None and cached[0] is docs:
        return cached[1]
    found: dict = {}
    for d in docs:
        for labels in _template_labels(d):
            found.setdefault(get(d.data, "metadata", "namespace"), []).append(labels)
    _LABELS_CACHE.clear()  # one file at a time per thread is the common case; keep it small
    _LABELS_CACHE[id(docs)] = (docs, found)
    return found


@rule("service-selector", "warning", "A Service's selector matches some workload in the same file.", group="practices")
def service_selector(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    if doc.kind != "Service":
        return
    selector = get(doc.data, "spec", "selector")
    if not isinstance(selector, dict) or not selector:
        return
    namespace = get(doc.data, "metadata", "namespace")
    candidates = _labels_by_namespace(docs).get(namespace)
    if not candidates:
        return  # the workload lives elsewhere: nothing to compare with
    if not any(_matches({"matchLabels": selector}, labels) for labels in candidates):
        yield Hit(("spec", "selector"), f"Service selector {dict(selector)} matches no pod template in this file")
