"""Reports from results files: Markdown and a self-contained HTML page (plots embedded as PNG).

The unit is the case. A *run* is one (results file, model x serving config); its rows are the
latest per (case, repeat, stream). Rows with an infrastructure fault (an endpoint error after the
retries, or an engine fault: arguments truncated or not JSON, sent twice, a finish_reason that
contradicts the calls, streamed calls that differ from the non-streamed ones) are kept out of
accuracy and pass^k and counted as their own rates. Accuracy is the mean over cases of each case's
success rate, with the Wilson interval over cases (`mcpfleet.evals.stats`); streamed and
non-streamed trials of a case are trials of the same case.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mcpfleet.evals import stats
from mcpfleet.evals.cases import CATEGORIES
from mcpfleet.evals.runner import call_signature, mark_disagreement, read_rows, row_key
from mcpfleet.evals.scoring import percentile

MAX_FAILURES = 12


def fault_of(row: dict) -> str | None:
    """'endpoint', 'engine' or None (rows written before faults were recorded: from `error`)."""
    if "fault" in row:
        return row["fault"]
    return "endpoint" if row.get("error") else None


@dataclass
class Cell:
    """The measured (unfaulted) trials of one group, by case: accuracy, its interval, pass^k."""

    by_case: dict[str, list[bool]] = field(default_factory=dict)

    def add(self, row: dict) -> None:
        self.by_case.setdefault(row["case"], []).append(bool(row["scores"]["success"]))

    @property
    def trials(self) -> int:
        return sum(len(v) for v in self.by_case.values())

    @property
    def successes(self) -> int:
        return sum(sum(v) for v in self.by_case.values())

    @property
    def cases(self) -> int:
        return len(self.by_case)

    @property
    def accuracy(self) -> float | None:
        return stats.case_accuracy(self.by_case)

    @property
    def ci(self) -> tuple[float, float]:
        return stats.accuracy_interval(self.by_case)

    @property
    def k(self) -> int:
        return min((len(v) for v in self.by_case.values()), default=0)

    @property
    def pass_k(self) -> float | None:
        values = stats.pass_k_values(self.by_case, self.k) if self.k else []
        return sum(values) / len(values) if values else None

    @property
    def pass_k_ci(self) -> tuple[float, float]:
        return stats.pass_k_interval(self.by_case, self.k)


@dataclass
class Run:
    label: str  # the results file's stem, when several files are reported
    target: str  # model x serving config
    model: str
    rows: list[dict]
    serving: dict = field(default_factory=dict)
    overall: Cell = field(default_factory=Cell)
    servers: dict[str, Cell] = field(default_factory=dict)
    categories: dict[str, Cell] = field(default_factory=dict)
    schema_valid: list[bool] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    engine_faults: int = 0
    errors: int = 0  # endpoint errors
    fault_kinds: Counter = field(default_factory=Counter)
    disagreement: tuple[int, int] | None = None  # (differing pairs, compared pairs)
    engine: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.target} ({self.label})" if self.label else self.target

    @property
    def total(self) -> int:
        return len(self.rows)

    def rate(self, n: int) -> float | None:
        return n / self.total if self.total else None


def latest_rows(rows: Sequence[dict]) -> list[dict]:
    """One row per (target, case, repeat, stream): the last written (reruns replace errors)."""
    latest: dict[tuple, dict] = {}
    for row in rows:
        latest[row_key(row)] = row
    return list(latest.values())


def build_runs(files: Sequence[Path]) -> list[Run]:
    runs: list[Run] = []
    labels = [p.stem for p in files] if len(files) > 1 else [""] * len(files)
    for path, label in zip(files, labels):
        by_target: dict[str, list[dict]] = defaultdict(list)
        for row in latest_rows(read_rows(path)):
            by_target[row.get("target") or row["model"]].append(row)
        for target, rows in by_target.items():
            runs.append(summarise(label, target, rows))
    return runs


def mark_stream_disagreements(rows: list[dict]) -> tuple[int, int]:
    """(differing pairs, compared pairs) of streamed vs non-streamed rows of one (case, repeat).

    The runner marks a disagreeing streamed row as an engine fault when it ran both; rows from
    separate runs or older files are marked here (on a copy of the row)."""
    pairs: dict[tuple, dict[bool, int]] = defaultdict(dict)
    for i, row in enumerate(rows):
        kinds = {f["kind"] for f in row.get("faults") or []}
        if fault_of(row) is None or kinds == {"stream_disagreement"}:
            pairs[(row["case"], row["repeat"])][bool(row["stream"])] = i
    compared = [p for p in pairs.values() if len(p) == 2]
    differ = 0
    for pair in compared:
        plain, streamed = rows[pair[False]], rows[pair[True]]
        if fault_of(streamed):  # already marked by the runner
            differ += 1
        elif call_signature(plain) != call_signature(streamed):
            differ += 1
            rows[pair[True]] = copy = {**streamed, "faults": list(streamed.get("faults") or [])}
            mark_disagreement(plain, copy)
    return differ, len(compared)


def summarise(label: str, target: str, rows: list[dict]) -> Run:
    rows = sorted(latest_rows(rows), key=lambda r: (r["server"], r["case"], r["repeat"], r["stream"]))
    disagreement = mark_stream_disagreements(rows)
    first = rows[0] if rows else {}
    run = Run(label, target, first.get("model", target), rows, dict(first.get("serving") or {}))
    run.disagreement = disagreement if disagreement[1] else None
    for row in rows:
        run.engine = run.engine or row.get("engine") or {}
        fault = fault_of(row)
        if fault:
            run.errors += fault == "endpoint"
            run.engine_faults += fault == "engine"
            run.fault_kinds.update({f["kind"] for f in row.get("faults") or [{"kind": "endpoint_error"}]})
            continue
        run.overall.add(row)
        run.servers.setdefault(row["server"], Cell()).add(row)
        run.categories.setdefault(row["category"], Cell()).add(row)
        run.schema_valid.append(bool(row["scores"]["schema_ok"]))
        if row.get("latency_s") is not None:
            run.latencies.append(float(row["latency_s"]))
        total = (row.get("usage") or {}).get("total_tokens")
        if isinstance(total, int):
            run.tokens.append(total)
    return run


# --- formatting -------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def interval(value: float | None, ci: tuple[float, float]) -> str:
    if value is None:
        return "–"
    return f"{pct(value)} [{100 * ci[0]:.1f}–{100 * ci[1]:.1f}]"


def acc_ci(cell: Cell | None) -> str:
    return "–" if cell is None or not cell.trials else interval(cell.accuracy, cell.ci)


def ms(x: float | None) -> str:
    return "–" if x is None else f"{1000 * x:.0f} ms"


def ranked(runs: Sequence[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: -(r.overall.accuracy if r.overall.accuracy is not None else -1))


def leaderboard(runs: Sequence[Run]) -> tuple[str, list[str], list[list[str]]]:
    header = [
        "model × serving",
        "accuracy [95% CI]",
        "pass^k [95% CI]",
        "k",
        "schema-valid",
        "engine faults",
        "endpoint errors",
        "stream disagreement",
        "p50 latency",
        "tokens/case",
        "cases",
        "trials",
    ]
    rows = []
    for r in ranked(runs):
        valid = sum(r.schema_valid) / len(r.schema_valid) if r.schema_valid else None
        rows.append(
            [
                r.name,
                acc_ci(r.overall),
                interval(r.overall.pass_k, r.overall.pass_k_ci) if r.overall.k else "–",
                str(r.overall.k),
                pct(valid),
                f"{pct(r.rate(r.engine_faults))} ({r.engine_faults})",
                f"{pct(r.rate(r.errors))} ({r.errors})",
                (
                    f"{pct(r.disagreement[0] / r.disagreement[1])} ({r.disagreement[0]}/{r.disagreement[1]})"
                    if r.disagreement
                    else "–"
                ),
                ms(percentile(r.latencies, 50)),
                f"{sum(r.tokens) / len(r.tokens):.0f}" if r.tokens else "–",
                str(r.overall.cases),
                str(r.overall.trials),
            ]
        )
    return ("Leaderboard", header, rows)


def comparisons(runs: Sequence[Run]) -> list[tuple[Run, Run, stats.Paired]]:
    """The leader against each other run, paired on the cases both measured."""
    order = ranked(runs)
    return [(order[0], other, stats.paired(order[0].overall.by_case, other.overall.by_case)) for other in order[1:]]


def tables(runs: Sequence[Run]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every table of the report; Markdown and HTML render these."""
    servers = sorted({s for r in runs for s in r.servers})
    categories = [c for c in CATEGORIES if any(c in r.categories for r in runs)]
    out = [leaderboard(runs)]
    pairs = comparisons(runs)
    if pairs:
        out.append(
            (
                "Paired comparisons (leader vs each)",
                ["A", "B", "difference [95% CI]", "A better", "B better", "p-value", "verdict"],
                [
                    [
                        a.name,
                        b.name,
                        f"{100 * p.difference:+.1f} [{100 * p.interval[0]:+.1f}, {100 * p.interval[1]:+.1f}]",
                        str(p.a_better),
                        str(p.b_better),
                        f"{p.p_value:.3g}",
                        p.verdict(a.name, b.name),
                    ]
                    for a, b, p in pairs
                ],
            )
        )
    out.append(
        (
            "Serving configuration",
            [
                "model × serving",
                "model",
                "engine (declared)",
                "engine (detected)",
                "tool-call parser",
                "reasoning parser",
                "chat template",
                "LiteLLM route",
            ],
            [
                [
                    r.name,
                    r.model,
                    " ".join(v for v in (r.serving.get("engine"), r.serving.get("engine_version")) if v) or "–",
                    _engine(r.engine),
                    r.serving.get("tool_call_parser", "–"),
                    r.serving.get("reasoning_parser", "–"),
                    _template(r.serving),
                    r.serving.get("litellm_route", "–"),
                ]
                for r in ranked(runs)
            ],
        )
    )
    out.append(
        (
            "Accuracy by server (model × server)",
            ["model × serving", *servers],
            [[r.name, *[acc_ci(r.servers.get(s)) for s in servers]] for r in ranked(runs)],
        )
    )
    out.append(
        (
            "Accuracy by category",
            ["model × serving", *categories],
            [[r.name, *[acc_ci(r.categories.get(c)) for c in categories]] for r in ranked(runs)],
        )
    )
    kinds = sorted({k for r in runs for k in r.fault_kinds})
    if kinds:
        out.append(
            (
                "Faults (rows kept out of accuracy)",
                ["model × serving", *kinds],
                [[r.name, *[str(r.fault_kinds.get(k, 0)) for k in kinds]] for r in ranked(runs)],
            )
        )
    out.append(
        (
            "Latency per case",
            ["model × serving", "p50", "p90", "p99", "max"],
            [[r.name, *[ms(percentile(r.latencies, q)) for q in (50, 90, 99, 100)]] for r in ranked(runs)],
        )
    )
    return out


