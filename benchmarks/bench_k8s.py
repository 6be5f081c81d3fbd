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
parsing cost over our own schema check.

    python benchmarks/bench_k8s.py [--documents 3000] [--profile cerit] [--raw-seconds 20]
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
    for folder in (REPO / "servers" / "k8s" / "examples", REPO / "tests" / "k8s" / "corpus"):
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
    parser.add_argument("--profile", default="cerit")
    parser.add_argument("--raw-seconds", type=float, default=20.0, help="time box for the slow raw baseline")
    args = parser.parse_args()

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
    print(f"corpus: {n} documents ({per_copy} distinct), {len(text) / 1e6:.2f} MB, Kubernetes {version}, "
          f"profile {args.profile}")

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
    print(f"fix (parse, fix, dump, re-validate):    {4 * per_copy / (time.perf_counter() - start):9.1f} docs/s  "
          f"({len(fixed.applied)} fixes)")
    print(f"ratio full / raw:    {full / raw:6.2f}x  (goal >= 0.5x)")
    print(f"ratio full / (parse + schema): {full / schema_text:6.2f}x  (what the policy rules cost)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
