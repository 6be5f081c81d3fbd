"""The rule registry: each rule is a function with an id, a default severity and a description.

A rule's `check(doc, docs)` yields `Hit`s (a Pod Security Standards rule, which names its upstream
`control`, is versioned: `check(doc, docs, version)` with `version` as a (major, minor) tuple); a hit carries a `fix` (a function that edits the
round-trip document in place and returns what it did) only when the fix is safe to apply without
knowing anything the manifest does not say. Profiles (profiles/*.yaml) choose rules and severities.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")

Fix = Callable[[], str]
Check = Callable[..., Iterable["Hit"]]  # (doc, docs) or, for a PSA control, (doc, docs, version)


@dataclass
class Hit:
    path: tuple
    message: str
    fix: Fix | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    description: str
    check: Check | None = None  # None: reported by the engine itself (schema, YAML syntax)
    fixable: bool = False
    group: str = ""
    control: str = ""  # the pod-security-admission check it implements (e.g. "capabilities_baseline")

    @property
    def versioned(self) -> bool:
        return bool(self.control)


RULES: dict[str, Rule] = {}


def rule(
    id: str, severity: str, description: str, *, fixable: bool = False, group: str = "", control: str = ""
) -> Callable[[Check], Check]:
    """Register a check function as a rule; with `control`, a versioned PSA rule (see above)."""

    def register(check: Check) -> Check:
        if id in RULES:
            raise ValueError(f"duplicate rule id {id!r}")
        RULES[id] = Rule(id, severity, description, check, fixable, group, control)
        return check

    return register


def engine_rule(id: str, severity: str, description: str) -> None:
    RULES[id] = Rule(id, severity, description, None, False, "schema")


engine_rule("yaml-syntax", "error", "The text must be valid YAML.")
engine_rule("not-a-resource", "error", "Each document is a mapping with apiVersion and kind.")
engine_rule("schema", "error", "The object matches the OpenAPI schema of its kind (strict: unknown fields are errors).")
engine_rule("removed-api", "error", "The apiVersion still exists in the chosen Kubernetes version.")
engine_rule("api-not-available", "error", "The apiVersion/kind is served by the chosen Kubernetes version.")
engine_rule("unknown-kind", "warning", "A schema is known for the kind (built-in or configured CRD).")


def all_rules() -> dict[str, Rule]:
    # importing the rule modules registers their rules
    from mcpfleet.servers.k8s.rules import cerit, practices, pss  # noqa: F401  (registers the rules)

    return RULES