def _template(serving: dict) -> str:
    digest = serving.get("chat_template_sha256")
    if not digest:
        return "–"
    return f"{serving.get('chat_template', 'sha256')} {digest[:12]}"


def _engine(engine: dict) -> str:
    parts = [f"{engine['engine']} {engine.get('version', '')}".strip()] if engine.get("engine") else []
    if engine.get("gateway"):
        parts.append(f"{engine['gateway']} {engine.get('gateway_version', '')}".strip())
    return ", ".join(parts) or engine.get("server_header", "–")


def failures(runs: Sequence[Run]) -> list[dict]:
    """One measured failure per case (faulted rows are the engine's or the endpoint's, not the model's)."""
    out = []
    for run in runs:
        shown: set[str] = set()
        for row in run.rows:  # one example per case, so a few repeated failures do not fill the list
            if fault_of(row) or row["scores"]["success"] or row["case"] in shown or len(shown) >= MAX_FAILURES:
                continue
            shown.add(row["case"])
            out.append(
                {
                    "model": run.name,
                    "case": row["case"],
                    "category": row["category"],
                    "stream": row["stream"],
                    "expected": row.get("expected"),
                    "actual": row.get("calls"),
                    "content": (row.get("content") or "")[:300],
                    "errors": row["scores"]["errors"][:6],
                }
            )
    return out


