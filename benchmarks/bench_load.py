"""The whole fleet under a crowd: `mcpfleet serve all`, N clients, a realistic mix over seven servers.

One `mcpfleet serve all` process (the console script, as a pod runs it) with API-key auth, each
simulated client its own key (`client-00`, `client-01`, ...), so the per-caller limits are the
shipped defaults (`limits.rate_limit_per_minute` 600 per caller and server, `workers.max_per_caller`
4) and each client stays far below them: the run measures capacity, and a refusal counts as an
error. The sources are local and real: the web test site (tests/web/web_site.py: saved pages, a
SearXNG JSON API) on 127.0.0.1, a real Verdaccio with the npm test packages
(tests/npm/verdaccio_registry.py), the ollama docs tree from ../shared indexed through `docs_index`
from `docs.local_roots`, the official shadcn registry from ../shared served by a static file
server, real sympy, real SWI-Prolog, the real Tailwind compiler. Nothing reaches the internet.

Each client loops for `--seconds`: pick a tool call from the mix (weighted, seeded), send it as a
raw JSON-RPC `tools/call` POST over its own keep-alive connection (streamable HTTP, stateless),
then think for a random time (exponential, mean `--think`; 0 = back-to-back). A warm-up of
`--warmup` seconds runs the same mix first (every tool once per client, the docs indexed, caches
filled); the numbers are of the measured window after it. Bounded: `--max-calls` in all, 60 s per
call, the run stops at its deadline.

Printed: calls/s, p50/p95/p99 client-side latency per tool and the server's own mean per tool
(from /metrics), errors by kind, RSS of the server and of its worker children at start, middle and
end of the window (/proc VmRSS; PSS too, which does not count shared pages twice), worker
processes started during the window (restarts: the pools do not export a counter, so they are
counted from the children's pids), server CPU, and the load average.

    python benchmarks/bench_load.py [--clients 50] [--seconds 60] [--think 0.5] [--warmup 15]

Goals (issue 20): 0 errors; RSS growth < 10 % after warm-up; p99 of the cheap tools (k8s_rules,
npm_versions cached, ui_theme) <= 50 ms while math and prolog calls run beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MCPFLEET_SHARED_DIR") or REPO.parent / "shared")
sys.path[:0] = [str(REPO / "tests" / "support"), str(REPO / "tests" / "web"), str(REPO / "tests" / "npm")]

CHEAP = ("k8s_rules", "npm_versions", "ui_theme")
AGAIN = {"prolog_query": "prolog_query sum", "web_fetch": "web_fetch cached"}  # a tool's second mix entry
CALL_TIMEOUT = 60.0
WARMUP_LIMIT = 180.0  # seconds the warm-up may take at most
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{n}
  labels: {{app: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          ports: [{{containerPort: 8080}}]
          resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}
"""
FAMILY = """\
parent(tom, bob). parent(tom, liz). parent(bob, ann). parent(bob, pat). parent(pat, jim).
ancestor(X, Y) :- parent(X, Y).
ancestor(X, Y) :- parent(X, Z), ancestor(Z, Y).
"""
TAILWIND = [
    "p-4 hover:bg-sky-500 md:flex",
    "grid grid-cols-3 gap-2 text-sm font-medium",
    "rounded-lg border shadow-md dark:bg-slate-800",
    "mx-auto max-w-prose px-6 py-8 text-gray-700",
]
THEME_PREFIXES = ["color-sky", "breakpoint", "spacing", "text", "color-slate", "radius"]
NPM_NAMES = ["alpha", "app", "esm-only", "dual-pkg", "typed-lib", "zero", "cyc-a"]
WEB_PAGES = ["article.html", "docs.html", "forum.html"]
SEARCHES = ["kubernetes gpu scheduling", "vllm tensor parallel", "python asyncio tutorial", "open models"]


# --- the mix ----------------------------------------------------------------------------------


@dataclass
class Fixtures:
    site: str  # web test site, http://localhost:PORT
    questions: list[str]


