"""`npm_audit`'s input and output: what to ask the bulk-advisory endpoint, and what applies.

Input is a name -> version map or the text of a package-lock.json (v2/v3 `packages`, nested
`node_modules/a/node_modules/b` entries included; v1 `dependencies` trees too). The endpoint
answers by name; an advisory is reported only where its `vulnerable_versions` range matches a
version actually asked about (npm's semver semantics).
"""

from __future__ import annotations

import json
from typing import Any

from mcpfleet.common.errors import UserError
from mcpfleet.servers.npm import semver
from mcpfleet.servers.npm.registry import check_name

MAX_PACKAGES = 5000
SEVERITY_ORDER = ("critical", "high", "moderate", "low", "info")


def wanted_versions(packages: dict[str, str] | str) -> dict[str, list[str]]:
    """name -> sorted exact versions, from a map or package-lock.json text."""
    found: dict[str, set[str]] = {}

    def add(name: Any, version: Any) -> None:
        if not isinstance(name, str) or not isinstance(version, str):
            return
        if semver.parse_version(version) is None:  # git/file/link specs have no advisories by version
            return
        found.setdefault(check_name(name), set()).add(version.strip())

    if isinstance(packages, dict):
        for name, version in packages.items():
            if semver.parse_version(str(version)) is None:
                raise UserError(f"{name}: {version!r} is not an exact version; audit needs installed versions")
            add(name, str(version))
    else:
        try:
            lock = json.loads(packages.lstrip("\ufeff"))  # a BOM: saved by a Windows editor
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            raise UserError("packages must be a name->version map or the JSON text of a package-lock.json") from None
        if not isinstance(lock, dict):
            raise UserError("package-lock.json must be a JSON object")
        if isinstance(lock.get("packages"), dict):
            for path, entry in lock["packages"].items():
                if not path or not isinstance(entry, dict) or entry.get("link"):
                    continue
                if "node_modules/" not in path and not entry.get("name"):
                    continue  # a workspace folder without a name: not a registry package
                name = entry.get("name") or path.rsplit("node_modules/", 1)[-1]
                add(name, entry.get("version"))
        elif isinstance(lock.get("dependencies"), dict):
            stack = [lock["dependencies"]]
            while stack:
                deps = stack.pop()
                for name, entry in deps.items():
                    if isinstance(entry, dict):
                        add(name, entry.get("version"))
                        if isinstance(entry.get("dependencies"), dict):
                            stack.append(entry["dependencies"])
        else:
            raise UserError("no 'packages' (lockfile v2/v3) or 'dependencies' (v1) in that package-lock.json")
    if not found:
        raise UserError("no packages with exact versions to audit")
    if len(found) > MAX_PACKAGES:
        raise UserError(f"{len(found)} packages; audit at most {MAX_PACKAGES} at a time")
    return {name: sorted(vs) for name, vs in sorted(found.items())}


def matching_advisories(wanted: dict[str, list[str]], answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings: one per (package version, advisory) whose vulnerable range holds that version."""
    findings: list[dict[str, Any]] = []
    for name, advisories in answer.items():
        if name not in wanted or not isinstance(advisories, list):
            continue
        for adv in advisories:
            if not isinstance(adv, dict):
                continue
            vulnerable = str(adv.get("vulnerable_versions") or "")
            for version in wanted[name]:
                if not semver.satisfies(version, vulnerable):
                    continue
                cvss = adv.get("cvss")
                findings.append(
                    {
                        "name": name,
                        "version": version,
                        "id": adv.get("id"),
                        "title": str(adv.get("title") or "")[:300],
                        "severity": str(adv.get("severity") or "unknown"),
                        "url": adv.get("url"),
                        "vulnerable_versions": vulnerable,
                        "cwe": adv.get("cwe") or [],
                        "cvss_score": cvss.get("score") if isinstance(cvss, dict) else None,
                    }
                )
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    findings.sort(key=lambda f: (rank.get(f["severity"], 9), f["name"], f["version"]))
    return findings


def audit_text(checked: int, findings: list[dict[str, Any]]) -> tuple[str, str]:
    """(our summary line, the findings' lines): the second holds the advisory server's words."""
    if not findings:
        return f"no known advisories for the {checked} package(s) checked", "(no findings)"
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    head = f"{len(findings)} advisory match(es) in {checked} package(s): " + ", ".join(
        f"{n} {s}" for s, n in counts.items()
    )
    lines = [
        f"- {f['severity']}: {f['name']}@{f['version']} {f['title']} ({f['vulnerable_versions']}) {f['url'] or ''}".rstrip()
        for f in findings[:50]
    ]
    if len(findings) > 50:
        lines.append(f"... and {len(findings) - 50} more in the structured result")
    return head, "\n".join(lines)
