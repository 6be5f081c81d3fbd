"""The validator and fixer: YAML → schema problems + policy findings → conservative fixes.

Python API (also used by the CLI and other tools of the fleet):

    from mcpfleet.servers.k8s.engine import validate_text, fix_text
    report = validate_text(text, kubernetes_version="1.33", profile="cerit")
    report.errors, report.as_dict()["findings"]
"""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass, field
from typing import Any

from mcpfleet.common import errors
from mcpfleet.servers.k8s.documents import Document, YamlSyntaxError, dump, format_path, load, parse
from mcpfleet.servers.k8s.profiles import Profile, get_profile, load_profiles
from mcpfleet.servers.k8s.rules import Fix, all_rules
from mcpfleet.servers.k8s.rules.pods import NotFixable
from mcpfleet.servers.k8s.schema import SchemaStore, check_version, default_version, is_list
from mcpfleet.servers.k8s.settings import K8sSettings

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
MAX_FINDINGS_IN_TEXT = 60


@dataclass
class Finding:
    document: int
    kind: str
    name: str
    path: str
    line: int | None
    rule: str
    severity: str
    message: str
    fixable: bool = False
    file: str | None = None
    column: int | None = None
    control: str = ""  # the pod-security-admission check, for Pod Security Standards rules
    fix: Fix | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "document": self.document,
            "kind": self.kind,
            "name": self.name,
            "path": self.path,
            "line": self.line,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "fixable": self.fixable,
        }
        if self.control:
            out["control"] = self.control
        if self.column is not None:
            out["column"] = self.column
        if self.file is not None:
            out["file"] = self.file
        return out

    def render(self) -> str:
        where = f"{self.file}:" if self.file else ""
        where += f"{self.line}" if self.line else "?"
        what = f"{self.kind}/{self.name}" if self.kind else f"document {self.document}"
        fix = " [fixable]" if self.fixable else ""
        control = f" [PSA {self.control}]" if self.control else ""
        return f"{where} {self.severity} {self.rule} {what} {self.path}: {self.message}{control}{fix}"


@dataclass
class Report:
    findings: list[Finding]
    kubernetes_version: str
    profile: str
    documents: int

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.as_dict() for f in self.findings],
            "errors": self.errors,
            "warnings": self.warnings,
            "documents": self.documents,
            "kubernetes_version": self.kubernetes_version,
            "profile": self.profile,
        }

    def summary(self) -> str:
        fixable = sum(f.fixable for f in self.findings)
        return (
            f"{self.documents} document(s), Kubernetes {self.kubernetes_version}, profile {self.profile}: "
            f"{self.errors} error(s), {self.warnings} warning(s)"
            + (f"; {fixable} fixable by k8s_fix" if fixable else "")
        )

    def text(self) -> str:
        lines = [self.summary()]
        lines += [f.render() for f in self.findings[:MAX_FINDINGS_IN_TEXT]]
        if len(self.findings) > MAX_FINDINGS_IN_TEXT:
            lines.append(f"... {len(self.findings) - MAX_FINDINGS_IN_TEXT} more in the structured result")
        return "\n".join(lines)


@dataclass
class FixResult:
    fixed: str
    diff: str
    applied: list[dict]
    unfixed: list[Finding]  # findings of the original a fix could not address
    remaining: Report  # the fixed text, re-validated

    def as_dict(self) -> dict[str, Any]:
        return {
            "fixed": self.fixed,
            "diff": self.diff,
            "applied": self.applied,
            "remaining": self.remaining.as_dict()["findings"],
            "errors": self.remaining.errors,
            "warnings": self.remaining.warnings,
            "kubernetes_version": self.remaining.kubernetes_version,
            "profile": self.remaining.profile,
        }

    def text(self) -> str:
        lines = [
            f"applied {len(self.applied)} fix(es); remaining: {self.remaining.errors} error(s), "
            f"{self.remaining.warnings} warning(s)"
        ]
        lines += [f"- {a['description']}" for a in self.applied]
        if self.remaining.findings:
            lines.append("not fixed (needs a decision only you can make):")
            lines += [f.render() for f in self.remaining.findings[:MAX_FINDINGS_IN_TEXT]]
        # the fixed YAML, not the diff: a model that sees only text must be able to use the result
        lines += ["", "fixed YAML (the unified diff is in the structured result):" if self.applied else "(no changes)"]
        if self.applied:
            lines.append(self.fixed.rstrip("\n"))
        return "\n".join(lines)


