"""The Prolog engine inside a real worker pool: answers, error messages, the sandbox, isolation.

Queries run as production runs them: `engine.query` as a target of a `WorkerPool` whose
initializer is `engine.warm`. The pool has ONE worker, so consecutive calls share a Prolog
engine and the isolation tests prove that nothing of one call is visible to the next.
`engine.check` never runs user code, so its tests call it in this process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

if shutil.which("swipl") is None:  # pragma: no cover - scripts/system-deps.sh installs it
    pytest.fail("SWI-Prolog (swipl) is needed: run scripts/system-deps.sh", pytrace=False)

from mcpfleet.common.errors import TargetError, WorkerCrashed, WorkerTimeout
from mcpfleet.common.settings import WorkerSettings
from mcpfleet.common.workers import WorkerPool
from mcpfleet.servers.prolog import engine

E = "mcpfleet.servers.prolog.engine:"
HERE_MODULE = __name__  # importable in the worker too: tests/prolog is on sys.path
# The attacks name this file; it is part of their parametrize ids, which must be the same in every
# pytest-xdist worker: one name per test run (xdist's run id), else per process.
PWNED = Path(f"/tmp/mcpfleet-prolog-pwned-{os.environ.get('PYTEST_XDIST_TESTRUNUID', os.getpid())}")

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool():
    settings = WorkerSettings(size=1, cpu_seconds=30, memory_mb=1024, timeout=30)
    async with WorkerPool("prolog-test", settings, initializer=E + "warm") as pool:
        yield pool


async def ask(pool: WorkerPool, query: str, program: str | None = None, **kwargs: Any) -> dict:
    return await pool.run(E + "query", query, program, timeout=30, **kwargs)


async def refused(pool: WorkerPool, query: str, program: str | None = None, **kwargs: Any) -> str:
    """The PrologInputError message for a query that must fail."""
    with pytest.raises(TargetError) as info:
        await ask(pool, query, program, **kwargs)
    assert info.value.kind == "PrologInputError", info.value
    message = info.value.detail
    assert "Traceback" not in message and 'File "' not in message
    return message


def values(result: dict, name: str) -> list[Any]:
    return [s[name]["json"] for s in result["solutions"]]


def texts(result: dict, name: str) -> list[str]:
    return [s[name]["prolog"] for s in result["solutions"]]


def _prolog_state() -> dict:
    """Run in the worker: what is left of earlier calls in its Prolog engine."""
    from pyswip import Prolog

    modules = [str(r["M"]) for r in Prolog.query("current_module(M), sub_atom(M, 0, _, _, mcpq_)")]
    output = list(Prolog.query("current_output(S), stream_property(S, alias(user_output))"))
    error = list(Prolog.query("stream_property(S, alias(user_error)), stream_property(S, file_no(2))"))
    flags = {
        str(r["F"]): str(r["V"])
        for r in Prolog.query("member(F, [double_quotes, occurs_check, prefer_rationals]), current_prolog_flag(F, V)")
    }
    return {"modules": modules, "output_restored": bool(output), "error_restored": bool(error), "flags": flags}


# --- classic programs ----------------------------------------------------------------------------

FAMILY = """
parent(tom, bob).  parent(tom, liz).
parent(bob, ann).  parent(bob, pat).
parent(pat, jim).
grandparent(X, Z) :- parent(X, Y), parent(Y, Z).
ancestor(X, Y) :- parent(X, Y).
ancestor(X, Y) :- parent(X, Z), ancestor(Z, Y).
"""


async def test_family_tree(pool):
    result = await ask(pool, "grandparent(tom, G)", FAMILY)
    assert sorted(values(result, "G")) == ["ann", "pat"]
    result = await ask(pool, "ancestor(A, jim)", FAMILY)
    assert sorted(values(result, "A")) == ["bob", "pat", "tom"]
    assert result["status"] == "ok" and result["count"] == 3 and result["more"] is False
    result = await ask(pool, "grandparent(ann, _)", FAMILY)
    assert result == result | {"status": "no", "solutions": [], "count": 0, "text": "false."}


async def test_append_in_all_modes(pool):
    result = await ask(pool, "append(X, Y, [1,2,3])")
    assert [(s["X"]["json"], s["Y"]["json"]) for s in result["solutions"]] == [
        ([], [1, 2, 3]),
        ([1], [2, 3]),
        ([1, 2], [3]),
        ([1, 2, 3], []),
    ]
    assert result["text"].endswith("X = [1, 2, 3],\nY = [].")
    assert values(await ask(pool, "append([a], [b, c], L)"), "L") == [["a", "b", "c"]]
    assert values(await ask(pool, "append(P, [3], [1,2,3])"), "P") == [[1, 2]]
    assert (await ask(pool, "append([1], [2], [1,2])"))["text"] == "true."
    # The user's own append/3 shadows the library's, inside this program only.
    mine = "append([], L, L).\nappend([H|T], L, [H|R]) :- append(T, L, R).\n"
    assert len((await ask(pool, "append(X, Y, [a,b])", mine))["solutions"]) == 3


async def test_permutations(pool):
    result = await ask(pool, "permutation([1,2,3], P)")
    perms = values(result, "P")
    assert len(perms) == 6 and len({tuple(p) for p in perms}) == 6


QUEENS_CLPFD = """
:- use_module(library(clpfd)).
queens(N, Qs) :- length(Qs, N), Qs ins 1..N, safe(Qs), label(Qs).
safe([]).
safe([Q|Qs]) :- no_attack(Q, Qs, 1), safe(Qs).
no_attack(_, [], _).
no_attack(Q, [Q1|Qs], D) :- Q #\\= Q1, abs(Q - Q1) #\\= D, D1 is D + 1, no_attack(Q, Qs, D1).
"""

QUEENS_PLAIN = """
queens(N, Qs) :- numlist(1, N, Ns), permutation(Ns, Qs), safe(Qs).
safe([]).
safe([Q|Qs]) :- no_attack(Q, Qs, 1), safe(Qs).
no_attack(_, [], _).
no_attack(Q, [Q1|Qs], D) :- Q =\\= Q1 + D, Q =\\= Q1 - D, D1 is D + 1, no_attack(Q, Qs, D1).
"""


async def test_eight_queens_has_92_solutions(pool):
    result = await ask(pool, "queens(8, Qs)", QUEENS_CLPFD, max_solutions=100)
    assert result["count"] == 92 and result["more"] is False
    assert values(result, "Qs")[0] == [1, 5, 8, 6, 3, 7, 2, 4]
    result = await ask(pool, "queens(4, Qs)", QUEENS_PLAIN)
    assert values(result, "Qs") == [[2, 4, 1, 3], [3, 1, 4, 2]]


SEND_MORE = """
:- use_module(library(clpfd)).
puzzle([S,E,N,D] + [M,O,R,E] = [M,O,N,E,Y]) :-
    Vars = [S,E,N,D,M,O,R,Y], Vars ins 0..9, all_different(Vars),
    S*1000 + E*100 + N*10 + D + M*1000 + O*100 + R*10 + E #=
    M*10000 + O*1000 + N*100 + E*10 + Y,
    M #\\= 0, S #\\= 0, label(Vars).
