"""The npm server's logic without a registry: .npmrc, lockfiles, tarballs, names, summaries."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from npm_tarballs import make_tarball

from mcpfleet.common.errors import ConfigError, UserError
from mcpfleet.servers.npm import audit, packages
from mcpfleet.servers.npm.npmrc import parse_npmrc
from mcpfleet.servers.npm.readme import readme_from_tarball
from mcpfleet.servers.npm.registry import check_name

NPMRC = """
; comments and unknown keys are ignored, as npm ignores them
registry=https://registry.example.test
@acme:registry=https://npm.acme.internal/api/npm/
//npm.acme.internal/api/npm/:_authToken=${ACME_TOKEN}
//npm.acme.internal/:_authToken=host-wide-token
//basic.example.test/:username=bob
//basic.example.test/:_password=cGFzcw==
save-exact=true
"""


def test_npmrc_scopes_tokens_and_env():
    cfg = parse_npmrc(NPMRC, "https://registry.npmjs.org", {"ACME_TOKEN": "acme-secret-1"})
    assert cfg.registry == "https://registry.example.test/"
    assert cfg.registry_for("@acme/widgets") == "https://npm.acme.internal/api/npm/"
    assert cfg.registry_for("@ACME/widgets") == "https://npm.acme.internal/api/npm/"
    assert cfg.registry_for("react") == "https://registry.example.test/"
    # longest matching key wins; a token is never sent to another host
    assert cfg.auth_for("https://npm.acme.internal/api/npm/@acme%2fwidgets") == "Bearer acme-secret-1"
    assert cfg.auth_for("https://npm.acme.internal/other/x.tgz") == "Bearer host-wide-token"
    assert cfg.auth_for("https://registry.example.test/react") is None
    assert cfg.auth_for("https://npm.acme.internal.evil.test/api/npm/x") is None
    assert cfg.auth_for("https://basic.example.test/x") == "Basic Ym9iOnBhc3M="  # bob:pass
    assert cfg.redact("failed with acme-secret-1 and host-wide-token") == "failed with *** and ***"


def test_npmrc_rejects_non_http_registries():
    with pytest.raises(ConfigError, match="not an http"):
        parse_npmrc("registry=file:///etc/passwd", "https://registry.npmjs.org", {})


def test_package_names_are_checked():
    assert check_name(" @types/node ") == "@types/node" and check_name("JSONStream") == "JSONStream"
    for bad in ["", "../x", "a b", "@scope", "_private", "x" * 215, "a/b/c", "http://x"]:
        with pytest.raises(UserError):
            check_name(bad)


def test_lockfile_v3_nested_and_v1():
    v3 = {
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "root"},
            "node_modules/a": {"version": "1.0.0"},
            "node_modules/b/node_modules/a": {"version": "2.0.0"},
            "node_modules/@s/c": {"version": "3.0.0"},
            "node_modules/alias": {"name": "real-name", "version": "4.0.0"},
            "node_modules/l": {"link": True},
            "node_modules/g": {"version": "github:u/r"},
        },
    }
    assert audit.wanted_versions(json.dumps(v3)) == {"@s/c": ["3.0.0"], "a": ["1.0.0", "2.0.0"], "real-name": ["4.0.0"]}
    v1 = {
        "lockfileVersion": 1,
        "dependencies": {"a": {"version": "1.0.0", "dependencies": {"b": {"version": "0.1.0"}}}},
    }
    assert audit.wanted_versions(json.dumps(v1)) == {"a": ["1.0.0"], "b": ["0.1.0"]}
    with pytest.raises(UserError, match="package-lock"):
        audit.wanted_versions("not json")
    with pytest.raises(UserError, match="exact version"):
        audit.wanted_versions({"a": "latest"})


def test_advisories_match_only_vulnerable_versions():
    wanted = {"a": ["1.0.0", "2.0.0-beta.1"], "b": ["1.0.0"]}
    answer = {
        "a": [
            {"id": 1, "severity": "low", "vulnerable_versions": "<1.0.1", "title": "t1"},
            {"id": 2, "severity": "critical", "vulnerable_versions": ">=2.0.0-beta.0 <2.0.0", "title": "t2"},
            {"id": 3, "severity": "high", "vulnerable_versions": ">=3", "title": "t3"},
        ],
        "not-asked": [{"id": 4, "vulnerable_versions": "*"}],
    }
    found = audit.matching_advisories(wanted, answer)
    assert [(f["id"], f["version"]) for f in found] == [(2, "2.0.0-beta.1"), (1, "1.0.0")]


def test_readme_from_tarball_any_root_folder_and_case():
    data = make_tarball({"package.json": "{}", "lib/README.md": "not this", "ReadMe.markdown": "# yes"}, root="node")
    assert readme_from_tarball(data) == "# yes"
    assert readme_from_tarball(make_tarball({"package.json": "{}"})) is None
    assert readme_from_tarball(b"not a tarball") is None


def test_readme_from_tarball_bounds_a_gzip_bomb_and_skips_links():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("package/huge.bin")
        info.size = 200_000_000
        tar.addfile(info, io.BytesIO(b"\0" * info.size))
        info = tarfile.TarInfo("package/README.md")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"late"))
    bomb = gzip.compress(buf.getvalue(), compresslevel=9)
    assert len(bomb) < 1_000_000
    assert readme_from_tarball(bomb, max_unpacked=10_000_000) is None  # stops at the bound
    assert readme_from_tarball(bomb, max_unpacked=300_000_000) == "late"

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        link = tarfile.TarInfo("package/README.md")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    assert readme_from_tarball(buf.getvalue()) is None


def test_edit_distance_and_variants():
    assert packages.edit_distance("lodash", "lodahs") == 1  # an adjacent swap counts once
    assert packages.edit_distance("react", "raect") == 1
    assert packages.edit_distance("express", "expresss") == 1
    assert packages.edit_distance("a", "completely-different") == 4
    assert "left-pad" in packages._variants("left_pad") and "leftpad" in packages._variants("left-pad")


@pytest.mark.parametrize(
    "manifest, kind",
    [
        ({"type": "module"}, "esm"),
        ({"exports": {".": {"import": "./a.mjs", "require": "./a.cjs"}}}, "dual"),
        ({"main": "index.js", "module": "index.mjs"}, "dual"),
        ({"main": "index.js"}, "cjs"),
    ],
)
def test_module_type(manifest, kind):
    assert packages.module_type(manifest) == kind


@pytest.mark.parametrize(
    "repo, url",
    [
        ("git+https://github.com/a/b.git", "https://github.com/a/b"),
        ({"type": "git", "url": "git://github.com/a/b.git"}, "https://github.com/a/b"),
        ("git@gitlab.com:a/b.git", "https://gitlab.com/a/b"),
        ("a/b", "https://github.com/a/b"),
        ("bitbucket:a/b", "https://bitbucket.org/a/b"),
    ],
)
def test_repository_urls(repo, url):
    assert packages._repository({"repository": repo}) == url


def test_pick_version_prefers_latest_then_undeprecated():
    doc = {
        "dist-tags": {"latest": "1.2.0"},
        "versions": {"1.2.0": {}, "1.3.0": {}, "1.4.0": {"deprecated": "bad"}, "2.0.0": {}},
    }
    assert packages.pick_version(doc, "^1.0.0") == "1.2.0"  # latest satisfies: npm takes it
    assert packages.pick_version(doc, ">=1.3.0 <2") == "1.3.0"  # 1.4.0 is deprecated
    assert packages.pick_version(doc, "1.4.x") == "1.4.0"  # deprecated only as a last resort
    assert packages.pick_version(doc, "") == "1.2.0"
    assert packages.types_package_name("@babel/core") == "@types/babel__core"


def test_pick_version_ignores_a_dist_tag_that_is_not_a_version_string():
    # the registry's JSON is untrusted: a list under dist-tags.latest raised "unhashable type: 'list'"
    doc = {"dist-tags": {"latest": ["1.0.0"]}, "versions": {"1.0.0": {}, "1.1.0": {}}}
    assert packages.pick_version(doc, "^1.0.0") == "1.1.0"
