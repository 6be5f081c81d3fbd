"""The corpus: each manifest states its profile, version and exact expected findings in its header.

    # profile: cerit
    # version: 1.33
    # expect: LINE RULE SEVERITY PATH [fixable]

Every fix of a corpus file must remove every finding it called fixable, keep every comment, leave
unchanged documents byte-for-byte, and introduce no new finding.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from mcpfleet.servers.k8s.documents import chunks
from mcpfleet.servers.k8s.engine import fix_text, validate_text

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+) (\S+) (error|warning|info) ?(\S*) ?(fixable)?$", re.M)


def header(text: str) -> tuple[str | None, str | None, Counter]:
    profile = re.search(r"^# profile: (\S+)$", text, re.M)
    version = re.search(r"^# version: (\S+)$", text, re.M)
    expected = Counter((int(m[1]), m[2], m[3], m[4], bool(m[5])) for m in EXPECT.finditer(text))
    return (profile[1] if profile else None), (version[1] if version else None), expected


def test_the_corpus_is_big_enough():
    assert len(FILES) >= 15
    rules = set()
    for path in FILES:
        rules |= {key[1] for key in header(path.read_text())[2]}
    # the corpus exercises most rules, engine rules included
    assert len(rules) >= 35, sorted(rules)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_exact_findings(path: Path):
    text = path.read_text()
    profile, version, expected = header(text)
    report = validate_text(text, version, profile, file=path.name)
    got = Counter((f.line, f.rule, f.severity, f.path, f.fixable) for f in report.findings)
    assert got == expected, (
        f"missing {sorted((expected - got).elements())}; unexpected {sorted((got - expected).elements())}"
    )
    assert report.errors == sum(n for key, n in expected.items() if key[2] == "error")
    lines = text.splitlines()
    for f in report.findings:
        assert f.file == path.name
        if not f.path:
            continue
        # the line points at the field, or at the deepest ancestor that exists
        keys = [k.split("[")[0] for k in re.split(r"\.(?![^\[]*\])", f.path) if k]
        line = lines[f.line - 1]
        value = line.strip(" -[]{},")  # an item of a flow sequence on its own line
        assert line.lstrip().startswith("- ") or any(k.split("/")[-1] in line for k in keys) or value in f.message, (
            f,
            line,
        )


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fix_removes_fixable_findings_and_keeps_comments(path: Path):
    text = path.read_text()
    profile, version, expected = header(text)
    if any(key[1] == "yaml-syntax" for key in expected):
        pytest.skip("nothing to fix in text that is not YAML")
    result = fix_text(text, version, profile)
    fixable = [key for key in expected if key[4]]
    assert len(result.applied) == sum(expected[key] for key in fixable)
    after = Counter((f.rule, f.severity, f.path) for f in result.remaining.findings)
    before = Counter((key[1], key[2], key[3]) for key in expected.elements() if not key[4])
    assert after == before, "fixes must remove exactly the fixable findings and add none"
    for comment in re.findall(r"#.*$", text, re.M):
        assert comment in result.fixed
    if not result.applied:
        assert result.fixed == text and result.diff == ""
    else:
        changed = {a["document"] for a in result.applied}
        assert result.diff.startswith("--- original.yaml\n+++ fixed.yaml\n")
        # documents without fixes are kept byte for byte
        original_bodies = [body for _, _, body in chunks(text)]
        fixed_bodies = [body for _, _, body in chunks(result.fixed)]
        assert len(original_bodies) == len(fixed_bodies)
        assert sum(a != b for a, b in zip(original_bodies, fixed_bodies)) == len(changed)
    # fixing again changes nothing
    again = fix_text(result.fixed, version, profile)
    assert again.applied == [] and again.fixed == result.fixed
