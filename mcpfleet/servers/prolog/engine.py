"""The Prolog engine: sandboxed SWI-Prolog queries over caller-supplied programs.

Runs only inside worker processes of `mcpfleet.common.workers` (pyswip has one global engine that
is not thread-safe; a runaway query must cost one worker, not the server). The functions here are
the worker targets; they take and return plain data:

    warm()                                  worker initializer: start SWI-Prolog, load sandbox.pl,
                                            set the stack limit, preload the libraries
    query(query, program=None, kbs=None, max_solutions=20, time_limit=5.0,
          inference_limit=10_000_000) -> dict
    check(program) -> dict                  parse and validate a program without running it

Every input problem (syntax error, refused directive or goal, unknown procedure, time or inference
limit, stack overflow, type or instantiation error) raises `PrologInputError` with a message
meant for the caller; never a traceback. A query that merely has no solution is an answer
(status "no", text "false."), not an error.

How a query runs (the Prolog half is sandbox.pl)
    1. A fresh module `mcpq_<random>` of class temporary is created; its only import module is
       `mcp_prelude` (the preloaded libraries, which import from `system`), so nothing asserted in
       `user` (pyswip's own helper, for one) is visible.
    2. The knowledge bases, then the program, are read term by term (read_term/3 on a string
       stream, in that module so op/3 directives apply). Directives are a whitelist:
       use_module/ensure_loaded of the preloaded libraries (no-ops), dynamic/1, discontiguous/1,
       op/3 (local to the module), set_prolog_flag(double_quotes|back_quotes, V) (a read option
       for the rest of the text and the query), module/2 (ignored). Everything else, including
       initialization/1, is refused with its line. Clauses (DCG rules translated) are added with
       assertz/1; heads that are built-ins, control constructs, system hooks or module-qualified
       are refused.
    3. The query is read in the same module. Goal positions (including goals passed to
       meta-predicates and format's ~@) must not be module-qualified (no access to other
       modules, at all); then library(sandbox) `safe_goal/1` must prove that everything the
       query can reach (the user's predicates' bodies included) is whitelisted: no files, OS,
       network, threads, flags, global variables, module system, reading input. Predicates
       that sandbox 9.0.4 whitelists although they let a goal through unchecked
       (print_message/2 and message_to_string/2 with format's ~@, term_string/3 and format's
       ~W with portray_goal/1) or that touch shared state (set_prolog_flag/2, abort/0, sleep/1,
       the global-variable readers, at_halt/1 and other system predicates that store into
       module system) are shadowed by stubs that sandbox refuses. Goals the engine runs later
       are checked when registered: put_attr/3 only with `freeze` and a checked goal,
       get_attr/3 and get_attrs/2 return copies, attribute modules are an allow-list
       (freeze, when, dif, clpfd), and no message is printed during a call. A call of an
       unknown procedure is not refused: it raises existence_error when it runs, as in plain
       Prolog ("unknown procedure foo/1" if uncaught).
    4. It runs under `call_with_inference_limit/3`; an alarm throws `time_limit_exceeded` at
       `time_limit`, then `'$aborted'` (which catch/3 cannot swallow) ABORT_GRACE seconds later
       and every 0.25 s after; a watchdog checks the process size every 5 ms and throws
       resource_error(memory) (then '$aborted') before RLIMIT_AS is reached: SWI-Prolog treats
       a failed malloc as fatal. Stack overflows are ordinary resource errors (STACK_LIMIT_MB).
       write/1, print/1, format/1,2, nl/0, tab/1 ... go to a bounded buffer, returned as
       "output" (streams, user_error included, are not reachable).
    5. The module is destroyed, however the call ended, and Prolog flags and gensym counters
       are reset to their start-up values: nothing of one call is visible to the next. Errors
       found after some solutions keep them (status "stopped", with "error").

Result of `query`
    {"status": "ok" | "no" | "stopped",        # stopped: a limit or error ended the search after
     "solutions": [{"X": {"prolog": "f(a)", "json": {...}}, ...}, ...],   # some solutions
     "residual": [["X in 4..5"], ...],         # only present when some solution has constraints
     "count": int, "more": bool, "inferences": int, "seconds": float,
     "output": str, "output_truncated": bool,  # what the query printed (bounded)
     "error": str,                             # only with status "stopped"
     "size_limited": True,                     # only when the answers reached MAX_RESULT_SIZE
     "text": "X = 1 ;\nX = 2."}
    Variables named `_` or `_Name` are not reported, nor variables left unbound. A binding's
    "prolog" is the value written with quoted(true) and the query's variable names (aliases show
    as `Y = X`, other free variables as `_A`, cyclic terms as `@(Template, Substitutions)`), cut
    at MAX_BINDING_CHARS. "json" is present only for ground, acyclic, small values: integers and
    floats stay numbers, atoms and strings become strings, proper lists arrays, and any other
    compound term {"functor": name, "args": [...]}.

Result of `check`
    {"ok": bool, "predicates": ["parent/2", ...], "clauses": int,
     "errors": [{"line": 3, "column": 7, "message": "syntax error: operator expected"}, ...],
     "warnings": [{"line": 5, "message": "p/0 calls unknown procedure q/0"}],
     "text": "..."}
    Errors are syntax errors, refused directives and clauses, and predicates whose bodies call
    something the sandbox refuses; calls of unknown procedures are warnings.
"""

