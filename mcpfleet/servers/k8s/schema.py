"""Schema validation: Kubernetes OpenAPI schemas bundled by kubernetes-validate, and CRD schemas.

kubernetes-validate re-reads and re-compiles a 1.8 MB definitions file on every call; here each
(version, apiVersion, kind) validator is compiled once and cached, sharing one registry per version.
Validation is strict (unknown fields are errors), as `kubectl apply --validate=strict` is.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpfleet.common import errors
from mcpfleet.common.text import clip

if TYPE_CHECKING:  # jsonschema and referencing load when a manifest is first validated (in the
    import jsonschema  # workers), not when the server process builds its Engine (~0.15-0.25 s)
    from referencing import Registry

MIN_VERSION = (1, 25)
MAX_VERSION = (1, 37)
MAX_ERRORS_PER_DOCUMENT = 50
MAX_MESSAGE = 300  # characters of one schema message
NOT_CLUSTER_OBJECTS = {"kustomize.config.k8s.io"}

# apiVersion/kind pairs removed from Kubernetes: (group/version, kind) → (removed in, replacement).
REMOVED_APIS: dict[tuple[str, str], tuple[str, str]] = {
    ("extensions/v1beta1", "Ingress"): ("1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "Ingress"): ("1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "IngressClass"): ("1.22", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "Deployment"): ("1.16", "apps/v1"),
    ("apps/v1beta1", "Deployment"): ("1.16", "apps/v1"),
    ("apps/v1beta2", "Deployment"): ("1.16", "apps/v1"),
    ("extensions/v1beta1", "DaemonSet"): ("1.16", "apps/v1"),
    ("apps/v1beta2", "DaemonSet"): ("1.16", "apps/v1"),
    ("extensions/v1beta1", "ReplicaSet"): ("1.16", "apps/v1"),
    ("apps/v1beta2", "ReplicaSet"): ("1.16", "apps/v1"),
    ("apps/v1beta1", "StatefulSet"): ("1.16", "apps/v1"),
    ("apps/v1beta2", "StatefulSet"): ("1.16", "apps/v1"),
    ("extensions/v1beta1", "NetworkPolicy"): ("1.16", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "PodSecurityPolicy"): ("1.16", "none: use Pod Security Admission"),
    ("policy/v1beta1", "PodSecurityPolicy"): ("1.25", "none: use Pod Security Admission"),
    ("policy/v1beta1", "PodDisruptionBudget"): ("1.25", "policy/v1"),
    ("batch/v1beta1", "CronJob"): ("1.25", "batch/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): ("1.25", "autoscaling/v2"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): ("1.26", "autoscaling/v2"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): ("1.25", "discovery.k8s.io/v1"),
    ("events.k8s.io/v1beta1", "Event"): ("1.25", "events.k8s.io/v1"),
    ("node.k8s.io/v1beta1", "RuntimeClass"): ("1.25", "node.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"): ("1.26", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"): ("1.26", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"): ("1.29", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration"): ("1.29", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"): ("1.32", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration"): ("1.32", "flowcontrol.apiserver.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): ("1.27", "storage.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "Role"): ("1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"): ("1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "RoleBinding"): ("1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"): ("1.22", "rbac.authorization.k8s.io/v1"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"): ("1.22", "apiextensions.k8s.io/v1"),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"): (
        "1.22",
        "admissionregistration.k8s.io/v1",
    ),
    ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration"): (
        "1.22",
        "admissionregistration.k8s.io/v1",
    ),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"): ("1.22", "certificates.k8s.io/v1"),
    ("coordination.k8s.io/v1beta1", "Lease"): ("1.22", "coordination.k8s.io/v1"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"): ("1.22", "scheduling.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "StorageClass"): ("1.22", "storage.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSIDriver"): ("1.22", "storage.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"): ("1.22", "storage.k8s.io/v1"),
    ("resource.k8s.io/v1alpha2", "ResourceClaimTemplate"): ("1.31", "resource.k8s.io/v1 (1.34+)"),
}


@dataclass(frozen=True)
class SchemaProblem:
    """One schema finding: rule is `schema`, `removed-api`, `unknown-kind` or `not-a-resource`."""

    rule: str
    path: tuple
    message: str


def _schema_root() -> Path:
    import importlib.util

    # the bundled schemas only: importing kubernetes_validate itself would cost the CLI ~0.2 s
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise errors.ConfigError("the k8s server needs kubernetes-validate: pip install 'mcpfleet[k8s]'")
    return Path(next(iter(spec.submodule_search_locations))).resolve() / "kubernetes-json-schema"


@lru_cache(maxsize=1)
def bundled_versions() -> tuple[str, ...]:
    """Kubernetes minor versions (e.g. '1.37') bundled by kubernetes-validate, oldest first."""
    found = []
    for child in _schema_root().iterdir():
        m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", child.name)
        if m and MIN_VERSION <= (int(m[1]), int(m[2])) <= MAX_VERSION:
            found.append((int(m[1]), int(m[2])))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def default_version() -> str:
    versions = bundled_versions()
    if not versions:
        raise errors.ConfigError("kubernetes-validate bundles no schemas for Kubernetes 1.25-1.37")
    return versions[-1]


def check_version(version: str) -> str:
    """'v1.33.2' → '1.33'; a UserError naming the choices when it is not bundled."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version.strip())
    versions = bundled_versions()
    if not m or f"{int(m[1])}.{int(m[2])}" not in versions:
        raise errors.UserError(
            f"Kubernetes version {version!r} is not available; choose {versions[0]} to {versions[-1]}"
        )
    return f"{int(m[1])}.{int(m[2])}"