def fault_examples(runs: Sequence[Run]) -> list[dict]:
    """One faulted row per (run, fault kind), with the start of its raw stream when it was streamed."""
    out = []
    for run in runs:
        seen: set[str] = set()
        for row in run.rows:
            if not fault_of(row):
                continue
            kinds = [f["kind"] for f in row.get("faults") or [{"kind": "endpoint_error", "detail": row.get("error")}]]
            if set(kinds) <= seen:
                continue
            seen.update(kinds)
            raw = row.get("raw_stream") or []
            out.append(
                {
                    "model": run.name,
                    "case": row["case"],
                    "stream": row["stream"],
                    "kinds": kinds,
                    "details": [str(f.get("detail", ""))[:200] for f in row.get("faults") or []]
                    or [str(row.get("error") or "")],
                    "raw": "\n".join(raw[:12])[:1500] + ("\n…" if len(raw) > 12 else ""),
                }
            )
    return out


NOTES = (
    "Accuracy: mean over cases of each case's success rate, 95% Wilson interval over cases (repeats "
    "and stream/non-stream trials of a case are not independent). pass^k: probability that all k trials of "
    "a case succeed (τ²-bench estimator, mean over cases), same interval. Rows with an endpoint error "
    "(after retries) or an engine fault (truncated or undecodable arguments, arguments sent twice, "
    "finish_reason contradicting the calls, streamed calls differing from non-streamed) are kept out "
    "of both and counted as their own rates. Paired comparisons: exact sign test over the cases where "
    "the two runs differ (McNemar's exact test with one trial per case), paired bootstrap interval of "
    "the difference; significant at p < 0.05. Schema-valid: share of measured trials whose every call is "
    "valid against the tool's JSON schema."
)


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
            lines.append(
                f"- **{f['model']}** `{f['case']}` ({f['category']}, {'stream' if f['stream'] else 'no stream'}): "
                + "; ".join(f["errors"])
            )
            lines.append(f"  - expected: `{json.dumps(f['expected'], ensure_ascii=False)[:400]}`")
            lines.append(f"  - actual: `{json.dumps(f['actual'], ensure_ascii=False)[:400]}`")
        lines.append("")
    faults = fault_examples(runs)
    if faults:
        lines += ["## Fault examples", ""]
        for f in faults:
            lines.append(
                f"- **{f['model']}** `{f['case']}` ({'stream' if f['stream'] else 'no stream'}): "
                f"{', '.join(f['kinds'])} — {'; '.join(str(d) for d in f['details'])}"
            )
        lines.append("")
    lines.append(NOTES)
    return "\n".join(lines) + "\n"


