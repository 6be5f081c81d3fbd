"""Which files of a repository are documentation: docs folders and the README, minus vendored trees.

A repository can say for itself with a `context7.json` at its root (the format Context7 reads):
`folders` (only these, as path prefixes), `excludeFolders` (path prefixes or folder names) and
`excludeFiles` (file names). A catalog entry can give `folders` the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from mcpfleet.servers.docs.chunking import TEXT_SUFFIXES

CONFIG_FILES = ("context7.json", ".context7.json")
DOC_FOLDERS = frozenset({"docs", "doc", "documentation", "guide", "guides", "tutorial", "tutorials", "manual"})
SKIP_FOLDERS = frozenset(
    {
        "node_modules",
        "vendor",
        "vendored",
        "third_party",
        "third-party",
        "dist",
        "build",
        "_build",
        "out",
        "site-packages",
        "__pycache__",
        "generated",
        "_generated",
        "api-reference-generated",
        "target",
        "coverage",
        "htmlcov",
        "venv",
        ".venv",
        "bower_components",
        "jspm_packages",
    }
)
SKIP_FILES = frozenset({"changelog", "changes", "history", "license", "licence", "copying", "notice"})
# Repository housekeeping at the root; inside docs/ a "security" page is usually real documentation.
SKIP_ROOT_FILES = frozenset({"authors", "contributors", "code_of_conduct", "security", "codeowners", "contributing"})
MAX_CONFIG_BYTES = 64_000


@dataclass(frozen=True)
class RepoConfig:
    folders: tuple[str, ...] = ()
    exclude_folders: tuple[str, ...] = ()
    exclude_files: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, raw: bytes | str | None, folders: tuple[str, ...] = ()) -> RepoConfig:
        """A repository's config file (unreadable or odd values are ignored); `folders` from the
        catalog apply when the file names none."""
        data: dict = {}
        if raw and len(raw) <= MAX_CONFIG_BYTES:
            try:
                loaded = json.loads(raw)
                data = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                data = {}

        def strings(key: str) -> tuple[str, ...]:
            value = data.get(key, [])
            items = value if isinstance(value, list) else []
            # "" or "." in folders means the whole repository
            return tuple(_norm(v) or "." for v in items[:200] if isinstance(v, str))

        return cls(
            folders=strings("folders") or tuple(_norm(f) or "." for f in folders),
            exclude_folders=tuple(f for f in strings("excludeFolders") if f != "."),
            exclude_files=frozenset(v.rsplit("/", 1)[-1].lower() for v in strings("excludeFiles")),
        )


def _norm(path: str) -> str:
    return path.strip().strip("/").removeprefix("./")


def is_text_doc(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in TEXT_SUFFIXES


def skipped_tree(path: str, config: RepoConfig) -> bool:
    """A vendored, generated or hidden folder, or one the config excludes."""
    parts = PurePosixPath(path).parts[:-1]
    if any(p.lower() in SKIP_FOLDERS or (p.startswith(".") and p not in (".", "..")) for p in parts):
        return True
    for excluded in config.exclude_folders:
        if "/" in excluded:
            if path == excluded or path.startswith(excluded + "/"):
                return True
        elif excluded in parts:
            return True
    return False


def wanted(path: str, config: RepoConfig) -> bool:
    """Is the file at `path` (relative, '/'-separated) documentation to index?"""
    if not is_text_doc(path) or skipped_tree(path, config):
        return False
    name = PurePosixPath(path).name.lower()
    stem = PurePosixPath(name).stem
    if name in config.exclude_files or stem in SKIP_FILES or ("/" not in path and stem in SKIP_ROOT_FILES):
        return False
    if config.folders:
        return any(f in ("", ".") or path == f or path.startswith(f + "/") for f in config.folders)
    parts = PurePosixPath(path).parts
    if len(parts) == 1:
        return name.startswith("readme")
    return any(p.lower() in DOC_FOLDERS for p in parts[:-1])
