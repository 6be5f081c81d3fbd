"""`k8s`: Kubernetes manifest validation (schema + policy profiles), conservative fixes, examples."""

from __future__ import annotations

from mcpfleet.common.spec import ServerSpec, requires

SPEC = ServerSpec(
    name="k8s",
    title="Kubernetes manifests",
    description="Validate Kubernetes manifests against schemas and policy profiles, fix them, get examples.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    cli=f"{__name__}.cli:register",
    cli_help="validate and fix Kubernetes manifests, print examples and rules",
    settings=f"{__name__}.settings:K8sSettings",
    extra="k8s",
    needs_network=False,  # offline; CRD URL templates are opt-in configuration
    missing=requires(("kubernetes_validate", "ruamel.yaml", "jsonschema"), (), "pip install 'mcpfleet[k8s]'"),
)
