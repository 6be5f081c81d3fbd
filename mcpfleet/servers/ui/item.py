"""The registry-item format (shadcn's registry-item.json schema, the parts the ui server reads).

`validate_item` checks an item a registry answered against Pydantic models of the format and
turns every problem into one line the model can act on (`MalformedItem`); what it returns is the
item with only the fields the server uses.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator

from mcpfleet.common.errors import UserError

ITEM_TYPES = frozenset(
    f"registry:{t}"
    for t in (
        "lib",
        "block",
        "component",
        "ui",
        "hook",
        "page",
        "file",
        "theme",
        "style",
        "item",
        "base",
        "font",
        "example",
        "internal",
    )
)
NEEDS_TARGET = frozenset({"registry:page", "registry:file"})
MAX_SHOWN = 8  # problems listed in one MalformedItem message
MAX_FILES = 1_000  # an item with more is refused before it is checked file by file


class MalformedItem(UserError):
    """A registry answered JSON that is not a valid registry item."""


def _registry_type(value: object) -> object:
    if not isinstance(value, str) or value not in ITEM_TYPES:
        raise ValueError("not a registry type")
    return value


class _File(BaseModel):
    model_config = ConfigDict(extra="allow")
    path: Annotated[StrictStr, Field(min_length=1)]
    type: Any
    target: StrictStr | None = None
    content: StrictStr

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: object) -> object:
        return _registry_type(value)

    @model_validator(mode="after")
    def _target(self) -> _File:
        if not self.target and self.type in NEEDS_TARGET:
            raise ValueError(f"target is required for {self.type} files")
        return self


class _Item(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Annotated[StrictStr, Field(pattern=r"\S")]
    type: Any
    title: StrictStr | None = None
    description: StrictStr | None = None
    docs: StrictStr | None = None
    author: StrictStr | None = None
    dependencies: list[StrictStr] = []
    devDependencies: list[StrictStr] = []
    registryDependencies: list[StrictStr] = []
    files: list[_File] = []
    cssVars: dict[str, dict[str, StrictStr]] = {}
    css: dict[str, Any] = {}
    envVars: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    tailwind: dict[str, Any] = {}

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: object) -> object:
        return _registry_type(value)


def _shown(value: object) -> str:
    return repr(str(value if isinstance(value, str) else repr(value))[:40])


def _problem(error: Any) -> str:
    """One of Pydantic's errors as the line a registry author (or a model) reads."""
    loc, kind = error["loc"], error["type"]
    value = None if kind == "missing" else error.get("input")
    key = str(loc[0]) if loc else ""
    if key == "name":
        return "'name' is missing or not a string"
    if key == "type":
        return f"'type' is {_shown(value)}, not one of registry:ui, registry:component, registry:block, registry:hook, registry:lib, ..."
    if key in ("title", "description", "docs", "author"):
        return f"'{key}' must be a string"
    if key in ("dependencies", "devDependencies", "registryDependencies"):
        return f"'{key}' must be a list of strings"
    if key == "cssVars" and len(loc) > 1:
        return f"cssVars.{loc[1]} must map variable names to strings"
    if key in ("cssVars", "css", "envVars", "meta", "tailwind"):
        return f"'{key}' must be an object"
    if key == "files" and len(loc) == 1:
        return "'files' must be a list"
    if key == "files":
        where = f"files[{loc[1]}]"
        field_name = str(loc[2]) if len(loc) > 2 else ""
        if not field_name:
            return (
                f"{where} must be an object"
                if kind == "model_type"
                else f"{where}.{error['msg'].removeprefix('Value error, ')}"
            )
        if field_name == "type":
            return f"{where}.type is {_shown(value)}, not a registry:* file type"
        if kind == "missing" or (field_name == "path" and kind == "string_too_short"):
            return f"{where}.{field_name} is missing"
        return f"{where}.{field_name} must be a string"
    return f"{'.'.join(str(p) for p in loc)}: {error['msg']}"


def validate_item(data: Any) -> dict[str, Any]:
    """A registry item checked against the registry-item format; MalformedItem lists what is wrong."""
    if not isinstance(data, dict):
        raise MalformedItem(f"a registry item must be a JSON object, not {type(data).__name__}")
    files = data.get("files")
    if isinstance(files, list) and len(files) > MAX_FILES:
        # checking (and reporting) 100,000 broken entries would hold the event loop for seconds
        raise MalformedItem(f"registry item lists {len(files)} files; at most {MAX_FILES} are read")
    try:
        item = _Item.model_validate(data)
    except ValidationError as exc:
        problems = list(dict.fromkeys(_problem(e) for e in exc.errors()))
        shown = "; ".join(problems[:MAX_SHOWN])
        if len(problems) > MAX_SHOWN:
            shown += f" (and {len(problems) - MAX_SHOWN} more)"
        name = data.get("name")
        label = f" {name!r}" if isinstance(name, str) else ""
        raise MalformedItem(f"malformed registry item{label}: {shown}") from None
    return {
        "name": item.name,
        "type": item.type,
        "title": item.title,
        "description": item.description,
        "docs": item.docs,
        "dependencies": item.dependencies,
        "devDependencies": item.devDependencies,
        "registryDependencies": item.registryDependencies,
        "files": [
            {"path": f.path, "type": f.type, "target": f.target or None, "content": f.content} for f in item.files
        ],
        "cssVars": item.cssVars,
        "css": item.css,
        "envVars": item.envVars,
    }
