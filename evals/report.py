"""Reports from results files: Markdown and a self-contained HTML page (plots embedded as PNG).

Accuracy is the share of trials that succeeded, with a 95% Wilson interval over trials; pass^k is
τ²-bench's estimator over cases with k = the number of repeats. Rows are grouped by *run* = the
results file and the model, so several files compare side by side.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mcpfleet.evals.runner import read_rows, row_key
from mcpfleet.evals.scoring import pass_hat_k, percentile, wilson_interval
from mcpfleet.evals.cases import CATEGORIES

MAX_FAILURES = 12


@dataclass
class Cell:
    """Trials of one group: accuracy, its interval, pass^k."""

    trials: int = 0
    successes: int = 0
    by_case: dict[str, list[bool]] = field(default_factory=dict)

    def add(self, row: dict) -> None:
        ok = bool(row["scores"]["success"])
        self.trials += 1
        self.successes += ok
        self.by_case.setdefault(f"{row['case']}/{row['stream']}", []).append(ok)

    @property
    def accuracy(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    @property
    def ci(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.trials)

    @property
    def k(self) -> int:
        return min((len(v) for v in self.by_case.values()), default=0)

    @property
    def pass_k(self) -> float | None:
        return pass_hat_k(list(self.by_case.values()), self.k) if self.k else None


@dataclass
class Run:
    label: str
    model: str
    rows: list[dict]
    overall: Cell = field(default_factory=Cell)
    servers: dict[str, Cell] = field(default_factory=dict)
    categories: dict[str, Cell] = field(default_factory=dict)
    schema_valid: Cell = field(default_factory=Cell)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    disagreement: tuple[int, int] | None = None  # (differing pairs, compared pairs)
    engine: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.model} ({self.label})" if self.label else self.model


def latest_rows(rows: Sequence[dict]) -> list[dict]:
    """One row per (model, case, repeat, stream): the last written (reruns replace errors)."""
    latest: dict[tuple, dict] = {}
    for row in rows:
        latest[row_key(row)] = row
    return list(latest.values())


def build_runs(files: Sequence[Path]) -> list[Run]:
    runs: list[Run] = []
    labels = [p.stem for p in files] if len(files) > 1 else [""] * len(files)
    for path, label in zip(files, labels):
        by_model: dict[str, list[dict]] = defaultdict(list)
        for row in latest_rows(read_rows(path)):
            by_model[row["model"]].append(row)
        for model, rows in by_model.items():
            runs.append(summarise(label, model, rows))
    return runs


def summarise(label: str, model: str, rows: list[dict]) -> Run:
    run = Run(label, model, sorted(latest_rows(rows), key=lambda r: (r["server"], r["case"], r["repeat"], r["stream"])))
    for row in run.rows:
        run.overall.add(row)
        run.servers.setdefault(row["server"], Cell()).add(row)
        run.categories.setdefault(row["category"], Cell()).add(row)
        if row.get("error"):
            run.errors += 1
        else:
            run.schema_valid.trials += 1
            run.schema_valid.successes += bool(row["scores"]["schema_ok"])
            if row.get("latency_s") is not None:
                run.latencies.append(float(row["latency_s"]))
        run.engine = run.engine or row.get("engine") or {}
    pairs = defaultdict(dict)
    for row in run.rows:
        if not row.get("error"):
            pairs[(row["case"], row["repeat"])][bool(row["stream"])] = row
    compared = [p for p in pairs.values() if len(p) == 2]
    if compared:
        differ = sum(_call_signature(p[False]) != _call_signature(p[True]) for p in compared)
        run.disagreement = (differ, len(compared))
    return run


def _call_signature(row: dict) -> tuple:
    import json

    calls = sorted(f"{c['name']}({json.dumps(c['arguments'], sort_keys=True)})" for c in row.get("calls", []))
    return (tuple(calls), bool(row["scores"]["success"]))


# --- formatting -------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def acc_ci(cell: Cell | None) -> str:
    if cell is None or not cell.trials:
        return "–"
    lo, hi = cell.ci
    return f"{pct(cell.accuracy)} [{100 * lo:.1f}–{100 * hi:.1f}]"


def ms(x: float | None) -> str:
    return "–" if x is None else f"{1000 * x:.0f} ms"


def tables(runs: Sequence[Run]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every table of the report; Markdown and HTML render these."""
    servers = sorted({s for r in runs for s in r.servers})
    categories = [c for c in CATEGORIES if any(c in r.categories for r in runs)]
    out = []
    out.append(("Summary", ["model", "accuracy [95% CI]", "pass^k", "k", "schema-valid", "trials", "errors",
                            "stream disagreement", "engine"],
                [[r.name, acc_ci(r.overall), pct(r.overall.pass_k), str(r.overall.k), pct(r.schema_valid.accuracy),
                  str(r.overall.trials), str(r.errors),
                  (f"{pct(r.disagreement[0] / r.disagreement[1])} ({r.disagreement[0]}/{r.disagreement[1]})"
                   if r.disagreement else "–"), _engine(r.engine)] for r in runs]))
    out.append(("Accuracy by server (model × server)", ["model", *servers],
                [[r.name, *[acc_ci(r.servers.get(s)) for s in servers]] for r in runs]))
    out.append(("Accuracy by category", ["model", *categories],
                [[r.name, *[acc_ci(r.categories.get(c)) for c in categories]] for r in runs]))
    out.append(("Latency per case", ["model", "p50", "p90", "p99", "max"],
                [[r.name, *[ms(percentile(r.latencies, q)) for q in (50, 90, 99, 100)]] for r in runs]))
    return out


