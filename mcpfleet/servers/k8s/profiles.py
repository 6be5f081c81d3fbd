"""Profiles as data: YAML files naming rule ids with severities, composed with `extends:`.

name: my-org
extends: restricted
rules:
  ephemeral-storage: error
  probes: off
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from mcpfleet.common import errors
from mcpfleet.servers.k8s.rules import SEVERITIES, all_rules

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"
OFF = "off"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    rules: dict[str, str]  # rule id → severity, after `extends` (engine rules keep their default unless set)
    extends: str | None = None

    def severity(self, rule_id: str) -> str | None:
        """The rule's severity here, or None when the rule is off."""
        value = self.rules.get(rule_id)
        if value is None:
            rule = all_rules().get(rule_id)
            return rule.severity if rule is not None and rule.check is None else None
        return None if value == OFF else value


def _read(path: Path) -> dict:
    try:
        # libyaml: profiles are small, and YAML 1.1's `off` (False) is read as "off" below
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise errors.ConfigError(f"profile {path}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}") from None
    if not isinstance(data, dict):
        raise errors.ConfigError(f"profile {path}: expected a mapping with name, extends and rules")
    unknown = set(data) - {"name", "description", "extends", "rules"}
    if unknown:
        raise errors.ConfigError(f"profile {path}: unknown keys {sorted(unknown)}")
    return data


def load_profiles(extra_dirs: list[str] | tuple[str, ...] = ()) -> dict[str, Profile]:
    """The built-in profiles and those in `extra_dirs` (a later file of the same name wins)."""
    raw: dict[str, tuple[Path, dict]] = {}
    for directory in (BUILTIN_DIR, *map(Path, extra_dirs)):
        if not directory.is_dir():
            raise errors.ConfigError(f"servers.k8s.profile_dirs: {directory} is not a directory")
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            data = _read(path)
            raw[str(data.get("name") or path.stem)] = (path, data)
    known = all_rules()
    resolved: dict[str, Profile] = {}

    def resolve(name: str, seen: tuple[str, ...]) -> Profile:
        if name in resolved:
            return resolved[name]
        if name in seen:
            raise errors.ConfigError(f"profile {name!r}: extends itself ({' -> '.join(seen + (name,))})")
        if name not in raw:
            raise errors.ConfigError(f"profile {seen[-1]!r} extends unknown profile {name!r}")
        path, data = raw[name]
        parent = data.get("extends")
        rules = dict(resolve(str(parent), seen + (name,)).rules) if parent else {}
        for rule_id, severity in (data.get("rules") or {}).items():
            if rule_id not in known:
                raise errors.ConfigError(f"profile {path}: unknown rule {rule_id!r}")
            severity = OFF if severity is False else str(severity)
            if severity not in (*SEVERITIES, OFF):
                raise errors.ConfigError(
                    f"profile {path}: rule {rule_id!r}: severity must be error, warning, info or off"
                )
            rules[rule_id] = severity
        resolved[name] = Profile(name, str(data.get("description") or ""), rules, str(parent) if parent else None)
        return resolved[name]

    for name in raw:
        resolve(name, ())
    return resolved


def get_profile(profiles: dict[str, Profile], name: str) -> Profile:
    if name not in profiles:
        raise errors.UserError(f"unknown profile {name!r}; choose one of {', '.join(sorted(profiles))}")
    return profiles[name]
