"""The packages and their data, read from the folders: a new server folder ships without editing this.

The folders are the import paths: mcpfleet/common is mcpfleet.common, mcpfleet/servers/k8s is
mcpfleet.servers.k8s; pyproject.toml keeps the metadata. Every folder is a package (data-only
folders such as servers/k8s/profiles as namespace packages, as setuptools asks) and every file in it
that is not Python is its data: Prolog sources, k8s profiles and examples, eval cases, the ui
server's Node worker. What a checkout collects beside them stays out: node_modules/, __pycache__/ and hidden files.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import find_namespace_packages, setup

JUNK = [
    "node_modules",
    "*.node_modules",
    "*.node_modules.*",
    "__pycache__",
    "*.__pycache__",
    "*.__pycache__.*",
    ".*",
    "*..*",
]
HERE = Path(__file__).resolve().parent


def packages() -> dict[str, Path]:
    """Every package under mcpfleet/, name -> folder."""
    found = {"mcpfleet": HERE / "mcpfleet"}
    for sub in find_namespace_packages(HERE / "mcpfleet", exclude=JUNK):
        found[f"mcpfleet.{sub}"] = HERE / "mcpfleet" / sub.replace(".", "/")
    return found


def data(folder: Path) -> list[str]:
    """The files directly in `folder` that are not Python."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix not in (".py", ".pyc")
    )


PACKAGES = packages()
setup(
    packages=list(PACKAGES),
    package_data={name: files for name, folder in PACKAGES.items() if (files := data(folder))},
)
