"""Assembling streamed tool calls the way the wire says, and telling engine faults from model mistakes.

`StreamAccumulator` rebuilds a completion from `chat.completion.chunk` deltas. Tool-call deltas are
routed by `id` first, then by `index`: a new `id`, or a name arriving for a call whose arguments are
already a complete JSON object, starts a new call (engines that put every parallel call on index 0);
a delta without `index` continues the latest call unless it names a new one; an arguments-only
delta on a fresh index continues a call that has a name but no arguments yet (SGLang sending the
name and the arguments on different indexes). Names are set, never appended (engines that repeat
the name in every delta). An in-band `data: {"error": ...}` frame raises `StreamError`.

`engine_faults` lists what the serving stack got wrong, streamed or not: arguments truncated or not
JSON, arguments sent twice, `finish_reason` contradicting the calls. Such rows are kept out of
accuracy and counted as the engine-fault rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_RAW_LINES = 2_000
MAX_RAW_CHARS = 200_000


class StreamError(Exception):
    """The stream carried an error frame (or undecodable data); `raw` holds the stream so far."""

    def __init__(self, message: str, raw: list[str]) -> None:
        super().__init__(message)
        self.raw = raw


@dataclass
class _Call:
    id: str | None = None
    name: str = ""
    arguments: str = ""
    repeated: str = ""  # arguments text that arrived after the arguments were already complete
    renamed: bool = False  # the name came again after the arguments were complete

    def complete(self) -> bool:
        text = self.arguments.strip()
        if not text.endswith("}"):
            return False
        try:
            return isinstance(json.loads(text), dict)
        except ValueError:
            return False

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass
class StreamAccumulator:
    """Feed it each `data:` payload with `add_line`; `finish` fills and returns the result."""

    result: Any
    content: list[str] = field(default_factory=list)
    calls: list[_Call] = field(default_factory=list)
    by_index: dict[int, _Call] = field(default_factory=dict)
    by_id: dict[str, _Call] = field(default_factory=dict)
    raw: list[str] = field(default_factory=list)
    _raw_chars: int = 0

    def add_line(self, payload: str) -> None:
        if len(self.raw) < MAX_RAW_LINES and self._raw_chars < MAX_RAW_CHARS:
            self.raw.append(payload[: MAX_RAW_CHARS - self._raw_chars])
            self._raw_chars += len(self.raw[-1])
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise StreamError(f"the stream carried non-JSON data: {payload[:200]!r}", self.raw) from None
        if not isinstance(chunk, dict):
            raise StreamError(f"the stream carried a non-object chunk: {payload[:200]!r}", self.raw)
        self.add(chunk)

    def add(self, chunk: dict) -> None:
        if chunk.get("error") and not chunk.get("choices"):
            err = chunk["error"]
            message = err.get("message") if isinstance(err, dict) else err
            raise StreamError(f"the stream carried an error: {str(message)[:300]}", self.raw)
        r = self.result
        r.model = r.model or chunk.get("model")
        r.system_fingerprint = r.system_fingerprint or chunk.get("system_fingerprint")
        if chunk.get("usage"):
            r.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                self.content.append(delta["content"])
            for part in delta.get("tool_calls") or []:
                if isinstance(part, dict):
                    self._add_part(part)
            if choice.get("finish_reason"):
                r.finish_reason = choice["finish_reason"]

    def _add_part(self, part: dict) -> None:
        fn = part.get("function") or {}
        name = fn.get("name") or None
        args = fn.get("arguments")
        if isinstance(args, (dict, list)):
            args = json.dumps(args)
        args = args if isinstance(args, str) else ""
        index = part.get("index")
        index = index if isinstance(index, int) and not isinstance(index, bool) else None
        call = self._route(index, part.get("id") or None, name)
        if name:
            # Set, not appended: some engines repeat the name in every delta. The same name again
            # after complete arguments may also open a second call to the same function.
            call.renamed = call.complete()
            call.name = name
        if not args:
            return
        if not call.complete():
            call.arguments += args
        elif call.renamed and args.lstrip().startswith("{"):
            call.renamed = False
            nxt = self._new(index, None)
            nxt.name, nxt.arguments = call.name, args
        else:
            call.repeated += args

    def _route(self, index: int | None, id_: str | None, name: str | None) -> _Call:
        latest = self.calls[-1] if self.calls else None
        if id_ is not None:
            if id_ in self.by_id:
                return self.by_id[id_]
            known = self.by_index.get(index) if index is not None else None
            if known is not None and known.id is None and not known.complete():
                known.id = id_  # the id came late for a call already started on this index
                self.by_id[id_] = known
                return known
            return self._new(index, id_)
        if index is not None:
            known = self.by_index.get(index)
            if known is not None:
                if name and known.name and name != known.name and known.complete():
                    return self._new(index, None)  # the engine reused the index for the next call
                return known
            if not name and latest is not None and latest.name and not latest.arguments:
                self.by_index[index] = latest  # the name came on another index (SGLang)
                return latest
            return self._new(index, None)
        if latest is None or (name and latest.name and name != latest.name):
            return self._new(None, None)
        return latest

    def _new(self, index: int | None, id_: str | None) -> _Call:
        call = _Call(id=id_)
        self.calls.append(call)
        if index is not None:
            self.by_index[index] = call
        if id_ is not None:
            self.by_id[id_] = call
        return call

    def finish(self) -> Any:
        self.result.content = "".join(self.content)
        self.result.tool_calls = [c.as_dict() for c in self.calls]
        self.result.raw_stream = self.raw
        faults = []
        for c in self.calls:
            if not c.repeated:
                continue
            if _same_json(c.repeated, c.arguments):
                faults.append(
                    {"kind": "arguments_duplicated", "detail": f"{c.name or '?'}: the arguments were sent twice"}
                )
            else:
                c.arguments += c.repeated  # not a repeat: keep all of it, it will not parse
                self.result.tool_calls = [x.as_dict() for x in self.calls]
        self.result.stream_faults = faults
        return self.result


def _same_json(a: str, b: str) -> bool:
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return a.strip() == b.strip()


def engine_faults(result: Any) -> list[dict]:
    """What the serving stack got wrong in one response (a list of {kind, detail})."""
    faults = list(getattr(result, "stream_faults", None) or [])
    finish = result.finish_reason
    calls = result.tool_calls
    for call in calls:
        name = call.get("name") or "?"
        if not call.get("name"):
            faults.append({"kind": "call_without_name", "detail": "a tool call came without a function name"})
        args = call.get("arguments")
        if not isinstance(args, str) or not args.strip():
            continue
        try:
            value = json.loads(args)
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data" and _same_json(args[: exc.pos], args[exc.pos :]):
                faults.append({"kind": "arguments_duplicated", "detail": f"{name}: the arguments were sent twice"})
                continue
            truncated = finish == "length" or exc.pos >= len(args.rstrip()) or exc.msg.startswith("Unterminated string")
            faults.append(
                {
                    "kind": "arguments_truncated" if truncated else "arguments_undecodable",
                    "detail": f"{name}: {exc.msg} at {exc.pos} of {len(args)}: {args[-80:]!r}",
                }
            )
            continue
        except ValueError:  # well-formed JSON Python will not decode (an integer past 4300 digits):
            continue  # what the model wrote, not the engine's fault; scoring reports it
        if not isinstance(value, dict):
            faults.append({"kind": "arguments_undecodable", "detail": f"{name}: the arguments are not a JSON object"})
    if finish == "length":
        faults.append({"kind": "finish_length", "detail": "the response was cut at the token limit"})
    elif finish == "tool_calls" and not calls:
        faults.append(
            {"kind": "finish_reason_inconsistent", "detail": "finish_reason is tool_calls but no tool call came back"}
        )
    elif calls and finish not in (None, "tool_calls", "stop", "function_call"):
        faults.append(
            {"kind": "finish_reason_inconsistent", "detail": f"finish_reason {finish!r} with {len(calls)} tool call(s)"}
        )
    return faults
