"""`mcpfleet eval compare RUN_A RUN_B`: two runs paired on their common cases, and the cases that flipped.

A run is a results file, narrowed to one model x serving config with `--a`/`--b` when the file holds
several. Only measured (unfaulted) trials count, as in the report.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from mcpfleet.common.errors import ConfigError
from mcpfleet.evals import stats
from mcpfleet.evals.report import CSS, Run, build_runs


@dataclass
class Flip:
    case: str
    a: float  # success rate in A
    b: float

    @property
    def direction(self) -> str:
        return "fixed in B" if self.b > self.a else "broken in B"


def pick(path: Path, target: str | None) -> Run:
    runs = build_runs([path])
    if target is not None:
        chosen = [r for r in runs if target in (r.target, r.model)]
        if not chosen:
            raise ConfigError(f"{path.name}: no run {target!r}; it has {', '.join(r.target for r in runs)}")
        return chosen[0]
    if len(runs) != 1:
        raise ConfigError(
            f"{path.name} holds {len(runs)} runs ({', '.join(r.target for r in runs)}); choose one with --a/--b"
        )
    return runs[0]


def flips(a: Run, b: Run) -> list[Flip]:
    """Cases both measured whose success rate differs, the largest change first."""
    out = []
    for case in sorted(set(a.overall.by_case) & set(b.overall.by_case)):
        ra, rb = (sum(t) / len(t) for t in (a.overall.by_case[case], b.overall.by_case[case]))
        if ra != rb:
            out.append(Flip(case, ra, rb))
    return sorted(out, key=lambda f: (-abs(f.a - f.b), f.case))


def compare(a: Run, b: Run) -> tuple[stats.Paired, list[Flip]]:
    return stats.paired(a.overall.by_case, b.overall.by_case), flips(a, b)


def render_markdown(a: Run, b: Run, name_a: str, name_b: str) -> str:
    result, flipped = compare(a, b)
    lines = [
        f"# {name_a} vs {name_b}",
        "",
        result.verdict(name_a, name_b),
        "",
        "| | A | B |",
        "|---|---|---|",
        f"| accuracy over the common cases | {_pct(_acc(a, b))} | {_pct(_acc(b, a))} |",
        f"| measured cases | {a.overall.cases} | {b.overall.cases} |",
        f"| engine faults | {a.engine_faults} | {b.engine_faults} |",
        f"| endpoint errors | {a.errors} | {b.errors} |",
        "",
    ]
    if flipped:
        lines += [f"## Flipped cases ({len(flipped)})", "", "| case | A | B | |", "|---|---|---|---|"]
        lines += [f"| `{f.case}` | {_pct(f.a)} | {_pct(f.b)} | {f.direction} |" for f in flipped]
    else:
        lines.append("No case flipped.")
    return "\n".join(lines) + "\n"


def render_html(a: Run, b: Run, name_a: str, name_b: str) -> str:
    e = html.escape
    result, flipped = compare(a, b)
    rows = "".join(
        f"<tr class='{'good' if f.b > f.a else 'bad'}'><td><code>{e(f.case)}</code></td><td>{_pct(f.a)}</td>"
        f"<td>{_pct(f.b)}</td><td>{e(f.direction)}</td></tr>"
        for f in flipped
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(name_a)} vs {e(name_b)}</title>"
        f"<style>{CSS}.good{{background:#e6f4e6}}.bad{{background:#fbe3e3}}</style></head><body>"
        f"<h1>{e(name_a)} vs {e(name_b)}</h1><p id='verdict'>{e(result.verdict(name_a, name_b))}</p>"
        f"<h2>Flipped cases ({len(flipped)})</h2><table id='flipped'><tr><th>case</th><th>A</th><th>B</th><th></th></tr>"
        f"{rows}</table></body></html>"
    )


def _acc(x: Run, other: Run) -> float | None:
    common = {c: t for c, t in x.overall.by_case.items() if c in other.overall.by_case}
    return stats.case_accuracy(common)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"