from __future__ import annotations

import ctypes
import json
import math
import resource
from pathlib import Path
from typing import Any

from mcpfleet.common.text import clip

STACK_LIMIT_MB = 256
MAX_PROGRAM_BYTES = 256 * 1024  # per program and per knowledge base (UTF-8)
MAX_CLAUSES = 5_000  # per program and per knowledge base
MAX_KBS = 32
MAX_QUERY_BYTES = 10 * 1024
MAX_SOLUTIONS = 1_000
MAX_TIME_LIMIT = 60.0
MAX_INFERENCE_LIMIT = 1_000_000_000
MAX_OUTPUT_CHARS = 64 * 1024  # what the query prints, kept
MAX_BINDING_CHARS = 4_000  # one rendered binding or residual goal
MAX_JSON_NODES = 20_000  # per binding; a larger value has no "json"
MAX_RESULT_SIZE = 2_000_000  # characters plus JSON nodes over all solutions; then "more" is set
MAX_CHECK_ERRORS = 50
MEMORY_HEADROOM_MB = 224  # the memory watchdog fires this far below RLIMIT_AS
RECLAIM_ABOVE_MB = 64  # after a call that grew the process this much, collect garbage
CHECK_TIME_LIMIT = 10  # seconds; check() runs no user code, but sandbox analysis takes time
ABORT_GRACE = 1.0  # seconds after the time limit before '$aborted' for code that ignores it
TEXT_MAX = 4_000  # the "text" summary is cut beyond this

SANDBOX_FILE = Path(__file__).with_name("sandbox.pl")


class PrologInputError(ValueError):
    """The program or query is wrong, refused, or ran into a limit; the message says which."""


# --- the SWI-Prolog foreign interface ----------------------------------------------------------

_PL_STRING = 6
_REP_UTF8 = 0x00100000
_CVT_STRING = 0x00000002
_CVT_WRITEQ = 0x00000200
_CVT_ALL = 0x000000FF
_BUF_MALLOC = 0x00020000
_PL_Q_NODEBUG = 0x04
_PL_Q_CATCH_EXCEPTION = 0x08