"""


async def test_send_more_money_is_unique(pool):
    result = await ask(pool, "puzzle(P)", SEND_MORE)
    assert result["count"] == 1 and result["more"] is False
    assert result["solutions"][0]["P"]["prolog"] == "[9, 5, 6, 7]+[1, 0, 8, 5]=[1, 0, 6, 5, 2]"
    assert result["solutions"][0]["P"]["json"]["functor"] == "="


SUDOKU_4 = """
:- use_module(library(clpfd)).
sudoku(Rows) :-
    length(Rows, 4), maplist(same_length(Rows), Rows),
    append(Rows, Vs), Vs ins 1..4,
    maplist(all_distinct, Rows),
    transpose(Rows, Cols), maplist(all_distinct, Cols),
    Rows = [A, B, C, D], blocks(A, B), blocks(C, D),
    maplist(label, Rows).
blocks([], []).
blocks([A, B|T1], [C, D|T2]) :- all_distinct([A, B, C, D]), blocks(T1, T2).
"""


async def test_small_sudoku_and_a_row(pool):
    result = await ask(pool, "Rows = [[1,_,_,_],[_,_,3,_],[_,4,_,_],[_,_,_,2]], sudoku(Rows)", SUDOKU_4)
    assert values(result, "Rows") == [[[1, 3, 2, 4], [4, 2, 3, 1], [2, 4, 1, 3], [3, 1, 4, 2]]]
    result = await ask(
        pool,
        "Row = [5,3,_,_,7,_,_,_,_], Row ins 1..9, all_distinct(Row), sum(Row, #=, 45), "
        "Row = [_,_,A|_], A #> 8, label(Row)",
        max_solutions=1,
    )
    assert result["solutions"][0]["A"]["json"] == 9


GRAMMAR = """
sentence(s(NP, VP)) --> noun_phrase(NP), verb_phrase(VP).
noun_phrase(np(D, N)) --> det(D), noun(N).
verb_phrase(vp(V, NP)) --> verb(V), noun_phrase(NP).
det(d(the)) --> [the].
det(d(a)) --> [a].
noun(n(cat)) --> [cat].
noun(n(dog)) --> [dog].
verb(v(sees)) --> [sees].
greeting --> "hello", " ", who.
who --> "world".
who --> "prolog".
"""


async def test_dcg_parses_a_sentence(pool):
    result = await ask(pool, "phrase(sentence(T), [the, cat, sees, a, dog])", GRAMMAR)
    assert texts(result, "T") == ["s(np(d(the), n(cat)), vp(v(sees), np(d(a), n(dog))))"]
    assert result["solutions"][0]["T"]["json"]["args"][0] == {
        "functor": "np",
        "args": [{"functor": "d", "args": ["the"]}, {"functor": "n", "args": ["cat"]}],
    }
    assert (await ask(pool, "phrase(sentence(_), [the, dog, cat])", GRAMMAR))["status"] == "no"
    assert (await ask(pool, "phrase(greeting, `hello prolog`)", GRAMMAR))["text"] == "true."
    result = await ask(pool, "phrase(greeting, Cs), atom_codes(A, Cs)", GRAMMAR)
    assert values(result, "A") == ["hello world", "hello prolog"]


async def test_dcg_basics_and_double_quotes_directive(pool):
    program = ":- use_module(library(dcg/basics)).\n:- set_prolog_flag(double_quotes, codes).\n"
    result = await ask(
        pool, 'phrase((integer(N), blanks, string_without(" ", W), remainder(_)), "42  apples x")', program
    )
    assert values(result, "N") == [42] and texts(result, "W") == ["[97, 112, 112, 108, 101, 115]"]
    # The directive changed how this program's text was read, not the next call's.
    assert values(await ask(pool, 'X = "abc"'), "X") == ["abc"]


async def test_arithmetic(pool):
    result = await ask(pool, "X is 2**100, Y is 7/2, Z is max(3, 4.0), W is 17 mod 5, V is sqrt(16)")
    s = result["solutions"][0]
    assert s["X"]["json"] == 2**100 and s["Y"]["json"] == 3.5 and s["Z"]["json"] == 4.0
    assert s["W"]["json"] == 2 and s["V"]["json"] == 4.0
    result = await ask(pool, "X is inf, Y is nan")
    assert result["solutions"][0]["X"] == {"prolog": "1.0Inf"}  # no JSON for inf and nan
    assert result["solutions"][0]["Y"] == {"prolog": "1.5NaN"}


async def test_between_findall_aggregate(pool):
    result = await ask(
        pool,
        "findall(X-Y, (between(1, 3, X), Y is X * X), L), "
        "aggregate_all(count, member(_, L), N), aggregate_all(sum(Y), member(_-Y, L), S)",
    )
    s = result["solutions"][0]
    assert s["L"]["prolog"] == "[1-1, 2-4, 3-9]" and s["N"]["json"] == 3 and s["S"]["json"] == 14
    result = await ask(pool, "between(1, inf, X)")
    assert result["count"] == 20 and result["more"] is True and values(result, "X") == list(range(1, 21))
    assert "more solutions" in result["text"]
    result = await ask(pool, "between(1, 5, X)", max_solutions=5)
    assert result["count"] == 5 and result["more"] is False


async def test_rendering_of_bindings(pool):
    result = await ask(pool, "X = f(Y, 'A b', \"str\", [a|T], 1.5), Z = Y, _Hidden = 1, length(_, 0)")
    s = result["solutions"][0]
    assert set(s) == {"X", "Z"}  # Y and T stay free; _Hidden is not reported
    assert s["X"]["prolog"] == "f(Y, 'A b', \"str\", [a|T], 1.5)" and "json" not in s["X"]
    assert s["Z"]["prolog"] == "Y"
    result = await ask(pool, "X = point{x: 1}, Y = f(Y), length(L, 2)")
    s = result["solutions"][0]
    assert s["Y"]["prolog"].startswith("@(") and "json" not in s["Y"]
    assert s["L"]["prolog"] == "[_A, _B]"
    result = await ask(pool, "numlist(1, 100000, L)")
    assert len(result["solutions"][0]["L"]["prolog"]) < engine.MAX_BINDING_CHARS + 10
    assert result["solutions"][0]["L"]["prolog"].endswith("...")


async def test_the_answer_as_a_whole_is_bounded(pool):
    result = await ask(pool, "between(1, 1000, _), numlist(1, 3000, L)", max_solutions=1000)
    assert result["size_limited"] is True and result["more"] is True and 10 < result["count"] < 1000
    assert "size limit" in result["text"]


async def test_residual_constraints(pool):
    result = await ask(pool, "X #> 3, X #< 6")
    assert result["residual"] == [["X in 4..5"]] and result["text"] == "X in 4..5."
    result = await ask(pool, "dif(X, a), freeze(Y, true)")
    assert result["residual"] == [["dif(X, a)", "freeze(Y, true)"]]


async def test_output_is_captured_and_bounded(pool):
    result = await ask(
        pool,
        "forall(member(X, [a, b]), (write(X), nl)), format(\"~w-~q~n\", [x, 'Y z']), "
        "print(f(\"s\")), writeq(' q'), write_canonical([x]), tab(2), put_char(c)",
    )
    assert result["output"] == "a\nb\nx-'Y z'\nf(\"s\")' q'[x]  c" and result["output_truncated"] is False
    assert result["text"] == "% output:\n" + result["output"] + "\ntrue."
    result = await ask(pool, "between(1, 100000, _), write(xxxxxxxxxx), fail")
    assert result["status"] == "no" and result["output_truncated"] is True
    assert len(result["output"]) == engine.MAX_OUTPUT_CHARS


async def test_assert_goes_to_the_calls_own_module(pool):
    program = ":- dynamic counter/1.\ncounter(0).\n"
    result = await ask(pool, "retract(counter(N)), N1 is N + 1, assertz(counter(N1)), counter(X)", program)
    assert values(result, "X") == [1]
    assert values(await ask(pool, "counter(X)", program), "X") == [0]


# --- error messages ------------------------------------------------------------------------------


async def test_syntax_error_names_the_line(pool):
    message = await refused(pool, "p(X)", "p(1).\np(2) :-\n    q(X.\np(3).\n")
    assert message.startswith("line 3, column ") and "syntax error" in message
    message = await refused(pool, "foo(")
    assert "syntax error in the query" in message
    assert "single goal" in await refused(pool, "X = 1. Y = 2.")


async def test_knowledge_bases_load_before_the_program(pool):
    kbs = ["parent(a, b).", "parent(b, c)."]
    result = await ask(pool, "grand(X, Z)", "grand(X, Z) :- parent(X, Y), parent(Y, Z).", kbs=kbs)
    assert [(s["X"]["json"], s["Z"]["json"]) for s in result["solutions"]] == [("a", "c")]
    message = await refused(pool, "true", None, kbs=["ok.", "bad(."])
    assert message.startswith("knowledge base 2, line 1")


async def test_unknown_procedure(pool):
    message = await refused(pool, "frobnicate(1)")
    assert message.startswith("unknown procedure frobnicate/1")
    message = await refused(pool, "p", "p :- q(1).")
    assert message.startswith("unknown procedure q/1")
    # Declared dynamic: no clauses is a plain "no".
    assert (await ask(pool, "q(1)", ":- dynamic q/1."))["status"] == "no"
    # As in plain Prolog, the existence error is raised when the call happens, and can be caught.
    assert (await ask(pool, "catch(q(1), error(existence_error(_, _), _), fail)"))["status"] == "no"
    assert (await ask(pool, "( fail -> undefined_thing ; true )"))["text"] == "true."
    assert values(await ask(pool, "assertz(made(1)), made(X)"), "X") == [1]


async def test_type_and_instantiation_errors(pool):
    message = await refused(pool, "X is foo + 1")
    assert message.startswith("type_error(evaluable, foo/0)") and "arithmetic function" in message
    message = await refused(pool, "X is Y + 1")
    assert message.startswith("instantiation_error") and "unbound" in message
    message = await refused(pool, "atom_length(f(x), L)")
    assert message.startswith("type_error(")
    assert (await refused(pool, "throw(my_ball)")) == "uncaught exception: my_ball"


async def test_an_error_after_solutions_keeps_them(pool):
    result = await ask(pool, "member(X, [1, 2, a, 3]), Y is X + 1")
    assert result["status"] == "stopped" and values(result, "Y") == [2, 3]
    assert result["error"].startswith("type_error(evaluable, a/0)")


async def test_limits(pool):
    # The time-limit exception, or (when the alarm fired inside foreign code and it was lost) the
    # '$aborted' that follows it: both stop the query at the limit.
    message = await refused(pool, "repeat, fail", time_limit=1, inference_limit=10**9)
    assert message.startswith("stopped after 1 s (time limit"), message
    message = await refused(pool, "repeat, fail", inference_limit=100_000)
    assert message.startswith("stopped after 100,000 inferences")
    message = await refused(pool, "p", "p :- p, q.\nq.")
    assert message.startswith("stack limit exceeded (256 MB")
    # Catching the time-limit exception does not help: '$aborted' follows a second later.
    # SWI 9.0.4 occasionally (about 1 run in 10) segfaults while unwinding these repeated aborts;
    # then the pool's last line holds: the call fails fast with a clear error and a fresh worker
    # takes over. Either way the query is stopped in time and the pool keeps serving.
    try:
        message = await refused(
            pool, "repeat, catch((repeat, fail), _, true), fail", time_limit=1, inference_limit=10**9
        )
        assert message.startswith("stopped after 1 s (time limit")
    except WorkerCrashed as crash:
        assert "SIGSEGV" in str(crash) or "SIGABRT" in str(crash)
    assert (await ask(pool, "X is 1 + 1"))["text"] == "X = 2."  # serving again (waits for a live worker)


@pytest.mark.parametrize(
    "query,program,expected",
    [
        ("length(L, 100000000)", None, "stack limit exceeded"),
        ("numlist(1, 100000000, L)", None, "stack limit exceeded"),
        ("findall(X, between(1, 100000000, X), L)", None, ("out of memory", "stack limit exceeded")),
        ("findall(L, (between(1, 100000000, _), length(L, 10)), Ls)", None, ("out of memory", "stack limit exceeded")),
        ("length(L, 100000), between(1, inf, _), assertz(f(L)), fail", ":- dynamic f/1.", "out of memory"),
        ("between(1, inf, X), assertz(f(X)), fail", ":- dynamic f/1.", "out of memory"),
        (
            "length(L, 100000), between(1, inf, _), catch(assertz(f(L)), _, true), fail",
            ":- dynamic f/1.",
            "out of memory",
        ),
    ],
)
async def test_memory_growth_is_stopped_cleanly(pool, query, program, expected):
    # Two lines of defence race here: the in-Prolog watchdog (a refusal naming the limit, the
    # worker kept) and, when allocation outruns it, the worker's RLIMIT_AS (SWI-Prolog dies of a
    # failed malloc: a crash the pool reports and replaces). Either is a clean refusal; which one
    # wins depends on the machine's load, so neither is asserted, only that the pool serves again.
    try:
        message = await refused(pool, query, program, time_limit=20, inference_limit=10**9)
        assert message.startswith(expected)
    except (WorkerCrashed, WorkerTimeout) as stopped:
        message = str(stopped)
        assert message.startswith(("the computation crashed its worker", "the computation took longer")), message
        assert "Traceback" not in message
    assert (await ask(pool, "X is 1 + 1"))["text"] == "X = 2."


# --- the sandbox -----------------------------------------------------------------------------------

ATTACKS = [
    (f"shell('touch {PWNED}')", None),
    (f"shell('touch {PWNED}', S)", None),
    (f"process_create(path(touch), ['{PWNED}'], [])", None),
    (f"open('{PWNED}', write, S), write(S, x), close(S)", None),
    (f"tell('{PWNED}')", None),
    ("consult('/etc/passwd')", None),
    ("['/etc/passwd']", None),
    ("[library(lists)]", None),
    ("ensure_loaded(library(process))", None),
    ("use_module(library(process))", None),
    ("halt", None),
    ("halt(1)", None),
    ("assertz(system:foo)", None),
    ("assert(user:foo)", None),
    ("assertz((p :- shell(id)))", None),
    ("X = (p :- true), assertz(X)", None),
    ("X = user:foo, call(X)", None),
    ("call(shell, 'id')", None),
    (f"G =.. [shell, 'touch {PWNED}'], call(G)", None),
    (f"atom_to_term('shell(\\'touch {PWNED}\\')', G, _), call(G)", None),
    (f"term_to_atom(G, 'shell(\\'touch {PWNED}\\')'), findall(x, G, _)", None),
    ("read_term(user_input, X, [])", None),
    ("read(X)", None),
    ("p", f":- initialization(shell('touch {PWNED}')).\np."),
    ("p", f":- shell('touch {PWNED}').\np."),
    ("p", f"p :- shell('touch {PWNED}')."),
    ("p", f"p :- q.\nq :- r.\nr :- shell('touch {PWNED}')."),
    ("p", f"p :- findall(x, shell('touch {PWNED}'), _)."),
    ("p", f"p :- maplist(shell, ['touch {PWNED}'])."),
    ("p", f"p :- format(\"~@\", [shell('touch {PWNED}')])."),
    ("p", ":- use_module(library(process)).\np."),
    ("p", ":- consult('/etc/passwd').\np."),
    ("p", "system:p."),
    ("p", "user:term_expansion(_, _).\np."),
    ("p", "term_expansion(a, b).\np."),
    ("p", "length(_, _).\np."),
    ("p", "p :- user:pyrun('shell(id)', _)."),
    ("lists:append(X, Y, [1])", None),
    ('user:pyrun("shell(id)", _)', None),
    ('pyrun("shell(id)", _)', None),
    ("thread_create(true, _, [])", None),
    ("setenv(a, b)", None),
    ("getenv('HOME', X)", None),
    ("set_prolog_flag(unknown, fail)", None),
    ("set_prolog_flag(double_quotes, codes)", None),
    ('format("~@", [set_prolog_flag(occurs_check, true)])', None),
    ("set_prolog_stack(global, limit(100000))", None),
    ("tab(user_error, 3)", None),
    ('format(user_error, "x", [])', None),
    ("with_output_to(user_error, write(x))", None),
    ("nb_setval(k, 1)", None),
    ("b_setval(k, 1)", None),
    ("nb_getval(k, V)", None),
    ("abort", None),
    ("sleep(100)", None),
    ("op(700, xfx, ===>)", None),
    ("current_op(P, T, M:X), M = user", None),
    ("tcp_socket(S)", None),
    ("delete_file('/tmp/x')", None),
    ("exists_file('/etc/passwd')", None),
    ("working_directory(D, D)", None),
    ("absolute_file_name(foo, F)", None),
    ('X = "shell(id)", term_string(G, X), call(G)', None),
    ("{|string(X)||shell(id)|}", None),
    # Holes in SWI-Prolog 9.0.4's library(sandbox) whitelist, closed by the prelude stubs; the
    # goal arrives as data, so only sandbox's own analysis sees it.
    (f"print_message(error, format(\"~@\", [shell('touch {PWNED}')]))", None),
    ('p(print_message(error, format("~@", [G])))', f"p(X) :- call(X).\nq :- shell('touch {PWNED}')."),
    (f"p(print_message(error, format(\"~@\", [shell('touch {PWNED}')])))", "p(X) :- call(X)."),
    (f"p(message_to_string(format(\"~@\", [shell('touch {PWNED}')]), _))", "p(X) :- call(X)."),
    (f"p(term_string('touch {PWNED}', _, [portray_goal(shell)]))", "p(X) :- call(X)."),
    (f"term_string('touch {PWNED}', _, [portray_goal(shell)])", None),
    (f"format(\"~W\", ['touch {PWNED}', [portray_goal(shell)]])", None),
    ('p("~W")', f"p(F) :- format(F, ['touch {PWNED}', [portray_goal(shell)]])."),
    ('p("~W")', f"p(F) :- with_output_to(string(_), format(F, ['touch {PWNED}', [portray_goal(shell)]]))."),
    ("p(set_prolog_flag(double_quotes, codes))", "p(X) :- call(X)."),
    ("p(sleep(100))", "p(X) :- call(X)."),
    ("p(abort)", "p(X) :- call(X)."),
    ("p(nb_getval(k, _))", "p(X) :- call(X)."),
    ("help(append)", None),
    ("profile(true)", None),
]


@pytest.mark.parametrize("query,program", ATTACKS)
async def test_attack_is_refused_and_the_pool_keeps_serving(pool, query, program):
    try:
        message = await refused(pool, query, program)
    except (WorkerCrashed, WorkerTimeout) as exc:  # pragma: no cover - kill-based refusals
        message = str(exc)
    assert message and len(message) < 1000
    assert not PWNED.exists()
    assert (await ask(pool, "X is 6 * 7"))["text"] == "X = 42."


async def test_refusals_explain_themselves(pool):
    message = await refused(pool, f"shell('touch {PWNED}')")
    assert message.startswith("shell/1 is not allowed: no file, OS, network, thread, flag or module-system access")
    message = await refused(pool, "p", "p :- q.\nq :- shell(id).")
    assert message.startswith("shell/1 is not allowed (called from q/0)")
    message = await refused(pool, "call(shell, id)")
    assert message.startswith("shell/1 is not allowed")  # the predicate actually refused
    message = await refused(pool, "X = user:foo, call(X)")
    assert message.startswith("cannot verify call/1") and "only known at run time" in message
    message = await refused(pool, "lists:append(X, Y, [1])")
    assert message.startswith("module-qualified goals (lists:...) are not allowed")
    message = await refused(pool, "p", "p.\n:- initialization(main).\n")
    assert message == "line 2: initialization/1 directives are not allowed: put the goal in the query instead"
    message = await refused(pool, "p", "p.\nlength(a, b).\n")
    assert message.startswith("line 2: length/2 is a built-in predicate")
    message = await refused(pool, "assertz(system:foo)")
    assert message.startswith("assertz/1 is not allowed here: only facts")
    message = await refused(pool, "set_prolog_flag(unknown, fail)")
    assert message.startswith("set_prolog_flag/2 is not allowed: Prolog flags are shared")
    message = await refused(pool, 'p(print_message(error, format("~@", [true])))', "p(X) :- call(X).")
    assert message.startswith("print_message/2 is not allowed (called from p/1)")
    message = await refused(pool, 'p("~W")', "p(F) :- format(F, [x, []]).")
    assert message.startswith("the format directive ~W is not allowed")


async def test_format_still_works(pool):
    result = await ask(
        pool,
        'format("~@ and ~w~n", [q, x]), format(atom(A), "~a-~d", [y, 3]), '
        'maplist(format("~w "), [a, b]), format("~p~t~10|~q~n", [z, \'W x\'])',
        "q :- write(hello).",
    )
    assert result["output"] == "hello and x\na b z     'W x'\n" and values(result, "A") == ["y-3"]


async def test_allowed_libraries_and_directives(pool):
    program = """
    :- module(mine, [p/1]).
    :- use_module(library(lists)).
    :- use_module(library(apply), [maplist/3]).
    :- ensure_loaded(library(yall)).
    :- dynamic seen/1.
    :- discontiguous p/1.
    :- op(700, xfx, ===>).
    rule(a ===> b).
    p(X) :- rule(X ===> _).
    """
    result = await ask(pool, "p(X), rule(R)", program)
    assert values(result, "X") == ["a"] and texts(result, "R") == ["a===>b"]
    query = (
        "maplist([X, Y]>>(Y is X * 2), [1, 2], L), foldl([X, A0, A]>>(A is A0 + X), L, 0, S), "
        "pairs_keys_values(P, [a, b], L), list_to_assoc(P, As), get_assoc(b, As, V), "
        "list_to_ord_set([c, a, c], O), sum_list(L, S2), max_list(L, M), nth0(0, L, F), last(L, La), "
        "msort([b, a], Ms), limit(1, member(Z, [z1, z2])), distinct(D, member(D, [d, d]))"
    )
    s = (await ask(pool, query))["solutions"][0]
    assert s["L"]["json"] == [2, 4] and s["S"]["json"] == 6 and s["V"]["json"] == 4 and s["O"]["json"] == ["a", "c"]
    assert s["S2"]["json"] == 6 and s["M"]["json"] == 4 and s["Z"]["json"] == "z1" and s["D"]["json"] == "d"
    assert "not available" in await refused(pool, "true", ":- use_module(library(process)).")


# --- goals run later by the engine, not by the caller -------------------------------------------
#
# Each entry: (class, query, program). "{goal}" is a goal the sandbox must never let run:
# recorda/2 (refused by library(sandbox) alone, not by name) leaves a token in the worker's
# recorded database, which the test reads back, then shell/1 touches a fresh file. The worker
# may be confined so that shell/1 cannot write anything, so the recorded token is the evidence
# that counts; the file must not exist either. Every one must be refused with a clear message.


def _escaped(token: int) -> bool:
    """Run in the worker: whether a goal recorded `token` (and forget it)."""
    from pyswip import Prolog

    return bool(list(Prolog.query(f"recorded(mcp_escaped, {token}, Ref), erase(Ref)")))


@pytest.fixture
def payload():
    folder = Path(tempfile.mkdtemp(prefix="mcpfleet-prolog-"))
    folder.chmod(0o777)  # writable by a worker that runs as another user
    token = int.from_bytes(os.urandom(6), "big")
    target = folder / "pwned"
    yield token, target, f"(recorda(mcp_escaped, {token}), shell('touch {target}'))"
    shutil.rmtree(folder, ignore_errors=True)


async def assert_not_run(pool: WorkerPool, payload: tuple) -> None:
    token, target, _ = payload
    assert not await pool.run(f"{HERE_MODULE}:_escaped", token), "the goal ran"
    assert not target.exists()


LATER = [
    # attribute modules: raw put_attr/3 only with freeze (its value checked as a goal)
    ("attribute module", "put_attr(X, freeze, {goal}), X = 1", None),
    ("attribute module", "put_attr(X, when, call({goal})), X = 1", None),
    ("attribute module", "put_attr(X, my_attr, {goal}), X = 1", None),
    ("attribute module", "put_attr(X, M, {goal}), M = freeze, X = 1", None),
    ("attribute module", "put_attrs(X, att(freeze, {goal}, [])), X = 1", None),
    ("attribute module", "'$freeze'(X, {goal}), X = 1", None),
    ("attribute module", "'$wakeup'(wakeup(att(freeze, {goal}, []), 1, []))", None),
    ("attribute module", "get_attr(X, lists, _)", None),
    ("attribute module", "p(X)", "p(X) :- put_attr(X, dif, vardif([], [])), X = 1."),
    # attribute values as goals: held in a variable, wrapped, passed around, in a program
    ("attribute value", "G = {goal}, put_attr(X, freeze, G), X = 1", None),
    ("attribute value", "put_attr(X, freeze, '$and'(true, {goal})), X = 1", None),
    ("attribute value", "put_attr(X, freeze, '$and'(true, G)), G = {goal}, X = 1", None),
    ("attribute value", "maplist([V]>>put_attr(V, freeze, {goal}), [A]), A = 1", None),
    ("attribute value", "findall(X, (put_attr(X, freeze, {goal}), X = 1), _)", None),
    ("attribute value", "p(X), X = 1", "p(X) :- put_attr(X, freeze, {goal})."),
    ("attribute value", "p(X, {goal}), X = 1", "p(X, G) :- put_attr(X, freeze, G)."),
    ("attribute value", "put_attr(X, freeze, unfreeze({goal})), X = 1", None),
    ("attribute value", "put_attr(X, freeze, lists:append(_, _, _)), X = 1", None),
    # freeze/2, when/2, dif/2 goals are checked when they are registered
    ("freeze/when/dif", "freeze(X, {goal}), X = 1", None),
    ("freeze/when/dif", "G = {goal}, freeze(X, G), X = 1", None),
    ("freeze/when/dif", "when(ground(X), {goal}), X = 1", None),
    ("freeze/when/dif", "dif(X, a), freeze(X, {goal}), X = b", None),
    ("freeze/when/dif", "freeze(X, p), X = 1", "p :- {goal}."),
    ("freeze/when/dif", "X #> 1, freeze(X, {goal}), X = 2", None),
    ("freeze/when/dif", "call_residue_vars(freeze(X, {goal}), _), X = 1", None),
    ("freeze/when/dif", "frozen(X, G), call(G)", None),
    ("freeze/when/dif", "setup_call_cleanup(true, true, {goal})", None),
    # expansion hooks: never defined by a program, never called on user text
    ("expansion hook", "foo", "term_expansion(foo, (foo :- {goal})).\nfoo."),
    ("expansion hook", "foo", "goal_expansion(foo, {goal}).\nfoo."),
    ("expansion hook", "assertz(goal_expansion(foo, {goal})), expand_goal(foo, G)", None),
    ("expansion hook", "foo", "user:goal_expansion(foo, {goal}).\nfoo."),
    # message, portray and exception hooks, and messages built from the user's terms
    ("message hook", 'throw(error(format("~@", [{goal}]), _))', None),
    ("message hook", 'setup_call_cleanup(true, true, throw(error(format("~@", [{goal}]), _)))', None),
    ("message hook", "p", "message_hook(_, _, _) :- {goal}.\np."),
    ("message hook", "p", "prolog:message(x) --> {{goal}}.\np."),
    ("message hook", "print(x)", "portray(_) :- {goal}."),
    ("message hook", "p", "exception(_, _, _) :- {goal}.\np."),
    ("message hook", 'print_message(error, format("~@", [{goal}]))', None),
    # global variables (and other shared stores) holding goals
    ("global variable", "nb_setval(k, {goal})", None),
    ("global variable", "b_setval(k, {goal}), b_getval(k, G), call(G)", None),
    ("global variable", "recorda(k, {goal})", None),
    ("global variable", "flag(k, _, {goal})", None),
    # system predicates that library(sandbox) approves although they store into module system
    ("stored for later", "at_halt({goal})", None),
    ("stored for later", "p(at_halt({goal}))", "p(G) :- call(G)."),
    ("stored for later", "p('$clear_source_admin'(x))", "p(G) :- call(G)."),
    ("stored for later", "gc_file_search_cache(x)", None),
    ("stored for later", "'$set_compilation_mode'(x)", None),
    # text to term, then call
    ("text to term", 'term_to_atom(G, "{goal}"), freeze(X, G), X = 1', None),
    ("text to term", 'term_string(G, "{goal}"), put_attr(X, freeze, G), X = 1', None),
]


@pytest.mark.parametrize("kind,query,program", LATER, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(LATER)])
async def test_goals_run_later_are_checked(pool, payload, kind, query, program):
    goal = payload[2]
    query, program = query.replace("{goal}", goal), program and program.replace("{goal}", goal)
    message = await refused(pool, query, program)
    assert message and len(message) < 1000
    assert "could not be handled" not in message and "the query failed" not in message
    await assert_not_run(pool, payload)
    assert (await ask(pool, "X is 6 * 7"))["text"] == "X = 42."


# Not refused, but defused: get_attr/3 and get_attrs/2 hand out copies, so rewriting one does not
# change the goal the engine will run; and SWI-Prolog's own messages never run the user's format.
NEUTRALISED = [
    "freeze(X, true), get_attr(X, freeze, G), setarg(2, G, {goal}), X = 1",
    "freeze(X, true), get_attrs(X, att(_, G, _)), nb_setarg(2, G, {goal}), X = 1",
    "when(nonvar(X), true), get_attr(X, when, A), setarg(1, A, {goal}), X = 1",
    'catch(setup_call_cleanup(true, throw(a), throw(error(format("~@", [{goal}]), _))), _, true)',
    'catch(throw(error(format("~@", [{goal}]), _)), E, true)',
    'catch(setup_call_cleanup(true, fail, throw(error(format("~@", [{goal}]), _))), _, true)',
]


@pytest.mark.parametrize("query", NEUTRALISED)
async def test_stored_goals_and_messages_are_defused(pool, payload, query):
    result = await ask(pool, query.replace("{goal}", payload[2]))
    assert result["status"] in ("ok", "no") and "touch" not in result["output"]
    await assert_not_run(pool, payload)


async def test_refusals_of_attribute_access_explain_themselves(pool):
    message = await refused(pool, "put_attr(X, my_attr, 1)")
    assert message.startswith("put_attr/3 with attribute module my_attr is not allowed")
    assert "freeze/2, when/2, dif/2" in message
    message = await refused(pool, "put_attr(X, freeze, shell(id)), X = 1")
    assert message.startswith("shell/1 is not allowed")
    message = await refused(pool, "get_attr(X, lists, _)")
    assert message.startswith("get_attr with attribute module lists is not allowed")
    message = await refused(pool, "member(M, [lists]), del_attr(X, M)")
    assert message.startswith("del_attr with attribute module lists is not allowed")
    message = await refused(pool, 'throw(error(format("~@", [shell(id)]), _))')
    assert message.startswith("uncaught exception: error(format(") and "shell(id)" in message  # data
    message = await refused(pool, "p(at_halt(true))", "p(G) :- call(G).")
    assert message.startswith("at_halt/1 is not allowed (called from p/1): it stores a goal")
    message = await refused(pool, "'$skip_list'(N, [a], T)")
    assert message.startswith("'$skip_list'/3 is not allowed: internal predicates")


async def test_coroutines_and_checked_attributes_still_work(pool):
    result = await ask(pool, "freeze(X, write(woke)), when(ground(Y), write(' when')), X = 1, Y = 2")
    assert result["output"] == "woke when"
    result = await ask(pool, "put_attr(X, freeze, '$and'(write(a), p)), X = 1", "p :- write(b).")
    assert result["output"] == "ab"
    result = await ask(pool, "dif(X, a), member(X, [a, b])")
    assert values(result, "X") == ["b"]
    result = await ask(pool, "freeze(X, true), get_attr(X, freeze, G), setarg(2, G, fail), X = 1")
    assert values(result, "X") == [1]  # the stored goal was not the copy handed out
    result = await ask(pool, "X #> 3, X #< 6, get_attr(X, clpfd, _), del_attr(X, clpfd), X = 9")
    assert values(result, "X") == [9]
    result = await ask(pool, "freeze(X, true)")
    assert result["residual"] == [["freeze(X, true)"]]


def _shared_state() -> dict:
    """Run in the worker: clause counts of every predicate in modules that all calls share."""
    from pyswip import Prolog

    shared = "[user, system, mcp_prelude, mcp_sandbox, lists, apply, clpfd, '$attvar', when, dif, sandbox]"
    query = (
        f"member(M, {shared}), current_module(M), current_predicate(M:N/A), functor(H, N, A), "
        "\\+ predicate_property(M:H, imported_from(_)), "
        "( predicate_property(M:H, number_of_clauses(C)) -> true ; C = 0 )"
    )
    clauses = {f"{r['M']}:{r['N']}/{r['A']}": r["C"] for r in Prolog.query(query)}
    modules = sorted(str(r["M"]) for r in Prolog.query("current_module(M)"))
    return {"clauses": clauses, "modules": modules}


POLLUTERS = [
    ("assertz(term_expansion(a, b)), assertz(goal_expansion(a, b)), assertz(message_hook(_, _, _))", None),
    ("assertz(portray(_)), assertz(exception(_, _, _)), assertz(prolog_load_file(_, _))", None),
    ("assertz('$load_context_module'(a, b, c)), assertz(attr_unify_hook(a, b))", None),
    ("retractall(append(_, _, _)), assertz(append(a, b, c)), asserta(member(x, y))", None),
    ("retract(term_expansion(_, _))", None),
    ("retract(capture(_, _, _))", None),
    ("assertz(calling), assertz(answer(x))", None),
    ("assertz(user:secret(1))", None),
    ("true", ":- dynamic user:secret/1.\nuser:secret(1)."),
    ("true", "system:term_expansion(a, b)."),
    ("true", ":- module(user, []).\nsecret(1)."),
    ("true", "append(a, b, c).\nmember(x, y)."),
    ("put_attr(X, freeze, true), dif(Y, a), Z #> 1, X = 1, Y = b, Z = 2", None),
]


async def test_no_call_changes_what_another_call_sees(pool):
    before = await pool.run(f"{HERE_MODULE}:_shared_state")
    for query, program in POLLUTERS:
        try:
            await ask(pool, query, program)
        except TargetError as exc:
            assert exc.kind == "PrologInputError"
    after = await pool.run(f"{HERE_MODULE}:_shared_state")
    changed = {
        k: (before["clauses"].get(k), after["clauses"].get(k))
        for k in set(before["clauses"]) | set(after["clauses"])
        if before["clauses"].get(k) != after["clauses"].get(k)
    }
    assert changed == {}
    assert after["modules"] == before["modules"]
    # and what a later call sees is the library's append/3 and member/2, not the planted facts
    assert len((await ask(pool, "append(X, Y, [1])"))["solutions"]) == 2
    assert (await ask(pool, "member(x, y)"))["status"] == "no"
    assert "unknown procedure" in await refused(pool, "secret(X)")


# --- isolation -------------------------------------------------------------------------------------


async def test_a_call_never_sees_an_earlier_calls_program(pool):
    pids = pool.pids
    assert values(await ask(pool, "secret(X)", "secret(42)."), "X") == [42]
    message = await refused(pool, "secret(X)")
    assert message.startswith("unknown procedure secret/1")
    assert (await ask(pool, "current_predicate(secret/1)"))["status"] == "no"
    assert (await ask(pool, "current_predicate(secret/N)"))["status"] == "no"
    assert (await ask(pool, "current_predicate(secret/1)", "secret(1)."))["text"] == "true."
    assert pool.pids == pids  # one worker answered all of them


async def test_asserted_facts_ops_and_flags_do_not_leak(pool):
    program = ":- dynamic fact/1."
    await ask(pool, "assertz(fact(secret))", program)
    assert (await ask(pool, "fact(X)", program))["status"] == "no"
    await ask(pool, "X = (a ===> b)", ":- op(700, xfx, ===>).")
    assert "syntax error" in await refused(pool, "X = (a ===> b)")
    await ask(pool, "true", ":- set_prolog_flag(double_quotes, codes).")
    assert values(await ask(pool, 'X = "ab"'), "X") == ["ab"]
    first = values(await ask(pool, "gensym(n, X)"), "X")
    assert values(await ask(pool, "gensym(n, X)"), "X") == first


async def test_no_leftovers_in_the_worker(pool):
    before = await pool.run(f"{HERE_MODULE}:_prolog_state")
    await ask(pool, "secret(X)", "secret(1).")
    await ask(pool, "true", ":- set_prolog_flag(double_quotes, atom).")
    try:
        await refused(pool, "repeat, catch((repeat, fail), _, true), fail", time_limit=1, inference_limit=10**9)
    except WorkerCrashed as crash:
        # SWI-Prolog 9.0.4 sometimes segfaults unwinding repeated aborts (as in test_limits); the
        # pool replaces the worker, and the checks below then read the fresh one.
        assert "SIGSEGV" in str(crash) or "SIGABRT" in str(crash), crash
    await refused(pool, "write(x), X is foo + 1")
    state = await pool.run(f"{HERE_MODULE}:_prolog_state")
    assert state["modules"] == []
    assert state["output_restored"] and state["error_restored"]
    assert state["flags"] == before["flags"]


# --- inputs ----------------------------------------------------------------------------------------


async def test_input_bounds(pool):
    assert "limit is 10,240" in await refused(pool, "X = " + "a" * 11_000)
    assert "limit is 262,144" in await refused(pool, "true", "a. " * 100_000)
    message = await refused(pool, "true", "a.\n" * (engine.MAX_CLAUSES + 1))
    assert "too many clauses" in message
    assert "max_solutions" in await refused(pool, "true", max_solutions=0)
    assert "time_limit" in await refused(pool, "true", time_limit=0)
    assert "empty" in await refused(pool, "   ")


async def test_many_trivial_queries_in_a_row(pool):
    # How fast they are is measured in benchmarks/bench_prolog.py, not asserted here.
    pids = pool.pids
    for i in range(30):
        assert values(await ask(pool, f"X is {i} + 1"), "X") == [i + 1]
    assert pool.pids == pids  # one warm worker answered all of them


# --- check (in this process: it never runs user code) ---------------------------------------------


async def test_check_reports_predicates():
    result = engine.check(FAMILY + GRAMMAR)
    assert result["ok"] is True and result["errors"] == []
    assert "grandparent/2" in result["predicates"] and "sentence/3" in result["predicates"]
    assert result["text"].startswith("OK: ")


async def test_check_collects_every_problem_with_lines():
    program = (
        "p(X) :- q(X).\n"  # 1: q/1 unknown -> warning
        "foo(.\n"  # 2: syntax error
        ":- initialization(main).\n"  # 3: refused directive
        "bar :- shell(x).\n"  # 4: unsafe body
        "length(a, b).\n"  # 5: built-in
        "ok(1).\n"  # 6
        "baz :- lists:append(_, _, _).\n"  # 7: qualified goal
    )
    result = engine.check(program)
    assert result["ok"] is False
    lines = {e["line"]: e["message"] for e in result["errors"]}
    assert lines[2].startswith("syntax error: ") and result["errors"][0]["column"] == 5
    assert "initialization/1" in lines[3]
    assert lines[4].startswith("shell/1 is not allowed")
    assert "built-in" in lines[5]
    assert "module-qualified" in lines[7]
    assert result["warnings"] == [{"line": 1, "message": "p/1 calls unknown procedure q/1"}]
    assert set(result["predicates"]) == {"p/1", "bar/0", "ok/1"}


async def test_check_runs_nothing():
    result = engine.check(f":- initialization(shell('touch {PWNED}')).\n:- shell('touch {PWNED}').\n")
    assert result["ok"] is False and len(result["errors"]) == 2
    assert not PWNED.exists()


async def test_check_applies_operators_and_flags():
    result = engine.check(':- op(700, xfx, ===>).\nrule(a ===> b).\n:- set_prolog_flag(double_quotes, codes).\ns("x").')
    assert result["ok"] is True and result["predicates"] == ["rule/1", "s/1"]
    with pytest.raises(engine.PrologInputError):
        engine.check("")
