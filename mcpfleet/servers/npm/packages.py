"""What a packument says about a package: one version's summary, the version list, npm's pick.

Plain functions over packument dicts (no I/O), except `suggest_names`, which asks the registry.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from mcpfleet.common.errors import UserError
from mcpfleet.servers.npm import semver
from mcpfleet.servers.npm.registry import RegistryClient

DEP_KINDS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")


def sorted_versions(packument: dict[str, Any]) -> list[str]:
    """Valid versions, newest first (invalid ones are left out, as npm leaves them out)."""
    parsed = [(v, text) for text in packument.get("versions", {}) if (v := semver.parse_version(text)) is not None]
    return [text for _, text in sorted(parsed, key=lambda p: p[0], reverse=True)]


def resolve_version(packument: dict[str, Any], wanted: str | None) -> str:
    """`wanted` as an exact version, a dist-tag or a range, resolved the way `npm install` would."""
    versions = packument.get("versions", {})
    tags = packument.get("dist-tags", {})
    name = packument.get("name", "the package")
    if not versions:
        raise UserError(f"{name} has no published versions (all unpublished?)")
    wanted = (wanted or "latest").strip()
    if wanted in versions:
        return wanted
    try:
        picked = pick_tag_or_range(packument, wanted)
    except ValueError:
        raise UserError(
            f"{wanted!r} is not a version, dist-tag ({', '.join(sorted(tags)) or 'none'}) or semver range of {name}"
        ) from None
    if picked is None:
        newest = ", ".join(sorted_versions(packument)[:5])
        raise UserError(f"no version of {name} satisfies {wanted!r}; newest: {newest}")
    return picked


def pick_tag_or_range(packument: dict[str, Any], spec: str) -> str | None:
    """The version a dependency spec names: a dist-tag ("latest", "next") or a semver range.

    A packument without a usable `latest` tag (none, or one naming no version) gets the newest
    version for "latest", as for "*". ValueError when `spec` is neither a tag nor a range.
    """
    tags = packument.get("dist-tags")
    tag = tags.get(spec) if isinstance(tags, dict) else None
    if isinstance(tag, str) and tag in packument.get("versions", {}):
        return tag
    return pick_version(packument, "*" if spec == "latest" else spec)


def pick_version(packument: dict[str, Any], range_text: str) -> str | None:
    """The version npm would install for `range_text` (npm-pick-manifest's rule, engines aside).

    The `latest` dist-tag wins when it satisfies the range and is not deprecated; otherwise the
    highest satisfying version, preferring versions that are not deprecated.
    """
    rng = semver.parse_range(range_text or "*")  # ValueError for an invalid range
    versions = packument.get("versions", {})
    latest = (packument.get("dist-tags") or {}).get("latest")
    # a registry's dist-tags are untrusted JSON: a list there must not raise "unhashable"
    if isinstance(latest, str) and latest in versions and not versions[latest].get("deprecated"):
        v = semver.parse_version(latest)
        if v is not None and (range_text.strip() in ("", "*") or rng.test(v)):
            return latest
    best: tuple[bool, semver.Version, str] | None = None
    for text, manifest in versions.items():
        v = semver.parse_version(text)
        if v is None or not rng.test(v):
            continue
        candidate = (not (manifest or {}).get("deprecated"), v, text)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def _repository(manifest: dict[str, Any]) -> str | None:
    repo = manifest.get("repository")
    url = repo.get("url") if isinstance(repo, dict) else repo
    if not isinstance(url, str) or not url:
        return None
    url = re.sub(r"^git\+", "", url.strip())
    url = re.sub(r"^git://", "https://", url)
    url = re.sub(r"^git@([^:]+):", r"https://\1/", url)
    if re.match(r"^[\w.-]+/[\w.-]+$", url):  # "owner/repo" shorthand means GitHub
        url = f"https://github.com/{url}"
    m = re.match(r"^(github|gitlab|bitbucket):(.+)$", url)
    if m:
        url = f"https://{m.group(1)}.{'org' if m.group(1) == 'bitbucket' else 'com'}/{m.group(2)}"
    return url.removesuffix(".git")[:300]


def _license(manifest: dict[str, Any]) -> str | None:
    lic = manifest.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if lic is None and isinstance(manifest.get("licenses"), list):
        lic = " OR ".join(str(x.get("type")) for x in manifest["licenses"] if isinstance(x, dict))
    return str(lic)[:100] if lic else None


def _exports_have(exports: Any, condition: str, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if isinstance(exports, dict):
        return condition in exports or any(_exports_have(v, condition, depth + 1) for v in exports.values())
    if isinstance(exports, list):
        return any(_exports_have(v, condition, depth + 1) for v in exports)
    return False


def module_type(manifest: dict[str, Any]) -> str:
    """'esm', 'cjs' or 'dual' (both an import and a require entry point)."""
    exports = manifest.get("exports")
    if _exports_have(exports, "import") and _exports_have(exports, "require"):
        return "dual"
    if manifest.get("type") == "module":
        return "esm"
    if manifest.get("module") and manifest.get("main"):
        return "dual"
    return "cjs"


def types_package_name(name: str) -> str:
    """The DefinitelyTyped package for `name`: `@types/x`, `@types/scope__x` for `@scope/x`."""
    return "@types/" + (name[1:].replace("/", "__") if name.startswith("@") else name)


def bundled_types(manifest: dict[str, Any]) -> bool:
    return bool(manifest.get("types") or manifest.get("typings")) or _exports_have(manifest.get("exports"), "types")


def summary(packument: dict[str, Any], version: str, types_from: str | None) -> dict[str, Any]:
    """One version's summary; `types_from` is 'bundled', an '@types/...' name, or None."""
    manifest = packument["versions"][version]
    time_map = _map(packument.get("time"))
    maintainers = manifest.get("maintainers") or packument.get("maintainers") or []
    maintainers = maintainers if isinstance(maintainers, list) else []
    deps = {kind: len(manifest.get(kind) or {}) for kind in DEP_KINDS}
    out: dict[str, Any] = {
        "name": packument.get("name"),
        "version": version,
        "description": str(manifest.get("description") or packument.get("description") or "")[:500],
        "license": _license(manifest),
        "repository": _repository(manifest) or _repository(packument),
        "homepage": manifest.get("homepage") if isinstance(manifest.get("homepage"), str) else None,
        "engines": manifest.get("engines") if isinstance(manifest.get("engines"), dict) else {},
        "types": types_from,
        "module": module_type(manifest),
        "dependency_counts": deps,
        "maintainers": [str(m.get("name")) if isinstance(m, dict) else str(m) for m in maintainers if m][:20],
        "published": time_map.get(version),
        "deprecated": manifest.get("deprecated") or None,
        "dist_tags": packument.get("dist-tags") or {},
        "versions_count": len(packument.get("versions", {})),
    }
    dist = _map(manifest.get("dist"))
    if dist.get("unpackedSize"):
        out["unpacked_size"] = dist["unpackedSize"]
    return out


def _map(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else {}: published manifests hold strings or lists where maps belong."""
    return value if isinstance(value, dict) else {}


def summary_text(s: dict[str, Any]) -> str:
    lines = [f"{s['name']}@{s['version']}: {s['description'] or '(no description)'}"]
    if s["deprecated"]:
        lines.append(f"DEPRECATED: {s['deprecated']}")
    facts = [f"license {s['license'] or 'none'}", f"module {s['module']}", f"types {s['types'] or 'none'}"]
    if s["engines"]:
        facts.append("engines " + ", ".join(f"{k} {v}" for k, v in s["engines"].items()))
    if s["published"]:
        facts.append(f"published {s['published']}")
    lines.append("; ".join(facts))
    counts = ", ".join(f"{n} {k}" for k, n in s["dependency_counts"].items() if n)
    lines.append(f"deps: {counts or 'none'}; tags: " + ", ".join(f"{k}={v}" for k, v in s["dist_tags"].items()))
    for label in ("repository", "homepage"):
        if s[label]:
            lines.append(f"{label}: {s[label]}")
    if s["maintainers"]:
        lines.append("maintainers: " + ", ".join(s["maintainers"]))
    return "\n".join(lines)


def version_rows(packument: dict[str, Any], versions: list[str]) -> list[dict[str, Any]]:
    time_map = packument.get("time") or {}
    rows = []
    for v in versions:
        row: dict[str, Any] = {"version": v, "published": time_map.get(v)}
        dep = (packument["versions"].get(v) or {}).get("deprecated")
        if dep:
            row["deprecated"] = str(dep)[:300]
        rows.append(row)
    return rows


# -- names that do not exist -------------------------------------------------------------------


def _normal(name: str) -> str:
    return re.sub(r"[-_.]", "", name.split("/")[-1].lower())


def edit_distance(a: str, b: str, cap: int = 4) -> int:
    """Damerau-Levenshtein (adjacent swaps count once), stopping at `cap`."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
        if min(prev) >= cap:
            return cap
    return min(prev[-1], cap)


def _variants(name: str) -> list[str]:
    """Spellings a model or a person may have meant: punctuation, case, scope, a `js` suffix."""
    base = name.split("/")[-1]
    out = [
        name.lower(),
        base,
        base.replace("_", "-"),
        base.replace(".", "-"),
        base.replace("-", ""),
        base.replace("-", "_"),
        base.removesuffix("js").rstrip(".-_"),
        base + "js",
        f"{base}.js",
    ]
    return [v for v in dict.fromkeys(out) if v and v != name]


async def suggest_names(registry: RegistryClient, name: str, limit: int = 5) -> list[dict[str, Any]]:
    """Existing packages close to a missing `name`: the registry's search plus spelling variants.

    `lookalike` marks names that differ from the request only in case, punctuation or scope: the
    pattern typosquatters use, so the model should confirm which one was meant.
    """
    found: dict[str, dict[str, Any]] = {}
    query = re.sub(r"[-_.@/]+", " ", name).strip() or name
    try:
        results = await registry.search(query, 20)
    except Exception:  # suggestions are a courtesy; the "not found" answer stands without them
        results = []
    for obj in results:
        candidate = obj["package"].get("name")
        if isinstance(candidate, str) and candidate != name:
            found[candidate] = {"name": candidate, "description": str(obj["package"].get("description") or "")[:200]}
    variants = [v for v in _variants(name) if v not in found][:8]
    exists = await asyncio.gather(*(registry.exists(v) for v in variants), return_exceptions=True)
    for variant, ok in zip(variants, exists, strict=True):
        if ok is True:
            found[variant] = {"name": variant}
    ranked = []
    for candidate, info in found.items():
        distance = edit_distance(name.lower(), candidate.lower())
        lookalike = _normal(candidate) == _normal(name)
        if distance < 4 or lookalike or _normal(name) in _normal(candidate):
            ranked.append({**info, "distance": distance, "lookalike": lookalike})
    ranked.sort(key=lambda r: (not r["lookalike"], r["distance"], r["name"]))
    return ranked[:limit]