def _version_dir(version: str) -> Path:
    return _schema_root() / f"v{version}.0-local-strict"


class SchemaStore:
    """Compiled validators for built-in kinds and CRDs, cached per (version, apiVersion, kind)."""

    def __init__(self, crd_dirs: Iterable[str | Path] = (), crd_objects: Iterable[dict] = ()) -> None:
        self._lock = threading.Lock()
        self._registries: dict[str, Registry] = {}
        self._validators: dict[tuple[str, str, str], Any] = {}
        self._crds: dict[tuple[str, str], dict] = {}  # (apiVersion, kind) → openAPI schema
        # CRDs-catalog JSON schemas name the kind only in lower case (`{group}/{kind}_{version}.json`)
        # and often carry no kind enum: (apiVersion, lower-case kind) → schema
        self._catalog: dict[tuple[str, str], dict] = {}
        self._crd_dirs = [Path(d) for d in crd_dirs]
        for obj in crd_objects:
            self.add_crd(obj)
        for directory in self._crd_dirs:
            self._load_dir(directory)

    # --- CRDs -------------------------------------------------------------------------------

    def add_crd(self, crd: dict) -> int:
        """Register the served versions of a CustomResourceDefinition object; returns how many."""
        spec = crd.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        if not group or not kind:
            return 0
        added = 0
        # apiextensions.k8s.io/v1beta1: one schema for every version (spec.validation), and
        # possibly a single `spec.version` instead of a list
        shared = (
            (spec.get("validation") or {}).get("openAPIV3Schema") if isinstance(spec.get("validation"), dict) else None
        )
        versions = spec.get("versions") or ([{"name": spec["version"]}] if isinstance(spec.get("version"), str) else [])
        for version in versions:
            schema = ((version.get("schema") or {}).get("openAPIV3Schema")) if isinstance(version, dict) else None
            schema = schema if isinstance(schema, dict) else shared
            if isinstance(schema, dict) and isinstance(version, dict) and version.get("name"):
                self._crds[(f"{group}/{version['name']}", kind)] = _strict_crd_schema(schema)
                added += 1
        return added

    def add_json_schema(self, api_version: str, kind: str, schema: dict) -> None:
        self._crds[(api_version, kind)] = _strict_crd_schema(schema)

    def _load_dir(self, directory: Path) -> None:
        """CRD YAML files, and JSON schemas in the CRDs-catalog layout `<group>/<kind>_<version>.json`."""
        if not directory.is_dir():
            raise errors.ConfigError(f"servers.k8s.crd_dir: {directory} is not a directory")
        from mcpfleet.servers.k8s.documents import YamlSyntaxError, parse

        for path in sorted(directory.rglob("*")):
            if path.suffix in (".yaml", ".yml"):
                try:
                    for doc in parse(path.read_text(encoding="utf-8")):
                        if doc.kind == "CustomResourceDefinition":
                            self.add_crd(_plain(doc.data))
                except (OSError, YamlSyntaxError):
                    continue
            elif path.suffix == ".json" and path.parent != directory:
                m = re.fullmatch(r"([a-z0-9]+)_([a-z0-9]+)", path.stem)
                if not m:
                    continue
                schema = _json_object(path)
                if schema is not None:
                    self._add_catalog(f"{path.parent.name}/{m[2]}", m[1], schema)

    def _add_catalog(self, api_version: str, lower_kind: str, schema: dict) -> None:
        kind = _kind_from_schema(schema, lower_kind)
        if kind:
            self._crds[(api_version, kind)] = _strict_crd_schema(schema)
        else:
            self._catalog[(api_version, lower_kind)] = _strict_crd_schema(schema)

    def crd_schema(self, api_version: str, kind: str) -> dict | None:
        """The configured schema of a custom kind: registered, loaded from `crd_dirs`, or a catalog
        file `<group>/<kind>_<version>.json` that appeared in one of them since (the disk cache)."""
        found = self._crds.get((api_version, kind)) or self._catalog.get((api_version, kind.lower()))
        if found is not None or not self._crd_dirs or "/" not in api_version:
            return found
        from mcpfleet.servers.k8s.crds import catalog_path

        for directory in self._crd_dirs:
            path = catalog_path(directory, api_version, kind)
            if path is None or not path.is_file():
                continue
            schema = _json_object(path)
            if schema is not None:
                with self._lock:
                    self._add_catalog(api_version, kind.lower(), schema)
                return self._crds.get((api_version, kind)) or self._catalog.get((api_version, kind.lower()))
        return None

    def forget(self, api_version: str, kind: str) -> None:
        """Drop cached validators (including 'no schema') for a kind whose schema just arrived."""
        with self._lock:
            for key in [k for k in self._validators if k[1:] == (api_version, kind)]:
                del self._validators[key]

    def knows_crd(self, api_version: str, kind: str) -> bool:
        return self.crd_schema(api_version, kind) is not None

    # --- validation -------------------------------------------------------------------------

    def served_in(self, api_version: str, kind: str) -> list[str]:
        """The bundled Kubernetes versions that have a schema for this built-in apiVersion/kind."""
        if self.crd_schema(api_version, kind) is not None:
            return []
        return [v for v in bundled_versions() if _builtin_schema(v, api_version, kind) is not None]

    def validator(self, version: str, api_version: str, kind: str) -> Any | None:
        key = (version, api_version, kind)
        with self._lock:
            if key in self._validators:
                return self._validators[key]
        built = self._build(version, api_version, kind)
        if built is None:
            # Not remembered: the names come from callers' manifests, so caching misses would let
            # a stream of made-up kinds grow this dict without bound (misses are cheap anyway).
            return None
        with self._lock:
            self._validators[key] = built
        return built

    def _build(self, version: str, api_version: str, kind: str) -> Any | None:
        import jsonschema

        crd = self.crd_schema(api_version, kind)
        if crd is not None:
            return jsonschema.Draft202012Validator(crd)
        schema = _builtin_schema(version, api_version, kind)
        if schema is None:
            return None
        return jsonschema.Draft202012Validator(schema, registry=self._registry(version))

    def _registry(self, version: str) -> Registry:
        with self._lock:
            registry = self._registries.get(version)
        if registry is None:
            from referencing import Registry, Resource

            defs = json.loads((_version_dir(version) / "_definitions.json").read_text(encoding="utf-8"))
            registry = Resource.from_contents(defs) @ Registry()
            # no crawl(): refs are JSON pointers into this one resource, resolved on use (the
            # crawl indexed 11,000 subschemas up front, ~0.1 s per version for nothing)
            with self._lock:
                self._registries[version] = registry
        return registry

    def check(self, data: Any, version: str) -> Iterator[SchemaProblem]:
        """Schema problems of one document (nothing for a kind no schema knows but `unknown-kind`)."""
        if not isinstance(data, dict):
            yield SchemaProblem("not-a-resource", (), "a document must be a mapping with apiVersion, kind and metadata")
            return
        api_version, kind = data.get("apiVersion"), data.get("kind")
        if not isinstance(api_version, str) or not api_version or not isinstance(kind, str) or not kind:
            missing = [k for k in ("apiVersion", "kind") if not isinstance(data.get(k), str) or not data.get(k)]
            yield SchemaProblem("not-a-resource", (), f"missing {' and '.join(missing)}")
            return
        if api_version.split("/")[0] in NOT_CLUSTER_OBJECTS:
            return  # build-tool files that share the format (kustomization.yaml), never applied
        if is_list(data):
            return  # `kind: List` is no API object: the engine checks its items one by one
        removed = REMOVED_APIS.get((api_version, kind))
        if removed:
            since, instead = removed
            yield SchemaProblem(
                "removed-api", ("apiVersion",), f"{kind} {api_version} was removed in Kubernetes {since}; use {instead}"
            )
            return
        validator = self.validator(version, api_version, kind)
        if validator is None:
            served = self.served_in(api_version, kind)
            if served:
                yield SchemaProblem(
                    "api-not-available",
                    ("apiVersion",),
                    f"{kind} {api_version} is not served by Kubernetes {version}; it is by "
                    f"{served[0]}" + (f" to {served[-1]}" if len(served) > 1 else ""),
                )
                return
            builtin = builtin_kinds(version)
            if _group(api_version) in {_group(gv) for gv in builtin}:
                # a Kubernetes API group has no such kind: a typo or a wrong apiVersion, never a CRD
                elsewhere = sorted(gv for gv, kinds in builtin.items() if kind in kinds)
                hint = f"; {kind} is served as {' or '.join(elsewhere)}" if elsewhere else ""
                message = f"Kubernetes {version} has no kind {kind} in {api_version}{hint}"
                yield SchemaProblem("api-not-available", ("kind",), clip(message, MAX_MESSAGE))
                return
            yield SchemaProblem(
                "unknown-kind",
                ("kind",),
                f"no schema for {kind} {api_version} in Kubernetes {version}"
                " or the configured CRDs; only policy rules were checked",
            )
            return
        found = sorted(validator.iter_errors(_plain(data)), key=lambda e: list(map(str, e.absolute_path)))
        for n, error in enumerate(found):
            if n >= MAX_ERRORS_PER_DOCUMENT:
                yield SchemaProblem("schema", (), f"{len(found) - n} more schema errors not shown")
                break
            yield _problem(error)


