"""The npm server's settings section, `[servers.npm]`, and the registry configuration it names."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from mcpfleet.common.errors import ConfigError
from mcpfleet.servers.npm.npmrc import NpmConfig, parse_npmrc


class NpmSettings(BaseModel):
    """`[servers.npm]`."""

    model_config = {"extra": "forbid"}
    registry: str = Field(default="https://registry.npmjs.org", description="default registry URL")
    npmrc: str | None = Field(default=None, description="path of an .npmrc (scoped registries, tokens)")
    npmrc_text: str = Field(default="", description="inline .npmrc text, read after the file")
    audit_url: str | None = Field(
        default=None, description="bulk advisory endpoint; default {registry}/-/npm/v1/security/advisories/bulk"
    )
    cache_ttl: float = Field(
        default=300.0, ge=0, le=86_400, description="seconds a packument is used without revalidation"
    )
    cache_entries: int = Field(default=512, ge=0, le=100_000)
    max_packument_bytes: int = Field(default=32_000_000, ge=10_000, description="past it the abbreviated form is used")
    max_tarball_bytes: int = Field(default=20_000_000, ge=10_000)
    max_readme_chars: int = Field(default=1_000_000, ge=1_000)
    max_tree_nodes: int = Field(default=300, ge=1, le=10_000)
    max_depth: int = Field(default=5, ge=1, le=20)


def registry_config(section: NpmSettings) -> NpmConfig:
    text = ""
    if section.npmrc:
        try:
            text = Path(section.npmrc).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"servers.npm.npmrc: cannot read {section.npmrc}: {exc.strerror}") from None
    return parse_npmrc(text + "\n" + section.npmrc_text, section.registry, os.environ)
