"""Running cases against models: one JSONL row per (model, case, repeat, stream), resumable.

Single-turn cases send one request and score its tool calls. Multi-turn cases run a real
conversation: the model's calls are executed against the live servers, their results go back as
`tool` messages, and the case is graded on the final answer and the calls made, by rules.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from mcpfleet.common.errors import ConfigError
from mcpfleet.evals.cases import Case
from mcpfleet.evals.client import ChatClient, ChatResult, EndpointError
from mcpfleet.evals.fleet import Fleet, openai_tool
from mcpfleet.evals.scoring import ActualCall, check_calls, schema_errors
from mcpfleet.evals.stream import engine_faults

MAX_CONTENT_CHARS = 4_000


SERVING_KEYS = (
    "engine",
    "engine_version",
    "tool_call_parser",
    "reasoning_parser",
    "chat_template",
    "chat_template_sha256",
    "litellm_route",
)


@dataclass
class ModelTarget:
    """One model behind one endpoint, served one way; `params` go into every request body (e.g.
    top_p); `serving` is what the API cannot reveal (engine, parsers, chat template, LiteLLM route);
    `label` names the pair (model x serving config) in results and reports."""

    name: str
    base_url: str
    api_key_env: str | None = None
    params: dict = field(default_factory=dict)
    serving: dict[str, str] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or serving_label(self.name, self.serving)

    @classmethod
    def parse(cls, raw: dict, base_dir: Path | None = None) -> ModelTarget:
        if not isinstance(raw, dict) or not raw.get("name") or not raw.get("base_url"):
            raise ConfigError("each model needs name and base_url")
        own = ("name", "base_url", "api_key_env", "params", "serving", "label")
        extra = {k: v for k, v in raw.items() if k not in own}
        return cls(
            str(raw["name"]),
            str(raw["base_url"]),
            raw.get("api_key_env"),
            {**extra, **(raw.get("params") or {})},
            parse_serving(raw.get("serving"), base_dir),
            str(raw.get("label") or ""),
        )


def parse_serving(raw: Any, base_dir: Path | None = None) -> dict[str, str]:
    """A models.yaml `serving:` block, the chat template reduced to its file name and SHA-256."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - set(SERVING_KEYS):
        raise ConfigError(f"serving takes {', '.join(SERVING_KEYS)}; got {raw!r:.200}")
    out = {k: str(v) for k, v in raw.items() if v is not None}
    template = out.pop("chat_template", None)
    if template is not None:
        import hashlib

        path = (base_dir or Path.cwd()) / template
        if len(template) < 4096 and "\n" not in template and path.is_file():
            out["chat_template"] = path.name
            out["chat_template_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif re.fullmatch(r"[0-9a-f]{64}", template):
            out["chat_template_sha256"] = template
        else:
            raise ConfigError(f"chat_template {template[:80]!r}: no such file (give a path or its sha256)")
    return out


def serving_label(model: str, serving: dict[str, str]) -> str:
    """`model` alone, or `model [engine version, parser, reasoning, template hash, route]`."""
    parts = [
        " ".join(v for v in (serving.get("engine"), serving.get("engine_version")) if v),
        serving.get("tool_call_parser"),
        serving.get("reasoning_parser") and f"reasoning {serving['reasoning_parser']}",
        serving.get("chat_template_sha256") and f"template {serving['chat_template_sha256'][:8]}",
        serving.get("litellm_route") and f"via {serving['litellm_route']}",
    ]
    shown = [p for p in parts if p]
    return f"{model} [{', '.join(shown)}]" if shown else model


@dataclass
class RunOptions:
    tool_choice: str = "auto"
    streams: tuple[bool, ...] = (False,)  # (False, True) with --compare-stream
    repeats: int = 1
    concurrency: int = 4
    temperature: float | None = 0.0
    seed: int | None = None
    timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5
    max_steps: int = 6  # model requests per user turn in multi-turn cases
    progress: bool = True


class ChatOptions(TypedDict):
    """The keyword arguments of `ChatClient.complete` that every request of one trial shares."""

    tool_choice: str | None
    stream: bool
    temperature: float | None
    seed: int | None
    extra: dict | None


def row_key(row: dict) -> tuple:
    return (row.get("target") or row["model"], row["case"], row["repeat"], bool(row["stream"]))


def read_rows(path: Path) -> list[dict]:
    """The rows of a results file (a truncated last line from an interrupted run is ignored)."""
    rows: list[dict] = []
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


class Progress:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.ok, self.enabled = total, 0, 0, enabled and total > 0
        self.started = self._drawn = time.monotonic()
        self._draw()

    def step(self, success: bool) -> None:
        self.done += 1
        self.ok += success
        now = time.monotonic()
        if now - self._drawn >= 0.1 or self.done == self.total:  # at most ten redraws a second
            self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        self._drawn = time.monotonic()
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} ok {self.ok}  {rate:.1f}/s "
        )
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