def is_list(data: Any) -> bool:
    """`apiVersion: v1, kind: List` with an `items` sequence (what `kubectl get -o yaml` writes)."""
    return (
        isinstance(data, dict)
        and data.get("apiVersion") == "v1"
        and data.get("kind") == "List"
        and isinstance(data.get("items"), list)
    )


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]  # "v1" → "" (the core group)


@lru_cache(maxsize=16)
def builtin_kinds(version: str) -> dict[str, frozenset[str]]:
    """apiVersion → the kinds Kubernetes `version` serves there (from the bundled definitions)."""
    defs = json.loads((_version_dir(version) / "_definitions.json").read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for definition in (defs.get("$defs") or defs.get("definitions") or {}).values():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            gv = f"{gvk['group']}/{gvk['version']}" if gvk.get("group") else gvk.get("version")
            found.setdefault(gv, set()).add(gvk.get("kind"))
    return {gv: frozenset(kinds) for gv, kinds in found.items()}


@lru_cache(maxsize=4096)
def _builtin_schema_text(version: str, api_version: str, kind: str) -> str | None:
    # rbac.authorization.k8s.io/v1 → rbac-v1, as kubernetes-validate names its files
    file_api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    if "/" in file_api or not re.fullmatch(r"[a-z0-9-]+", file_api) or not re.fullmatch(r"[A-Za-z0-9]+", kind):
        return None
    path = _version_dir(version) / f"{kind.lower()}-{file_api}.json"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    if _gvk_mismatch(json.loads(text), api_version, kind):
        return None  # e.g. "foo.example.com/v1" would otherwise map onto the built-in "foo-v1"
    return text


def _builtin_schema(version: str, api_version: str, kind: str) -> dict | None:
    if len(api_version) > 320 or len(kind) > 100:  # no such built-in; kept out of the lru_cache's keys
        return None
    text = _builtin_schema_text(version, api_version, kind)
    return json.loads(text) if text is not None else None


def _problem(error: jsonschema.ValidationError) -> SchemaProblem:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema or {}).get("properties") or {})
        extra = sorted(k for k in error.instance if k not in allowed)
        if extra:
            hint = _closest(extra[0], allowed)
            return SchemaProblem(
                "schema",
                path + (extra[0],),
                f"unknown field {extra[0]!r}" + (f" (did you mean {hint!r}?)" if hint else ""),
            )
    if error.validator in ("oneOf", "anyOf") and error.context:
        import jsonschema.exceptions

        best = jsonschema.exceptions.best_match(error.context)
        return SchemaProblem("schema", path, clip(best.message, MAX_MESSAGE))
    if error.validator == "enum" and error.absolute_path and list(error.absolute_path)[-1] in ("apiVersion", "kind"):
        return SchemaProblem(
            "schema", path, f"{error.instance!r} is not valid here; expected one of {error.validator_value}"
        )
    return SchemaProblem("schema", path, clip(error.message, MAX_MESSAGE))


