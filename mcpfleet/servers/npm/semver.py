"""npm's semver semantics (the `semver` package npm itself uses, v7), written out in Python.

What models most often get wrong about npm ranges is exactly what this module must get right:
`^0.2.3` means `>=0.2.3 <0.3.0-0`, `^0.0.3` means `>=0.0.3 <0.0.4-0`, x-ranges and partial
versions (`1.x`, `1.2`, `*`), tilde (`~1.2`), hyphen ranges (`1.2 - 2`), `||` unions, and the
prerelease rule: a prerelease version satisfies a range only if some comparator in the same set
carries a prerelease on the same major.minor.patch. Ranges are parsed strictly (npm's default);
an unparseable range is a `ValueError`. The tests compare this module with the real package.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Range", "Version", "max_satisfying", "parse_range", "parse_version", "satisfies"]

MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1

_NUM = r"0|[1-9]\d*"
_NONNUM = r"\d*[a-zA-Z-][a-zA-Z0-9-]*"
_PRE_ID = rf"(?:{_NONNUM}|{_NUM})"
_PRERELEASE = rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))"
_BUILD = r"(?:\+([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*))"
_MAIN = rf"({_NUM})\.({_NUM})\.({_NUM})"
_FULLPLAIN = rf"v?{_MAIN}{_PRERELEASE}?{_BUILD}?"
_GTLT = r"((?:<|>)?=?)"
_XID = rf"{_NUM}|x|X|\*"
_XRANGEPLAIN = rf"[v=\s]*({_XID})(?:\.({_XID})(?:\.({_XID})(?:{_PRERELEASE})?{_BUILD}?)?)?"

_FULL = re.compile(rf"^{_FULLPLAIN}$", re.ASCII)
_COMPARATOR = re.compile(rf"^{_GTLT}\s*({_FULLPLAIN})$|^$", re.ASCII)
_XRANGE = re.compile(rf"^{_GTLT}\s*{_XRANGEPLAIN}$", re.ASCII)
_TILDE = re.compile(rf"^(?:~>?){_XRANGEPLAIN}$", re.ASCII)
_CARET = re.compile(rf"^(?:\^){_XRANGEPLAIN}$", re.ASCII)
_HYPHEN = re.compile(rf"^\s*({_XRANGEPLAIN})\s+-\s+({_XRANGEPLAIN})\s*$", re.ASCII)
_COMPARATOR_TRIM = re.compile(rf"(\s*){_GTLT}\s*({_FULLPLAIN}|{_XRANGEPLAIN})", re.ASCII)
_TILDE_TRIM = re.compile(r"(\s*)(?:~>?)\s+", re.ASCII)
_CARET_TRIM = re.compile(r"(\s*)(?:\^)\s+", re.ASCII)
_BUILD_STRIP = re.compile(_BUILD, re.ASCII)
_GTE0 = re.compile(r"^\s*>=\s*0\.0\.0\s*$", re.ASCII)
_STAR = re.compile(r"(<|>)?=?\s*\*", re.ASCII)


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()
    build: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return text + ("-" + ".".join(str(p) for p in self.prerelease) if self.prerelease else "")

    def _key(self) -> tuple:
        # A release sorts after its prereleases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __eq__(self, other: object) -> bool:  # build metadata does not count, as in npm
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def parse_version(text: str) -> Version | None:
    """A strict semver version (`v` prefix allowed, as npm allows), or None."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        return None
    m = _FULL.match(text.strip())
    if not m:
        return None
    parts = [int(m.group(i)) for i in (1, 2, 3)]
    if any(p > MAX_SAFE_INTEGER for p in parts):
        return None
    pre: tuple[int | str, ...] = ()
    if m.group(4):
        pre = tuple(int(p) if p.isdigit() and int(p) < MAX_SAFE_INTEGER else p for p in m.group(4).split("."))
    build = tuple(m.group(5).split(".")) if m.group(5) else ()
    return Version(parts[0], parts[1], parts[2], pre, build)


@dataclass(frozen=True)
class Comparator:
    operator: str  # "", "<", ">", "<=", ">="
    version: Version | None  # None: matches anything

    @property
    def value(self) -> str:
        return "" if self.version is None else f"{self.operator}{self.version}"

    def test(self, v: Version) -> bool:
        if self.version is None:
            return True
        op, other = self.operator, self.version
        return {"": v == other, "<": v < other, ">": v > other, "<=": v <= other, ">=": v >= other}[op]


def _comparator(text: str) -> Comparator:
    m = _COMPARATOR.match(text)
    if not m:
        raise ValueError(f"invalid comparator {text!r}")
    operator = m.group(1) or ""
    if operator == "=":
        operator = ""
    if not m.group(2):
        return Comparator("", None)
    version = parse_version(m.group(2))
    if version is None:
        raise ValueError(f"invalid version {m.group(2)!r}")
    return Comparator(operator, version)


def _is_x(part: str | None) -> bool:
    return not part or part.lower() == "x" or part == "*"


def _caret(comp: str) -> str:
    m = _CARET.match(comp)
    if not m:
        return comp
    major, minor, patch, pre = m.group(1), m.group(2), m.group(3), m.group(4)
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        if major == "0":
            return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
        return f">={major}.{minor}.0 <{int(major) + 1}.0.0-0"
    low = f">={major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    if major == "0":
        if minor == "0":
            return f"{low} <{major}.{minor}.{int(patch) + 1}-0"
        return f"{low} <{major}.{int(minor) + 1}.0-0"
    return f"{low} <{int(major) + 1}.0.0-0"


