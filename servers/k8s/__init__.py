"""`k8s`: Kubernetes manifest validation (schema + policy profiles), conservative fixes, examples."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpfleet.common.spec import ServerSpec, requires

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings


def _build(settings: Settings) -> FastMCP:
    from mcpfleet.servers.k8s.server import build  # heavy imports only when the server is built

    return build(settings)


SPEC = ServerSpec(
    name="k8s",
    title="Kubernetes manifests",
    description="Validate Kubernetes manifests against schemas and policy profiles, fix them, get examples.",
    build=_build,
    extra="k8s",
    needs_network=False,  # offline; CRD URL templates are opt-in configuration
    missing=requires(("kubernetes_validate", "ruamel.yaml", "jsonschema"), (), "pip install 'mcpfleet[k8s]'"),
)