def _closest(word: str, choices: set[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.75)
    return match[0] if match else None


def _gvk_mismatch(schema: dict, api_version: str, kind: str) -> bool:
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    for gvk in gvks:
        expected = f"{gvk['group']}/{gvk['version']}" if gvk.get("group") else gvk.get("version")
        if expected == api_version and gvk.get("kind") == kind:
            return False
    return bool(gvks)


def _kind_from_schema(schema: dict, lower: str) -> str | None:
    for gvk in schema.get("x-kubernetes-group-version-kind") or []:
        if str(gvk.get("kind", "")).lower() == lower:
            return gvk["kind"]
    enum = ((schema.get("properties") or {}).get("kind") or {}).get("enum") or []
    for value in enum:
        if str(value).lower() == lower:
            return value
    return None


def kind_for_catalog(lower_kind: str, schema: dict) -> str | None:
    return _kind_from_schema(schema, lower_kind)


def _strict_crd_schema(schema: dict) -> dict:
    """A CRD's openAPIV3Schema as a strict JSON schema: unknown fields are errors (as the API
    server's strict field validation makes them) unless the schema preserves them."""
    schema = copy.deepcopy(schema)

    def walk(node: Any, top: bool = False) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                if top:
                    props.setdefault("apiVersion", {"type": "string"})
                    props.setdefault("kind", {"type": "string"})
                    props.setdefault("metadata", {"type": "object"})
                if "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                    node["additionalProperties"] = False
            if node.get("nullable") is True and isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            if node.get("x-kubernetes-int-or-string"):
                node.pop("type", None)
                node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            for key, value in list(node.items()):
                if key == "properties" and isinstance(value, dict):
                    for child in value.values():
                        walk(child)
                elif key in ("items", "additionalProperties", "not"):
                    walk(value)
                elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
                    for child in value:
                        walk(child)

    walk(schema, top=True)
    return schema


def _plain(data: Any) -> Any:
    """Round-trip containers as plain dicts/lists (jsonschema checks `dict`, timestamps as strings)."""
    import datetime

    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    if isinstance(data, (datetime.date, datetime.datetime)):
        return data.isoformat()
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    if isinstance(data, str):
        return str(data)
    return str(data)


def _json_object(path: Path) -> dict | None:
    """The JSON object in a catalog file, or None when it cannot be read or is not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