def _tilde(comp: str) -> str:
    m = _TILDE.match(comp)
    if not m:
        return comp
    major, minor, patch, pre = m.group(1), m.group(2), m.group(3), m.group(4)
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
    low = f">={major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    return f"{low} <{major}.{int(minor) + 1}.0-0"


def _xrange(comp: str) -> str:
    m = _XRANGE.match(comp.strip())
    if not m:
        return comp
    gtlt, major, minor, patch = m.group(1), m.group(2), m.group(3), m.group(4)
    if (_is_x(major) and not _is_x(minor)) or (_is_x(minor) and patch and not _is_x(patch)):
        return comp  # `x.1`, `1.x.2`: npm leaves them as they are, and they fail as comparators
    x_major = _is_x(major)
    x_minor = x_major or _is_x(minor)
    x_patch = x_minor or _is_x(patch)
    if gtlt == "=" and x_patch:
        gtlt = ""
    if x_major:
        return "<0.0.0-0" if gtlt in (">", "<") else "*"
    if gtlt and x_patch:
        M, mi, p = int(major), 0 if x_minor else int(minor), 0
        pr = ""
        if gtlt == ">":
            gtlt = ">="
            if x_minor:
                M, mi = M + 1, 0
            else:
                mi += 1
        elif gtlt == "<=":
            gtlt = "<"
            if x_minor:
                M += 1
            else:
                mi += 1
        if gtlt == "<":
            pr = "-0"
        return f"{gtlt}{M}.{mi}.{p}{pr}"
    if x_minor:
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if x_patch:
        return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
    return comp


def _hyphen(m: re.Match[str]) -> str:
    (frm, f_major, f_minor, f_patch, _f_pre, _fb, to, t_major, t_minor, t_patch, t_pre, _tb) = m.groups()
    if _is_x(f_major):
        low = ""
    elif _is_x(f_minor):
        low = f">={f_major}.0.0"
    elif _is_x(f_patch):
        low = f">={f_major}.{f_minor}.0"
    else:
        low = f">={frm}"
    if _is_x(t_major):
        high = ""
    elif _is_x(t_minor):
        high = f"<{int(t_major) + 1}.0.0-0"
    elif _is_x(t_patch):
        high = f"<{t_major}.{int(t_minor) + 1}.0-0"
    elif t_pre:
        high = f"<={t_major}.{t_minor}.{t_patch}-{t_pre}"
    else:
        high = f"<={to}"
    return f"{low} {high}".strip()


def _parse_set(text: str) -> tuple[Comparator, ...]:
    text = _BUILD_STRIP.sub("", text)  # build metadata never takes part in a range
    text = _HYPHEN.sub(_hyphen, text)
    text = _COMPARATOR_TRIM.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}", text)
    text = _TILDE_TRIM.sub(lambda m: f"{m.group(1)}~", text)
    text = _CARET_TRIM.sub(lambda m: f"{m.group(1)}^", text)
    pieces = []
    for comp in text.split(" "):
        comp = " ".join(_caret(c) for c in comp.strip().split())
        comp = " ".join(_tilde(c) for c in comp.strip().split())
        comp = " ".join(_xrange(c) for c in comp.split(" "))
        comp = _STAR.sub("", comp.strip(), count=1)
        pieces.append(comp)
    pieces = ["" if _GTE0.match(p) else p for p in " ".join(pieces).split()] or [""]
    comparators: dict[str, Comparator] = {}
    parsed = [_comparator(raw) for raw in pieces]  # every one must parse, as in npm, before
    for comparator in parsed:  # a null set short-circuits the rest
        if comparator.value == "<0.0.0-0":
            return (comparator,)
        comparators[comparator.value] = comparator
    if len(comparators) > 1:
        comparators.pop("", None)
    return tuple(comparators.values())


@dataclass(frozen=True)
class Range:
    raw: str
    sets: tuple[tuple[Comparator, ...], ...]

    def __str__(self) -> str:
        return "||".join(" ".join(c.value for c in s) or "*" for s in self.sets)

    def test(self, version: Version) -> bool:
        return any(_test_set(s, version) for s in self.sets)


def _test_set(comparators: tuple[Comparator, ...], version: Version) -> bool:
    if not all(c.test(version) for c in comparators):
        return False
    if version.prerelease:
        # A prerelease only matches when a comparator opts in on the same major.minor.patch.
        return any(
            c.version is not None
            and c.version.prerelease
            and (c.version.major, c.version.minor, c.version.patch) == (version.major, version.minor, version.patch)
            for c in comparators
        )
    return True


@functools.lru_cache(maxsize=1024)
def parse_range(text: str) -> Range:
    """An npm range; `ValueError` if npm would call it invalid."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH * 4:
        raise ValueError("range too long")
    raw = re.sub(r"\s+", " ", text.strip())
    sets = [_parse_set(part.strip()) for part in re.split(r"\s*\|\|\s*", raw)]
    sets = [s for s in sets if s]
    if not sets:
        raise ValueError(f"invalid range {text!r}")
    if len(sets) > 1:
        first = sets[0]
        sets = [s for s in sets if s[0].value != "<0.0.0-0"] or [first]
        for s in sets:
            if len(s) == 1 and s[0].value == "":
                sets = [s]
                break
    return Range(raw, tuple(sets))


def satisfies(version: str | Version, range_text: str) -> bool:
    v = version if isinstance(version, Version) else parse_version(version)
    if v is None:
        return False
    try:
        return parse_range(range_text).test(v)
    except ValueError:
        return False


def max_satisfying(versions: list[str], range_text: str) -> str | None:
    rng = parse_range(range_text)
    best: tuple[Version, str] | None = None
    for text in versions:
        v = parse_version(text)
        if v is not None and rng.test(v) and (best is None or v > best[0]):
            best = (v, text)
    return best[1] if best else None
