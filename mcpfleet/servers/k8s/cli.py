"""`mcpfleet k8s validate|fix|example|rules`: the server's engine on the command line.

validate exits 0 when no finding has severity error, 1 when some does, 2 on usage or I/O errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mcpfleet.servers.k8s import SPEC


def register(add) -> None:
    parser = add(SPEC.name, SPEC.cli_help)  # the line `mcpfleet --help` shows
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])
    sub = parser.add_subparsers(dest="k8s_command", metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            metavar="FILE",
            default=argparse.SUPPRESS,
            help="TOML or YAML settings file (also: MCPFLEET_CONFIG)",
        )
        p.add_argument("--kubernetes-version", metavar="V", help="e.g. 1.33 (default: newest bundled)")
        p.add_argument("--profile", metavar="P", help="baseline, restricted, cerit, best-practices or your own")

    validate = sub.add_parser("validate", help="validate manifests (exit 1 on error findings)")
    common(validate)
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="YAML files, directories (searched recursively for *.yaml, *.yml, *.json) or - for stdin",
    )
    validate.set_defaults(handler=_validate)

    fix = sub.add_parser("fix", help="print the fixed manifest (or --diff, or --in-place)")
    common(fix)
    fix.add_argument("file", metavar="FILE", help="a YAML file or - for stdin")
    mode = fix.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print a unified diff instead")
    mode.add_argument("--in-place", action="store_true", help="rewrite the file")
    fix.set_defaults(handler=_fix)

    ex = sub.add_parser("example", help="print an example manifest, or list topics")
    ex.add_argument("topic", nargs="?")
    ex.set_defaults(handler=_example)

    rules = sub.add_parser("rules", help="list profiles and rules, or one profile's rules")
    rules.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="TOML or YAML settings file")
    rules.add_argument("--profile", metavar="P")
    rules.add_argument("--rule", metavar="ID")
    rules.set_defaults(handler=_rules)


def _engine(args):
    from mcpfleet.common.settings import load_settings
    from mcpfleet.servers.k8s.engine import Engine
    from mcpfleet.servers.k8s.settings import K8sSettings

    settings = load_settings(getattr(args, "config", None))
    return Engine(settings.server_section("k8s", K8sSettings)), settings


def _inputs(names: list[str]) -> list[tuple[str, str]]:
    """(name, text) of each input: a file, `-` for stdin, or a directory searched recursively
    for *.yaml, *.yml and *.json files (hidden folders skipped), in a stable order."""
    from mcpfleet.common import errors

    out = []
    for name in names:
        if name == "-":
            out.append(("-", sys.stdin.read()))
            continue
        path = Path(name)
        files = _manifests_under(path) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise errors.UserError(f"{name}: no *.yaml, *.yml or *.json files in it or its sub-folders")
        for f in files:
            try:
                out.append((str(f), f.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise errors.UserError(f"cannot read {f}: {getattr(exc, 'strerror', None) or exc}") from None
    return out


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def _manifests_under(directory: Path) -> list[Path]:
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).parts
        if any(part.startswith(".") for part in relative[:-1]) or relative[-1].startswith("."):
            continue  # .git, .github and friends hold no manifests to apply
        if path.suffix in MANIFEST_SUFFIXES and path.is_file():
            found.append(path)
    return found


def _prefetch(engine, settings, text: str, version: str | None) -> None:
    if engine.settings.crd_url_template:
        import asyncio

        from mcpfleet.servers.k8s.crds import fetch_catalog_schemas

        resolved, _ = engine.resolve(version, None)
        asyncio.run(fetch_catalog_schemas(engine, text, resolved, settings.http))


def _validate(args) -> int:
    engine, settings = _engine(args)
    findings, errors, warnings = [], 0, 0
    for name, text in _inputs(args.files):
        _prefetch(engine, settings, text, args.kubernetes_version)
        report = engine.validate_text(text, args.kubernetes_version, args.profile, file=name)
        findings += report.findings
        errors += report.errors
        warnings += report.warnings
        if args.format == "text":
            for f in report.findings:
                print(f.render())
    if args.format == "json":
        print(
            json.dumps({"findings": [f.as_dict() for f in findings], "errors": errors, "warnings": warnings}, indent=2)
        )
    else:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def _fix(args) -> int:
    engine, settings = _engine(args)
    [(name, text)] = _inputs([args.file])
    if args.in_place and name == "-":
        from mcpfleet.common import errors

        raise errors.UserError("--in-place needs a file, not stdin")
    _prefetch(engine, settings, text, args.kubernetes_version)
    result = engine.fix_text(text, args.kubernetes_version, args.profile)
    if args.diff:
        sys.stdout.write(result.diff)
    elif args.in_place:
        if result.fixed != text:
            Path(name).write_text(result.fixed, encoding="utf-8")
    else:
        sys.stdout.write(result.fixed)
    for a in result.applied:
        print(f"fixed: {a['description']}", file=sys.stderr)
    for f in result.remaining.findings:
        print(f"remaining: {f.render()}", file=sys.stderr)
    return 1 if result.remaining.errors else 0


def _example(args) -> int:
    from mcpfleet.servers.k8s.examples import example

    print(example(args.topic)["text"].rstrip("\n"))
    return 0


def _rules(args) -> int:
    engine, _ = _engine(args)
    print(engine.rules_info(args.profile, args.rule)["text"])
    return 0