def mix(fx: Fixtures) -> list[tuple[int, str, str, object]]:
    """(weight, server, tool, arguments or a function of a Random returning them)."""
    return [
        # the cheap ones, whose p99 has a goal
        (8, "k8s", "k8s_rules", lambda r: r.choice([{}, {"profile": "restricted"}, {"profile": "baseline"}])),
        (8, "npm", "npm_versions", lambda r: {"name": r.choice(["alpha", "zero"])}),
        (8, "ui", "ui_theme", lambda r: {"prefix": r.choice(THEME_PREFIXES)}),
        # k8s
        (5, "k8s", "k8s_validate", lambda r: {"manifest": DEPLOYMENT.format(n=r.randrange(1000))}),
        (2, "k8s", "k8s_example", lambda r: {"topic": r.choice(["vllm", "sglang", "web-app"])}),
        # npm
        (4, "npm", "npm_package", lambda r: {"name": r.choice(NPM_NAMES)}),
        (2, "npm", "npm_dependencies", lambda r: {"name": "app", "depth": 2}),
        (1, "npm", "npm_search", lambda r: {"query": r.choice(["pad", "types", "esm"])}),
        # ui
        (4, "ui", "ui_tailwind", lambda r: {"classes": r.choice(TAILWIND) + f" w-{r.randrange(1, 96)}"}),
        (2, "ui", "ui_components", lambda r: {"query": r.choice(["date picker", "login", "sidebar", "button"])}),
        (2, "ui", "ui_component", lambda r: {"name": r.choice(["button", "dialog", "card", "input"])}),
        # math (worker pool)
        (4, "math", "math_solve", lambda r: {"equations": f"x^2 - {r.randrange(1, 50)}*x + {r.randrange(1, 50)} = 0"}),
        (
            4,
            "math",
            "math_simplify",
            lambda r: {"expression": f"(x^{r.randrange(2, 6)} - 1)/(x - 1)", "operation": "cancel"},
        ),
        (
            3,
            "math",
            "math_calculus",
            lambda r: {"expression": f"sin(x)*x^{r.randrange(1, 5)}", "operation": "integrate"},
        ),
        (2, "math", "math_stats", lambda r: {"operation": "describe", "data": [r.random() * 10 for _ in range(30)]}),
        (
            1,
            "math",
            "math_matrix",
            lambda r: {"matrix": [[r.randrange(9) for _ in range(3)] for _ in range(3)], "operation": "det"},
        ),
        # prolog (worker pool)
        (5, "prolog", "prolog_query", lambda r: {"query": "ancestor(tom, X)", "kb": ["family"]}),
        (3, "prolog", "prolog_query", lambda r: {"query": f"numlist(1, {r.randrange(10, 500)}, L), sum_list(L, S)"}),
        # docs (SQLite index)
        (
            5,
            "docs",
            "docs_search",
            lambda r: {"library": "local/ollama", "query": r.choice(fx.questions), "tokens": 2000},
        ),
        (
            1,
            "docs",
            "docs_read",
            lambda r: {"library": "local/ollama", "path": r.choice(["docs/faq.mdx", "docs/api.md", ""])},
        ),
        # web (fetch: new URLs download and extract in the worker pool, repeats come from the page cache)
        (3, "web", "web_search", lambda r: {"query": r.choice(SEARCHES), "max_results": 5}),
        (3, "web", "web_fetch", lambda r: {"url": f"{fx.site}/pages/{r.choice(WEB_PAGES)}?v={r.randrange(10**9)}"}),
        (2, "web", "web_fetch", lambda r: {"url": f"{fx.site}/pages/{r.choice(WEB_PAGES)}"}),
    ]


# --- /proc ------------------------------------------------------------------------------------


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (workers start in their own session, but stay its children)."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                parents[int(stat[stat.rindex(")") + 2 :].split()[1])].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class TreeMemory:
    server_rss: float  # MB
    children_rss: float
    pss: float  # server + children, shared pages split
    children: int

    @property
    def total_rss(self) -> float:
        return self.server_rss + self.children_rss

    def __str__(self) -> str:
        return (
            f"server {self.server_rss:6.0f} MB + {self.children:2d} children {self.children_rss:6.0f} MB "
            f"= RSS {self.total_rss:6.0f} MB (PSS {self.pss:6.0f} MB)"
        )


def tree_memory(pid: int) -> TreeMemory:
    kids = descendants(pid)
    return TreeMemory(
        server_rss=_status_kb(pid, "VmRSS") / 1024,
        children_rss=sum(_status_kb(k, "VmRSS") for k in kids) / 1024,
        pss=sum(pss_kb(p) for p in [pid, *kids]) / 1024,
        children=len(kids),
    )


def cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of `pid` and of each live descendant (a worker started later counts from 0)."""
    return {p: cpu_seconds(p) for p in [pid, *descendants(pid)]}


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat; iowait counts as idle)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuSample:
    tree: dict[int, float]
    machine: float
    bench: float
    others: dict[str, float]
    at: float

    @classmethod
    def take(cls, pid: int, others: dict[str, int]) -> CpuSample:
        named = {name: sum(tree_cpu(p).values()) for name, p in others.items()}
        return cls(tree_cpu(pid), machine_busy(), own_cpu(), named, time.monotonic())


def cpu_split(start: CpuSample, end: CpuSample, server: int, others: dict[str, int]) -> str:
    """Cores used between two samples: the server, its workers, this process, the named others, the rest."""
    window = end.at - start.at
    main = end.tree.get(server, 0) - start.tree.get(server, 0)
    workers = sum(v - start.tree.get(p, 0) for p, v in end.tree.items() if p != server)
    bench = end.bench - start.bench
    named = {name: end.others.get(name, 0) - start.others.get(name, 0) for name in others}
    rest = end.machine - start.machine - main - workers - bench - sum(named.values())
    parts = [
        f"server {main / window:.2f}",
        f"its workers {workers / window:.2f}",
        f"this benchmark (clients, web site, shadcn files) {bench / window:.2f}",
        *(f"{name} {v / window:.2f}" for name, v in named.items()),
        f"everything else on the machine {rest / window:.2f}",
    ]
    return (
        f"cores busy in the window: {(end.machine - start.machine) / window:.2f} of {os.cpu_count()} = "
        + " + ".join(parts)
    )


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- local sources ----------------------------------------------------------------------------


@contextlib.contextmanager
def static_files(root: Path):
    """`root` served read-only on 127.0.0.1 (the shadcn registry, as ui.shadcn.com serves it)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def client_keys(n: int) -> dict[str, str]:
    return {
        f"client-{i:02d}": f"bench-load-key-{i:02d}-" + hashlib.sha256(str(i).encode()).hexdigest()[:24]
        for i in range(n)
    }


def fleet_config(
    path: Path, keys: dict[str, str], *, site: str, npm: str, shadcn: str, docs_root: Path, index: Path
) -> None:
    import yaml

    config = {
        "auth": {
            "api_keys": [
                {"name": name, "hash": "sha256:" + hashlib.sha256(key.encode()).hexdigest()}
                for name, key in keys.items()
            ]
        },
        "http": {"allow": ["localhost", "127.0.0.1"]},
        "servers": {
            "web": {"searxng_url": site},
            "npm": {"registry": npm},
            "docs": {
                "index_path": str(index),
                "local_roots": [str(docs_root)],
                "default_catalog": False,
                "index_on_demand": False,
            },
            "ui": {
                "official_index": f"{shadcn}/r/index.json",
                "official_item": f"{shadcn}/r/styles/{{style}}/{{name}}.json",
            },
        },
    }
    path.write_text(yaml.safe_dump(config))


# --- the client -------------------------------------------------------------------------------


@dataclass
class Results:
    latency: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    reply_bytes: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    examples: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        self.examples.setdefault(kind, detail[:300])


def answer_of(text: str) -> dict:
    """The JSON-RPC answer in a streamable-HTTP reply (plain JSON or the last SSE `data:` event)."""
    if text.lstrip().startswith("{"):
        return json.loads(text)
    found = {}
    for line in text.splitlines():
        if line.startswith("data:"):
            data = json.loads(line[5:])
            if "result" in data or "error" in data:
                found = data
    return found


def error_kind(message: str) -> str:
    words = re.sub(r"[0-9]+(\.[0-9]+)?", "N", message).split()
    return " ".join(words[:7])


