"""`[servers.k8s]` settings (also read by the `mcpfleet k8s` CLI)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class K8sSettings(BaseModel):
    """`[servers.k8s]`: everything is offline unless a CRD URL template or live-cluster CRDs are enabled."""

    model_config = {"extra": "forbid"}
    kubernetes_version: str | None = Field(default=None, description="default: newest bundled (<= 1.37)")
    profile: str = Field(default="restricted", description="default policy profile")
    profile_dirs: list[str] = Field(default_factory=list, description="directories of extra profile YAML files")
    crd_dirs: list[str] = Field(default_factory=list, description="CRD YAML files or CRDs-catalog JSON schemas")
    crd_url_template: str | None = Field(
        default=None,
        description="e.g. https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/{group}/{kind}_{version}.json",
    )
    crd_cache_dir: str | None = Field(default=None, description="disk cache for schemas from crd_url_template")
    cluster_crds: bool = Field(default=False, description="read CRDs from the cluster (kubeconfig or in-cluster)")
    max_bytes: int = Field(default=2_000_000, ge=1_000, le=50_000_000, description="largest manifest accepted")
    # the server validates in worker processes ([workers] settings; these override them for k8s)
    pool_size: int | None = Field(default=None, ge=1, le=64, description="worker processes (default: [workers].size)")
    timeout: float = Field(default=30.0, gt=0, le=600, description="seconds per k8s_validate or k8s_fix call")
    memory_mb: int | None = Field(
        default=None, ge=256, description="memory cap per worker (default: [workers].memory_mb)"
    )
