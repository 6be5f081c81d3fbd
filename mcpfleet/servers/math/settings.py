"""`[servers.math]` settings: the worker pool follows `[workers]`; these override it for math."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MathSettings(BaseModel):
    """`[servers.math]`: every computation runs in a worker process under these limits."""

    model_config = {"extra": "forbid"}
    pool_size: int | None = Field(default=None, ge=1, le=64, description="worker processes (default: [workers].size)")
    timeout: float = Field(default=20.0, gt=0, le=600, description="seconds per computation")
    memory_mb: int | None = Field(
        default=None, ge=256, description="memory cap per worker (default: [workers].memory_mb)"
    )
