"""`[servers.ui]` settings, and where the Node parts (node, tailwindcss) are found."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel, Field

from mcpfleet.servers.ui.imports import Aliases

NODE_DIR = Path(__file__).resolve().parent / "node"
INSTALL_HINT = f"install Node.js 20+ and npm, then run: bash {NODE_DIR / 'install.sh'}"
OFFICIAL_INDEX = "https://ui.shadcn.com/r/index.json"
OFFICIAL_ITEM = "https://ui.shadcn.com/r/styles/{style}/{name}.json"


class RegistrySource(BaseModel):
    """A namespaced registry, as in components.json `registries`: a URL template with `{name}`."""

    model_config = {"extra": "forbid"}
    url: str = Field(description="e.g. https://acme.example/r/{name}.json ({style} allowed too)")
    headers: dict[str, str] = Field(
        default_factory=dict, description="sent with every request; ${VAR} is read from the environment"
    )


class UiSettings(BaseModel):
    """`[servers.ui]`."""

    model_config = {"extra": "forbid"}
    node: str = Field(default="node", description="the Node.js binary (20 or later)")
    node_modules: str | None = Field(
        default=None, description="node_modules holding tailwindcss; default mcpfleet/servers/ui/node/node_modules"
    )
    compile_timeout: float = Field(default=10.0, gt=0, le=120, description="seconds per Tailwind compile")
    worker_memory_mb: int = Field(default=256, ge=64, le=4096)
    max_classes: int = Field(default=300, ge=1, le=5000)
    max_class_chars: int = Field(default=200, ge=10, le=2000)
    max_theme_chars: int = Field(default=20_000, ge=100, le=1_000_000)
    max_css_chars: int = Field(default=40_000, ge=1000, le=1_000_000)
    registries: dict[str, str | RegistrySource] = Field(
        default_factory=dict, description='namespaces, e.g. {"@acme": "https://acme.example/r/{name}.json"}'
    )
    official_index: str = OFFICIAL_INDEX
    official_item: str = OFFICIAL_ITEM
    default_style: str = Field(default="new-york-v4", pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    allow: list[str] = Field(
        default_factory=list, description="registry hosts/CIDRs exempt from the SSRF guard (internal registries)"
    )
    cache_ttl: float = Field(default=600.0, ge=0, description="seconds a fetched registry item is reused")
    cache_entries: int = Field(default=512, ge=0)
    max_dependencies: int = Field(default=40, ge=1, le=500, description="registry items resolved per component")
    max_file_chars: int = Field(default=20_000, ge=500, le=1_000_000, description="per file page returned")
    max_output_chars: int = Field(default=60_000, ge=2000, le=1_000_000)
    aliases: Aliases = Field(default_factory=Aliases, description="components.json aliases imports are rewritten to")

    def tailwind_dir(self) -> Path:
        base = Path(self.node_modules).expanduser() if self.node_modules else NODE_DIR / "node_modules"
        return base / "tailwindcss"


def missing_node_parts(section: UiSettings | None = None) -> str | None:
    """Why the Tailwind worker cannot start here (no node, no tailwindcss), or None."""
    if section is None:
        section = _configured()
    if shutil.which(section.node) is None:
        return f"the program {section.node!r} is not installed ({INSTALL_HINT})"
    tailwind = section.tailwind_dir()
    if not (tailwind / "package.json").is_file() or not (tailwind / "theme.css").is_file():
        return f"tailwindcss is not installed in {tailwind.parent} ({INSTALL_HINT})"
    return None


def _configured() -> UiSettings:
    # `missing` is asked without settings; read them (file and environment) the way `serve` will.
    try:
        from mcpfleet.common.settings import load_settings

        return load_settings().server_section("ui", UiSettings)
    except Exception:  # a broken config is reported by `serve` itself, with the right message
        return UiSettings()
