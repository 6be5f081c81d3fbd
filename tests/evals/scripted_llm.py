"""A scripted OpenAI-compatible Chat Completions server for the eval harness's tests.

It speaks the real wire format (tool_calls with JSON-string arguments, SSE chunks whose
`delta.tool_calls` split the arguments mid-JSON, finish_reason, usage, `data: [DONE]`) and plays
a persona chosen by the request's `model`:

- `perfect`: makes the case's expected calls (text values re-cased and re-spaced, sets reordered),
  answers irrelevance cases in text, plays a multi-turn case's `reference` against the live tools
  and answers with the tool results;
- `sloppy`: per case (by a stable hash) drops optional args (still right), adds a schema-default
  arg (still right), changes a value (wrong), adds an unknown arg (wrong), or calls a tool for an
  irrelevance question (wrong);
- `broken`: a wrong tool name, truncated JSON arguments (an engine fault), streamed calls that
  differ from the non-streamed ones, or HTTP 500 before succeeding (the harness must retry);
- `faulty`: a faulty serving stack under a perfect model: per case, all right, or arguments cut
  off but reported as `tool_calls`, arguments sent twice, an in-band error frame (HTTP 200),
  `finish_reason: tool_calls` with the calls lost, or HTTP 503 on every attempt;
- `quirk-<name>`: the perfect model's calls, streamed the way a known engine quirk sends them
  (`QUIRKS`; the non-streamed answer is plain).

`plan()` is the script; `expected_outcome()` derives from the same plan what the harness must
score, so tests compare against the persona's intent rather than hard-coded numbers.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from mcpfleet.evals.cases import Case
from mcpfleet.evals.scoring import ExpectedCall, Matcher

SLOPPY_MODES = ("drop_optional", "default_arg", "wrong_value", "extra_arg")
BROKEN_MODES = ("wrong_name", "bad_json", "disagree", "flaky")
FAULTY_MODES = ("ok", "truncated", "duplicated", "error_frame", "lost_calls", "http_503")
# What each faulty mode must be counted as: (row fault, fault kinds found).
FAULTY_OUTCOME = {
    "ok": (None, set()),
    "truncated": ("engine", {"arguments_truncated"}),
    "duplicated": ("engine", {"arguments_duplicated"}),
    "error_frame": ("endpoint", {"endpoint_error"}),
    "lost_calls": ("engine", {"finish_reason_inconsistent"}),
    "http_503": ("endpoint", {"endpoint_error"}),
}
# Stream quirks reported against vLLM, SGLang and LiteLLM: name -> fault kinds the harness must
# report (empty: the harness must assemble the calls right).
QUIRKS = {
    "no_index": set(),  # parallel calls without `index` (nor id)
    "index_zero": set(),  # every parallel call on index 0, each with its own id
    "index_zero_no_id": set(),  # every call on index 0 and no ids at all
    "split_index": set(),  # SGLang: the name on one index, the arguments on the next
    "name_every_delta": set(),  # the function name repeated in every delta
    "whole_args_first": set(),  # name and all the arguments in the first delta
    "unicode_split": set(),  # \uXXXX escapes split across deltas
    "no_id_type": set(),  # no id and no type on the deltas
    "empty_args": set(),  # "" argument deltas interleaved
    "reasoning": set(),  # reasoning_content deltas before the calls
    "no_done": set(),  # no `data: [DONE]`
    "dup_args": {"arguments_duplicated"},  # the whole arguments sent again at the end
    "truncated": {"arguments_truncated"},  # arguments cut off, finish_reason tool_calls
    "error_frame": {"endpoint_error"},  # `data: {"error": ...}` after a few deltas
}


@dataclass
class Plan:
    mode: str
    calls: list[dict] = field(default_factory=list)  # [{"name", "arguments": str}]
    text: str = ""
    success: bool = True
    fail_first: bool = False  # answer HTTP 500 to the first attempt


def _pick(case_id: str, modes: tuple[str, ...]) -> str:
    return modes[zlib.crc32(case_id.encode()) % len(modes)]


def sample(m: Matcher, perturb: bool) -> Any:
    """A value satisfying the matcher (None when the script cannot make one)."""
    if m.kind == "exact":
        return m.value
    if m.kind == "one_of":
        return m.value[0] if m.value else None
    if m.kind == "text":
        value = m.value[0] if isinstance(m.value, list) else m.value
        return ("  " + value.replace(" ", "   ").upper() + " ") if perturb else value
    if m.kind == "number":
        return m.value
    if m.kind == "set":
        return list(reversed(m.value)) if perturb else list(m.value)
    if m.kind == "contains":
        return m.example if m.example is not None else (m.value if len(m.value) > 1 else m.value[0])
    if m.kind == "normalised":
        value = m.value[0] if isinstance(m.value, list) else m.value
        return value.upper().replace(" ", "_") + "." if perturb else value
    if m.kind == "integer":
        return m.value[0] if isinstance(m.value, list) else m.value
    if m.kind == "items":
        values = [sample(sub, perturb) for sub in m.value]
        return None if any(v is None for v in values) else values
    if m.kind == "keys":
        out = {k: sample(sub, perturb) for k, sub in m.value.items() if not sub.optional}
        return None if any(v is None for v in out.values()) else out
    if m.kind == "any_of":
        return next((v for v in (sample(sub, perturb) for sub in m.value) if v is not None), None)
    return m.example


def playable(case: Case) -> bool:
    if case.category == "multi_turn":
        return bool(case.reference)
    return all(sample(m, False) is not None or m.optional for c in case.expect for m in c.args.values())


def _args(call: ExpectedCall, perturb: bool, drop_optional: bool = False) -> dict:
    out = {}
    for name, m in call.args.items():
        if m.optional and drop_optional:
            continue
        value = sample(m, perturb)
        if value is None:
            continue
        out[name] = value
    return out


def _wrong(value: Any, schema: dict) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        enum = schema.get("enum")
        if enum:
            return next(v for v in enum if v != value)
        return value + " zz"
    return None


def plan(persona: str, case: Case, stream: bool, schemas: dict[str, dict]) -> Plan:
    """What the persona does with a single-turn case (multi-turn is handled turn by turn)."""
    if case.category == "irrelevance":
        if persona == "faulty" and _pick(case.id, FAULTY_MODES) == "http_503":
            return Plan("http_503", text="unreachable")
        if persona == "sloppy" and zlib.crc32(case.id.encode()) % 2 == 0:
            name = next(iter(schemas))
            return Plan("eager", [{"name": name, "arguments": json.dumps(_any_args(schemas[name]))}], success=False)
        return Plan("text", text="No tool is needed for that: here is my answer.", success=True)
    expect = case.expect
    perfect = [{"name": c.name, "arguments": json.dumps(_args(c, True))} for c in expect]
    if persona == "perfect" or persona.startswith("quirk-"):
        return Plan("perfect", perfect)
    if persona == "faulty":
        mode = _pick(case.id, FAULTY_MODES)
        if mode == "truncated":
            return Plan(mode, [dict(perfect[0], arguments=perfect[0]["arguments"][:-3])] + perfect[1:])
        if mode == "duplicated":
            return Plan(mode, [dict(perfect[0], arguments=perfect[0]["arguments"] * 2)] + perfect[1:])
        if mode == "lost_calls":
            return Plan(mode, [])
        return Plan(mode, perfect)
    if persona == "sloppy":
        mode = _pick(case.id, SLOPPY_MODES)
        if mode == "drop_optional":
            return Plan(mode, [{"name": c.name, "arguments": json.dumps(_args(c, False, True))} for c in expect])
        if mode == "default_arg":
            calls, added = [], False
            for c in expect:
                args = _args(c, False)
                props = schemas[c.name].get("properties", {})
                extra = [p for p in props if p not in c.args and "default" in props[p]]
                if extra and not added:
                    args[extra[0]] = props[extra[0]]["default"]
                    added = True
                calls.append({"name": c.name, "arguments": json.dumps(args)})
            return Plan(mode, calls)
        if mode == "wrong_value":
            first = expect[0]
            args = _args(first, False)
            props = schemas[first.name].get("properties", {})
            for name, m in first.args.items():
                if m.kind in ("exact", "one_of", "text", "number") and not m.optional and name in args:
                    wrong = _wrong(args[name], props.get(name, {}))
                    if wrong is not None and m.check(wrong) is not None:
                        args[name] = wrong
                        calls = [{"name": first.name, "arguments": json.dumps(args)}] + perfect[1:]
                        return Plan(mode, calls, success=False)
        calls = [dict(perfect[0], arguments=json.dumps({**json.loads(perfect[0]["arguments"]), "verbose": True}))]
        return Plan("extra_arg", calls + perfect[1:], success=False)
    mode = _pick(case.id, BROKEN_MODES)
    if mode == "wrong_name":
        return Plan(mode, [dict(perfect[0], name=perfect[0]["name"] + "_v2")] + perfect[1:], success=False)
    if mode == "bad_json":
        return Plan(mode, [dict(perfect[0], arguments=perfect[0]["arguments"][:-1])] + perfect[1:], success=False)
    if mode == "disagree":
        if not stream:
            return Plan(mode, perfect)
        return Plan(mode, [dict(perfect[0], name=perfect[0]["name"] + "_v2")] + perfect[1:], success=False)
    return Plan(mode, perfect, fail_first=True)


def _any_args(schema: dict) -> dict:
    args = {}
    for name in schema.get("required", []):
        t = schema["properties"][name].get("type")
        t = t[0] if isinstance(t, list) else t
        args[name] = {"string": "x", "integer": 1, "number": 1, "array": [], "object": {}}.get(t, "x")
    return args


def expected_outcome(persona: str, case: Case, stream: bool, schemas: dict[str, dict]) -> dict:
    """What the harness must score for this persona on this case: success and schema validity."""
    if case.category == "multi_turn":
        ok = persona in ("perfect", "faulty")
        return {"success": ok, "schema_ok": persona != "broken", "mode": persona, "fault": None, "kinds": set()}
    p = plan(persona, case, stream, schemas)
    # A faulted row's success is not asserted: it is kept out of accuracy.
    if persona == "faulty":
        fault, kinds = FAULTY_OUTCOME.get(p.mode, (None, set()))
        ok = None if fault else True
        return {"success": ok, "schema_ok": ok, "mode": p.mode, "fault": fault, "kinds": kinds}
    if persona.startswith("quirk-"):
        kinds = QUIRKS[persona[6:]] if stream else set()
        fault = ("endpoint" if "endpoint_error" in kinds else "engine") if kinds else None
        ok = None if fault else True
        return {"success": ok, "schema_ok": ok, "mode": persona, "fault": fault, "kinds": kinds}
    if p.mode == "bad_json":
        return {
            "success": False,
            "schema_ok": False,
            "mode": p.mode,
            "fault": "engine",
            "kinds": {"arguments_truncated"},
        }
    if p.mode == "disagree" and stream:  # run beside the non-streamed answer (--compare-stream)
        return {
            "success": False,
            "schema_ok": False,
            "mode": p.mode,
            "fault": "engine",
            "kinds": {"stream_disagreement"},
        }
    if p.mode in ("wrong_name", "bad_json", "extra_arg") or (p.mode == "disagree" and stream):
        schema_ok = False
    else:
        import jsonschema

        schema_ok = all(
            not list(jsonschema.Draft202012Validator(schemas[c["name"]]).iter_errors(json.loads(c["arguments"])))
            for c in p.calls
        )
    return {"success": p.success, "schema_ok": schema_ok, "mode": p.mode, "fault": None, "kinds": set()}


class ScriptedLLM:
    """The server: a Starlette app; `requests` keeps every request body for assertions."""

    def __init__(self, cases: list[Case], engine: str = "vllm") -> None:
        # Keyed by the first user message the model sees: the history's, when the case has one.
        self.by_first_turn = {_first_user_message(c): c for c in cases}
        self.engine = engine
        self.requests: list[dict] = []
        self.attempts: dict[tuple, int] = {}
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/version", self.version, methods=["GET"]),
                Route("/get_server_info", self.server_info, methods=["GET"]),
            ]
        )

    async def version(self, request: Request) -> JSONResponse:
        return JSONResponse({"version": "0.11.0"})

    async def server_info(self, request: Request) -> JSONResponse:
        if self.engine != "sglang":
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return JSONResponse({"version": "0.5.4", "tp_size": 1, "tool_call_parser": "qwen25"})

    async def models(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {"object": "list", "data": [{"id": p, "object": "model"} for p in ("perfect", "sloppy", "broken")]},
            headers={"x-litellm-version": "1.80.0"} if self.engine == "litellm" else {},
        )

    async def chat(self, request: Request):
        body = await request.json()
        self.requests.append(body)
        persona = body["model"]
        messages = body["messages"]
        users = [m for m in messages if m["role"] == "user"]
        case = self.by_first_turn.get(users[0]["content"]) if users else None
        if case is None:
            return JSONResponse(
                {"error": {"message": "unknown conversation", "type": "invalid_request_error"}}, status_code=400
            )
        stream = bool(body.get("stream"))
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in body.get("tools", [])}
        if case.category == "multi_turn":
            p = self._multi_turn(persona, case, messages)
        else:
            p = plan(persona, case, stream, schemas)
        if p.fail_first:
            key = (case.id, stream)
            self.attempts[key] = self.attempts.get(key, 0) + 1
            if self.attempts[key] % 2 == 1:
                return JSONResponse({"error": {"message": "engine overloaded"}}, status_code=500)
        if p.mode == "http_503":
            return JSONResponse({"error": {"message": "no healthy upstream"}}, status_code=503)
        if p.mode == "error_frame" and not stream:
            return JSONResponse({"error": {"message": "generation failed", "type": "internal_error", "code": 500}})
        calls = [{"id": f"call_{i}_{zlib.crc32(c['name'].encode()) % 1000}", **c} for i, c in enumerate(p.calls)]
        usage = {"prompt_tokens": 100 + len(json.dumps(messages)) // 10, "completion_tokens": 10 + 5 * len(calls)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if stream:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            quirk = persona[6:] if persona.startswith("quirk-") else "error_frame" if p.mode == "error_frame" else None
            return StreamingResponse(
                self._chunks(
                    persona,
                    calls,
                    p.text,
                    usage if include_usage else None,
                    quirk,
                    "tool_calls" if calls or p.mode == "lost_calls" else "stop",
                ),
                media_type="text/event-stream",
            )
        message: dict[str, Any] = {"role": "assistant", "content": p.text or None}
        if calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls
            ]
        return JSONResponse(
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": 1700000000,
                "model": persona,
                "system_fingerprint": "fp_scripted",
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if calls or p.mode == "lost_calls" else "stop",
                    }
                ],
                "usage": usage,
            }
        )

    def _multi_turn(self, persona: str, case: Case, messages: list[dict]) -> Plan:
        turn = sum(1 for m in messages if m["role"] == "user") - 1
        since_user = messages[max(i for i, m in enumerate(messages) if m["role"] == "user") + 1 :]
        results = [m["content"] for m in since_user if m["role"] == "tool"]
        if results or persona == "sloppy":
            return Plan("answer", text="Here is what the tools said:\n" + "\n".join(results) if results else "Done.")
        calls = [
            {"name": c["name"] + ("_v2" if persona == "broken" else ""), "arguments": json.dumps(c["arguments"])}
            for c in case.reference[turn]
        ]
        return Plan("reference", calls)

    async def _chunks(
        self, persona: str, calls: list[dict], text: str, usage: dict | None, quirk: str | None, finish: str
    ):
        base = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": persona,
            "system_fingerprint": "fp_scripted",
        }

        def chunk(delta: dict | None, finish: str | None = None, **extra: Any) -> str:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
            return "data: " + json.dumps({**base, "choices": choices, **extra}) + "\n\n"

        yield chunk({"role": "assistant", "content": ""})
        if quirk == "reasoning":
            for piece in ("The user wants ", "a tool call."):
                yield chunk({"reasoning_content": piece, "content": None})
        for i in range(0, len(text), 7):
            yield chunk({"content": text[i : i + 7]})
        for n, call in enumerate(calls):
            for part in _call_parts(n, call, quirk):
                yield chunk({"tool_calls": [part]})
                await asyncio.sleep(0)
            if quirk == "error_frame":
                yield "data: " + json.dumps({"error": {"message": "generation failed", "code": 500}}) + "\n\n"
                return
        yield chunk({}, finish)
        if usage:
            yield chunk(None, usage=usage)
        if quirk != "no_done":
            yield "data: [DONE]\n\n"


def _escaped(arguments: str) -> str:
    """The same JSON with every string character written as a \\uXXXX escape."""

    def enc(v: Any) -> str:
        if isinstance(v, str):
            return '"' + "".join(f"\\u{ord(c):04x}" for c in v) + '"'
        if isinstance(v, list):
            return "[" + ", ".join(enc(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{enc(k)}: {enc(x)}" for k, x in v.items()) + "}"
        return json.dumps(v)

    return enc(json.loads(arguments))


def _call_parts(n: int, call: dict, quirk: str | None) -> list[dict]:
    """The `delta.tool_calls` entries one call is streamed as, quirk included."""
    args = _escaped(call["arguments"]) if quirk == "unicode_split" else call["arguments"]
    pieces = [args[i : i + 5] for i in range(0, len(args), 5)]  # 5 characters: splits keys, strings, escapes
    head = {"index": n, "id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": ""}}
    tail = [{"index": n, "function": {"arguments": p}} for p in pieces]
    if quirk == "whole_args_first":
        return [dict(head, function={"name": call["name"], "arguments": args})]
    if quirk == "no_index":
        return [{"function": {"name": call["name"], "arguments": ""}}] + [
            {"function": {"arguments": p}} for p in pieces
        ]
    if quirk == "index_zero":
        return [dict(head, index=0)] + [dict(t, index=0) for t in tail]
    if quirk == "index_zero_no_id":
        return [{"index": 0, "function": {"name": call["name"]}}] + [dict(t, index=0) for t in tail]
    if quirk == "split_index":
        return [dict(head, index=2 * n)] + [dict(t, index=2 * n + 1) for t in tail]
    if quirk == "name_every_delta":
        return [head] + [{"index": n, "function": {"name": call["name"], "arguments": p}} for p in pieces]
    if quirk == "no_id_type":
        return [{"index": n, "function": {"name": call["name"]}}] + tail
    if quirk == "empty_args":
        return [head] + [x for t in tail for x in (t, {"index": n, "function": {"arguments": ""}})]
    if quirk == "dup_args":
        return [head] + tail + [{"index": n, "function": {"arguments": args}}]
    if quirk == "truncated":
        cut = args[:-2]
        return [head] + [{"index": n, "function": {"arguments": cut[i : i + 5]}} for i in range(0, len(cut), 5)]
    return [head] + tail


def _first_user_message(case) -> str:
    for message in case.history or []:
        if message.get("role") == "user":
            return message["content"]
    return case.user_turns()[0]