def _engine(engine: dict) -> str:
    parts = [f"{engine['engine']} {engine.get('version', '')}".strip()] if engine.get("engine") else []
    if engine.get("gateway"):
        parts.append(f"{engine['gateway']} {engine.get('gateway_version', '')}".strip())
    return ", ".join(parts) or engine.get("server_header", "–")


def failures(runs: Sequence[Run]) -> list[dict]:
    out = []
    for run in runs:
        shown: set[str] = set()
        for row in run.rows:  # one example per case, so a few repeated failures do not fill the list
            if row["scores"]["success"] or row["case"] in shown or len(shown) >= MAX_FAILURES:
                continue
            shown.add(row["case"])
            out.append({"model": run.name, "case": row["case"], "category": row["category"],
                        "stream": row["stream"], "expected": row.get("expected"), "actual": row.get("calls"),
                        "content": (row.get("content") or "")[:300], "errors": row["scores"]["errors"][:6]})
    return out


def render_markdown(runs: Sequence[Run]) -> str:
    import json

    lines = ["# Tool-calling eval", ""]
    for title, header, rows in tables(runs):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        lines.append("")
    fails = failures(runs)
    if fails:
        lines += ["## Failure examples", ""]
        for f in fails:
            lines.append(f"- **{f['model']}** `{f['case']}` ({f['category']}, {'stream' if f['stream'] else 'no stream'}): "
                         + "; ".join(f["errors"]))
            lines.append(f"  - expected: `{json.dumps(f['expected'], ensure_ascii=False)[:400]}`")
            lines.append(f"  - actual: `{json.dumps(f['actual'], ensure_ascii=False)[:400]}`")
        lines.append("")
    lines.append("Accuracy: share of trials that succeeded, 95% Wilson interval in brackets. pass^k: probability that "
                 "all k repeats of a case succeed (τ²-bench estimator, mean over cases). Schema-valid: share of "
                 "trials whose every call is valid against the tool's JSON schema.")
    return "\n".join(lines) + "\n"


def plots(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """(title, base64 PNG) for the accuracy-by-server and latency plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    servers = sorted({s for r in runs for s in r.servers})
    if servers and runs:
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(servers) * max(1, len(runs)) / 2 + 3), 3.6))
        width = 0.8 / len(runs)
        for i, run in enumerate(runs):
            xs, ys, lo, hi = [], [], [], []
            for j, s in enumerate(servers):
                cell = run.servers.get(s)
                if cell and cell.trials:
                    a, (l, h) = cell.accuracy, cell.ci
                    xs.append(j + i * width)
                    ys.append(100 * a)
                    lo.append(100 * (a - l))
                    hi.append(100 * (h - a))
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=run.name)
        ax.set_xticks([j + width * (len(runs) - 1) / 2 for j in range(len(servers))], servers)
        ax.set_ylabel("accuracy %")
        ax.set_ylim(0, 105)
        ax.legend(fontsize=7)
        images.append(("Accuracy by server (95% CI)", _png(fig)))
    if any(r.latencies for r in runs):
        fig, ax = plt.subplots(figsize=(6, 3.2))
        with_lat = [r for r in runs if r.latencies]
        ax.boxplot([[1000 * x for x in r.latencies] for r in with_lat])
        ax.set_xticks(range(1, len(with_lat) + 1), [r.name for r in with_lat], fontsize=7)
        ax.set_ylabel("latency per case (ms)")
        images.append(("Latency", _png(fig)))
    return images


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


CSS = ("body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
       "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}"
       "code,pre{background:#f7f7f7;font-size:12px}pre{padding:6px;white-space:pre-wrap}.err{color:#a00}")


def render_html(runs: Sequence[Run]) -> str:
    import json

    e = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Tool-calling eval</title>",
             f"<style>{CSS}</style></head><body><h1>Tool-calling eval</h1>"]
    for title, header, rows in tables(runs):
        slug = title.split(" (")[0].lower().replace(" ", "-")
        parts.append(f"<h2>{e(title)}</h2><table id='{slug}'><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    try:
        images = plots(runs)
    except ImportError:  # matplotlib is the `eval` extra; the tables stand on their own
        images = []
        parts.append("<p>Plots need matplotlib: <code>pip install 'mcpfleet[eval]'</code>.</p>")
    for title, data in images:
        parts.append(f"<h2>{e(title)}</h2><img alt='{e(title)}' src='data:image/png;base64,{data}'>")
    fails = failures(runs)
    if fails:
        parts.append("<h2>Failure examples</h2><table id='failures'><tr><th>model</th><th>case</th><th>expected</th>"
                     "<th>actual</th><th>why</th></tr>")
        for f in fails:
            actual = json.dumps(f["actual"], ensure_ascii=False, indent=1)[:1500]
            if f["content"]:
                actual += "\ntext: " + f["content"]
            parts.append(f"<tr><td>{e(f['model'])}</td><td><code>{e(f['case'])}</code><br>{e(f['category'])}"
                         f"{' (stream)' if f['stream'] else ''}</td>"
                         f"<td><pre>{e(json.dumps(f['expected'], ensure_ascii=False, indent=1)[:1500])}</pre></td>"
                         f"<td><pre>{e(actual)}</pre></td>"
                         f"<td class='err'>{'<br>'.join(e(x) for x in f['errors'])}</td></tr>")
        parts.append("</table>")
    parts.append("<p>Accuracy: share of trials that succeeded, 95% Wilson interval in brackets. pass^k: probability "
                 "that all k repeats of a case succeed (τ²-bench estimator, mean over cases).</p></body></html>")
    return "".join(parts)


def write_report(files: Sequence[Path], md: Path | None, html_path: Path | None) -> str:
    runs = build_runs(files)
    text = render_markdown(runs)
    if md:
        md.write_text(text, encoding="utf-8")
    if html_path:
        html_path.write_text(render_html(runs), encoding="utf-8")
    return text
