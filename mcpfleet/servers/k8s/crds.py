"""CRD schemas from outside the bundle: a URL template (CRDs-catalog layout) with a disk cache, and
the CRDs of a live cluster. Both are opt-in (`[servers.k8s]`); the default is fully offline."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from mcpfleet.common import errors
from mcpfleet.servers.k8s.documents import Document

log = logging.getLogger("mcpfleet.k8s")
MAX_SCHEMA_BYTES = 5_000_000
MAX_FETCHES_PER_CALL = 20


def catalog_path(cache_dir: str | Path, api_version: str, kind: str) -> Path | None:
    """Where a group/version/kind lives in the CRDs-catalog layout: <group>/<kind>_<version>.json."""
    if "/" not in api_version:
        return None
    group, version = api_version.split("/", 1)
    if len(group) > 253 or len(version) > 63 or len(kind) > 63:  # DNS-name limits; longer is no CRD
        return None
    if (
        not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", group)
        or not re.fullmatch(r"[a-z0-9]+", version)
        or not re.fullmatch(r"[A-Za-z0-9]+", kind)
    ):
        return None
    return Path(cache_dir) / group / f"{kind.lower()}_{version}.json"


def missing_kinds(engine, docs: list[Document], version: str) -> list[tuple[str, str]]:
    """(apiVersion, kind) pairs of the documents that no bundled or configured schema knows."""
    wanted = []
    for doc in docs:
        pair = (doc.api_version, doc.kind)
        if pair[0] and pair[1] and pair not in wanted and engine.schemas.validator(version, *pair) is None:
            wanted.append(pair)
    return wanted


async def fetch_catalog_schemas(engine, text: str, version: str, http_settings) -> int:
    """Fetch the schemas of unknown kinds in `text` from `crd_url_template` into `crd_cache_dir`
    and register them with `engine` (the CLI's in-process path).

    Returns how many were fetched. Failures are logged and leave the kind unknown (a warning).
    """
    if not engine.settings.crd_url_template:
        return 0
    from mcpfleet.servers.k8s.documents import YamlSyntaxError

    try:
        docs = engine.parse(text)
    except YamlSyntaxError:
        return 0
    fetched = await fetch_schemas(engine.settings, missing_kinds(engine, docs, version), http_settings)
    for api_version, kind, schema in fetched:
        engine.schemas.add_json_schema(api_version, kind, schema)
        engine.schemas.forget(api_version, kind)
    return len(fetched)


async def fetch_schemas(settings, pairs: list[tuple[str, str]], http_settings) -> list[tuple[str, str, dict]]:
    """Fetch (apiVersion, kind) schemas from `settings.crd_url_template` into the CRDs-catalog
    layout under `settings.crd_cache_dir` (where every engine finds them from then on, also
    after a restart); returns what was fetched. At most MAX_FETCHES_PER_CALL per call."""
    if not settings.crd_url_template:
        return []
    if not settings.crd_cache_dir:
        raise errors.ConfigError("servers.k8s.crd_url_template needs servers.k8s.crd_cache_dir")
    from mcpfleet.common.http import OutboundClient

    fetched: list[tuple[str, str, dict]] = []
    async with OutboundClient(http_settings) as client:
        for api_version, kind in pairs[:MAX_FETCHES_PER_CALL]:
            path = catalog_path(settings.crd_cache_dir, api_version, kind)
            if path is None or path.exists():
                continue
            group, ver = api_version.split("/", 1)
            url = settings.crd_url_template.format(group=group, kind=kind.lower(), version=ver)
            try:
                result = await client.fetch(url, max_bytes=MAX_SCHEMA_BYTES, accept_status=(200, 404))
            except errors.OutboundError as exc:
                log.info("CRD schema %s: %s", url, exc)
                continue
            if result.status != 200:
                continue
            try:
                schema = json.loads(result.text())
            except ValueError:
                log.info("CRD schema %s is not JSON", url)
                continue
            if not isinstance(schema, dict):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(schema), encoding="utf-8")
            fetched.append((api_version, kind, schema))
    return fetched


def cluster_crds(timeout: float = 10.0) -> list[dict]:
    """The CustomResourceDefinitions of the cluster in the kubeconfig (or in-cluster config)."""
    try:
        from kubernetes import client, config  # optional: only for live-cluster CRDs
    except ImportError:
        raise errors.ConfigError(
            "servers.k8s.cluster_crds needs the 'kubernetes' package: pip install kubernetes"
        ) from None
    try:
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        api = client.ApiextensionsV1Api()
        crds = api.list_custom_resource_definition(_request_timeout=timeout)
        return [api.api_client.sanitize_for_serialization(item) for item in crds.items]
    except Exception as exc:  # the client raises many types; none must stop the server
        log.warning("could not read CRDs from the cluster: %s", exc)
        return []