def plots(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """(title, base64 PNG) for the accuracy-by-server and latency plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    # (run, accuracy) for the runs with trials; accuracy is None exactly when there are none
    board = [(r, a) for r in ranked(runs) if (a := r.overall.accuracy) is not None][::-1]
    if board:
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(board) + 1.4))
        acc = [100 * a for _, a in board]
        lo = [pct - 100 * r.overall.ci[0] for pct, (r, _) in zip(acc, board)]
        hi = [100 * r.overall.ci[1] - pct for pct, (r, _) in zip(acc, board)]
        ax.errorbar(acc, range(len(board)), xerr=[lo, hi], fmt="o", capsize=4)
        ax.set_yticks(range(len(board)), [r.name for r, _ in board], fontsize=7)
        ax.set_xlim(0, 100)
        ax.set_xlabel("accuracy % (95% CI over cases)")
        images.append(("Leaderboard: accuracy (95% CI)", _png(fig)))
    servers = sorted({s for r in runs for s in r.servers})
    if servers and runs:
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(servers) * max(1, len(runs)) / 2 + 3), 3.6))
        width = 0.8 / len(runs)
        for i, run in enumerate(runs):
            xs, ys, lo, hi = [], [], [], []
            for j, s in enumerate(servers):
                cell = run.servers.get(s)
                share = cell.accuracy if cell else None
                if cell and share is not None:
                    ci_low, ci_high = cell.ci
                    xs.append(j + i * width)
                    ys.append(100 * share)
                    lo.append(100 * (share - ci_low))
                    hi.append(100 * (ci_high - share))
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


CSS = (
    "body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}"
    "code,pre{background:#f7f7f7;font-size:12px}pre{padding:6px;white-space:pre-wrap}.err{color:#a00}"
)


def render_html(runs: Sequence[Run]) -> str:
    import json

    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Tool-calling eval</title>",
        f"<style>{CSS}</style></head><body><h1>Tool-calling eval</h1>",
    ]
    for title, header, rows in tables(runs):
        slug = title.split(" (")[0].lower().replace(" ", "-")
        parts.append(
            f"<h2>{e(title)}</h2><table id='{slug}'><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
        )
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
        parts.append(
            "<h2>Failure examples</h2><table id='failures'><tr><th>model</th><th>case</th><th>expected</th>"
            "<th>actual</th><th>why</th></tr>"
        )
        for f in fails:
            actual = json.dumps(f["actual"], ensure_ascii=False, indent=1)[:1500]
            if f["content"]:
                actual += "\ntext: " + f["content"]
            parts.append(
                f"<tr><td>{e(f['model'])}</td><td><code>{e(f['case'])}</code><br>{e(f['category'])}"
                f"{' (stream)' if f['stream'] else ''}</td>"
                f"<td><pre>{e(json.dumps(f['expected'], ensure_ascii=False, indent=1)[:1500])}</pre></td>"
                f"<td><pre>{e(actual)}</pre></td>"
                f"<td class='err'>{'<br>'.join(e(x) for x in f['errors'])}</td></tr>"
            )
        parts.append("</table>")
    faults = fault_examples(runs)
    if faults:
        parts.append(
            "<h2>Fault examples</h2><table id='fault-examples'><tr><th>model</th><th>case</th><th>fault</th>"
            "<th>raw stream</th></tr>"
        )
        for f in faults:
            parts.append(
                f"<tr><td>{e(f['model'])}</td><td><code>{e(f['case'])}</code>"
                f"{' (stream)' if f['stream'] else ''}</td><td class='err'>{e(', '.join(f['kinds']))}<br>"
                f"{'<br>'.join(e(str(d)) for d in f['details'])}</td><td><pre>{e(f['raw'])}</pre></td></tr>"
            )
        parts.append("</table>")
    parts.append(f"<p>{e(NOTES)}</p></body></html>")
    return "".join(parts)


def write_report(files: Sequence[Path], md: Path | None, html_path: Path | None) -> str:
    runs = build_runs(files)
    text = render_markdown(runs)
    if md:
        md.write_text(text, encoding="utf-8")
    if html_path:
        html_path.write_text(render_html(runs), encoding="utf-8")
    return text