async def run_eval(
    models: Sequence[ModelTarget], cases: Sequence[Case], fleet: Fleet, options: RunOptions, out: Path
) -> list[dict]:
    """Run every missing (model, case, repeat, stream) and append its row to `out`; returns new rows."""
    finished = {row_key(r) for r in read_rows(out) if not r.get("error")}  # endpoint errors are retried
    runnable, skipped = [], []
    for case in cases:
        if case.functions:
            runnable.append(case)
            continue
        offered = {t["function"]["name"] for t in fleet.offered(case.tools, case.server)}
        needed = {c.name for alt in case.acceptable() for c in alt} | set(case.final.called)
        if (
            case.server not in fleet.servers
            or not needed <= set(fleet.tools)
            or (case.category != "irrelevance" and not offered)
        ):
            skipped.append(case.id)
        else:
            runnable.append(case)
    if skipped:
        print(
            f"skipping {len(skipped)} case(s) whose servers are not available: {', '.join(skipped[:5])}"
            + (" ..." if len(skipped) > 5 else ""),
            file=sys.stderr,
        )
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise ConfigError("two models have the same label; give each model x serving config its own `label`")
    # One job per (model, case, repeat): its missing stream modes run one after the other, so a
    # streamed answer can be compared with the non-streamed one while its raw stream is at hand.
    jobs = [
        (m, c, r, todo)
        for m in models
        for c in runnable
        for r in range(options.repeats)
        if (todo := tuple(s for s in options.streams if (m.label, c.id, r, s) not in finished))
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    progress = Progress(sum(len(j[3]) for j in jobs), options.progress)
    semaphore = asyncio.Semaphore(max(1, options.concurrency))
    lock = asyncio.Lock()
    rows: list[dict] = []
    clients: dict[str, ChatClient] = {}
    engines: dict[str, dict] = {}
    try:
        for m in models:
            key = os.environ.get(m.api_key_env) if m.api_key_env else None
            if m.api_key_env and not key:
                raise ConfigError(f"model {m.name}: the variable {m.api_key_env} is not set")
            clients[m.label] = ChatClient(m.base_url, key, options.timeout, options.retries, options.backoff)
            engines[m.label] = await clients[m.label].detect_engine() if jobs else {}

        with out.open("a", encoding="utf-8") as sink:
            if out.stat().st_size and not out.read_bytes().endswith(b"\n"):
                sink.write("\n")  # an interrupted run left half a line: start a fresh one

            # Cases whose rows ended in endpoint errors since the model's last answer: a dead
            # endpoint fails every case, a flaky one fails some repeatedly.
            failing: dict[str, set[str]] = {m.label: set() for m in models}
            give_up = max(8, 2 * options.concurrency)

            async def one(model: ModelTarget, case: Case, repeat: int, streams: tuple[bool, ...]) -> None:
                done: list[dict] = []
                for stream in streams:
                    async with semaphore:
                        if len(failing[model.label]) >= give_up:
                            progress.step(False)
                            continue  # the endpoint is down: leave the rest for a rerun instead of waiting on it
                        row = await run_case(clients[model.label], model, case, fleet, options, repeat, stream)
                    was_down = len(failing[model.label]) >= give_up
                    if row["error"]:
                        failing[model.label].add(case.id)
                    else:
                        failing[model.label].clear()
                    if len(failing[model.label]) >= give_up and not was_down:
                        print(
                            f"\n{model.label}: endpoint errors on {give_up} cases in a row ({row['error']}); "
                            "skipping its remaining cases (rerun to resume)",
                            file=sys.stderr,
                        )
                    row["engine"] = engines[model.label]
                    done.append(row)
                if len(done) == 2:
                    mark_disagreement(done[0], done[1])
                for row in done:
                    keep_raw_stream(row)
                async with lock:
                    for row in done:
                        sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                        rows.append(row)
                        progress.step(row["scores"]["success"])
                    sink.flush()

            await asyncio.gather(*(one(*job) for job in jobs))
    finally:
        for client in clients.values():
            await client.aclose()
    return rows


def _messages(case: Case, user: str) -> list[dict]:
    messages: list[dict] = []
    if case.system:
        messages.append({"role": "system", "content": case.system})
    messages.extend(dict(m) for m in case.history)
    messages.append({"role": "user", "content": user})
    return messages


async def run_case(
    client: ChatClient, model: ModelTarget, case: Case, fleet: Fleet, options: RunOptions, repeat: int, stream: bool
) -> dict:
    tools, schemas = offered_tools(case, fleet)
    row: dict[str, Any] = {
        "model": model.name,
        "target": model.label,
        "serving": model.serving,
        "endpoint": client.base_url,
        "case": case.id,
        "category": case.category,
        "server": case.server,
        "repeat": repeat,
        "stream": stream,
        "tool_choice": options.tool_choice,
        "temperature": options.temperature,
        "seed": options.seed,
        "params": model.params,
        "expected": [[c.to_json() for c in alt] for alt in case.acceptable()]
        if case.category != "multi_turn"
        else {"called": list(case.final.called), "answer_matches": list(case.final.answer_matches)},
        "error": None,
        "ts": time.time(),
    }
    request = ChatOptions(
        tool_choice=options.tool_choice,
        stream=stream,
        temperature=options.temperature,
        seed=options.seed,
        extra=model.params,
    )
    try:
        if case.category == "multi_turn":
            await _multi_turn(client, model, case, fleet, tools, request, row, options.max_steps)
        else:
            result = await client.complete(model.name, _messages(case, case.user), tools, **request)
            _record(row, [result])
            calls = [ActualCall.from_raw(c["name"], c["arguments"]) for c in result.tool_calls]
            _score_single(case, calls, schemas, row)
    except EndpointError as exc:
        row["error"] = str(exc)[:500]
        row.setdefault("raw_tool_calls", [])
        row.setdefault("calls", [])
        row["faults"] = [{"kind": "endpoint_error", "detail": str(exc)[:300]}]
        row["fault"] = "endpoint"
        if exc.raw is not None:
            row["raw_stream"] = exc.raw
        row["scores"] = {
            "success": False,
            "ast_ok": False,
            "schema_ok": False,
            "parse_ok": False,
            "errors": [f"endpoint error: {str(exc)[:200]}"],
        }
    else:
        row["fault"] = "engine" if row["faults"] else None
    return row


def call_signature(row: dict) -> tuple:
    """What a streamed and a non-streamed answer to the same case must agree on."""
    calls = sorted(f"{c['name']}({json.dumps(c['arguments'], sort_keys=True)})" for c in row.get("calls", []))
    return (tuple(calls), bool(row["scores"]["success"]))


DISAGREEMENT = {"kind": "stream_disagreement", "detail": "the streamed calls differ from the non-streamed ones"}


def mark_disagreement(plain: dict, streamed: dict) -> bool:
    """Flag the streamed row as an engine fault when both measured and their calls differ."""
    if plain["stream"] or not streamed["stream"] or plain.get("fault") or streamed.get("fault"):
        return False
    if call_signature(plain) == call_signature(streamed):
        return False
    streamed["fault"] = "engine"
    streamed["faults"] = [*streamed.get("faults", []), dict(DISAGREEMENT)]
    return True


def keep_raw_stream(row: dict) -> None:
    """Keep the raw stream of a faulty or failed streamed row; drop it otherwise."""
    raw = row.pop("_raw_stream", None)
    if row["stream"] and raw is not None and (row.get("fault") or not row["scores"]["success"]):
        row["raw_stream"] = raw


def _record(row: dict, results: list[ChatResult]) -> None:
    """Latency, tokens and raw calls summed over the requests one case made."""
    usage: dict[str, int] = {}
    for r in results:
        for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
            if r.usage and isinstance(r.usage.get(k), int):
                usage[k] = usage.get(k, 0) + r.usage[k]
    last = results[-1]
    faults = [f for r in results for f in engine_faults(r)]
    raw = [line for r in results for line in (r.raw_stream or [])]
    row.update(
        {
            "faults": faults,
            "_raw_stream": raw if any(r.raw_stream is not None for r in results) else None,
            "latency_s": round(sum(r.latency_s for r in results), 4),
            "requests": len(results),
            "attempts": sum(r.attempts for r in results),
            "usage": usage or None,
            "raw_tool_calls": [c for r in results for c in r.tool_calls],
            "content": last.content[:MAX_CONTENT_CHARS],
            "finish_reason": last.finish_reason,
            "response_model": last.model,
            "system_fingerprint": last.system_fingerprint,
            "response_headers": last.headers,
        }
    )


def offered_tools(case: Case, fleet: Fleet) -> tuple[list[dict], dict[str, dict]]:
    """The OpenAI `tools` a case offers and the schemas its calls are scored against."""
    if not case.functions:
        return fleet.offered(case.tools, case.server), fleet.schemas
    names = list(case.functions) if isinstance(case.tools, str) else [n for n in case.tools if n in case.functions]
    return (
        [openai_tool(n, case.functions[n].get("description"), case.functions[n]["parameters"]) for n in names],
        {n: f["parameters"] for n, f in case.functions.items()},
    )


def _score_single(case: Case, calls: list[ActualCall], schemas: dict[str, dict], row: dict) -> None:
    row["calls"] = [{"name": c.name, "arguments": c.args if c.args is not None else c.arguments} for c in calls]
    schema_errs = [e for c in calls for e in schema_errors(c, schemas.get(c.name))]
    best = None
    for alt in case.acceptable():
        score = check_calls(alt, calls, schemas)
        if score.ok:
            best = score
            break
        best = best or score
    assert best is not None
    row["scores"] = {
        "success": best.ok,
        "ast_ok": best.ok,
        "schema_ok": not schema_errs,
        "parse_ok": all(c.args is not None for c in calls),
        "errors": best.errors + schema_errs,
    }


async def _multi_turn(
    client: ChatClient,
    model: ModelTarget,
    case: Case,
    fleet: Fleet,
    tools: list[dict],
    request: ChatOptions,
    row: dict,
    max_steps: int,
) -> None:
    messages = _messages(case, case.turns[0])[:-1]
    results: list[ChatResult] = []
    made: list[ActualCall] = []
    transcript: list[dict] = []
    final_text = ""
    errors: list[str] = []
    for turn in case.turns:
        messages.append({"role": "user", "content": turn})
        for _step in range(max_steps):
            result = await client.complete(model.name, messages, tools, **request)
            results.append(result)
            if not result.tool_calls:
                final_text = result.content
                messages.append({"role": "assistant", "content": result.content})
                break
            ids = [c.get("id") or f"call_{len(made) + i}" for i, c in enumerate(result.tool_calls)]
            messages.append(
                {
                    "role": "assistant",
                    "content": result.content or None,
                    "tool_calls": [
                        {
                            "id": id_,
                            "type": "function",
                            "function": {
                                "name": c["name"],
                                "arguments": c["arguments"]
                                if isinstance(c["arguments"], str)
                                else json.dumps(c["arguments"]),
                            },
                        }
                        for id_, c in zip(ids, result.tool_calls)
                    ],
                }
            )
            for id_, raw in zip(ids, result.tool_calls):
                call = ActualCall.from_raw(raw["name"], raw["arguments"])
                made.append(call)
                if call.args is None:
                    text, is_error = f"error: {call.parse_error}", True
                else:
                    text, is_error = await fleet.call(call.name, call.args)
                transcript.append(
                    {
                        "name": call.name,
                        "arguments": call.args if call.args is not None else call.arguments,
                        "is_error": is_error,
                        "result": text[:500],
                    }
                )
                messages.append({"role": "tool", "tool_call_id": id_, "content": text})
        else:
            errors.append(f"no final answer after {max_steps} requests in a turn")
    _record(row, results)
    row["calls"] = transcript
    row["content"] = final_text[:MAX_CONTENT_CHARS]
    called = {c.name for c in made}
    for name in case.final.called:
        if name not in called:
            errors.append(f"{name} was never called")
    for pattern in case.final.answer_matches:
        if not re.search(pattern, final_text):
            errors.append(f"final answer does not match /{pattern}/")
    schema_errs = [e for c in made for e in schema_errors(c, fleet.schemas.get(c.name))]
    row["scores"] = {
        "success": not errors,
        "ast_ok": not errors,
        "schema_ok": not schema_errs,
        "parse_ok": all(c.args is not None for c in made),
        "errors": errors + schema_errs,
    }