class Engine:
    """Schemas (compiled once), profiles and settings; safe to share between threads."""

    def __init__(self, settings: K8sSettings | None = None, crd_objects: list[dict] | tuple = ()) -> None:
        self.settings = settings or K8sSettings()
        crd_dirs = list(self.settings.crd_dirs)
        if self.settings.crd_url_template and not self.settings.crd_cache_dir:
            raise errors.ConfigError(
                "servers.k8s.crd_url_template needs servers.k8s.crd_cache_dir (schemas are cached there)"
            )
        if self.settings.crd_cache_dir and self.settings.crd_url_template:
            from pathlib import Path

            Path(self.settings.crd_cache_dir).mkdir(parents=True, exist_ok=True)
            crd_dirs.append(self.settings.crd_cache_dir)
        if self.settings.cluster_crds and not crd_objects:
            from mcpfleet.servers.k8s.crds import cluster_crds

            crd_objects = cluster_crds()
        self.cluster_crd_objects = list(crd_objects)  # handed to worker processes as files
        self.schemas = SchemaStore(crd_dirs, crd_objects)
        self.profiles = load_profiles(self.settings.profile_dirs)
        self.rules = all_rules()
        self.default_version = (
            check_version(self.settings.kubernetes_version) if self.settings.kubernetes_version else default_version()
        )
        if self.settings.profile not in self.profiles:  # a bad default fails at start, not per call
            raise errors.ConfigError(
                f"servers.k8s.profile: unknown profile {self.settings.profile!r}; "
                f"choose one of {', '.join(sorted(self.profiles))}"
            )

    def resolve(self, kubernetes_version: str | None, profile: str | None) -> tuple[str, Profile]:
        version = check_version(kubernetes_version) if kubernetes_version else self.default_version
        return version, get_profile(self.profiles, profile or self.settings.profile)

    def parse(self, text: str, round_trip: bool = False) -> list[Document]:
        """Documents of `text`: round-trip (ruamel, editable) for fixes, else libyaml (fast)."""
        if len(text.encode("utf-8", "surrogatepass")) > self.settings.max_bytes:
            raise errors.UserError(f"the manifest is larger than {self.settings.max_bytes} bytes; split it")
        return parse(text) if round_trip else load(text)

    def validate_text(
        self, text: str, kubernetes_version: str | None = None, profile: str | None = None, file: str | None = None
    ) -> Report:
        version, prof = self.resolve(kubernetes_version, profile)
        try:
            docs = self.parse(text)
        except YamlSyntaxError as exc:
            severity = prof.severity("yaml-syntax") or "error"
            finding = Finding(
                0, "", "", "", exc.line, "yaml-syntax", severity, exc.message, file=file, column=exc.column
            )
            return Report([finding], version, prof.name, 0)
        return Report(self.check(docs, version, prof, file), version, prof.name, len(docs))

    def check(self, docs: list[Document], version: str, prof: Profile, file: str | None = None) -> list[Finding]:
        """Schema problems and policy findings of `docs`; the items of a `kind: List` are checked as
        documents of their own (their findings carry the List's document number and `items[i]` paths)."""
        findings: list[Finding] = []
        minor = tuple(int(p) for p in version.split("."))
        subjects = list(_subjects(docs))
        expanded = [subject for _, _, subject in subjects]
        for doc, prefix, subject in subjects:
            for problem in self.schemas.check(subject.data, version):
                severity = prof.severity(problem.rule)
                if severity:
                    findings.append(
                        self._finding(
                            doc, subject, prefix + problem.path, problem.rule, severity, problem.message, None, file
                        )
                    )
            if not isinstance(subject.data, dict):
                continue
            for rule_id, severity in prof.rules.items():
                rule = self.rules[rule_id]
                if rule.check is None or severity == "off":
                    continue
                hits = rule.check(subject, expanded, minor) if rule.versioned else rule.check(subject, expanded)
                for hit in hits:
                    findings.append(
                        self._finding(
                            doc, subject, prefix + hit.path, rule_id, severity, hit.message, hit.fix, file, rule.control
                        )
                    )
        findings.sort(key=lambda f: (f.document, f.line or 0, SEVERITY_ORDER[f.severity], f.rule, f.path))
        return findings

    @staticmethod
    def _finding(
        doc: Document,
        subject: Document,
        path: tuple,
        rule: str,
        severity: str,
        message: str,
        fix: Fix | None,
        file: str | None,
        control: str = "",
    ) -> Finding:
        return Finding(
            doc.index,
            subject.kind,
            subject.name,
            format_path(path),
            doc.line_of(path),
            rule,
            severity,
            message,
            fix is not None,
            file,
            control=control,
            fix=fix,
        )

    def fix_text(self, text: str, kubernetes_version: str | None = None, profile: str | None = None) -> FixResult:
        version, prof = self.resolve(kubernetes_version, profile)
        try:
            docs = self.parse(text, round_trip=True)
        except YamlSyntaxError as exc:
            raise errors.UserError(
                f"{exc.message} at line {exc.line}, column {exc.column}; fix the YAML first"
            ) from None
        findings = self.check(docs, version, prof)
        applied = []
        for f in findings:
            if f.fix is None:
                continue
            try:
                description = f.fix()
            except NotFixable:
                continue  # a value of the wrong type is in the way: left for the person to fix
            docs[f.document].changed = True
            applied.append(
                {
                    "rule": f.rule,
                    "document": f.document,
                    "kind": f.kind,
                    "name": f.name,
                    "path": f.path,
                    "description": description,
                }
            )
        fixed = dump(docs, text) if applied else text
        remaining = self.validate_text(fixed, version, prof.name)
        diff = "".join(
            difflib.unified_diff(
                text.splitlines(keepends=True), _ending(fixed).splitlines(keepends=True), "original.yaml", "fixed.yaml"
            )
        )
        unfixed = [f for f in findings if f.fix is None]
        return FixResult(fixed, diff, applied, unfixed, remaining)

    def rules_info(self, profile: str | None = None, rule: str | None = None) -> dict[str, Any]:
        if rule is not None:
            if rule not in self.rules:
                raise errors.UserError(f"unknown rule {rule!r}; k8s_rules lists them")
            r = self.rules[rule]
            used = {name: p.severity(rule) for name, p in self.profiles.items() if p.severity(rule)}
            return {
                "rule": r.id,
                "description": r.description,
                "default_severity": r.severity,
                "fixable": r.fixable,
                "group": r.group,
                "profiles": used,
                "text": f"{r.id} ({r.group}, {'fixable' if r.fixable else 'not fixable'}): {r.description} "
                f"Profiles: {', '.join(f'{k}={v}' for k, v in used.items()) or 'none'}",
            }
        if profile is not None:
            p = get_profile(self.profiles, profile)
            ids = sorted(set(p.rules) | {r for r in self.rules if self.rules[r].check is None})
            rows = [
                {
                    "rule": i,
                    "severity": p.severity(i),
                    "fixable": self.rules[i].fixable,
                    "description": self.rules[i].description,
                }
                for i in ids
                if p.severity(i)
            ]
            text = f"profile {p.name}" + (f" (extends {p.extends})" if p.extends else "") + f": {p.description}\n"
            text += "\n".join(
                f"{r['rule']}: {r['severity']}{' [fixable]' if r['fixable'] else ''} - {r['description']}" for r in rows
            )
            return {"profile": p.name, "extends": p.extends, "description": p.description, "rules": rows, "text": text}
        profiles = [
            {"profile": p.name, "extends": p.extends, "description": p.description} for p in self.profiles.values()
        ]
        text = (
            "profiles (default "
            + self.settings.profile
            + "):\n"
            + "\n".join(f"{p['profile']}: {p['description']}" for p in profiles)
        )
        text += (
            "\nrules: "
            + ", ".join(sorted(self.rules))
            + "\nKubernetes versions: "
            + self.default_version
            + " (default) and older down to 1.25"
        )
        return {
            "profiles": profiles,
            "rules": sorted(self.rules),
            "default_profile": self.settings.profile,
            "kubernetes_version": self.default_version,
            "text": text,
        }


def _subjects(docs: list[Document]):
    """(document, path prefix, what to check): each document, then each item of a `kind: List`."""
    for doc in docs:
        yield doc, (), doc
        if is_list(doc.data):
            for i, item in enumerate(doc.data["items"]):
                yield doc, ("items", i), Document(doc.index, item, doc.offset)


def _ending(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """An engine with embedded defaults (no configuration), built once."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def validate_text(
    text: str,
    kubernetes_version: str | None = None,
    profile: str | None = None,
    file: str | None = None,
    engine: Engine | None = None,
) -> Report:
    """Validate a multi-document manifest; `report.errors == 0` means it would pass."""
    return (engine or default_engine()).validate_text(text, kubernetes_version, profile, file)


def fix_text(
    text: str, kubernetes_version: str | None = None, profile: str | None = None, engine: Engine | None = None
) -> FixResult:
    """Apply every safe fix; returns the fixed text, a diff, the fixes and what remains."""
    return (engine or default_engine()).fix_text(text, kubernetes_version, profile)
