"""What the npm tools do, without MCP: registry answers shaped into typed results.

`Lookup` asks the registry (registry.py) and shapes its answers with packages.py, deptree.py,
readme.py and audit.py. Every result holds outside text (what package authors and the advisory
server wrote), so each says where it came from (`source`), which structured keys hold prose
(`outside_keys`) and a short line of our own (`header`); `common.untrusted.untrusted_answer`
marks it. `as_dict()` is the structured content, `text()` what the model reads.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mcpfleet.common.errors import FleetError, ResponseTooLarge, UserError
from mcpfleet.common.untrusted import OUTSIDE_KEYS, Page, neutralise, page
from mcpfleet.servers.npm import audit, deptree, semver
from mcpfleet.servers.npm import packages as pkgs
from mcpfleet.servers.npm.readme import readme_from_packument, readme_from_tarball
from mcpfleet.servers.npm.registry import PackageNotFound, RegistryClient
from mcpfleet.servers.npm.settings import NpmSettings

# Everything a registry or advisory server says is outside text. These keys hold prose its authors
# wrote (wrapped in both content kinds); names, versions and ranges stay plain so they can be
# passed back as arguments, neutralised and wrapped only when they look addressed to a model.
NPM_OUTSIDE = OUTSIDE_KEYS | {"license", "maintainers", "deprecated", "keywords", "author"}
ADVISORY_OUTSIDE = NPM_OUTSIDE | {"url"}
DEPENDENCY_KINDS = ("dependencies", "peerDependencies", "optionalDependencies")


@dataclass(frozen=True)
class SearchResults:
    query: str
    results: list[dict[str, Any]]  # name, version, description, keywords, links, score
    source = "npm registry search"
    header = ""
    # Descriptions and keywords are written by package authors: outside text like a README.
    outside_keys = NPM_OUTSIDE

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "results": self.results}

    def text(self) -> str:
        return (
            "\n".join(f"{r['name']}@{r['version']}: {r['description']}" for r in self.results)
            or f"no packages match {self.query!r}"
        )


@dataclass(frozen=True)
class PackageFacts:
    summary: dict[str, Any]  # packages.summary of the resolved version
    asked: str  # the name as asked (the packument's own name wins when it has one)
    full: bool  # False: the full packument was too large, the abbreviated one answered
    header = ""
    # Descriptions, licences, maintainers' names and deprecation messages are the publisher's words.
    outside_keys = NPM_OUTSIDE

    @property
    def source(self) -> str:
        return f"npm:{self.summary['name'] or self.asked}@{self.summary['version']}"

    def as_dict(self) -> dict[str, Any]:
        if self.full:
            return dict(self.summary)
        return self.summary | {"partial": "packument too large: maintainers and publish times left out"}

    def text(self) -> str:
        return pkgs.summary_text(self.summary)


@dataclass(frozen=True)
class VersionList:
    name: str
    dist_tags: dict[str, Any]
    total: int  # versions published
    matching: int  # versions listed: all, or those in `range`
    rows: list[dict[str, Any]]  # the first `limit` of them, newest first (packages.version_rows)
    limit: int
    range: str = ""
    normalized: str = ""
    install: str | None = None  # the version npm would install for `range`
    outside_keys = NPM_OUTSIDE

    @property
    def source(self) -> str:
        return f"npm:{self.name}"

    @property
    def header(self) -> str:
        if not self.range:
            return f"{self.name}: {self.matching} version(s)"
        return f"{self.name}: {self.matching} version(s) satisfy {self.range!r}; npm would install {self.install}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dist_tags": self.dist_tags, "total": self.total}
        if self.range:
            out |= {
                "range": self.range,
                "normalized": self.normalized,
                "matching": self.matching,
                "install": self.install,
            }
        return out | {"versions": self.rows}

    def text(self) -> str:
        rows = [
            f"{r['version']}  {r['published'] or ''}"
            + (f"  DEPRECATED: {r['deprecated']}" if r.get("deprecated") else "")
            for r in self.rows
        ]
        more = [f"... {self.matching - self.limit} more"] if self.matching > self.limit else []
        return "\n".join(rows + more) or "(none)"


@dataclass(frozen=True)
class Readme:
    name: str
    version: str
    part: Page
    outside_keys = NPM_OUTSIDE

    @property
    def source(self) -> str:
        return f"npm:{self.name}@{self.version}/README"

    @property
    def header(self) -> str:
        return f"README of {self.name}@{self.version} {self.part.note()}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "content": self.part.text, **self.part.as_dict()}

    def text(self) -> str:
        return self.part.text


@dataclass(frozen=True)
class Dependencies:
    name: str
    version: str
    direct: dict[str, Any]  # deptree.direct_dependencies
    tree: dict[str, Any] | None = None  # deptree.resolve_tree, when depth > 1
    # Names and ranges are the publishers' (a range may be any dist-tag text): neutralised, flagged.
    outside_keys = NPM_OUTSIDE

    @property
    def source(self) -> str:
        return f"npm:{self.name}@{self.version}"

    @property
    def header(self) -> str:
        return "[truncated: depth or node limit]" if self.as_dict().get("truncated") else ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, **self.direct} | (self.tree or {})

    def text(self) -> str:
        if self.tree is not None:
            return deptree.tree_text(self.tree["tree"])
        parts = [f"{self.name}@{self.version}"]
        for kind in DEPENDENCY_KINDS:
            deps = self.direct.get(kind) or {}
            parts.append(f"{kind}: " + (", ".join(f"{k} {v}" for k, v in deps.items()) or "none"))
        return "\n".join(parts)


@dataclass(frozen=True)
class AuditReport:
    checked: int
    findings: list[dict[str, Any]]  # audit.matching_advisories
    host: str  # the advisory server's
    # Titles, URLs and ranges come from the advisory server: its words, inside the wrapper.
    outside_keys = ADVISORY_OUTSIDE

    @property
    def source(self) -> str:
        return f"npm advisories ({self.host})"

    @property
    def header(self) -> str:
        return audit.audit_text(self.checked, self.findings)[0]

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "findings": self.findings}

    def text(self) -> str:
        return audit.audit_text(self.checked, self.findings)[1]


class Lookup:
    """The npm tools' logic over one registry client."""

    def __init__(self, registry: RegistryClient, section: NpmSettings) -> None:
        self.registry = registry
        self.section = section

    async def packument(self, name: str, *, full: bool = False) -> dict[str, Any]:
        """The packument of `name`; an unknown name is a UserError naming existing names close to it."""
        try:
            return await self.registry.packument(name, full=full)
        except PackageNotFound as exc:
            suggestions = await pkgs.suggest_names(self.registry, exc.name)
            hint = ""
            if suggestions:
                names = ", ".join(
                    neutralise(s["name"]) + (" (lookalike!)" if s["lookalike"] else "") for s in suggestions
                )
                hint = f"; existing names close to it: {names}"
            raise UserError(f"{exc}{hint}. Do not guess package names: check them here.") from None

    async def full_or_abbreviated(self, name: str) -> tuple[dict[str, Any], bool]:
        """The full packument and True, or the abbreviated one and False when the full one is too large."""
        try:
            return await self.packument(name, full=True), True
        except ResponseTooLarge:  # huge histories: the abbreviated form still answers most
            return await self.packument(name), False

    async def search(self, query: str, limit: int) -> SearchResults:
        results = []
        for obj in await self.registry.search(query, limit):
            pkg = obj["package"]
            tags = pkg.get("dist-tags")
            version = pkg.get("version") or (tags.get("latest") if isinstance(tags, dict) else None)
            score = obj.get("score") or {}
            results.append(
                {
                    "name": pkg.get("name"),
                    "version": version,
                    "description": str(pkg.get("description") or "")[:300],
                    "keywords": [str(k) for k in (pkg.get("keywords") or [])][:10],
                    "links": pkg.get("links") or {},
                    "score": score.get("final") if isinstance(score, dict) else None,
                }
            )
        return SearchResults(query, results)

    async def package(self, name: str, version: str) -> PackageFacts:
        doc, full = await self.full_or_abbreviated(name)
        resolved = pkgs.resolve_version(doc, version or None)
        manifest = doc["versions"][resolved]
        types_from = "bundled" if pkgs.bundled_types(manifest) else None
        if types_from is None and not name.startswith("@types/"):
            candidate = pkgs.types_package_name(doc.get("name", name))
            with contextlib.suppress(FleetError):  # a failed @types lookup only leaves `types` unknown
                types_from = candidate if await self.registry.exists(candidate) else None
        return PackageFacts(pkgs.summary(doc, resolved, types_from), name, full)

    async def versions(self, name: str, range: str, limit: int) -> VersionList:
        doc, _ = await self.full_or_abbreviated(name)
        versions = pkgs.sorted_versions(doc)
        common = {
            "name": doc.get("name", name),
            "dist_tags": doc.get("dist-tags") or {},
            "total": len(versions),
            "limit": limit,
        }
        if not range:
            return VersionList(matching=len(versions), rows=pkgs.version_rows(doc, versions[:limit]), **common)
        try:
            rng = semver.parse_range(range)
        except ValueError:
            raise UserError(
                f"{range!r} is not a valid semver range (e.g. '^1.2.0', '~0.3', '>=2 <4', '1.x || 2.x')"
            ) from None
        # sorted_versions keeps valid versions only: each parses
        versions = [v for v in versions if (parsed := semver.parse_version(v)) is not None and rng.test(parsed)]
        return VersionList(
            matching=len(versions),
            rows=pkgs.version_rows(doc, versions[:limit]),
            range=range,
            normalized=str(rng),
            install=pkgs.pick_version(doc, range),
            **common,
        )

    async def readme(self, name: str, version: str, start_index: int, max_length: int) -> Readme:
        doc, _ = await self.full_or_abbreviated(name)
        resolved = pkgs.resolve_version(doc, version or None)
        text = readme_from_packument(doc, resolved)
        if text is None:
            tarball = (doc["versions"][resolved].get("dist") or {}).get("tarball")
            if tarball:
                data = await self.registry.tarball(tarball)
                text = readme_from_tarball(data, max_readme=self.section.max_readme_chars * 4)
        if not text:
            raise UserError(f"{name}@{resolved} has no README")
        text = text[: self.section.max_readme_chars]
        return Readme(doc.get("name", name), resolved, page(text, start_index, max_length))

    async def dependencies(self, name: str, version: str, depth: int) -> Dependencies:
        doc = await self.packument(name)
        resolved = pkgs.resolve_version(doc, version or None)
        manifest = doc["versions"][resolved]
        found = Dependencies(doc.get("name", name), resolved, deptree.direct_dependencies(manifest))
        if depth <= 1:
            return found
        tree = await deptree.resolve_tree(
            self.registry,
            found.name,
            resolved,
            manifest,
            min(depth, self.section.max_depth),
            self.section.max_tree_nodes,
        )
        return Dependencies(found.name, resolved, found.direct, tree)

    async def audit(self, packages: dict[str, str] | str) -> AuditReport:
        wanted = audit.wanted_versions(packages)
        answer = await self.registry.advisories(wanted)
        return AuditReport(
            len(wanted), audit.matching_advisories(wanted, answer), urlsplit(self.registry.audit_url).netloc
        )
