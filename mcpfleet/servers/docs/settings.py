"""`[servers.docs]`: where the index lives, where docs come from, and the bounds of an index run."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from mcpfleet.servers.docs.catalog import DEFAULT_CATALOG, normalise_name
from mcpfleet.servers.docs.store import POSTGRES_SCHEMES


def _default_index_path() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "mcpfleet" / "docs.sqlite")


class DocsSettings(BaseModel):
    """`[servers.docs]`."""

    model_config = {"extra": "forbid"}
    store: str = Field(
        default="sqlite",
        description="'sqlite' (the file at index_path) or a postgresql:// URL "
        "shared by replicas (MCPFLEET_SERVERS__DOCS__STORE)",
    )
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

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        # the message never repeats the URL: it holds the database password
        if value != "sqlite" and not value.startswith(POSTGRES_SCHEMES):
            raise ValueError("must be 'sqlite' or a postgresql://user:password@host:5432/database URL")
        return value

    def full_catalog(self) -> dict[str, str]:
        merged = dict(DEFAULT_CATALOG) if self.default_catalog else {}
        merged.update(self.catalog)
        return {normalise_name(k): v for k, v in merged.items()}