class _Swipl:
    """The few libswipl calls we need, declared here (pyswip's wrappers convert too eagerly)."""

    def __init__(self) -> None:
        import pyswip.prolog  # noqa: F401  (starts the engine: PL_initialise)
        from pyswip import core

        lib = core._lib
        self.open_frame = lib.PL_open_foreign_frame
        self.open_frame.restype = ctypes.c_size_t
        self.discard_frame = lib.PL_discard_foreign_frame
        self.discard_frame.argtypes = [ctypes.c_size_t]
        self.new_term_refs = lib.PL_new_term_refs
        self.new_term_refs.argtypes = [ctypes.c_int]
        self.new_term_refs.restype = ctypes.c_size_t
        self.put_chars = lib.PL_put_chars
        self.put_chars.argtypes = [ctypes.c_size_t, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p]
        self.put_chars.restype = ctypes.c_int
        self.get_nchars = lib.PL_get_nchars
        self.get_nchars.argtypes = [
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_uint,
        ]
        self.get_nchars.restype = ctypes.c_int
        self.free = lib.PL_free
        self.free.argtypes = [ctypes.c_void_p]
        self.predicate = lib.PL_predicate
        self.predicate.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
        self.predicate.restype = ctypes.c_void_p
        self.open_query = lib.PL_open_query
        self.open_query.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
        self.open_query.restype = ctypes.c_size_t
        self.next_solution = lib.PL_next_solution
        self.next_solution.argtypes = [ctypes.c_size_t]
        self.next_solution.restype = ctypes.c_int
        self.exception = lib.PL_exception
        self.exception.argtypes = [ctypes.c_size_t]
        self.exception.restype = ctypes.c_size_t
        self.close_query = lib.PL_close_query
        self.close_query.argtypes = [ctypes.c_size_t]

    def text_of(self, term: int, flags: int) -> str | None:
        length = ctypes.c_size_t()
        pointer = ctypes.c_void_p()
        if not self.get_nchars(term, ctypes.byref(length), ctypes.byref(pointer), flags | _REP_UTF8 | _BUF_MALLOC):
            return None
        if pointer.value is None:  # success always allocates (BUF_MALLOC); never read through NULL
            return None
        try:
            return ctypes.string_at(pointer.value, length.value).decode("utf-8", "replace")
        finally:
            self.free(pointer)

    def call(self, name: str, inputs: list[str], outputs: int = 1) -> str | None:
        """Run mcp_sandbox:`name`(+Input..., -Out) once; Out as a Python str (None if no output).

        Inputs travel as Prolog strings, never as source text. A Prolog exception that escapes
        (only '$aborted' should) becomes `_PrologException`.
        """
        frame = self.open_frame()
        try:
            arity = len(inputs) + outputs
            args = self.new_term_refs(arity)
            for i, text in enumerate(inputs):
                data = text.encode("utf-8", "replace")
                if not self.put_chars(args + i, _PL_STRING | _REP_UTF8, len(data), data):
                    raise RuntimeError("cannot pass the request to Prolog")
            predicate = self.predicate(name.encode(), arity, b"mcp_sandbox")
            query = self.open_query(None, _PL_Q_NODEBUG | _PL_Q_CATCH_EXCEPTION, predicate, args)
            try:
                if self.next_solution(query):
                    return self.text_of(args + len(inputs), _CVT_STRING) if outputs else None
                exception = self.exception(query)
                if exception:
                    raise _PrologException(self.text_of(exception, _CVT_ALL | _CVT_WRITEQ) or "unknown")
                raise RuntimeError(f"mcp_sandbox:{name} failed")
            finally:
                self.close_query(query)
        finally:
            self.discard_frame(frame)


class _PrologException(Exception):
    pass


_swipl: _Swipl | None = None
_baseline_size = 0  # process size after warm-up, bytes


def warm() -> None:
    """Worker initializer: start SWI-Prolog and load the sandbox; idempotent."""
    global _swipl
    if _swipl is not None:
        return
    swipl = _Swipl()
    # Loaded with pyswip's own query (the path is ours). A syntax error in sandbox.pl would only
    # be printed, and the rest would load into `user`, where mcp_sandbox:... still resolves: so
    # errors reported while loading are counted, and any makes the worker fail to start.
    from pyswip import Prolog

    path = _quoted_atom(str(SANDBOX_FILE.resolve()))
    loaded = list(
        Prolog.query(
            "nb_setval(mcp_load_errors, 0),"
            "setup_call_cleanup("
            "  asserta((user:message_hook(_, error, _) :- nb_getval(mcp_load_errors, N0),"
            "           N1 is N0 + 1, nb_setval(mcp_load_errors, N1), fail), Ref),"
            f"  load_files({path}, [silent(true), must_be_module(true)]),"
            "  erase(Ref)),"
            "nb_getval(mcp_load_errors, 0),"
            "module_property(mcp_sandbox, file(_))",
            catcherrors=True,
        )
    )
    if not loaded:
        raise RuntimeError(f"{SANDBOX_FILE.name} did not load cleanly (see the worker's stderr)")
    swipl.call("mcp_warm", [json.dumps({"stack_limit": STACK_LIMIT_MB * 2**20})], 0)
    _swipl = swipl
    global _baseline_size
    _baseline_size = _process_size()