async def call(client, url: str, key: str, tool: str, args: dict) -> tuple[bool, str, dict]:
    """One tools/call; (ok, error kind or '', the result)."""
    import httpx2

    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"}
    try:
        response = await client.post(url, json=body, headers=headers, timeout=CALL_TIMEOUT)
    except httpx2.HTTPError as exc:
        return False, f"transport: {type(exc).__name__}", {"detail": str(exc)}
    if response.status_code != 200:
        return False, f"HTTP {response.status_code}", {"detail": response.text}
    try:
        data = answer_of(response.text)
    except ValueError:
        return False, "unparsable reply", {"detail": response.text}
    if "error" in data:
        return False, f"JSON-RPC {data['error'].get('code')}", {"detail": data["error"].get("message", "")}
    result = data.get("result", {})
    result["_bytes"] = len(response.content)
    if result.get("isError") or len(result) == 1:
        message = " ".join(b.get("text", "") for b in result.get("content", []))
        return False, f"tool error: {error_kind(message)}", {"detail": message}
    return True, "", result


async def run_clients(base: str, keys: dict[str, str], fx: Fixtures, args, on_phase) -> tuple[Results, float]:
    """Run the clients; the measured window opens once `--warmup` seconds have passed and every
    client has called every tool once (at most `WARMUP_LIMIT` seconds), and lasts `--seconds`."""
    import httpx2

    weighted = mix(fx)
    weights = [w for w, *_ in weighted]
    results = Results()
    warm_results = Results()
    window: dict[str, float] = {}  # "from", "stop": monotonic times, once known
    first_passes = {"left": len(keys)}
    all_warm = asyncio.Event()
    budget = {"left": args.max_calls}

    def running() -> bool:
        return time.monotonic() < window.get("stop", float("inf")) and budget["left"] > 0

    async def client(i: int, key: str) -> None:
        rng = random.Random(args.seed * 1000 + i)
        limits = httpx2.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx2.AsyncClient(limits=limits) as http:
            # first: this client's knowledge base, then every tool once (caches, imports, first compiles)
            ok, kind, out = await call(
                http, f"{base}/prolog/mcp", key, "prolog_consult", {"program": FAMILY, "kb": "family"}
            )
            if not ok:
                warm_results.error(kind, out.get("detail", ""))
            order = list(weighted)
            rng.shuffle(order)
            pending = [(s, t, a) for _, s, t, a in order]
            while running():
                if pending:
                    server, tool, make = pending.pop()
                else:
                    _, server, tool, make = rng.choices(weighted, weights)[0]
                arguments = make(rng) if callable(make) else make
                budget["left"] -= 1
                t0 = time.monotonic()
                ok, kind, out = await call(http, f"{base}/{server}/mcp", key, tool, arguments)
                elapsed = time.monotonic() - t0
                into = results if t0 >= window.get("from", float("inf")) else warm_results
                into.calls += 1
                if ok:
                    into.latency[tool].append(elapsed)
                    into.reply_bytes[tool] += out.get("_bytes", 0)
                else:
                    into.error(kind, f"{tool}: {out.get('detail', '')}")
                if not pending and first_passes["left"] and i not in done_first:
                    done_first.add(i)
                    first_passes["left"] -= 1
                    if not first_passes["left"]:
                        all_warm.set()
                if args.think > 0:
                    await asyncio.sleep(min(rng.expovariate(1 / args.think), 10 * args.think))

    async def phases() -> None:
        await asyncio.sleep(args.warmup)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_warm.wait(), WARMUP_LIMIT - args.warmup)
        window["warmup"] = time.monotonic() - started
        await asyncio.to_thread(on_phase, "start")  # off the loop: the clients keep their pace
        window["from"] = time.monotonic()
        window["stop"] = window["from"] + args.seconds
        await asyncio.sleep(args.seconds / 2)
        await asyncio.to_thread(on_phase, "middle")

    done_first: set[int] = set()
    started = time.monotonic()
    phase_task = asyncio.create_task(phases())
    tasks = [asyncio.create_task(client(i, key)) for i, key in enumerate(keys.values())]
    done, pending = await asyncio.wait(tasks, timeout=max(WARMUP_LIMIT, args.warmup) + args.seconds + CALL_TIMEOUT + 30)
    for task in pending:
        task.cancel()
        results.error("client still running at the deadline", "")
    for task in done:
        if task.exception() is not None:
            results.error(f"client crashed: {type(task.exception()).__name__}", str(task.exception()))
    phase_task.cancel()
    on_phase("end")
    print(
        f"\nwarm-up: {warm_results.calls} calls in {window.get('warmup', 0):.1f} s"
        + ("" if first_passes["left"] == 0 else f" ({first_passes['left']} clients had not called every tool yet)")
    )
    for kind, n in warm_results.errors.most_common():
        print(f"  warm-up error {n}x {kind}: {warm_results.examples[kind][:200]!r}")
    return results, args.seconds


