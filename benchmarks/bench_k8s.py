"""k8s validation throughput: raw kubernetes-validate (schema only) vs this server's engine.

The corpus is the bundled examples and the test corpus (documents without YAML errors), repeated
to `--documents` documents. Reported, in documents per second:

  raw        kubernetes_validate.validate(doc, version, strict=True) per document, on dicts parsed
             by PyYAML beforehand (as its own CLI does); it re-reads and re-compiles the schemas on
             every call, so it runs on a time-boxed subset
  schema     our cached validators only (SchemaStore.check), on parsed documents
  full       validate_text(text, profile=...): libyaml parse with lines + schema + policy
  fix        fix_text on the distinct documents: ruamel round-trip parse, fixes, dump, re-validation

The ratio full/raw is the issue's goal (>= 0.5x); full/schema shows what policy and line-tracking
parsing cost over our own schema check. Also reported:

  cli        wall and CPU seconds of `mcpfleet k8s validate one.yaml` and `mcpfleet --help` as
             fresh processes (median of --cli-runs; goal <= 0.5 s for one file)
  victim     latency of a one-document k8s_validate while --big-calls calls of ~800 kB run at
             once: in threads of the server process (how the tool ran before) and through the
             server's worker pool (how it runs now)

    python benchmarks/bench_k8s.py [--documents 3000] [--profile restricted] [--raw-seconds 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def corpus_text() -> str:
    from mcpfleet.servers.k8s.documents import YamlSyntaxError, parse

    parts = []
    for folder in (REPO / "mcpfleet" / "servers" / "k8s" / "examples", REPO / "tests" / "k8s" / "corpus"):
        for path in sorted(folder.glob("*.yaml")):
            text = path.read_text()
            try:
                parse(text)
            except YamlSyntaxError:
                continue
            parts.append(text)
    return "\n---\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--profile", default="restricted")
    parser.add_argument("--cli-runs", type=int, default=7)
    parser.add_argument("--big-calls", type=int, default=4)
    parser.add_argument("--raw-seconds", type=float, default=20.0, help="time box for the slow raw baseline")
    args = parser.parse_args()

    cli_times(args.cli_runs)

    import kubernetes_validate
    import yaml

    from mcpfleet.servers.k8s.documents import load, parse
    from mcpfleet.servers.k8s.engine import Engine
    from mcpfleet.servers.k8s.schema import SchemaStore, default_version
    from mcpfleet.servers.k8s.settings import K8sSettings

    version = default_version()
    base = corpus_text()
    per_copy = len(parse(base))
    copies = max(1, -(-args.documents // per_copy))
    text = "\n---\n".join([base] * copies)
    dicts = [d for d in yaml.safe_load_all(text) if d]
    n = len(dicts)
    print(
        f"corpus: {n} documents ({per_copy} distinct), {len(text) / 1e6:.2f} MB, Kubernetes {version}, "
        f"profile {args.profile}"
    )

    # raw kubernetes-validate, time-boxed
    done, start = 0, time.perf_counter()
    for doc in dicts:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except Exception:  # validation errors, unknown kinds: counted like any other document
            pass
        done += 1
        if time.perf_counter() - start > args.raw_seconds:
            break
    raw = done / (time.perf_counter() - start)
    print(f"raw kubernetes-validate (schema only): {raw:9.1f} docs/s  ({done} documents timed)")

    # ours, schema only (validators compiled once per kind; warm-up excluded)
    store = SchemaStore()
    docs = load(text)
    for d in docs[:per_copy]:
        list(store.check(d.data, version))
    start = time.perf_counter()
    for d in docs:
        list(store.check(d.data, version))
    schema = n / (time.perf_counter() - start)
    print(f"ours, schema only (cached validators):  {schema:9.1f} docs/s")

    # ours, schema only but from text (parse included): the like-for-like base for the policy cost
    start = time.perf_counter()
    for d in load(text):
        list(store.check(d.data, version))
    schema_text = n / (time.perf_counter() - start)
    print(f"ours, parse + schema only:              {schema_text:9.1f} docs/s")

    # ours, everything from text: parse with lines + schema + policy
    engine = Engine(K8sSettings(max_bytes=50_000_000))
    engine.validate_text(base, profile=args.profile)  # warm-up: compile validators
    start = time.perf_counter()
    report = engine.validate_text(text, profile=args.profile)
    full = report.documents / (time.perf_counter() - start)
    print(f"ours, parse + schema + policy:          {full:9.1f} docs/s  ({len(report.findings)} findings)")

    start = time.perf_counter()
    load(text)
    print(f"  of which libyaml parse with lines:     {n / (time.perf_counter() - start):9.1f} docs/s")
    small = "\n---\n".join([base] * 4)
    start = time.perf_counter()
    parse(small)
    print(f"ruamel round-trip parse (fix path):     {4 * per_copy / (time.perf_counter() - start):9.1f} docs/s")
    start = time.perf_counter()
    fixed = engine.fix_text(small, profile=args.profile)
    print(
        f"fix (parse, fix, dump, re-validate):    {4 * per_copy / (time.perf_counter() - start):9.1f} docs/s  "
        f"({len(fixed.applied)} fixes)"
    )
    print(f"ratio full / raw:    {full / raw:6.2f}x  (goal >= 0.5x)")
    print(f"ratio full / (parse + schema): {full / schema_text:6.2f}x  (what the policy rules cost)")
    import asyncio

    asyncio.run(victim_latency(args.big_calls))
    return 0


def cli_times(runs: int) -> None:
    """Fresh `mcpfleet` processes: wall (median) and CPU (user + sys, median) seconds."""
    import os
    import resource
    import statistics
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {a: b}\n")
    command = [sys.executable, "-m", "mcpfleet"]
    try:
        for label, argv in (("k8s validate one.yaml", ["k8s", "validate", f.name]), ("--help", ["--help"])):
            walls, cpus = [], []
            for _ in range(runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(command + argv, check=True, capture_output=True)
                walls.append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            print(
                f"CLI mcpfleet {label:24} wall {statistics.median(walls):5.2f} s  "
                f"CPU {statistics.median(cpus):5.2f} s  (median of {runs})"
            )
    finally:
        os.unlink(f.name)


async def victim_latency(big_calls: int) -> None:
    """A small call's latency while `big_calls` ~800 kB validations run: threads vs worker pool."""
    import anyio
    from fastmcp import Client

    from mcpfleet.common.settings import load_settings
    from mcpfleet.servers.k8s.engine import Engine
    from mcpfleet.servers.k8s.server import build
    from mcpfleet.servers.k8s.settings import K8sSettings

    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec:\n  containers:\n    - name: c\n"
        "      image: example/c:1\n      env: [{name: A, value: x}, {name: B, value: y}]\n"
    )
    big = "---\n".join(pod % n for n in range(4_000))  # ~0.8 MB
    small = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small}\n"

    async def measure(run_big, run_small) -> tuple[float, float]:
        async with anyio.create_task_group() as tg:
            start = time.perf_counter()
            for _ in range(big_calls):
                tg.start_soon(run_big)
            await anyio.sleep(0.3)
            t = time.perf_counter()
            await run_small()
            victim = time.perf_counter() - t
        return victim, time.perf_counter() - start

    engine = Engine(K8sSettings())
    engine.validate_text(small)
    alone = time.perf_counter()
    engine.validate_text(small)
    alone = time.perf_counter() - alone
    victim, total = await measure(
        lambda: anyio.to_thread.run_sync(engine.validate_text, big),
        lambda: anyio.to_thread.run_sync(engine.validate_text, small),
    )
    print(
        f"victim latency, threads (before): {victim:6.2f} s  (alone {alone:.3f} s; {big_calls} big calls "
        f"{len(big) / 1e6:.1f} MB each took {total:.1f} s)"
    )
    settings = load_settings(workers={"size": big_calls + 1}, servers={"k8s": {"timeout": 120}})
    async with Client(build(settings)) as c:
        await c.call_tool("k8s_validate", {"manifest": small})
        victim, total = await measure(
            lambda: c.call_tool("k8s_validate", {"manifest": big}),
            lambda: c.call_tool("k8s_validate", {"manifest": small}),
        )
    print(
        f"victim latency, worker pool (now): {victim:6.2f} s  (pool of {big_calls + 1}; big calls took {total:.1f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
