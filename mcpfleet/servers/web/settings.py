"""`[servers.web]`: search backends, fetch limits, the page cache and robots.txt."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

Backend = Literal["ddgs", "searxng"]


class WebSettings(BaseModel):
    """Settings of the web server. Every field has a default that works on a fresh machine."""

    model_config = {"extra": "forbid"}

    # -- search
    backends: list[Backend] | None = Field(
        default=None,
        description="search backends in fallback order; default: searxng then ddgs when searxng_url is set, else ddgs",
    )
    searxng_url: str | None = Field(
        default=None, description="base URL of your SearXNG, e.g. http://searxng.search:8080"
    )
    searxng_engines: list[str] = Field(default_factory=list, description="SearXNG engines to use; empty = its defaults")
    searxng_categories: list[str] = Field(default_factory=list, description="for kind=web; empty = general")
    searxng_language: str = Field(default="", description="SearXNG language when no region is given, e.g. en")
    safesearch: Literal["off", "moderate", "strict"] = "moderate"
    ddgs_backend: str = Field(default="auto", description="ddgs backend string, e.g. 'auto' or 'duckduckgo,brave'")
    search_timeout: float = Field(default=20.0, gt=0, le=120, description="seconds per backend")

    # -- fetch
    max_length: int = Field(default=8000, ge=100, le=100_000, description="default characters per web_fetch page")
    max_bytes: int = Field(default=2_000_000, ge=10_000, description="page download cap; longer pages are cut")
    max_chars: int = Field(default=2_000_000, ge=10_000, description="extracted text kept per page")
    cache_ttl: float = Field(default=600.0, ge=0, description="seconds a fetched page stays pageable; 0 = off")
    cache_entries: int = Field(default=128, ge=0, le=100_000)
    robots: bool = Field(default=True, description="honour robots.txt for user_agent")
    robots_ttl: float = Field(default=3600.0, ge=0)
    user_agent: str | None = Field(default=None, description="default: http.user_agent")
    pdf_max_pages: int = Field(default=50, ge=1, le=10_000)
    pdf_max_bytes: int = Field(default=10_000_000, ge=10_000, description="larger PDFs are refused")

    # -- extraction (HTML/PDF parsing runs in a worker pool; these override [workers] for it)
    extract_timeout: float = Field(default=15.0, gt=0, le=600, description="seconds to extract one page")
    extract_workers: int | None = Field(
        default=None, ge=1, le=64, description="worker processes; default: workers.size"
    )
    extract_memory_mb: int | None = Field(
        default=None, ge=256, description="address-space cap per worker; default: workers.memory_mb"
    )

    @field_validator("searxng_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("searxng_url must be an http(s) URL")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _searxng_configured(self) -> WebSettings:
        if self.backends is not None:
            if not self.backends:
                raise ValueError("backends must name at least one of ddgs, searxng")
            if "searxng" in self.backends and not self.searxng_url:
                raise ValueError("backends lists searxng but searxng_url is not set")
        return self

    def backend_order(self) -> list[Backend]:
        if self.backends is not None:
            return list(dict.fromkeys(self.backends))
        return ["searxng", "ddgs"] if self.searxng_url else ["ddgs"]