async def cost_per_call(base: str, key: str, pid: int, fx: Fixtures, calls: int, seed: int) -> None:
    """Each entry of the mix `calls` times in a row from one client: the server's and its workers'
    CPU per call (from /proc, so a busy machine changes it far less than it changes latency)."""
    import httpx2

    rng = random.Random(seed)
    print(f"\nCPU per call, {calls} calls in a row per entry of the mix (one client, after one unmeasured call):")
    print(f"{'tool':20} {'server ms':>10} {'workers ms':>11} {'wall p50 ms':>12}")
    seen: set[str] = set()
    async with httpx2.AsyncClient() as http:
        await call(http, f"{base}/prolog/mcp", key, "prolog_consult", {"program": FAMILY, "kb": "family"})
        for _, server, tool, make in mix(fx):
            label = AGAIN.get(tool, tool) if tool in seen else tool
            seen.add(tool)
            await call(http, f"{base}/{server}/mcp", key, tool, make(rng) if callable(make) else make)
            before = tree_cpu(pid)
            walls, failed = [], 0
            for _ in range(calls):
                t = time.monotonic()
                ok, _, _ = await call(http, f"{base}/{server}/mcp", key, tool, make(rng) if callable(make) else make)
                walls.append(time.monotonic() - t)
                failed += not ok
            after = tree_cpu(pid)
            main = (after.get(pid, 0) - before.get(pid, 0)) / calls * 1000
            workers = sum(v - before.get(p, 0) for p, v in after.items() if p != pid) / calls * 1000
            note = f"  ({failed} failed)" if failed else ""
            print(f"{label:20} {main:10.1f} {workers:11.1f} {pct(walls, 0.5):12.1f}{note}")


# --- server-side figures ----------------------------------------------------------------------


def server_means(metrics: str) -> dict[str, tuple[float, int]]:
    """tool -> (sum seconds, count) of mcpfleet_tool_call_duration_seconds, all outcomes."""
    out: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    for line in metrics.splitlines():
        m = re.match(r"mcpfleet_tool_call_duration_seconds_(sum|count)\{([^}]*)\} ([0-9.e+-]+)", line)
        if m:
            tool = re.search(r'tool="([^"]*)"', m.group(2)).group(1)
            out[tool][0 if m.group(1) == "sum" else 1] += float(m.group(3))
    return {k: (v[0], int(v[1])) for k, v in out.items()}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def report(results: Results, window: float, run: Watch, args) -> None:
    total = sum(len(v) for v in results.latency.values())
    errors = sum(results.errors.values())
    print(
        f"\n{args.clients} clients, {window:.0f} s measured, think {args.think} s: "
        f"{total + errors} calls, {total / window:.1f} ok calls/s, {errors} errors"
    )
    if "start" in run.cpu and "end" in run.cpu:
        start, end = run.cpu["start"], run.cpu["end"]
        print(cpu_split(start, end, run.pid, run.others))
        served = sum(end.tree.values()) - sum(start.tree.get(p, 0) for p in end.tree)
        if total + errors:
            print(f"server + workers CPU per call: {served / (total + errors) * 1000:.1f} ms")
    before, after = run.metrics.get("before", {}), run.metrics.get("after", {})
    print(
        f"\n{'tool':20} {'calls':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'server mean ms':>15} "
        f"{'reply kB':>9}"
    )
    for tool in sorted(results.latency, key=lambda t: (t not in CHEAP, t)):
        lat = results.latency[tool]
        s_sum = after.get(tool, (0, 0))[0] - before.get(tool, (0, 0))[0]
        s_count = after.get(tool, (0, 0))[1] - before.get(tool, (0, 0))[1]
        server = f"{s_sum / s_count * 1000:15.1f}" if s_count else f"{'-':>15}"
        mark = " *" if tool in CHEAP else ""
        print(
            f"{tool + mark:20} {len(lat):6d} {pct(lat, 0.5):8.1f} {pct(lat, 0.95):8.1f} {pct(lat, 0.99):8.1f} "
            f"{max(lat) * 1000:8.1f} {server} {results.reply_bytes[tool] / len(lat) / 1000:9.1f}"
        )
    cheap = [x for t in CHEAP for x in results.latency.get(t, [])]
    if cheap:
        print(
            f"\ncheap tools (*) together: p50 {pct(cheap, 0.5):.1f} ms, p99 {pct(cheap, 0.99):.1f} ms (goal <= 50 ms)"
        )
    print(f"\nerrors: {errors} (goal 0)")
    for kind, n in results.errors.most_common():
        print(f"  {n:6d}  {kind}    e.g. {results.examples.get(kind, '')[:200]!r}")
    print("\nmemory (server process and its worker children):")
    for phase, mem in run.memory.items():
        print(f"  {phase:7} {mem}")
    if "start" in run.memory and "end" in run.memory:
        s, e = run.memory["start"], run.memory["end"]
        print(
            f"  growth start -> end: server RSS {(e.server_rss / s.server_rss - 1) * 100:+.1f} %, "
            f"total RSS {(e.total_rss / s.total_rss - 1) * 100:+.1f} %, PSS {(e.pss / s.pss - 1) * 100:+.1f} % (goal < 10 %)"
        )
    print(f"worker processes started during the window (restarts): {len(run.spawned())}")


