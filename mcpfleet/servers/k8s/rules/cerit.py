"""The CERIT-SC cluster's published requirements beyond the restricted Pod Security Standard."""

from __future__ import annotations

from collections.abc import Iterator

from mcpfleet.servers.k8s.documents import Document
from mcpfleet.servers.k8s.rules import Hit, rule
from mcpfleet.servers.k8s.rules.pods import all_containers, containers, ensure_map, get, pod_specs, seq
from mcpfleet.servers.k8s.rules.quantity import parse_quantity

RUNNING = ("initContainers", "containers")  # ephemeral (debug) containers take no resources


@rule("run-as-user-numeric", "error", "The pod (or every container) sets a numeric, non-zero runAsUser.", group="cerit")
def run_as_user_numeric(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        value = get(pod.spec, "securityContext", "runAsUser")
        if _uid(value):
            continue
        cs = list(containers(pod, RUNNING))
        if cs and all(_uid(get(c.data, "securityContext", "runAsUser")) for c in cs):
            continue
        # the user id belongs to the image; guessing one could break file permissions, so no fix
        yield Hit(
            pod.path + ("securityContext", "runAsUser"),
            "set pod securityContext.runAsUser to the image's numeric non-root user id, e.g. 1000",
        )


def _uid(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@rule(
    "resources-limits",
    "error",
    "Every container sets requests and limits for cpu and memory.",
    fixable=True,
    group="cerit",
)
def resources_limits(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc, RUNNING):
        for resource in ("cpu", "memory"):
            request = get(c.data, "resources", "requests", resource)
            limit = get(c.data, "resources", "limits", resource)
            if request is not None and limit is not None:
                continue
            if request is None and limit is None:
                yield Hit(
                    c.path + ("resources", "requests", resource),
                    f"container {c.name!r} must set resources.requests and resources.limits for {resource}",
                )
            elif limit is None:

                def set_limit(c=c, resource=resource, request=request) -> str:
                    ensure_map(ensure_map(c.data, "resources"), "limits")[resource] = request
                    return (
                        f"container {c.name!r}: set limits.{resource} = requests.{resource} ({request}); "
                        "raise it if the program needs bursts"
                    )

                yield Hit(
                    c.path + ("resources", "limits", resource),
                    f"container {c.name!r} requests {resource} without a limit (requests-only is not allowed)",
                    set_limit,
                )
            else:

                def set_request(c=c, resource=resource, limit=limit) -> str:
                    ensure_map(ensure_map(c.data, "resources"), "requests")[resource] = limit
                    return (
                        f"container {c.name!r}: set requests.{resource} = limits.{resource} ({limit}), "
                        "the value Kubernetes assumes anyway"
                    )

                yield Hit(
                    c.path + ("resources", "requests", resource),
                    f"container {c.name!r} limits {resource} without an explicit request",
                    set_request,
                )


@rule("ephemeral-storage", "warning", "Containers request and limit ephemeral-storage.", group="cerit")
def ephemeral_storage(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc, ("containers",)):
        if get(c.data, "resources", "limits", "ephemeral-storage") is None:
            yield Hit(
                c.path + ("resources", "limits"),
                f"container {c.name!r} should set requests and limits for ephemeral-storage",
            )


@rule(
    "fs-group-change-policy",
    "warning",
    "Pods with volumes or fsGroup set fsGroupChangePolicy: OnRootMismatch.",
    fixable=True,
    group="cerit",
)
def fs_group_change_policy(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        has_data = get(pod.spec, "securityContext", "fsGroup") is not None or any(
            isinstance(v, dict) and ("persistentVolumeClaim" in v or "ephemeral" in v)
            for v in seq(pod.spec.get("volumes"))
        )
        if not has_data or get(pod.spec, "securityContext", "fsGroupChangePolicy") is not None:
            continue

        def fix(pod=pod) -> str:
            ensure_map(pod.spec, "securityContext")["fsGroupChangePolicy"] = "OnRootMismatch"
            return (
                "set pod securityContext.fsGroupChangePolicy: OnRootMismatch (no slow recursive chown on every start)"
            )

        yield Hit(
            pod.path + ("securityContext", "fsGroupChangePolicy"),
            "set securityContext.fsGroupChangePolicy: OnRootMismatch so volumes are not re-chowned on every start",
            fix,
        )


@rule("privileged-ports", "error", "Containers listen on no port below 1024.", group="cerit")
def privileged_ports(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for c in all_containers(doc, RUNNING):
        for i, port in enumerate(seq(c.data.get("ports"))):
            number = port.get("containerPort") if isinstance(port, dict) else None
            if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 1024:
                yield Hit(
                    c.path + ("ports", i, "containerPort"),
                    f"container {c.name!r} port {number} is below 1024; listen on a port >= 1024 (e.g. 8080)",
                )


@rule(
    "memory-emptydir",
    "warning",
    "Memory-backed emptyDir volumes have a sizeLimit within the memory limit (they count against it).",
    group="cerit",
)
def memory_emptydir(doc: Document, docs: list[Document]) -> Iterator[Hit]:
    for pod in pod_specs(doc):
        for i, vol in enumerate(seq(pod.spec.get("volumes"))):
            empty = vol.get("emptyDir") if isinstance(vol, dict) else None
            if not isinstance(empty, dict) or empty.get("medium") != "Memory":
                continue
            name = vol.get("name")
            users = [
                c
                for c in containers(pod, RUNNING)
                if any(isinstance(m, dict) and m.get("name") == name for m in seq(c.data.get("volumeMounts")))
            ]
            size = parse_quantity(empty.get("sizeLimit")) if empty.get("sizeLimit") is not None else None
            if size is None:
                yield Hit(
                    pod.path + ("volumes", i, "emptyDir", "sizeLimit"),
                    f"memory-backed volume {name!r} has no sizeLimit; what it holds counts against the memory "
                    "limit of " + (", ".join(repr(c.name) for c in users) or "the pod"),
                )
                continue
            for c in users:
                limit = parse_quantity(get(c.data, "resources", "limits", "memory"))
                if limit is not None and size > limit:
                    yield Hit(
                        pod.path + ("volumes", i, "emptyDir", "sizeLimit"),
                        f"memory-backed volume {name!r} may hold {empty['sizeLimit']}, more than container "
                        f"{c.name!r}'s memory limit {get(c.data, 'resources', 'limits', 'memory')}",
                    )
