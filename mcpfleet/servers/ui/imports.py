"""What `shadcn add` does to a registry file before writing it: import paths onto the project's aliases.

Registry sources import each other as `@/registry/<style>/ui/button`, `@/registry/<style>/lib/utils`,
`@/registry/<style>/hooks/use-mobile`; the CLI rewrites those to the aliases of the project's
components.json (defaults `@/components`, `@/components/ui`, `@/lib`, `@/lib/utils`, `@/hooks`).
The rules follow the CLI's `transform-import` (first matching rule wins); this is our own code.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

SCRIPT_SUFFIXES = (".tsx", ".ts", ".jsx", ".js")


class Aliases(BaseModel):
    """components.json `aliases`; the defaults are the shadcn CLI's."""

    model_config = {"extra": "forbid"}
    components: str = Field(default="@/components", max_length=200)
    ui: str = Field(default="@/components/ui", max_length=200)
    lib: str = Field(default="@/lib", max_length=200)
    utils: str = Field(default="@/lib/utils", max_length=200)
    hooks: str = Field(default="@/hooks", max_length=200)


# The module specifier of `import ... from "x"`, `export ... from "x"`, `import "x"` and `import("x")`.
# Bounded, linear patterns: registry text is untrusted.
_SPECIFIER = re.compile(
    r"""(?P<lead>\bfrom[ \t]*|\bimport[ \t]*|\bimport[ \t]*\([ \t]*)(?P<q>["'])(?P<spec>[^"'\n]{1,300})(?P=q)"""
)
_REGISTRY_UI = re.compile(r"^@/registry/(.+)/ui")
_REGISTRY_UTILS = re.compile(r"^@/registry/(.+)/lib/utils$")
_REGISTRY_COMPONENTS = re.compile(r"^@/registry/(.+)/components")
_REGISTRY_LIB = re.compile(r"^@/registry/(.+)/lib")
_REGISTRY_HOOKS = re.compile(r"^@/registry/(.+)/hooks")
_REGISTRY_ANY = re.compile(r"^@/registry/[^/]+")


def _swap(spec: str, prefix: str, alias: str) -> str | None:
    """`prefix` (a whole path segment) at the start of `spec` replaced by `alias`, or None."""
    if spec == prefix or spec.startswith(prefix + "/"):
        return alias + spec[len(prefix) :]
    return None


def rewrite_specifier(spec: str, aliases: Aliases) -> str:
    """One module specifier as the CLI writes it into the project."""
    if spec.startswith("#registry/"):
        spec = "@/registry/" + spec[len("#registry/") :]
    elif spec == "#registry":
        spec = "@/registry"
    elif spec.startswith("#/"):
        spec = "@/" + spec[2:]
    if not spec.startswith("@/"):
        return spec  # a package or a relative import
    if spec == "@/registry":
        return aliases.components
    if not spec.startswith("@/registry/"):
        if spec == "@/lib/utils":
            return aliases.utils
        for prefix, alias in (
            ("@/components/ui", aliases.ui),
            ("@/components", aliases.components),
            ("@/hooks", aliases.hooks),
            ("@/lib", aliases.lib),
        ):
            swapped = _swap(spec, prefix, alias)
            if swapped is not None:
                return swapped
        root = aliases.components.split("/")[0]
        return root + "/" + spec[2:]
    if _REGISTRY_UI.match(spec):
        return _REGISTRY_UI.sub(lambda _: aliases.ui, spec, count=1)
    if _REGISTRY_UTILS.match(spec):
        return aliases.utils
    for pattern, alias in (
        (_REGISTRY_COMPONENTS, aliases.components),
        (_REGISTRY_LIB, aliases.lib),
        (_REGISTRY_HOOKS, aliases.hooks),
    ):
        if pattern.match(spec):
            return pattern.sub(lambda _: alias, spec, count=1)  # noqa: B023 - called before the loop moves on
    return _REGISTRY_ANY.sub(lambda _: aliases.components, spec, count=1)


def rewrite_imports(path: str, content: str, aliases: Aliases) -> tuple[str, int]:
    """`content` with its import paths rewritten (script files only) and how many changed."""
    if not path.lower().endswith(SCRIPT_SUFFIXES):
        return content, 0
    changed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal changed
        spec = match.group("spec")
        new = rewrite_specifier(spec, aliases)
        if new == spec:
            return match.group(0)
        changed += 1
        return f"{match.group('lead')}{match.group('q')}{new}{match.group('q')}"

    return _SPECIFIER.sub(replace, content), changed


def unlisted_imports(files: list[dict], installed: set[str], aliases: Aliases) -> list[tuple[str, str]]:
    """(specifier, file path) of rewritten imports of a ui component or hook that the tree does not
    install: the official `dialog` imports `@/components/ui/button` but lists no registry dependency."""
    found: dict[str, str] = {}
    for f in files:
        if not str(f.get("path") or "").lower().endswith(SCRIPT_SUFFIXES):
            continue
        for match in _SPECIFIER.finditer(f.get("content") or ""):
            spec = match.group("spec")
            for alias in (aliases.ui, aliases.hooks):
                if spec.startswith(alias + "/") and spec[len(alias) + 1 :] not in installed:
                    found.setdefault(spec, f["path"])
    return sorted(found.items())