class Watch:
    """What is sampled of the server during the run: memory and CPU at each phase, /metrics at the
    window's edges, its children's pids once a second (a pid new in the window is a restart)."""

    def __init__(
        self, base: str, pid: int, others: dict[str, int], seconds: float, py_spy: str | None, profile: Path
    ) -> None:
        self.base, self.pid, self.others = base, pid, others
        self.seconds, self.py_spy, self.profile = seconds, py_spy, profile
        self.memory: dict[str, TreeMemory] = {}
        self.cpu: dict[str, CpuSample] = {}
        self.metrics: dict[str, dict] = {}
        self.baseline: set[int] = set()
        self.seen: set[int] = set()
        self.profiler: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            self.seen.update(descendants(self.pid))

    def phase(self, name: str) -> None:
        import httpx2

        self.memory[name] = tree_memory(self.pid)
        if name == "start":
            self.baseline = set(descendants(self.pid)) | self.seen
            self.seen = set(self.baseline)
            self.cpu["start"] = CpuSample.take(self.pid, self.others)
            self.metrics["before"] = server_means(httpx2.get(f"{self.base}/metrics", timeout=10).text)
            if self.py_spy:
                self.profiler = start_profile(self.py_spy, self.pid, self.seconds, self.profile)
        if name == "end":
            self.cpu["end"] = CpuSample.take(self.pid, self.others)
            self.metrics["after"] = server_means(httpx2.get(f"{self.base}/metrics", timeout=10).text)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.seen.update(descendants(self.pid))
        if self.profiler is not None:
            try:
                self.profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.profiler.terminate()
                self.profiler.wait(timeout=10)

    def spawned(self) -> set[int]:
        return self.seen - self.baseline if self.baseline else set()


def pid_listening(needle: str) -> int | None:
    """The process whose command line contains `needle` (the Verdaccio we started, by its address)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                    errors="replace"
                ):
                    return int(entry.name)
    return None


# --- profile ---------------------------------------------------------------------------------


def start_profile(py_spy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """py-spy sampling the server (not its workers) for the window: collapsed stacks into `out`."""
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def where(frame: str) -> str:
    """A frame's place: the package (or mcpfleet module) its file belongs to."""
    m = re.search(r"\((.*?):\d+\)$", frame)
    path = m.group(1) if m else ""
    if "site-packages/" in path:
        return path.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    for part in ("mcpfleet/common/", "mcpfleet/servers/", "mcpfleet/"):
        if f"/{part}" in path:
            return part.replace("/", " ", 1) + path.split(f"/{part}")[1].split("/")[0].removesuffix(".py")
    return "python " + Path(path).stem if path else "?"


