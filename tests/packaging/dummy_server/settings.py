"""The `[servers.dummy]` section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DummySettings(BaseModel):
    model_config = {"extra": "forbid"}

    times: int = Field(default=2, ge=1, le=10, description="how often dummy_repeat repeats the word")
