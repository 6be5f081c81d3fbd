"""`[servers.docs]` settings and the catalog of known libraries (name -> repository[@ref])."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import BaseModel, Field

# Popular libraries whose docs live somewhere a search would not guess; users add their own.
# A value is "owner/repo", "owner/repo@ref", or "owner/repo@ref:folder,folder" to index only those folders.
DEFAULT_CATALOG: dict[str, str] = {
    "react": "reactjs/react.dev:src/content",
    "next.js": "vercel/next.js:docs",
    "vllm": "vllm-project/vllm:docs",
    "sglang": "sgl-project/sglang:docs",
    "fastapi": "fastapi/fastapi:docs/en/docs",
    "pydantic": "pydantic/pydantic:docs",
    "kubernetes": "kubernetes/website:content/en/docs",
    "tailwindcss": "tailwindlabs/tailwindcss.com:src/docs",
    "shadcn-ui": "shadcn-ui/ui:apps/www/content/docs",
    "litellm": "BerriAI/litellm:docs/my-website/docs",
    "fastmcp": "PrefectHQ/fastmcp:docs",
    "mcp": "modelcontextprotocol/modelcontextprotocol:docs",
    "langchain": "langchain-ai/langchain:docs",
    "pytorch": "pytorch/pytorch:docs",
    "transformers": "huggingface/transformers:docs/source/en",
    "django": "django/django:docs",
    "flask": "pallets/flask:docs",
    "sqlalchemy": "sqlalchemy/sqlalchemy:doc/build",
    "vue": "vuejs/docs:src",
    "svelte": "sveltejs/svelte:documentation",
}


def _default_index_path() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "mcpfleet" / "docs.sqlite")


class DocsSettings(BaseModel):
    """`[servers.docs]`."""

    model_config = {"extra": "forbid"}
    index_path: str = Field(default_factory=_default_index_path, description="SQLite file (a volume in Kubernetes)")
    github_api: str = "https://api.github.com"
    github_token_env: str = Field(default="GITHUB_TOKEN", description="variable holding a GitHub token")
    gitlab_url: str = "https://gitlab.com"
    gitlab_token_env: str = "GITLAB_TOKEN"
    catalog: dict[str, str] = Field(default_factory=dict, description="name -> owner/repo[@ref][:folders]")
    default_catalog: bool = True
    local_roots: list[str] = Field(default_factory=list, description="folders tools may index from")
    index_on_demand: bool = Field(default=True, description="docs_search indexes a missing catalog/GitHub library")
    max_archive_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_unpacked_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    max_files: int = Field(default=5_000, ge=1, le=100_000)
    max_file_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    index_timeout: float = Field(default=120.0, gt=0, le=3600)
    chunk_chars: int = Field(default=3_000, ge=200, le=50_000)
    page_chars: int = Field(default=12_000, ge=500, le=100_000)

    def full_catalog(self) -> dict[str, str]:
        merged = dict(DEFAULT_CATALOG) if self.default_catalog else {}
        merged.update(self.catalog)
        return {normalise_name(k): v for k, v in merged.items()}


def normalise_name(name: str) -> str:
    """'Next.js', 'nextjs' and 'next-js' are the same library name."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def lookup(catalog: dict[str, str], name: str) -> list[tuple[str, str]]:
    """(catalog name, value) pairs for `name`: an exact match first, then names containing it."""
    key = normalise_name(name)
    if not key:
        return []
    exact = [(k, v) for k, v in catalog.items() if k == key]
    near = [(k, v) for k, v in catalog.items() if k != key and (key in k or (len(k) >= 3 and k in key))]
    return exact + sorted(near)[:5]