def print_profile(out: Path, top: int = 15) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    places: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
        places[where(frames[-1])] += n
    if not total:
        print("profile: no samples")
        return
    print(f"\nprofile of the server process (py-spy, {total} samples of busy threads):")
    print("  own time by package or module:")
    for place, n in places.most_common(top):
        print(f"    {n / total * 100:5.1f} %  {place}")
    print("  own time by function:")
    for frame, n in own.most_common(top):
        print(f"    {n / total * 100:5.1f} %  {frame}")
    print("  inclusive time by function:")
    for frame, n in inclusive.most_common(top + 10)[: top + 10]:
        print(f"    {n / total * 100:5.1f} %  {frame}")


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=15, help="seconds of the same mix before measuring")
    parser.add_argument("--think", type=float, default=0.5, help="mean seconds a client waits between calls; 0 = none")
    parser.add_argument("--max-calls", type=int, default=200_000, help="calls in all, warm-up included")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cost-calls",
        type=int,
        default=20,
        help="sequential calls per mix entry for the CPU-per-call table first; 0 = skip it",
    )
    parser.add_argument(
        "--py-spy",
        nargs="?",
        const=shutil.which("py-spy") or "py-spy",
        default=None,
        metavar="PATH",
        help="profile the server with py-spy during the window (pip install py-spy)",
    )
    args = parser.parse_args()

    import httpx2
    from verdaccio_registry import running_verdaccio

    from fleet_testing import serving
    from web_site import Site

    docs_root = SHARED / "peer-data" / "docs"
    shadcn_root = SHARED / "peer-data" / "shadcn-registry"
    missing = [str(p) for p in (docs_root / "ollama", shadcn_root / "r") if not p.is_dir()]
    if missing:
        sys.exit(f"corpus not found: {', '.join(missing)} (set MCPFLEET_SHARED_DIR)")
    questions = [
        q["q"]
        for q in json.loads((REPO / "tests/docs/ranking_questions.json").read_text())["questions"]
        if q["tree"] == "ollama"
    ]
    keys = client_keys(args.clients)
    print(f"load average before: {loadavg()}  ({os.cpu_count()} CPUs)")

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        site = stack.enter_context(Site("allow"))
        t = time.monotonic()
        (tmp / "verdaccio").mkdir()
        registry = stack.enter_context(running_verdaccio(tmp / "verdaccio"))
        print(f"Verdaccio with the npm fixtures up in {time.monotonic() - t:.1f} s")
        shadcn = stack.enter_context(static_files(shadcn_root))
        config = tmp / "fleet.yaml"
        fleet_config(
            config,
            keys,
            site=site.base,
            npm=registry.url,
            shadcn=shadcn,
            docs_root=docs_root,
            index=tmp / "docs.sqlite",
        )
        t = time.monotonic()
        base, proc, log = stack.enter_context(
            serving(tmp, "all", ready_timeout=180, MCPFLEET_CONFIG=str(config), MCPFLEET_PLUGINS="[]")
        )
        print(f"mcpfleet serve all ready in {time.monotonic() - t:.1f} s; {tree_memory(proc.pid)}")

        first_key = next(iter(keys.values()))

        async def index_docs() -> None:
            async with httpx2.AsyncClient() as http:
                ok, kind, out = await call(
                    http, f"{base}/docs/mcp", first_key, "docs_index", {"repo": str(docs_root / "ollama")}
                )
                if not ok:
                    sys.exit(f"docs_index failed: {kind}: {out.get('detail', '')[:300]}")

        t = time.monotonic()
        asyncio.run(index_docs())
        print(f"docs: ollama indexed in {time.monotonic() - t:.1f} s")
        if args.cost_calls:
            fixtures = Fixtures(site.base, questions)
            asyncio.run(cost_per_call(base, first_key, proc.pid, fixtures, args.cost_calls, args.seed))

        verdaccio = pid_listening(f"127.0.0.1:{registry.port}")
        py_spy = args.py_spy or None
        watch = Watch(
            base, proc.pid, {"Verdaccio": verdaccio} if verdaccio else {}, args.seconds, py_spy, tmp / "profile.txt"
        )
        try:
            results, window = asyncio.run(run_clients(base, keys, Fixtures(site.base, questions), args, watch.phase))
        finally:
            watch.close()
        report(results, window, watch, args)
        print(f"load average after: {loadavg()}")
        if py_spy and watch.profile.exists():
            print_profile(watch.profile)
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            print(
                f"server log: {text.count('Traceback')} tracebacks; the last:\n{text[text.rindex('Traceback') :][:3000]}"
            )


if __name__ == "__main__":
    main()
