"""The prolog server's settings section, `[servers.prolog]`."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PrologSettings(BaseModel):
    """`[servers.prolog]`."""

    model_config = {"extra": "forbid"}
    store: str = Field(default="memory", description="'memory' or a redis:// URL shared by replicas")
    max_kbs: int = Field(default=50, ge=1, le=10_000, description="knowledge bases per caller")
    max_kb_bytes: int = Field(default=256_000, ge=1_000, le=10_000_000)
    time_limit: float = Field(default=5.0, gt=0, le=300, description="default seconds per query")
    max_time_limit: float = Field(default=30.0, gt=0, le=600)
    inference_limit: int = Field(default=50_000_000, ge=1000)
    pool_size: int | None = Field(default=None, ge=1, le=64)
    memory_mb: int | None = Field(default=None, ge=256)
