"""`mcpfleet eval run|report|validate`: score models' tool calling against the fleet's real tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mcpfleet.common.errors import ConfigError

EXAMPLES = """\
examples:
  mcpfleet eval run --model Qwen/Qwen3-32B --base-url http://vllm.llm:8000/v1 --server math --repeats 3
  mcpfleet eval run --models models.yaml --compare-stream --out results.jsonl
  mcpfleet eval report results.jsonl --html report.html --md report.md
  mcpfleet eval compare baseline.jsonl candidate.jsonl --html compare.html
  mcpfleet eval validate
  mcpfleet eval import-bfcl BFCL_v4_simple.json --answers possible_answer/BFCL_v4_simple.json --out bfcl.yaml
"""


def register(add) -> None:
    parser = add("eval", "score models' tool calling against the fleet's real tools")
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="eval_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="run cases against one or more models (resumable)")
    run.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS, help="fleet settings file (for the in-process servers)"
    )
    run.add_argument("--model", help="model name as the endpoint knows it")
    run.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://vllm:8000/v1")
    run.add_argument("--api-key-env", help="variable holding the endpoint's API key")
    run.add_argument("--models", metavar="FILE", help="YAML list of {name, base_url, api_key_env, params}")
    run.add_argument("--server", action="append", default=[], help="only these servers' cases (repeatable)")
    run.add_argument("--category", action="append", default=[], help="only these categories (repeatable)")
    run.add_argument("--case", action="append", default=[], help="only these case ids (repeatable)")
    run.add_argument("--repeats", type=int, default=1, help="trials per case (pass^k uses k = repeats)")
    run.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    stream = run.add_mutually_exclusive_group()
    stream.add_argument("--stream", dest="stream", action="store_true", default=False, help="stream responses")
    stream.add_argument("--no-stream", dest="stream", action="store_false")
    stream.add_argument("--compare-stream", action="store_true", help="run every case both ways")
    run.add_argument("--tool-choice", choices=("auto", "required"), default="auto")
    run.add_argument("--temperature", type=float, default=0.0)
    run.add_argument("--seed", type=int)
    run.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    run.add_argument("--retries", type=int, default=3, help="retries on 429/5xx/connection errors")
    run.add_argument("--out", default="results.jsonl", help="results file (appended; finished rows are skipped)")
    run.add_argument("--fleet-url", help="a running `mcpfleet serve` to use instead of in-process servers")
    run.add_argument("--fleet-key-env", help="variable holding the fleet's API key (with --fleet-url)")
    run.add_argument("--cases-dir", help="directory of case files (default: the packaged cases)")
    run.add_argument("--no-progress", action="store_true")
    run.set_defaults(handler=_run)

    report = sub.add_parser("report", help="Markdown and HTML report from results files")
    report.add_argument("results", nargs="+", metavar="RESULTS", help="results JSONL files (side by side)")
    report.add_argument("--md", help="write Markdown here (also printed)")
    report.add_argument("--html", help="write a self-contained HTML page here")
    report.add_argument("--quiet", action="store_true", help="do not print the Markdown")
    report.set_defaults(handler=_report)

    compare = sub.add_parser("compare", help="two runs paired on the same cases: significance and flipped cases")
    compare.add_argument("run_a", metavar="RUN_A", help="results JSONL of run A")
    compare.add_argument("run_b", metavar="RUN_B", help="results JSONL of run B (may be the same file)")
    compare.add_argument("--a", help="model x serving label (or model name) to take from RUN_A")
    compare.add_argument("--b", help="model x serving label (or model name) to take from RUN_B")
    compare.add_argument("--md", help="write Markdown here (also printed)")
    compare.add_argument("--html", help="write an HTML page here")
    compare.set_defaults(handler=_compare)

    bfcl = sub.add_parser("import-bfcl", help="turn BFCL entries and possible answers into a case file")
    bfcl.add_argument(
        "entries", metavar="ENTRIES", help="BFCL entries (JSON lines, .gz ok; `possible_answer` inline or in --answers)"
    )
    bfcl.add_argument("--answers", metavar="FILE", help="BFCL possible-answer file ({id, ground_truth} lines)")
    bfcl.add_argument("--server", default="bfcl", help="case-file name and id prefix (default bfcl)")
    bfcl.add_argument("--out", metavar="FILE", help="case file to write (default <server>.yaml)")
    bfcl.set_defaults(handler=_import_bfcl)

    validate = sub.add_parser("validate", help="check every case against the current tool schemas")
    validate.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS)
    validate.add_argument("--server", action="append", default=[])
    validate.add_argument("--cases-dir")
    validate.set_defaults(handler=_validate)


def _models(args) -> list:
    from mcpfleet.evals.runner import ModelTarget

    if args.models:
        import yaml

        data = yaml.safe_load(Path(args.models).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = data.get("models")
        if not isinstance(data, list) or not data:
            raise ConfigError(f"{args.models}: expected a list of models")
        return [ModelTarget.parse(m, Path(args.models).resolve().parent) for m in data]
    if not args.model or not args.base_url:
        raise ConfigError("give --model and --base-url, or --models FILE")
    return [ModelTarget(args.model, args.base_url, args.api_key_env)]


def _run(args) -> int:
    import asyncio

    from mcpfleet.common.settings import load_settings
    from mcpfleet.evals.cases import CASES_DIR, load_cases
    from mcpfleet.evals.fleet import Fleet, open_fleet
    from mcpfleet.evals.runner import RunOptions, run_eval

    models = _models(args)
    if args.repeats < 1 or args.concurrency < 1:
        raise ConfigError("--repeats and --concurrency must be at least 1")
    cases = load_cases(args.server, args.category, Path(args.cases_dir) if args.cases_dir else CASES_DIR)
    if args.case:
        cases = [c for c in cases if c.id in set(args.case)]
    if not cases:
        raise ConfigError("no cases selected")
    options = RunOptions(
        tool_choice=args.tool_choice,
        streams=(False, True) if args.compare_stream else (args.stream,),
        repeats=args.repeats,
        concurrency=args.concurrency,
        temperature=args.temperature,
        seed=args.seed,
        timeout=args.timeout,
        retries=args.retries,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    settings = load_settings(args.config)
    live = [c for c in cases if not c.functions]  # the rest carry their own functions (import-bfcl)
    # `multiple` cases offer the whole fleet's tools, so every server is loaded when they are run.
    needs_fleet = any(c.tools == "fleet" for c in live)
    servers = () if needs_fleet else sorted({c.server for c in live})

    async def go() -> list[dict]:
        if not live:
            return await run_eval(models, cases, Fleet(), options, Path(args.out))
        async with open_fleet(settings, servers, args.fleet_url, args.fleet_key_env) as fleet:
            if not fleet.servers:
                raise ConfigError(
                    "no server could be loaded: " + "; ".join(f"{k}: {v}" for k, v in fleet.skipped.items())
                )
            return await run_eval(models, cases, fleet, options, Path(args.out))

    rows = asyncio.run(go())
    done = sum(1 for r in rows if r["scores"]["success"] and not r.get("fault"))
    errors = sum(1 for r in rows if r.get("fault") == "endpoint")
    faults = sum(1 for r in rows if r.get("fault") == "engine")
    print(
        f"{len(rows)} new result(s) in {args.out}: {done} succeeded, {faults} engine fault(s), "
        f"{errors} endpoint error(s)" + ("; rerun to retry them" if errors else "")
    )
    return 0


def _report(args) -> int:
    from mcpfleet.evals.report import write_report

    paths = [Path(p) for p in args.results]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise ConfigError(f"no such results file: {missing[0]}")
    text = write_report(paths, Path(args.md) if args.md else None, Path(args.html) if args.html else None)
    if not args.quiet:
        print(text, end="")
    return 0


def _compare(args) -> int:
    from mcpfleet.evals.compare import pick, render_html, render_markdown

    paths = [Path(args.run_a), Path(args.run_b)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise ConfigError(f"no such results file: {missing[0]}")
    a, b = pick(paths[0], args.a), pick(paths[1], args.b)
    name_a = a.target if paths[0] == paths[1] else f"{a.target} ({paths[0].stem})"
    name_b = b.target if paths[0] == paths[1] else f"{b.target} ({paths[1].stem})"
    text = render_markdown(a, b, name_a, name_b)
    if args.md:
        Path(args.md).write_text(text, encoding="utf-8")
    if args.html:
        Path(args.html).write_text(render_html(a, b, name_a, name_b), encoding="utf-8")
    print(text, end="")
    return 0


def _import_bfcl(args) -> int:
    import re

    import yaml

    from mcpfleet.evals.bfcl import case_file, read_entries
    from mcpfleet.evals.cases import load_file

    if not re.fullmatch(r"[a-z0-9]+", args.server):
        raise ConfigError("--server must be lower-case letters and digits (it prefixes every case id)")
    paths = [Path(p) for p in (args.entries, args.answers) if p]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"no such file: {missing[0]}")
    try:
        data = case_file(read_entries(paths[0], paths[1] if len(paths) > 1 else None), args.server)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{paths[0].name}: {exc}") from None
    out = Path(args.out or f"{args.server}.yaml")
    if out.stem != args.server:
        raise ConfigError(f"the case file must be named {args.server}.yaml (cases files are named for their server)")
    out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    load_file(out)  # what was written must load back
    counts: dict[str, int] = {}
    for case in data["cases"]:
        counts[case["category"]] = counts.get(case["category"], 0) + 1
    print(f"{len(data['cases'])} case(s) ({', '.join(f'{k} {v}' for k, v in counts.items())}) written to {out}")
    return 0


def _validate(args) -> int:
    import asyncio

    from mcpfleet.common.settings import load_settings
    from mcpfleet.evals.cases import CASES_DIR, load_cases, validate_cases
    from mcpfleet.evals.fleet import Fleet, open_fleet

    every = load_cases(args.server, (), Path(args.cases_dir) if args.cases_dir else CASES_DIR)
    # Cases that carry their own functions are checked against those, one case at a time.
    own = [
        p
        for c in every
        if c.functions
        for p in validate_cases(
            [c], {n: f["parameters"] for n, f in c.functions.items()}, dict.fromkeys(c.functions, c.server)
        )
    ]
    cases = [c for c in every if not c.functions]
    settings = load_settings(args.config)

    # Each file is checked against its own server's tools (`multiple` cases expect those too).
    async def go():
        servers = sorted({c.server for c in cases} & _installed(settings))
        if not servers and not cases:
            return Fleet()
        async with open_fleet(settings, servers) as fleet:
            return fleet

    fleet = asyncio.run(go())
    checked = [c for c in cases if c.server in fleet.servers]
    problems = own + validate_cases(checked, fleet.schemas, fleet.server_of)
    checked = checked + [c for c in every if c.functions]
    for server, reason in fleet.skipped.items():
        print(f"warning: {server} not checked: {reason}", file=sys.stderr)
    unloaded = sorted({c.server for c in cases} - set(fleet.servers) - set(fleet.skipped))
    for server in unloaded:
        print(f"warning: {server} not checked: no such server installed", file=sys.stderr)
    for p in problems:
        print(p)
    own_tools = sum(len(c.functions) for c in every if c.functions)
    print(
        f"{len(checked)} case(s) checked against {len(fleet.tools) + own_tools} tools: "
        + (f"{len(problems)} problem(s)" if problems else "all valid"),
        file=sys.stderr,
    )
    return 1 if problems else 0


def _installed(settings) -> set[str]:
    from mcpfleet.evals.fleet import available_specs

    return {s.name for s in available_specs(settings)}