def _quoted_atom(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _engine() -> _Swipl:
    if _swipl is None:
        warm()
    assert _swipl is not None
    return _swipl


# --- query ---------------------------------------------------------------------------------------


def query(
    query: str,
    program: str | None = None,
    kbs: list[str] | None = None,
    max_solutions: int = 20,
    time_limit: float = 5.0,
    inference_limit: int = 10_000_000,
) -> dict[str, Any]:
    """Solutions of `query` against `kbs` then `program`; see the module docstring."""
    query = _text("query", query, MAX_QUERY_BYTES, required=True)
    program = _text("program", program, MAX_PROGRAM_BYTES)
    kbs = _kbs(kbs)
    max_solutions = _integer("max_solutions", max_solutions, 1, MAX_SOLUTIONS)
    inference_limit = _integer("inference_limit", inference_limit, 1_000, MAX_INFERENCE_LIMIT)
    time_limit = _seconds(time_limit)
    request = {
        "query": query,
        "program": program,
        "kbs": kbs,
        "max_solutions": max_solutions,
        "time_limit": int(time_limit) if time_limit.is_integer() else time_limit,
        "inference_limit": inference_limit,
        "limits": _limits(),
    }
    try:
        reply = _engine().call("mcp_query", [json.dumps(request, ensure_ascii=False)])
    except _PrologException as exc:
        raise PrologInputError(_escaped_message(str(exc), time_limit)) from None
    finally:
        _reclaim()
    result = json.loads(reply or "{}")
    status = result.get("status")
    if status == "error":
        raise PrologInputError(result.get("error") or "the query failed")
    return _shape_query(result, max_solutions)


def _process_size() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _reclaim() -> None:
    """After a call that grew the process: collect the destroyed module's clauses, trim stacks,
    and hand free heap pages back to the system (malloc keeps them otherwise)."""
    if _process_size() <= _baseline_size + RECLAIM_ABOVE_MB * 2**20:
        return
    try:
        _engine().call("mcp_reclaim", [], 0)
        ctypes.CDLL(None).malloc_trim(0)
    except Exception:
        pass


def _escaped_message(exception: str, time_limit: float) -> str:
    """The message for an exception that escaped every catch/3 (only '$aborted' can)."""
    if "$aborted" not in exception:
        return f"the query raised an exception that could not be handled: {exception[:300]}"
    try:
        reason = _engine().call("mcp_abort_reason", [])
    except Exception:
        reason = None
    if reason == "memory":
        return (
            "out of memory: the query kept allocating after resource_error(memory) (it asserts too "
            "many clauses or builds terms, lists or findall/3 results that are too large) and was aborted"
        )
    if reason == "time":
        return (
            f"stopped after {_g(time_limit)} s (time limit; the query caught the time-limit exception and was aborted)"
        )
    return "the query was aborted ('$aborted' was thrown)"


def _shape_query(raw: dict[str, Any], max_solutions: int) -> dict[str, Any]:
    solutions = []
    for bindings in raw["solutions"]:
        solution: dict[str, Any] = {}
        for binding in bindings:
            entry = {"prolog": binding["prolog"]}
            if "json" in binding:
                entry["json"] = binding["json"]
            solution[binding["name"]] = entry
        solutions.append(solution)
    residual = raw.get("residuals") or []
    result: dict[str, Any] = {
        "status": raw["status"],
        "solutions": solutions,
        "count": raw["count"],
        "more": bool(raw["more"]),
        "inferences": raw["inferences"],
        "seconds": raw.get("seconds", 0),
        "output": raw.get("output", ""),
        "output_truncated": bool(raw.get("output_truncated")),
    }
    if any(residual):
        result["residual"] = residual
    if raw["status"] == "stopped":
        result["error"] = raw.get("error", "")
    if raw.get("size_limited"):
        result["size_limited"] = True
    result["text"] = _answer_text(result, residual, max_solutions)
    return result


def _answer_text(result: dict[str, Any], residual: list[list[str]], max_solutions: int) -> str:
    """Toplevel-style answers, cut to about TEXT_MAX characters (the data has everything)."""
    if result["status"] == "no":
        text = "false."
    else:
        answers: list[str] = []
        used = 0
        for i, solution in enumerate(result["solutions"]):
            parts = [f"{name} = {value['prolog']}" for name, value in solution.items()]
            parts += residual[i] if i < len(residual) else []
            answer = clip(",\n".join(parts) if parts else "true", TEXT_MAX // 4)
            if answers and used + len(answer) > TEXT_MAX - 300:
                answers.append(f"... ({len(result['solutions']) - i} more in the solutions list)")
                break
            answers.append(answer)
            used += len(answer) + 3
        text = " ;\n".join(answers)
        if result.get("size_limited"):
            text += f" ;\n... (the answers reached the size limit after {result['count']} solutions)"
        elif result["more"]:
            text += f" ;\n... (more solutions; showing the first {max_solutions})"
        elif result["status"] == "stopped":
            text += f" ;\n% stopped: {result.get('error', '')}"
        else:
            text += "."
    if result["output"]:
        output = clip(result["output"].rstrip("\n"), TEXT_MAX // 4)
        output += "..." if result["output_truncated"] and not output.endswith("…") else ""
        text = f"% output:\n{output}\n{text}"
    return text


# --- check ---------------------------------------------------------------------------------------


def check(program: str) -> dict[str, Any]:
    """Parse and validate `program` without running it; see the module docstring."""
    program = _text("program", program, MAX_PROGRAM_BYTES, required=True)
    request = {"query": "", "program": program, "kbs": [], "time_limit": CHECK_TIME_LIMIT, "limits": _limits()}
    try:
        reply = _engine().call("mcp_check", [json.dumps(request, ensure_ascii=False)])
    except _PrologException as exc:
        raise PrologInputError(
            f"the program could not be checked: {_escaped_message(str(exc), CHECK_TIME_LIMIT)}"
        ) from None
    finally:
        _reclaim()
    raw = json.loads(reply or "{}")
    result = {
        "ok": bool(raw["ok"]),
        "predicates": raw["predicates"],
        "clauses": raw["clauses"],
        "errors": [_problem(e) for e in raw["errors"]],
        "warnings": [_problem(w) for w in raw["warnings"]],
    }
    result["text"] = _check_text(result)
    return result


def _problem(raw: dict[str, Any]) -> dict[str, Any]:
    problem: dict[str, Any] = {"line": raw.get("line"), "message": raw["message"]}
    if raw.get("column") is not None:
        problem["column"] = raw["column"]
    return problem


def _check_text(result: dict[str, Any]) -> str:
    lines = []
    if result["ok"]:
        preds = ", ".join(result["predicates"]) or "none"
        lines.append(f"OK: {result['clauses']} clauses; predicates: {preds}")
    else:
        lines.append(f"{len(result['errors'])} error(s):")
    for kind, problems in (("error", result["errors"]), ("warning", result["warnings"])):
        for p in problems:
            where = f"line {p['line']}" if p.get("line") is not None else "program"
            if "column" in p:
                where += f", column {p['column']}"
            lines.append(f"{where}: {p['message']}" if kind == "error" else f"warning: {where}: {p['message']}")
    return clip("\n".join(lines), TEXT_MAX)


# --- input checks --------------------------------------------------------------------------------


def _limits() -> dict[str, Any]:
    return {
        "memory_cap": _memory_cap(),
        "page_size": resource.getpagesize(),
        "max_clauses": MAX_CLAUSES,
        "max_errors": MAX_CHECK_ERRORS,
        "output_limit": MAX_OUTPUT_CHARS,
        "binding_limit": MAX_BINDING_CHARS,
        "json_nodes": MAX_JSON_NODES,
        "result_budget": MAX_RESULT_SIZE,
        "abort_grace": ABORT_GRACE,
    }


def _memory_cap() -> int:
    """Process size (bytes) above which the memory watchdog stops a query; 0: no watchdog.

    RLIMIT_AS (the worker pool's memory_mb) less MEMORY_HEADROOM_MB, so that the watchdog
    fires before malloc fails (which SWI-Prolog treats as fatal).
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return 0
    return max(0, soft - MEMORY_HEADROOM_MB * 2**20)


def _text(name: str, value: Any, limit: int, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PrologInputError(f"{name} must be a string of Prolog text")
    size = len(value.encode("utf-8", "replace"))
    if size > limit:
        raise PrologInputError(f"{name} is {size:,} bytes; the limit is {limit:,}")
    if required and not value.strip():
        raise PrologInputError(f"{name} is empty")
    return value


def _kbs(kbs: Any) -> list[str]:
    if kbs is None:
        return []
    if not isinstance(kbs, list) or not all(isinstance(k, str) for k in kbs):
        raise PrologInputError("kbs must be a list of knowledge-base texts")
    if len(kbs) > MAX_KBS:
        raise PrologInputError(f"at most {MAX_KBS} knowledge bases per query, got {len(kbs)}")
    return [_text(f"knowledge base {i}", kb, MAX_PROGRAM_BYTES) for i, kb in enumerate(kbs, 1)]


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PrologInputError(f"{name} must be a whole number between {low:,} and {high:,}, got {value!r}")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PrologInputError(f"time_limit must be a number of seconds, got {value!r}")
    if not 0 < value <= MAX_TIME_LIMIT:
        raise PrologInputError(f"time_limit must be more than 0 and at most {_g(MAX_TIME_LIMIT)} seconds")
    return float(value)


def _g(x: float) -> str:
    return f"{x:g}"
