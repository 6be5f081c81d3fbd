/*  The Prolog side of the `prolog` server's engine (see engine.py).

    Loaded once per worker process. Entry points, both taking and returning
    one JSON text (the Python side never builds Prolog source from user text):

      mcp_query(+InJSON, -OutJSON)   load knowledge bases and a program into a
                                     fresh temporary module, check the query
                                     with library(sandbox), run it under
                                     limits, render the solutions
      mcp_check(+InJSON, -OutJSON)   parse and validate a program without
                                     running any of it
      mcp_warm(+InJSON)              worker start-up: stack limit, libraries,
                                     baselines of flags and global variables

    Isolation: every call gets a module `mcpq_<random>` of class temporary whose
    only import module is `mcp_prelude` (the whitelisted libraries and the
    stubs below; its own import module is `system`), so nothing in `user` is
    visible to user code. The module and every clause in it are destroyed when
    the call ends, however it ends; Prolog flags and gensym counters are reset
    to their start-up values after each call.

    Safety, in order:
      1. the program text is read term by term; directives are a whitelist,
         clause heads may not be built-ins or module-qualified;
      2. walk_goal/4 refuses module-qualified goals (M:G) in any goal position
         of the program and the query (meta-arguments and format's ~@
         included), and names the predicates refused below;
      3. library(sandbox) safe_goal/1 proves that every predicate the query
         can reach is on its whitelist, walking the bodies of the user's own
         predicates too. Predicates that sandbox whitelists although they run
         goals unchecked or change shared state are shadowed in mcp_prelude by
         stubs that sandbox refuses (see OVERRIDES IN THE PRELUDE);
      4. goals that run later, called by the engine rather than the user's
         code, are checked when they are registered: raw attribute access
         goes through checked wrappers (ATTRIBUTED VARIABLES), system
         predicates that store into module system are stubbed, and no message
         is printed while a call runs (MESSAGES);
      5. the query runs under an inference limit, a wall-clock limit that
         ends with '$aborted' (which catch/3 cannot swallow), a memory
         watchdog, and with its output going to a bounded buffer.
*/

:- module(mcp_sandbox,
          [ mcp_query/2,
            mcp_check/2,
            mcp_warm/1,
            mcp_abort_reason/1,
            mcp_reclaim/0
          ]).

:- use_module(library(sandbox)).
:- use_module(library(time)).
:- use_module(library(http/json)).
:- use_module(library(prolog_stream)).
:- use_module(library(lists)).
:- use_module(library(apply)).
:- use_module(library(error)).
:- use_module(library(gensym), [reset_gensym/0]).

:- dynamic
    capture/3,                      % Stream, GlobalKey, MaxChars
    baseline_flag/2,                % Flag, Value
    answer/1.                       % rendered solution of the running query

%   Output predicates that only write to the current output (which is our
%   bounded capture stream while a query runs). write_term/2,3 and print/2
%   are NOT declared: their portray_goal/1 option calls an arbitrary goal.

:- multifile
    sandbox:safe_primitive/1,
    sandbox:safe_meta/2.

sandbox:safe_primitive(system:write(_)).
sandbox:safe_primitive(system:print(_)).
sandbox:safe_primitive(system:writeq(_)).
sandbox:safe_primitive(system:write_canonical(_)).
sandbox:safe_primitive(system:nl).
sandbox:safe_primitive(system:put_char(_)).
sandbox:safe_primitive(system:tab(_)).

%   A predicate that is not defined in the temporary module, cannot be
%   inherited from mcp_prelude or system, and cannot be autoloaded is safe to
%   "call": calling it raises existence_error at run time, which the program
%   may catch (as in plain Prolog). Only facts can be added at run time
%   (sandbox's rule for assert/1), so it cannot become unsafe later.
sandbox:safe_meta(M:G, []) :-
    unknown_procedure(M, G).

unknown_procedure(M, G) :-
    atom(M),
    sub_atom(M, 0, _, _, mcpq_),
    callable(G),
    \+ predicate_property(M:G, visible),  % also true if it can be autoloaded
    module_property(M, class(temporary)).

%   current_predicate/1 for a plain Name/Arity: it is resolved in the calling
%   (temporary) module, whose only imports are the whitelisted libraries.
sandbox:safe_meta(system:current_predicate(PI), []) :-
    \+ ( nonvar(PI), PI = _:_ ).


                 /*******************************
                 *          LIBRARIES           *
                 *******************************/

%!  allowed_library(?Spec) is nondet.
%
%   The libraries user code may name in use_module/1 and ensure_loaded/1.
%   All are loaded into mcp_prelude at start-up; each call still goes through
%   safe_goal/1, so a library predicate sandbox does not whitelist stays
%   refused. (Predicates of other libraries may still autoload; sandbox judges
%   them the same way.)

allowed_library(lists).
allowed_library(apply).
allowed_library(aggregate).
allowed_library(clpfd).
allowed_library(dcg/basics).
allowed_library(dcg/high_order).
allowed_library(pairs).
allowed_library(yall).
allowed_library(ordsets).
allowed_library(assoc).
allowed_library(solution_sequences).
allowed_library(ugraphs).

allowed_library_names(Names) :-
    findall(N, (allowed_library(L), term_to_atom(L, A), atom_string(A, N)), Names).

setup_prelude :-
    set_module(mcp_prelude:base(system)),
    forall(allowed_library(L),
           @(use_module(library(L)), mcp_prelude)),
    retractall(stateful_stub(_)),
    forall(( stateful_system_predicate(H), \+ stubbed(H, _) ), assertz(stateful_stub(H))),
    forall(stubbed(Head, _), install_stub(Head)),
    install_format_wrappers,
    install_attribute_wrappers.

:- initialization(setup_prelude).


                 /*******************************
                 *     OVERRIDES IN THE PRELUDE *
                 *******************************/

%   library(sandbox) in SWI-Prolog 9.0.4 whitelists predicates through which
%   a goal gets called unchecked, and some that change state shared with later
%   calls:
%
%     - print_message/2 and message_to_string/2 format a message
%       format(Fmt, Args), and Fmt's ~@ calls any goal;
%     - term_string/3 and format's ~W directive pass options to
%       write_term/2, and portray_goal(G) among them calls G;
%     - set_prolog_flag/2 (some flags), abort/0, sleep/1 (which the time
%       limit cannot interrupt under pyswip's --nosignals), the global
%       variable readers, set_prolog_stack/2, profile/1, help/1, debug/3.
%
%   The name check (walk_goal/4) only sees the text of the query and the
%   program, while sandbox also approves calls whose goal arrives as data
%   (p(G) :- call(G) queried as p(print_message(...)) is checked in its
%   specific form). So these predicates are shadowed in mcp_prelude, through
%   which every temporary module resolves them, sandbox resolves them the
%   same way, and the stubs call a predicate sandbox refuses. format/1,2,3
%   become wrappers that sandbox checks with checked_format_calls/3 (~W
%   refused, ~@ goals checked as before).

stubbed(print_message(_, _), "use format/2 or write/1 to print").
stubbed(message_to_string(_, _), "it formats messages that can call goals").
stubbed(term_string(_, _, _), "its write options can call goals; use term_string/2 or format/3 with atom(A)").
stubbed(abort, "use throw/1 or fail instead").
stubbed(sleep(_), "blocking calls cannot be interrupted by the time limit here").
stubbed(nb_getval(_, _), "global variables are not available").
stubbed(b_getval(_, _), "global variables are not available").
stubbed(nb_current(_, _), "global variables are not available").
stubbed(set_prolog_flag(_, _), "Prolog flags are shared with other users of this worker; no flag may be changed").
stubbed(set_prolog_stack(_, _), "stack limits are fixed").
stubbed(profile(_), "the profiler is not available").
stubbed(profile(_, _), "the profiler is not available").
stubbed(help(_), "the manual is not available").
stubbed(apropos(_), "the manual is not available").
stubbed(debug(_, _, _), "debug output is not available; use format/2").
stubbed(statistics, "statistics of the worker are not available; use statistics/2").
stubbed(statistics(_), "statistics of the worker are not available; use statistics/2").
stubbed(at_halt(_), "it stores a goal that the worker would run when it exits").
stubbed(cancel_halt(_), "the worker's exit is not available").
stubbed(Head, "it changes state of the worker that other calls share") :-
    stateful_stub(Head).

:- dynamic stateful_stub/1.

%!  stateful_system_predicate(-Head) is nondet.
%
%   A predicate of module system whose clauses assert into or retract from
%   system's own dynamic predicates. library(sandbox) approves such bodies: it
%   takes a fact asserted anywhere for one asserted "in the current module",
%   but in a system predicate's body that module is system, shared with every
%   later call (at_halt/1 stores its goal there: '$at_halt'/2, run at exit).
%   Found by reading the clauses at start-up, so the list follows the SWI-Prolog
%   version in use; in 9.0.4: at_halt/1, gc_file_search_cache/1 and '$'-named
%   internals ('$clear_source_admin'/1, '$set_compilation_mode'/1, ...).

stateful_system_predicate(Head) :-
    findall(N/A,
            ( current_predicate(system:N/A),
              functor(H, N, A),
              \+ predicate_property(system:H, imported_from(_)),
              \+ predicate_property(system:H, foreign),
              \+ predicate_property(system:H, dynamic),
              catch(clause(system:H, Body), _, fail),
              modifies_database(Body)
            ),
            PIs0),
    sort(PIs0, PIs),
    member(N/A, PIs),
    functor(Head, N, A).

modifies_database(B) :- var(B), !, fail.
modifies_database((A, B)) :- !, ( modifies_database(A) ; modifies_database(B) ).
modifies_database((A ; B)) :- !, ( modifies_database(A) ; modifies_database(B) ).
modifies_database((A -> B)) :- !, ( modifies_database(A) ; modifies_database(B) ).
modifies_database((A *-> B)) :- !, ( modifies_database(A) ; modifies_database(B) ).
modifies_database(\+ A) :- !, modifies_database(A).
modifies_database(_:A) :- !, modifies_database(A).
modifies_database(G) :-
    compound(G),
    functor(G, N, _),
    memberchk(N, [assert, asserta, assertz, retract, retractall, erase, abolish]).

install_stub(Head) :-
    functor(Head, N, A),
    (   system_predicate(N/A)
    ->  @(redefine_system_predicate(Head), mcp_prelude)
    ;   true
    ),
    assertz(mcp_prelude:(Head :- mcp_sandbox:denied_call(N/A))),
    compile_predicates([mcp_prelude:N/A]).

%!  denied_call(+PI)
%
%   Not exported: library(sandbox) refuses any call to it, hence to the
%   stubs. Should it ever run, it throws.

denied_call(PI) :-
    throw(error(permission_error(call, sandboxed, PI), _)).

install_format_wrappers :-
    forall(format_wrapper(Head, Body),
           ( functor(Head, N, A),
             @(redefine_system_predicate(Head), mcp_prelude),
             @(module_transparent(N/A), mcp_prelude),
             assertz(mcp_prelude:(Head :- Body)),
             compile_predicates([mcp_prelude:N/A])
           )).

%   Transparent: ~@ goals run in the caller's (temporary) module.
format_wrapper(format(F),       ( context_module(M), @(system:format(F), M) )).
format_wrapper(format(F, A),    ( context_module(M), @(system:format(F, A), M) )).
format_wrapper(format(O, F, A), ( context_module(M), @(system:format(O, F, A), M) )).

sandbox:safe_meta(mcp_prelude:format(F), Calls) :-
    checked_format_calls(F, [], Calls).
sandbox:safe_meta(mcp_prelude:format(F, A), Calls) :-
    checked_format_calls(F, A, Calls).
sandbox:safe_meta(mcp_prelude:format(O, F, A), Calls) :-
    sandbox:safe_output(O),
    checked_format_calls(F, A, Calls).

checked_format_calls(F, A, Calls) :-
    (   var(F)
    ->  instantiation_error(F)
    ;   format_text(F, Codes),
        format_directive(Codes, 0'W)
    ->  throw(error(permission_error(call, sandboxed, format_directive('~W')),
                    sandbox(format_directive('~W'), [])))
    ;   sandbox:format_calls(F, A, Calls)
    ).


                 /*******************************
                 *     ATTRIBUTED VARIABLES     *
                 *******************************/

%   A goal stored in a variable's attribute runs later, when the variable is
%   bound, called by the engine rather than by the user's code. In SWI-Prolog
%   9.0.4 library(sandbox) checks put_attr(V, Module, Value) only by looking
%   at Module's attr_unify_hook/2, attribute_goals//1 and project_attributes/2
%   (safe_meta(system:put_attr/3)). The attribute module `freeze` has no such
%   hook: '$attvar':'$wakeup'/1 handles it itself (boot/attvar.pl,
%   uhook(freeze, Goal, Y) -> unfreeze(Goal) -> call(Goal), with '$and'/2
%   joining several goals), so put_attr(X, freeze, shell(...)), X = 1 ran
%   any goal unchecked, unqualified, in module '$attvar'. And get_attr/3 and
%   get_attrs/2 return the stored goal term itself, which setarg/3 (a safe
%   primitive) can rewrite after freeze/2's check.
%
%   So raw attribute access goes through wrappers in mcp_prelude, checked by
%   the hooks below and again when they run:
%
%     - put_attr(V, freeze, Goal): Goal ('$and'(A, B) parts included) must
%       pass the sandbox as a goal, as freeze/2's goal does; it is stored
%       qualified with the caller's module. No other module may be named:
%       the libraries' own attribute values (when, dif, clpfd) are data
%       structures their hooks trust, and a user module cannot have hooks;
%     - get_attr/3, del_attr/2: only the attribute modules below; get_attr/3
%       returns a full copy without attributes (inert_copy/2), so nothing the
%       engine will run later can be reached and rewritten;
%     - get_attrs/2: a copy, as get_attr/3; put_attrs/2, '$freeze'/2,
%       '$wakeup'/1 and frozen/2 stay refused by library(sandbox).
%
%   freeze/2, when/2 and dif/2 and the clpfd constraints remain the way to
%   create attributes: their goals are checked by the sandbox when they are
%   registered (safe_meta('$attvar':freeze/2), when/2's meta_predicate
%   declaration), and their attribute values are built by the libraries.

%!  attribute_module(?Module) is nondet.
%
%   The attribute modules user code may name in get_attr/3 and del_attr/2
%   (and, for freeze only, put_attr/3).

attribute_module(freeze).
attribute_module(when).
attribute_module(dif).
attribute_module(clpfd).

attribute_wrapper(put_attr(V, A, G), ( context_module(M), mcp_sandbox:prelude_put_attr(V, A, G, M) )).
attribute_wrapper(get_attr(V, A, X), mcp_sandbox:prelude_get_attr(V, A, X)).
attribute_wrapper(del_attr(V, A),    mcp_sandbox:prelude_del_attr(V, A)).
attribute_wrapper(get_attrs(V, As),  mcp_sandbox:prelude_get_attrs(V, As)).

install_attribute_wrappers :-
    forall(attribute_wrapper(Head, Body),
           ( functor(Head, N, A),
             @(redefine_system_predicate(Head), mcp_prelude),
             @(module_transparent(N/A), mcp_prelude),
             assertz(mcp_prelude:(Head :- Body)),
             compile_predicates([mcp_prelude:N/A])
           )).

sandbox:safe_meta(mcp_prelude:put_attr(_, A, G), Calls) :-
    put_attr_calls(A, G, Calls).
sandbox:safe_meta(mcp_prelude:get_attr(_, A, _), []) :-
    attribute_access(get_attr/3, A, static).
sandbox:safe_meta(mcp_prelude:del_attr(_, A), []) :-
    attribute_access(del_attr/2, A, static).
sandbox:safe_meta(mcp_prelude:get_attrs(_, _), []).

put_attr_calls(A, _, _) :-
    var(A),
    !,
    instantiation_error(A).
put_attr_calls(freeze, G, Calls) :-
    !,
    frozen_calls(G, Calls).
put_attr_calls(A, _, _) :-
    throw(error(permission_error(put_attr, attribute_module, A), _)).

frozen_calls(G, _) :-
    var(G),
    !,
    instantiation_error(G).
frozen_calls('$and'(A, B), Calls) :-
    !,
    frozen_calls(A, CA),
    frozen_calls(B, CB),
    append(CA, CB, Calls).
frozen_calls(G, [G]).

%   attribute_access(+PI, +Module, +When): static (the sandbox's analysis)
%   lets a module known only at run time through; the wrapper checks again.
attribute_access(_, A, static) :-
    var(A),
    !.
attribute_access(_, A, _) :-
    atom(A),
    attribute_module(A),
    !.
attribute_access(_, A, run) :-
    var(A),
    !,
    instantiation_error(A).
attribute_access(_, A, run) :-
    \+ atom(A),
    !,
    type_error(atom, A).
attribute_access(N/_, A, _) :-
    throw(error(permission_error(N, attribute_module, A), _)).

prelude_put_attr(V, A, G, M) :-
    must_be(atom, A),
    (   A == freeze
    ->  qualified_frozen(G, M, QG),
        put_attr(V, freeze, QG)
    ;   throw(error(permission_error(put_attr, attribute_module, A), _))
    ).

qualified_frozen(G, _, _) :-
    var(G),
    !,
    instantiation_error(G).
qualified_frozen('$and'(A0, B0), M, '$and'(A, B)) :-
    !,
    qualified_frozen(A0, M, A),
    qualified_frozen(B0, M, B).
qualified_frozen(G, M, M:G).

%   copy_term_nat/2 alone would share ground subterms (such as a stored
%   Module:Goal) with the original; duplicate_term/2 copies them too.
prelude_get_attr(V, A, X) :-
    attribute_access(get_attr/3, A, run),
    get_attr(V, A, X0),
    inert_copy(X0, X).

prelude_del_attr(V, A) :-
    attribute_access(del_attr/2, A, run),
    del_attr(V, A).

prelude_get_attrs(V, As) :-
    get_attrs(V, As0),
    inert_copy(As0, As).

inert_copy(X0, X) :-
    copy_term_nat(X0, X1),
    duplicate_term(X1, X).

attribute_refusal(put_attr, A, Msg) :-
    !,
    format(string(Msg), "put_attr/3 with attribute module ~q is not allowed: its attribute hooks would run the value unchecked. Use freeze/2, when/2, dif/2 or library(clpfd) constraints; put_attr(Var, freeze, Goal) is allowed when Goal itself passes the sandbox", [A]).
attribute_refusal(N, A, Msg) :-
    format(string(Msg), "~w with attribute module ~q is not allowed: only the attribute modules freeze, when, dif and clpfd can be read or removed", [N, A]).


                 /*******************************
                 *           MESSAGES           *
                 *******************************/

%   SWI-Prolog prints messages itself, e.g. the exception of a cleanup
%   handler that raised one while another was pending, and a message's
%   format strings can come from the user's term: error(format(F, A), _)
%   prints format(F, A), and F's ~@ calls any goal. While a call runs,
%   nothing is printed (the user's output is what the user's code writes);
%   error_text/2 renders user terms with inert lines only.

:- dynamic calling/0.
:- multifile user:message_hook/3.

user:message_hook(_Term, _Kind, _Lines) :-
    mcp_sandbox:calling,
    !.

                 /*******************************
                 *           WARM-UP            *
                 *******************************/

%!  mcp_warm(+InJSON) is det.
%
%   InJSON: {"stack_limit": Bytes}. Sets the stack limit, runs a few queries so
%   that lazily loaded code is loaded now, then records the baselines that
%   reset_shared_state/0 restores after every call.

mcp_warm(InText) :-
    atom_json_dict(InText, In, [value_string_as(string)]),
    set_prolog_flag(stack_limit, In.stack_limit),
    record_baselines,
    forall(warm_query(Q),
           ( mcp_query(Q, _) -> true ; true )),
    record_baselines.

warm_query(Q) :-
    member(Goal-Program,
           [ "X is 2+3"-"",
             "append(X, Y, [1,2]), length(X, N)"-"",
             "puzzle(L)"-":- use_module(library(clpfd)).\npuzzle([A,B]) :- [A,B] ins 0..3, A #< B, A+B #= 3, label([A,B]).",
             "phrase(greeting, `hello world`)"-"greeting --> \"hello\", \" \", \"world\".",
             "aggregate_all(count, member(_, [a,b]), C), findall(X, between(1,3,X), L), sum_list(L, S)"-"",
             "X #> 3, X #< 6"-"",
             "dif(X, a), freeze(Y, true)"-""
           ]),
    atom_json_dict(Q, _{query:Goal, program:Program, kbs:[],
                        max_solutions:5, time_limit:5, inference_limit:1000000,
                        limits:_{max_clauses:100, max_errors:10, output_limit:1000,
                                 binding_limit:1000, json_nodes:1000, abort_grace:1,
                                 memory_cap:0, page_size:4096, result_budget:100000}},
                   [as(string), width(0)]).

record_baselines :-
    retractall(baseline_flag(_,_)),
    forall(( guarded_flag(F), current_prolog_flag(F, V) ),
           assertz(baseline_flag(F, V))).

%   Flags that sandboxed code could reach (sandbox's safe_prolog_flag/2 and
%   set_prolog_stack/2), plus the ones this module sets.
guarded_flag(F) :-
    findall(F0, clause(sandbox:safe_prolog_flag(F0, _), _), Fs0),
    append(Fs0, [stack_limit, double_quotes, back_quotes, occurs_check,
                 prefer_rationals, unknown], Fs1),
    sort(Fs1, Fs),
    member(F, Fs),
    atom(F).

%!  reset_shared_state is det.
%
%   Undo what a call may have changed outside its temporary module.

reset_shared_state :-
    forall(baseline_flag(F, V),
           (   current_prolog_flag(F, V)
           ->  true
           ;   catch(set_prolog_flag(F, V), _, true)
           )),
    (   current_predicate(gensym:reset_gensym/0)
    ->  reset_gensym
    ;   true
    ),
    retractall(capture(_,_,_)),
    retractall(answer(_)).


                 /*******************************
                 *            QUERY             *
                 *******************************/

%!  mcp_query(+InJSON, -OutJSON) is det.

mcp_query(InText, OutText) :-
    atom_json_dict(InText, In, [value_string_as(string)]),
    get_time(T0),
    catch(run_query(In, Result0), E, error_result(E, In, Result0)),
    get_time(T1),
    Seconds is round((T1-T0)*1000)/1000,
    Result = Result0.put(seconds, Seconds),
    atom_json_dict(OutText, Result, [as(string), width(0)]).

run_query(In, Result) :-
    setup_call_cleanup(
        begin_call(M, Saved),
        with_watchdogs(In, query_in_module(M, In, Result)),
        end_call(M, Saved)).

begin_call(M, saved(Err)) :-
    temporary_module(M),
    stream_property(Err, alias(user_error)).

end_call(M, saved(Err)) :-
    catch(set_stream(Err, alias(user_error)), _, true),
    destroy_temporary_module(M),
    reset_shared_state.

temporary_module(M) :-
    (   calling -> true ; assertz(calling) ),
    repeat,
    N is random(1<<62),
    format(atom(M), 'mcpq_~36r', [N]),
    \+ current_module(M),
    !,
    set_module(M:class(temporary)),
    set_module(M:base(mcp_prelude)).

destroy_temporary_module(M) :-
    retractall(system:'$load_context_module'(_, M, _)),
    catch('$destroy_module'(M), _, true),
    retractall(calling).

query_in_module(M, In, Result) :-
    Limits = In.limits,
    load_sources(M, In, load, ReadOpts, _Errors, _Preds),
    read_query(M, In.query, ReadOpts, Goal, Bindings),
    check_goal(M, Goal),
    run_goal(M, Goal, Bindings, In, Limits, Result).

%!  load_sources(+M, +In, +Mode, -ReadOpts, -Errors, -Preds)
%
%   Mode `load` throws the first error; `check` collects all of them.

load_sources(M, In, Mode, ReadOpts, Errors, Preds) :-
    Limits = In.limits,
    findall(Where-Text,
            ( nth1(I, In.kbs, Text), Where = kb(I)
            ; Text = In.program, Text \== "", Where = program
            ),
            Sources),
    State = load([], [], []),           % read options, errors, predicates
    forall(member(Where-Text, Sources),
           load_text(M, Where, Text, Mode, Limits, State)),
    State = load(ReadOpts, Errors0, Preds0),
    reverse(Errors0, Errors),
    reverse(Preds0, Preds).

load_text(M, Where, Text, Mode, Limits, State) :-
    setup_call_cleanup(
        open_string(Text, S),
        read_clauses(S, M, Where, Mode, Limits, State, 0, 0),
        close(S)).

read_clauses(S, M, Where, Mode, Limits, State, NClauses, NErrors) :-
    arg(1, State, ReadOpts),
    stream_property(S, position(Pos0)),
    catch(read_term(S, Term,
                    [ module(M),
                      syntax_errors(error),
                      variable_names(VNs),
                      term_position(Pos),
                      quasi_quotations(QQ)
                    | ReadOpts
                    ]),
          E, true),
    (   nonvar(E)
    ->  syntax_error_location(E, Pos0, Where, Line, Col, Msg),
        add_error(Mode, State, syntax, Where, Line, Col, Msg),
        NErrors1 is NErrors + 1,
        (   NErrors1 >= Limits.max_errors
        ->  true
        ;   stream_property(S, position(PosAfter)),
            (   same_position(Pos0, PosAfter)
            ->  true                     % cannot advance: stop here
            ;   read_clauses(S, M, Where, Mode, Limits, State, NClauses, NErrors1)
            )
        )
    ;   Term == end_of_file
    ->  true
    ;   stream_position_data(line_count, Pos, Line),
        NClauses1 is NClauses + 1,
        (   NClauses1 > Limits.max_clauses
        ->  format(string(Msg), "too many clauses (the limit is ~D per program or knowledge base)",
                   [Limits.max_clauses]),
            add_error(Mode, State, refused, Where, Line, null, Msg)
        ;   catch(handle_term(Term, VNs, QQ, M, Where, Line, State),
                  mcp_refused(Msg),
                  add_error(Mode, State, refused, Where, Line, null, Msg)),
            read_clauses(S, M, Where, Mode, Limits, State, NClauses1, NErrors)
        )
    ).

same_position(P0, P1) :-
    stream_position_data(char_count, P0, C0),
    stream_position_data(char_count, P1, C1),
    C0 >= C1.

add_error(load, _State, Kind, Where, Line, Col, Msg) :-
    !,
    location_text(Where, Line, Col, Loc),
    format(string(Text), "~w: ~w", [Loc, Msg]),
    throw(mcp_error(Kind, Text)).
add_error(check, State, _Kind, Where, Line, Col, Msg) :-
    arg(2, State, Errs0),
    where_json(Where, WJ),
    Err0 = _{line:Line, message:Msg, source:WJ},
    (   Col == null -> Err = Err0 ; Err = Err0.put(column, Col) ),
    nb_setarg(2, State, [Err|Errs0]).

where_json(program, "program").
where_json(kb(I), S) :- format(string(S), "knowledge base ~d", [I]).

location_text(Where, Line, Col, Text) :-
    (   Where == program -> Prefix = "" ; where_json(Where, W), format(string(Prefix), "~w, ", [W]) ),
    (   Col == null
    ->  format(string(Text), "~wline ~w", [Prefix, Line])
    ;   format(string(Text), "~wline ~w, column ~w", [Prefix, Line, Col])
    ).

syntax_error_location(error(syntax_error(What), Ctx), Pos0, _Where, Line, Col, Msg) :-
    !,
    syntax_message(What, Msg0),
    (   Ctx = stream(_, Line, LinePos, _)
    ->  Col is LinePos + 1
    ;   Ctx = string(_, _)
    ->  stream_position_data(line_count, Pos0, Line), Col = null
    ;   stream_position_data(line_count, Pos0, Line), Col = null
    ),
    format(string(Msg), "syntax error: ~w", [Msg0]).
syntax_error_location(E, Pos0, _Where, Line, null, Msg) :-
    stream_position_data(line_count, Pos0, Line),
    error_text(E, Msg).

syntax_message(What, Msg) :-
    error_text(error(syntax_error(What), _), Text0),
    (   sub_string(Text0, 0, _, After, "Syntax error: ")
    ->  sub_string(Text0, _, After, 0, Text1)
    ;   Text1 = Text0
    ),
    (   sub_string(Text1, 0, 1, _, First),
        string_lower(First, Lower),
        sub_string(Text1, 1, _, 0, Rest)
    ->  string_concat(Lower, Rest, Msg)
    ;   Msg = Text1
    ).


                 /*******************************
                 *     DIRECTIVES AND CLAUSES   *
                 *******************************/

handle_term(_Term, _VNs, QQ, _M, _Where, _Line, _State) :-
    QQ \== [],
    !,
    refuse("quasi-quotations ({|Syntax||Text|}) are not supported").
handle_term(Term, _VNs, _QQ, _M, _Where, _Line, _State) :-
    var(Term),
    !,
    refuse("a clause cannot be a variable").
handle_term((:- Directive), _VNs, _QQ, M, _Where, _Line, State) :-
    !,
    directive(Directive, M, State).
handle_term((?- Directive), _VNs, _QQ, M, _Where, _Line, State) :-
    !,
    directive(Directive, M, State).
handle_term((Head --> Body), _VNs, _QQ, M, Where, Line, State) :-
    !,
    check_head(Head, dcg),
    dcg_body_refusal(Body, M),
    (   catch(dcg_translate_rule((Head --> Body), Clause), E, true)
    ->  (   var(E)
        ->  add_clause(Clause, M, Where, Line, State)
        ;   error_text(E, Msg),
            refuse("invalid grammar rule: ~w", [Msg])
        )
    ;   refuse("invalid grammar rule")
    ).
handle_term(Clause, _VNs, _QQ, M, Where, Line, State) :-
    add_clause(Clause, M, Where, Line, State).

add_clause(Clause, M, Where, Line, State) :-
    (   Clause = (Head :- Body)
    ->  true
    ;   Head = Clause, Body = true
    ),
    check_head(Head, clause),
    body_refusal(Body, M),
    catch(assertz(M:(Head :- Body)), E, true),
    (   var(E)
    ->  functor(Head, N, A),
        record_predicate(State, N/A, Where, Line)
    ;   error_text(E, Msg),
        refuse("~w", [Msg])
    ).

record_predicate(State, PI, Where, Line) :-
    arg(3, State, Preds0),
    (   memberchk(PI-_, Preds0)
    ->  true
    ;   nb_setarg(3, State, [PI-(Where:Line)|Preds0])
    ).

check_head(Head, _) :-
    var(Head),
    !,
    refuse("a clause head cannot be a variable").
check_head(M:_, _) :-
    !,
    refuse("module-qualified clause heads (~q:...) are not allowed: clauses always belong to this program", [M]).
check_head(Head, Kind) :-
    \+ callable(Head),
    !,
    (   Kind == dcg -> What = "grammar rule head" ; What = "clause head" ),
    refuse("~w ~q is not an atom or compound term", [What, Head]).
check_head((H, _PushBack), dcg) :-
    !,
    check_head(H, dcg).
check_head(Head, Kind) :-
    functor(Head, N, A0),
    (   Kind == dcg -> A is A0 + 2 ; A = A0 ),
    (   control_construct(N/A)
    ->  refuse("~q is a control construct and cannot be redefined", [N/A])
    ;   system_predicate(N/A)
    ->  refuse("~q is a built-in predicate and cannot be redefined; choose another name", [N/A])
    ;   hook_predicate(N/A)
    ->  refuse("~q is a system hook and cannot be defined here", [N/A])
    ;   functor(Stub, N, A), stubbed(Stub, _)
    ->  refuse("~q is a reserved name in this sandbox; choose another name", [N/A])
    ;   true
    ).

%   system_predicate(+PI): defined in module system (a built-in). Checked
%   with current_predicate/1: predicate_property/2 would autoload libraries
%   into system.
system_predicate(N/A) :-
    current_predicate(system:N/A),
    functor(H, N, A),
    \+ predicate_property(system:H, imported_from(_)).

control_construct((',')/2).
control_construct((;)/2).
control_construct((->)/2).
control_construct((*->)/2).
control_construct((:-)/1).
control_construct((:-)/2).
control_construct((?-)/1).
control_construct((-->)/2).
control_construct((:)/2).
control_construct(('|')/2).
control_construct((\+)/1).
control_construct(!/0).
control_construct(call/N) :- between(1, 8, N).

hook_predicate(term_expansion/2).
hook_predicate(term_expansion/4).
hook_predicate(goal_expansion/2).
hook_predicate(goal_expansion/4).
hook_predicate(portray/1).
hook_predicate(message_hook/3).
hook_predicate(exception/3).
hook_predicate(prolog_load_file/2).

%!  directive(+Directive, +M, +State)
%
%   The whitelist. Everything else is refused with a reason.

directive(Var, _, _) :-
    var(Var),
    !,
    refuse("a directive cannot be a variable").
directive(_:_, _, _) :-
    !,
    refuse("module-qualified directives are not allowed").
directive((A, B), M, State) :-
    !,
    directive(A, M, State),
    directive(B, M, State).
directive(use_module(Spec), _, _) :-
    !,
    library_directive(Spec).
directive(use_module(Spec, _Imports), _, _) :-
    !,
    library_directive(Spec).
directive(ensure_loaded(Spec), _, _) :-
    !,
    library_directive(Spec).
directive(module(_, _), _, _) :-
    !.                                  % the program always gets its own module
directive(dynamic(Specs), M, _) :-
    !,
    pred_specs(Specs, dynamic, PIs),
    forall(member(N/A, PIs), dynamic(M:N/A)).
directive(discontiguous(Specs), _, _) :-
    !,
    pred_specs(Specs, discontiguous, _).
directive(op(P, T, Names), M, _) :-
    !,
    op_directive(P, T, Names, M).
directive(set_prolog_flag(Flag, Value), _, State) :-
    !,
    flag_directive(Flag, Value, State).
directive(initialization(_), _, _) :-
    !,
    refuse("initialization/1 directives are not allowed: put the goal in the query instead").
directive(initialization(_, _), _, _) :-
    !,
    refuse("initialization/2 directives are not allowed: put the goal in the query instead").
directive(table(_), _, _) :-
    !,
    refuse("tabling (:- table) is not available in this sandbox").
directive(D, _, _) :-
    loads_files(D),
    !,
    refuse("loading files is not allowed (~q); only use_module(library(L)) for the preloaded libraries", [D]).
directive(D, _, _) :-
    functor(D, N, A),
    refuse("directive ~q is not allowed: only use_module/ensure_loaded of the preloaded libraries, dynamic/1, discontiguous/1, op/3 and set_prolog_flag(double_quotes, ...) may be directives; run goals in the query instead", [N/A]).

loads_files(consult(_)).
loads_files(include(_)).
loads_files(load_files(_, _)).
loads_files(load_files(_)).
loads_files([_|_]).
loads_files(reexport(_)).
loads_files(reexport(_, _)).
loads_files(autoload(_)).
loads_files(autoload(_, _)).
loads_files(use_foreign_library(_)).
loads_files(use_foreign_library(_, _)).

library_directive(Spec) :-
    (   nonvar(Spec),
        Spec = library(L),
        ground(L),
        allowed_library(L)
    ->  true
    ;   allowed_library_names(Names),
        atomic_list_concat(Names, ', ', List),
        (   nonvar(Spec), Spec = library(_)
        ->  refuse("~q is not available; the available libraries are: ~w", [Spec, List])
        ;   refuse("loading files is not allowed (~q); the available libraries are: ~w", [Spec, List])
        )
    ).

pred_specs(Var, D, _) :-
    var(Var),
    !,
    refuse("~w/1 needs a predicate indicator such as foo/2", [D]).
pred_specs([], _, []) :- !.
pred_specs([H|T], D, PIs) :-
    !,
    pred_specs(H, D, P1),
    pred_specs(T, D, P2),
    append(P1, P2, PIs).
pred_specs((A, B), D, PIs) :-
    !,
    pred_specs(A, D, P1),
    pred_specs(B, D, P2),
    append(P1, P2, PIs).
pred_specs(as(Specs, _), D, PIs) :-
    !,
    pred_specs(Specs, D, PIs).
pred_specs(N//A0, D, PIs) :-
    integer(A0),
    !,
    A is A0 + 2,
    pred_specs(N/A, D, PIs).
pred_specs(N/A, _, [N/A]) :-
    atom(N), integer(A), A >= 0, A =< 1024,
    !,
    (   ( control_construct(N/A) ; system_predicate(N/A) )
    ->  refuse("~q is a built-in predicate and cannot be redefined", [N/A])
    ;   true
    ).
pred_specs(S, D, _) :-
    refuse("~w/1 needs predicate indicators such as foo/2, not ~q", [D, S]).

op_directive(P, T, Names, M) :-
    (   integer(P), P >= 0, P =< 1200,
        atom(T),
        memberchk(T, [xfx, xfy, yfx, fy, fx, xf, yf])
    ->  true
    ;   refuse("op/3 needs a priority 0..1200 and a type such as xfx, not op(~q, ~q, _)", [P, T])
    ),
    (   atom(Names) -> List = [Names]
    ;   is_list(Names), maplist(atom, Names) -> List = Names
    ;   refuse("op/3 needs an operator name or a list of names, not ~q", [Names])
    ),
    forall(member(Name, List),
           (   catch(op(P, T, M:Name), E, true),
               (   var(E) -> true
               ;   error_text(E, Msg), refuse("~w", [Msg])
               )
           )).

flag_directive(double_quotes, V, State) :-
    memberchk(V, [codes, chars, atom, string]),
    !,
    arg(1, State, Opts0),
    exclude(option_named(double_quotes), Opts0, Opts1),
    nb_setarg(1, State, [double_quotes(V)|Opts1]).
flag_directive(back_quotes, V, State) :-
    memberchk(V, [codes, chars, string, symbol_char]),
    !,
    arg(1, State, Opts0),
    exclude(option_named(back_quotes), Opts0, Opts1),
    nb_setarg(1, State, [back_quotes(V)|Opts1]).
flag_directive(F, V, _) :-
    refuse_flag(F, V).

option_named(Name, Option) :-
    functor(Option, Name, 1).

refuse_flag(F, V) :-
    refuse("set_prolog_flag(~q, ~q) is not allowed: only double_quotes and back_quotes (codes, chars, atom, string) can be set, and only for reading this program", [F, V]).

refuse(Msg) :-
    throw(mcp_refused(Msg)).
refuse(Fmt, Args) :-
    format(string(Msg), Fmt, Args),
    throw(mcp_refused(Msg)).


                 /*******************************
                 *      GOAL-POSITION CHECKS    *
                 *******************************/

%!  body_refusal(+Body, +M) is det.
%
%   Throws mcp_refused(Msg) if Body (or a goal passed to a meta-predicate in
%   it) is module-qualified or calls a predicate from denied/1. library(sandbox)
%   checks the rest when the query runs.

body_refusal(Body, M) :-
    walk_goal(Body, M, 0, 0).

dcg_body_refusal(Body, M) :-
    walk_dcg(Body, M, 0).

check_goal(M, Goal) :-
    (   catch(walk_goal(Goal, M, 0, 0), mcp_refused(Msg), (throw(mcp_error(refused, Msg))))
    ->  true
    ;   true
    ),
    catch(safe_goal(M:Goal), E,
          ( unsafe_message(E, M, _{}, Msg),
            throw(mcp_error(unsafe, Msg))
          )).

walk_goal(_, _, _, Depth) :-
    Depth > 10000,
    !,
    refuse("the goal is nested too deeply").
walk_goal(G, _, _, _) :-
    var(G),
    !.
walk_goal(Q:_, _, _, _) :-
    !,
    (   atom(Q)
    ->  refuse("module-qualified goals (~q:...) are not allowed: no access to other modules", [Q])
    ;   refuse("module-qualified goals (M:Goal) are not allowed: no access to other modules")
    ).
walk_goal(G, M, Extra, Depth) :-
    callable(G),
    !,
    functor(G, N, A0),
    A is A0 + Extra,
    (   denied(N, A, Why)
    ->  refuse("~q is not allowed: ~w", [N/A, Why])
    ;   true
    ),
    D1 is Depth + 1,
    (   Extra =:= 0, control(G)
    ->  forall(arg(_, G, Sub), walk_goal(Sub, M, 0, D1))
    ;   Extra =:= 0, format_goal(G, Format, Args)
    ->  format_refusal(Format),
        (   catch(sandbox:format_calls(Format, Args, Calls), _, fail)
        ->  forall(member(Sub, Calls), walk_goal(Sub, M, 0, D1))
        ;   true
        )
    ;   Extra =:= 0, G = put_attr(_, AttrModule, Frozen), AttrModule == freeze
    ->  walk_frozen(Frozen, M, D1)
    ;   meta_args(G, Extra, M, Metas)
    ->  forall(member(Sub-E, Metas), walk_meta_arg(Sub, E, M, D1))
    ;   true
    ).
walk_goal(_, _, _, _).                  % numbers etc.: sandbox reports them

walk_frozen(G, M, D) :-
    (   nonvar(G), G = '$and'(A, B)
    ->  walk_frozen(A, M, D),
        walk_frozen(B, M, D)
    ;   walk_goal(G, M, 0, D)
    ).

walk_meta_arg(Sub, dcg, M, D) :-
    !,
    walk_dcg(Sub, M, D).
walk_meta_arg(Sub, E, M, D) :-
    walk_goal(Sub, M, E, D).

format_goal(format(F, A), F, A).
format_goal(format(_, F, A), F, A).
format_goal(debug(_, F, A), F, A).

%   ~W takes write_term/2 options, and portray_goal(G) among them calls G:
%   library(sandbox) does not check it.
format_refusal(Format) :-
    (   format_text(Format, Codes),
        format_directive(Codes, 0'W)
    ->  refuse("the format directive ~W is not allowed (its write options can call goals); use ~w, ~q, ~p or ~a")
    ;   true
    ).

format_text(F, Codes) :-
    (   atom(F) ; string(F) ),
    !,
    atom_codes(F, Codes).
format_text(F, Codes) :-
    is_list(F),
    catch(atom_codes(A, F), _, fail),
    atom_codes(A, Codes).

format_directive([0'~|T], D) :-
    !,
    directive_letter(T, L, Rest),
    (   L == D
    ->  true
    ;   format_directive(Rest, D)
    ).
format_directive([_|T], D) :-
    format_directive(T, D).

directive_letter([0'`, _|T], L, Rest) :- !, directive_letter(T, L, Rest).
directive_letter([0'*|T], L, Rest) :- !, directive_letter(T, L, Rest).
directive_letter([C|T], L, Rest) :- code_type(C, digit), !, directive_letter(T, L, Rest).
directive_letter([L|Rest], L, Rest) :- !.
directive_letter([], none, []).

control((_,_)).
control((_;_)).
control((_->_)).
control((_*->_)).
control(\+(_)).

%   meta_args(+Goal, +Extra, +M, -Metas): arguments of Goal (a closure
%   called with Extra more arguments) that are goals, with their extra
%   argument count, as told by the predicate's meta_predicate declaration.
meta_args(G, Extra, M, Metas) :-
    extend(G, Extra, G1),
    catch(predicate_property(M:G1, meta_predicate(Spec)), _, fail),
    !,
    functor(G, _, Arity),
    findall(Sub-E,
            ( between(1, Arity, I),
              arg(I, Spec, S),
              meta_spec(S, E),
              arg(I, G, Sub0),
              strip_caret(S, Sub0, Sub)
            ),
            Metas).

extend(G, 0, G) :- !.
extend(G, Extra, G1) :-
    G =.. L,
    length(More, Extra),
    append(L, More, L1),
    G1 =.. L1.

meta_spec(I, I) :- integer(I).
meta_spec(^, 0).
meta_spec(//, dcg).

strip_caret(^, G0, G) :- !, strip_existential(G0, G).
strip_caret(_, G, G).

strip_existential(G, G) :- var(G), !.
strip_existential(_^G0, G) :- !, strip_existential(G0, G).
strip_existential(G, G).

walk_dcg(B, _, _) :- var(B), !.
walk_dcg(_, _, D) :- D > 10000, !, refuse("the grammar rule is nested too deeply").
walk_dcg(Q:_, _, _) :- !,
    (   atom(Q)
    ->  refuse("module-qualified non-terminals (~q:...) are not allowed", [Q])
    ;   refuse("module-qualified non-terminals are not allowed")
    ).
walk_dcg({}(G), M, D) :- !, walk_goal(G, M, 0, D).
walk_dcg((A,B), M, D) :- !, D1 is D+1, walk_dcg(A, M, D1), walk_dcg(B, M, D1).
walk_dcg((A;B), M, D) :- !, D1 is D+1, walk_dcg(A, M, D1), walk_dcg(B, M, D1).
walk_dcg((A|B), M, D) :- !, D1 is D+1, walk_dcg(A, M, D1), walk_dcg(B, M, D1).
walk_dcg((A->B), M, D) :- !, D1 is D+1, walk_dcg(A, M, D1), walk_dcg(B, M, D1).
walk_dcg(\+(A), M, D) :- !, D1 is D+1, walk_dcg(A, M, D1).
walk_dcg(L, _, _) :- is_list(L), !.
walk_dcg(S, _, _) :- string(S), !.
walk_dcg(!, _, _) :- !.
walk_dcg(NT, M, D) :- callable(NT), !, walk_goal(NT, M, 2, D).
walk_dcg(_, _, _).

%   Refused by name where they appear in the text, for a clear message
%   before library(sandbox) runs: the prelude stubs, create_prolog_flag/3,
%   and the ways of loading files.
denied(N, A, Why) :-
    stubbed(Head, Why),
    functor(Head, N, A0),
    ( var(A) -> true ; A =:= A0 ),
    !.
denied(N, _, "internal predicates ('$' names) are not available") :-
    sub_atom(N, 0, 1, _, $).
denied(create_prolog_flag, _, "Prolog flags are shared with other users of this worker").
denied(nb_setval, _, "global variables are not available").
denied(b_setval, _, "global variables are not available").
denied(print_message_lines, _, "use format/2 or write/1 to print").
denied(message_to_codes, _, "it formats messages that can call goals").
denied(consult, _, "loading files is not allowed; the preloaded libraries are always available").
denied(ensure_loaded, _, "loading files is not allowed; the preloaded libraries are always available").
denied(use_module, _, "loading files is not allowed; the preloaded libraries are always available").
denied(load_files, _, "loading files is not allowed; the preloaded libraries are always available").
denied(include, _, "loading files is not allowed").
denied('[|]', _, "consulting files ([File]) is not allowed; the preloaded libraries are always available").


                 /*******************************
                 *         READ THE QUERY       *
                 *******************************/

read_query(M, Text, ReadOpts, Goal, Bindings) :-
    split_string(Text, "", " \t\r\n", [Stripped]),
    (   Stripped == ""
    ->  throw(mcp_error(refused, "the query is empty"))
    ;   true
    ),
    (   sub_string(Stripped, _, 1, 0, ".")
    ->  Full = Stripped
    ;   string_concat(Stripped, " .", Full)
    ),
    setup_call_cleanup(
        open_string(Full, S),
        read_query_stream(S, M, ReadOpts, Goal, Bindings),
        close(S)).

read_query_stream(S, M, ReadOpts, Goal, Bindings) :-
    catch(read_term(S, Goal, [module(M), syntax_errors(error), variable_names(Bindings),
                              quasi_quotations(QQ)|ReadOpts]),
          E, true),
    (   var(E)
    ->  true
    ;   E = error(syntax_error(What), Ctx)
    ->  syntax_message(What, Msg0),
        (   Ctx = stream(_, _, LinePos, _)
        ->  Col is LinePos + 1,
            format(string(Msg), "syntax error in the query at column ~w: ~w", [Col, Msg0])
        ;   format(string(Msg), "syntax error in the query: ~w", [Msg0])
        ),
        throw(mcp_error(syntax, Msg))
    ;   error_text(E, Msg0),
        format(string(Msg), "cannot read the query: ~w", [Msg0]),
        throw(mcp_error(syntax, Msg))
    ),
    (   QQ \== []
    ->  throw(mcp_error(refused, "quasi-quotations ({|Syntax||Text|}) are not supported"))
    ;   Goal == end_of_file
    ->  throw(mcp_error(refused, "the query is empty"))
    ;   var(Goal)
    ->  throw(mcp_error(refused, "the query cannot be a variable"))
    ;   true
    ),
    catch(read_term(S, Rest, [module(M), syntax_errors(quiet)|ReadOpts]), _, Rest = garbage),
    (   Rest == end_of_file
    ->  true
    ;   throw(mcp_error(syntax, "the query must be a single goal: join goals with ',' (and), ';' (or), not '.'"))
    ).


                 /*******************************
                 *             RUN              *
                 *******************************/

run_goal(M, Goal, Bindings0, In, Limits, Result) :-
    exclude(hidden_variable, Bindings0, Bindings),
    Max = In.max_solutions,
    Limit is Max + 1,
    IL = In.inference_limit,
    State = state(0, Limits.result_budget, false),
    retractall(answer(_)),
    statistics(inferences, I0),
    with_output_capture(Limits.output_limit, Output, OutTruncated,
        catch(call_with_inference_limit(
                  collect(M, Goal, Bindings, Limit, Limits, State),
                  IL, LimitHit),
              E, true)),
    statistics(inferences, I1),
    Inferences is I1 - I0,
    State = state(N, _, SizeLimited),
    findall(Sol, retract(answer(Sol)), Sols1),
    (   N > Max
    ->  More = true, length(Sols, Max), append(Sols, _, Sols1), Count = Max
    ;   More = SizeLimited, Sols = Sols1, Count = N
    ),
    maplist(get_dict(bindings), Sols, SolDicts),
    maplist(get_dict(residual), Sols, Residuals),
    Base = _{solutions:SolDicts, residuals:Residuals, more:More, count:Count,
             inferences:Inferences, output:Output, output_truncated:OutTruncated,
             size_limited:SizeLimited},
    (   nonvar(E)
    ->  stop_reason(E, In, Kind, Msg),
        (   Count > 0
        ->  Result = Base.put(_{status:"stopped", error:Msg, error_kind:Kind})
        ;   Result = Base.put(_{status:"error", error:Msg, error_kind:Kind})
        )
    ;   ( LimitHit == inference_limit_exceeded ; Inferences >= IL )
    ->  stop_reason(inference_limit_exceeded, In, Kind, Msg),
        (   Count > 0
        ->  Result = Base.put(_{status:"stopped", error:Msg, error_kind:Kind})
        ;   Result = Base.put(_{status:"error", error:Msg, error_kind:Kind})
        )
    ;   Count =:= 0
    ->  Result = Base.put(status, "no")
    ;   Result = Base.put(status, "ok")
    ).

hidden_variable(Name = _) :-
    sub_atom(Name, 0, _, _, '_').

%!  with_watchdogs(+In, :Goal)
%
%   Run Goal (loading, checking and running the query) under
%
%     - a wall-clock limit of two alarms: time_limit_exceeded at
%       In.time_limit (what call_with_time_limit/2 does), and '$aborted'
%       In.limits.abort_grace seconds later for code that catches and
%       ignores the first ('$aborted' is re-thrown by every catch/3);
%     - a memory watchdog: every 5 ms, the process size (VmSize, what
%       RLIMIT_AS counts) is compared with In.limits.memory_cap bytes (or
%       with the size at the start plus 16 MB, if that is more); over it,
%       resource_error(memory) is thrown, and '$aborted' on the next tick if
%       the code caught that. Without it, clauses asserted in a loop or a
%       huge findall/3 bag exhaust RLIMIT_AS and SWI-Prolog dies with a
%       fatal "could not allocate memory".
%
%   mcp_abort_reason/1 tells the Python side why '$aborted' was thrown.

with_watchdogs(In, Goal) :-
    TL = In.time_limit,
    Limits = In.limits,
    Hard is TL + Limits.abort_grace,
    Cap = Limits.memory_cap,
    nb_setval('$mcp_abort_reason', none),
    nb_setval('$mcp_hard_alarm', none),
    setup_call_cleanup(
        ( alarm(TL, soft_timeout, Soft, [install(false)]),
          alarm(Hard, hard_timeout, HardId, [install(false)]),
          start_memory_watch(Cap, Limits.page_size)
        ),
        ( install_alarm(Soft),
          install_alarm(HardId),
          Goal
        ),
        ( remove_alarm(Soft),
          remove_alarm(HardId),
          stop_hard_repeats,
          stop_memory_watch
        )).

soft_timeout :-
    throw(time_limit_exceeded).

%   '$aborted', and again every 0.25 s: an exception raised by a signal
%   handler while a foreign predicate runs can be lost ("foreign predicate
%   did not clear exception"). The worker pool's timeout is the last resort.
hard_timeout :-
    sig_atomic(( alarm(0.25, hard_timeout, Id, [remove(true)]),
                 nb_setval('$mcp_hard_alarm', Id),
                 nb_setval('$mcp_abort_reason', time)
               )),
    throw('$aborted').

stop_hard_repeats :-
    (   nb_current('$mcp_hard_alarm', Id), Id \== none
    ->  catch(remove_alarm(Id), _, true)
    ;   true
    ),
    nb_setval('$mcp_hard_alarm', none).

memory_tick_seconds(0.005).

start_memory_watch(Cap0, PageSize) :-
    (   Cap0 > 0
    ->  memory_tick_seconds(T),
        % malloc keeps freed heap pages: after an earlier large call the
        % process may start above Cap0, with room to reuse. Then only growth
        % (more than 16 MB) counts.
        (   process_size(PageSize, Start) -> true ; Start = 0 ),
        Cap is max(Cap0, Start + 16*1024*1024),
        alarm(T, memory_tick, Id, [remove(true)]),
        nb_setval('$mcp_memory_watch', watch(Cap, PageSize, 0, Id))
    ;   nb_setval('$mcp_memory_watch', none)
    ).

stop_memory_watch :-
    (   nb_current('$mcp_memory_watch', watch(_, _, _, Id))
    ->  catch(remove_alarm(Id), _, true)
    ;   true
    ),
    nb_setval('$mcp_memory_watch', none).

%   The bookkeeping runs with signals blocked (sig_atomic/1): an alarm that
%   fires inside another alarm's foreign code loses its exception.
memory_tick :-
    sig_atomic(memory_check(Action)),
    memory_action(Action).

memory_check(Action) :-
    (   nb_current('$mcp_memory_watch', watch(Cap, PageSize, Hits, _))
    ->  memory_tick_seconds(T),
        alarm(T, memory_tick, Id, [remove(true)]),
        (   process_size(PageSize, Bytes), Bytes > Cap
        ->  Hits1 is Hits + 1,
            nb_setval('$mcp_memory_watch', watch(Cap, PageSize, Hits1, Id)),
            (   Hits1 >= 2
            ->  nb_setval('$mcp_abort_reason', memory),
                Action = abort
            ;   Action = error
            )
        ;   nb_setval('$mcp_memory_watch', watch(Cap, PageSize, Hits, Id)),
            Action = none
        )
    ;   Action = none
    ).

memory_action(none).
memory_action(error) :-
    throw(error(resource_error(memory), memory_watchdog)).
memory_action(abort) :-
    throw('$aborted').

process_size(PageSize, Bytes) :-
    catch(setup_call_cleanup(
              open('/proc/self/statm', read, S),
              read_line_to_string(S, Line),
              close(S)),
          _, fail),
    split_string(Line, " ", "", [Pages|_]),
    number_string(N, Pages),
    Bytes is N * PageSize.

%!  mcp_reclaim is det.
%
%   Give memory back after a large call: the clauses of a destroyed module
%   are only reclaimed by clause garbage collection outside the query that
%   destroyed it, and stacks stay at their largest size until trimmed.

mcp_reclaim :-
    garbage_collect_clauses,
    garbage_collect,
    trim_stacks.

%!  mcp_abort_reason(-Reason) is det.
%
%   After '$aborted' escaped mcp_query/2: "time", "memory" or "none".

mcp_abort_reason(Reason) :-
    (   nb_current('$mcp_abort_reason', R) -> true ; R = none ),
    atom_string(R, Reason),
    nb_setval('$mcp_abort_reason', none).

%   Collect up to Limit solutions, rendered while their bindings exist. The
%   answer as a whole is bounded too: each solution costs its characters and
%   JSON nodes, and collecting stops when Limits.result_budget is spent.
%   Solutions are kept as answer/1 clauses: nb_setarg/3 on a growing list
%   would copy all of it for every solution.
collect(M, Goal, Bindings, Limit, Limits, State) :-
    (   call(M:Goal),
        render_solution(M, Bindings, Limits, Sol, Cost),
        assertz(answer(Sol)),
        arg(1, State, N0),
        N is N0 + 1,
        nb_setarg(1, State, N),
        arg(2, State, B0),
        B is B0 - Cost,
        nb_setarg(2, State, B),
        (   N >= Limit
        ->  true
        ;   B =< 0
        ->  nb_setarg(3, State, true)
        )
    ->  true
    ;   true
    ).


                 /*******************************
                 *        RENDER SOLUTIONS      *
                 *******************************/

render_solution(M, Bindings, Limits, _{bindings:List, residual:ResStrings}, Cost) :-
    pairs_values_eq(Bindings, Values),
    copy_term(Values, Copy, Residual0),
    pairs_names_eq(Bindings, Names),
    pairs_eq(Names, Copy, Named),
    BL0 = Limits.binding_limit,
    % JSON first: the values before free variables get their names
    maplist(json_of(Limits), Copy, Jsons, Nodes),
    bind_names(Named),
    term_variables(Copy-Residual0, Free),
    name_free(Free, 0),
    findall(Binding,
            ( nth1(I, Named, Name=V),
              \+ V = '$VAR'(Name),
              nth1(I, Jsons, J),
              render_term(M, V, BL0, Str),
              (   J == none
              ->  Binding = _{name:Name, prolog:Str}
              ;   Binding = _{name:Name, prolog:Str, json:J}
              )
            ),
            List),
    maplist(strip_residual_module, Residual0, Residual1),
    maplist(unqualify(M), Residual1, Residual),
    BL = Limits.binding_limit,
    render_terms(Residual, M, BL, ResStrings),
    sum_list(Nodes, NodeCost),
    foldl(binding_cost, List, 0, C1),
    foldl(string_cost, ResStrings, C1, C2),
    Cost is NodeCost + C2 + 1.

binding_cost(B, C0, C) :- string_length(B.prolog, L), C is C0 + L + 8.
string_cost(S, C0, C) :- string_length(S, L), C is C0 + L + 4.

render_terms([], _, _, []).
render_terms([G|Gs], M, Limit, [S|Ss]) :-
    render_term(M, G, Limit, S),
    render_terms(Gs, M, Limit, Ss).

pairs_values_eq([], []).
pairs_values_eq([_=V|T], [V|VT]) :- pairs_values_eq(T, VT).
pairs_names_eq([], []).
pairs_names_eq([N=_|T], [N|NT]) :- pairs_names_eq(T, NT).
pairs_eq([], [], []).
pairs_eq([N|NT], [V|VT], [N=V|T]) :- pairs_eq(NT, VT, T).

bind_names([]).
bind_names([Name=V|T]) :-
    (   var(V) -> V = '$VAR'(Name) ; true ),
    bind_names(T).

name_free([], _).
name_free([V|T], I) :-
    free_name(I, Name),
    V = '$VAR'(Name),
    I1 is I + 1,
    name_free(T, I1).

free_name(I, Name) :-
    L is 0'A + I mod 26,
    N is I // 26,
    (   N =:= 0
    ->  format(atom(Name), '_~c', [L])
    ;   format(atom(Name), '_~c~d', [L, N])
    ).

strip_residual_module(_:G, G) :- !.
strip_residual_module(G, G).

%   unqualify(+M, +T0, -T): T0 with M:X replaced by X (residual goals such as
%   freeze/2 mention the temporary module).
unqualify(M, T0, T) :-
    (   cyclic_term(T0)
    ->  T = T0
    ;   unqualify_(M, T0, T)
    ).

unqualify_(_, T, T) :- var(T), !.
unqualify_(M, Q:X0, X) :- Q == M, !, unqualify_(M, X0, X).
unqualify_(M, T0, T) :-
    compound(T0),
    !,
    compound_name_arguments(T0, N, As0),
    maplist(unqualify_(M), As0, As),
    compound_name_arguments(T, N, As).
unqualify_(_, T, T).

render_term(M, T, Limit, Str) :-
    Opts = [ quoted(true), numbervars(true), portray(false),
             spacing(next_argument), cycles(true), module(M) ],
    bounded_text(Limit, write_term(T, Opts), Str, _Truncated).

%!  bounded_text(+MaxChars, :Goal, -String, -Truncated)
%
%   What Goal writes, cut at MaxChars (with "..." appended); writing stops as
%   soon as the limit is passed.

bounded_text(Max, Goal, Str, Truncated) :-
    Key = '$mcp_render',
    nb_setval(Key, capture("", 0, false)),
    setup_call_cleanup(
        ( open_prolog_stream(mcp_sandbox, write, S, []),
          set_stream(S, buffer_size(512)),
          assertz(capture(S, Key, Max-throw))
        ),
        catch(with_output_to_stream(S, Goal), mcp_capture_full, true),
        ( catch(close(S, [force(true)]), _, true),
          retractall(capture(S, _, _))
        )),
    nb_getval(Key, capture(Str0, _, Truncated)),
    nb_delete(Key),
    (   Truncated == true
    ->  string_concat(Str0, "...", Str)
    ;   Str = Str0
    ).

with_output_to_stream(S, Goal) :-
    current_output(Old),
    setup_call_cleanup(set_output(S), once(Goal), (flush_output(S), set_output(Old))).

stream_write(S, Chunk) :-
    (   capture(S, Key, Max-Mode)
    ->  nb_getval(Key, capture(Buf0, Len0, Full)),
        (   Full == true
        ->  true
        ;   string_length(Chunk, CL),
            Len is Len0 + CL,
            (   Len =< Max
            ->  string_concat(Buf0, Chunk, Buf),
                nb_setval(Key, capture(Buf, Len, false))
            ;   Keep is max(0, Max - Len0),
                sub_string(Chunk, 0, Keep, _, Part),
                string_concat(Buf0, Part, Buf),
                nb_setval(Key, capture(Buf, Max, true)),
                (   Mode == throw -> throw(mcp_capture_full) ; true )
            )
        )
    ;   true
    ).

stream_close(_).

%!  with_output_capture(+Max, -Output, -Truncated, :Goal)
%
%   Run Goal with current_output and user_error going to a bounded buffer.
%   user_output stays where the worker put it (/dev/null).

with_output_capture(Max, Output, Truncated, Goal) :-
    Key = '$mcp_output',
    nb_setval(Key, capture("", 0, false)),
    stream_property(Err, alias(user_error)),
    setup_call_cleanup(
        ( open_prolog_stream(mcp_sandbox, write, S, []),
          assertz(capture(S, Key, Max-truncate)),
          current_output(Old),
          set_output(S),
          set_stream(S, alias(user_error))
        ),
        Goal,
        ( set_output(Old),
          set_stream(Err, alias(user_error)),
          catch(close(S, [force(true)]), _, true),
          retractall(capture(S, _, _))
        )),
    nb_getval(Key, capture(Output, _, Truncated)),
    nb_delete(Key).


                 /*******************************
                 *              JSON            *
                 *******************************/

%!  json_of(+Limits, +Value, -Json, -NodesUsed)
%
%   Json is `none` unless Value is ground, acyclic and small: numbers stay
%   numbers (not inf/nan), atoms and strings become strings, proper lists
%   become arrays, other compound terms {"functor": Name, "args": [...]}.

json_of(Limits, V, J, Used) :-
    Max = Limits.json_nodes,
    (   ground(V), acyclic_term(V),
        Budget = budget(Max),
        catch(to_json(V, Budget, J0), _, fail)
    ->  J = J0,
        arg(1, Budget, Left),
        Used is Max - Left
    ;   J = none,
        Used = 0
    ).

to_json(V, B, J) :-
    arg(1, B, N0),
    N0 > 0,
    N is N0 - 1,
    nb_setarg(1, B, N),
    to_json_(V, B, J).

to_json_(V, _, V) :- integer(V), !.
to_json_(V, _, V) :- float(V), !, \+ float_class(V, infinite), \+ float_class(V, nan).
to_json_(V, _, J) :- V == [], !, J = [].
to_json_(V, _, S) :- atom(V), !, atom_string(V, S).
to_json_(V, _, V) :- string(V), !.
to_json_(V, B, J) :- is_list(V), !, to_json_list(V, B, J).
to_json_(V, B, _{functor:F, args:JA}) :-
    compound(V),
    \+ is_dict(V),
    compound_name_arguments(V, Name, Args),
    atom(Name),
    atom_string(Name, F),
    to_json_list(Args, B, JA).

to_json_list([], _, []).
to_json_list([X|Xs], B, [J|Js]) :-
    to_json(X, B, J),
    to_json_list(Xs, B, Js).


                 /*******************************
                 *            ERRORS            *
                 *******************************/

error_result(mcp_error(Kind, Detail), In, Result) :-
    !,
    problem_message(Kind, Detail, In, Msg),
    Result = _{status:"error", error:Msg, error_kind:Kind}.
error_result(E, In, _{status:"error", error:Msg, error_kind:Kind}) :-
    stop_reason(E, In, Kind, Msg).

problem_message(_, Msg, _, Msg).   % the message was made where the problem was found

unsafe_message(error(permission_error(Action, attribute_module, A), _), _, _, Msg) :-
    !,
    attribute_refusal(Action, A, Msg).
unsafe_message(error(permission_error(call, sandboxed, format_directive(D)), Ctx), M, _, Msg) :-
    !,
    user_caller(Ctx, M, Caller),
    format(string(Msg), "the format directive ~w is not allowed~w (its write options can call goals); use ~~w, ~~q, ~~p or ~~a", [D, Caller]).
unsafe_message(error(permission_error(call, sandboxed, G), Ctx), M, _, Msg) :-
    !,
    offender(G, Ctx, M, Offender, Caller),
    goal_pi(Offender, PI),
    (   PI = N/A, denied(N, A, Why)
    ->  format(string(Msg), "~q is not allowed~w: ~w", [PI, Caller, Why])
    ;   PI = N/1, memberchk(N, [assert, asserta, assertz, retract, retractall])
    ->  format(string(Msg), "~q is not allowed here~w: only facts (no rules) of this program's own predicates may be asserted or retracted; the clause must be known when the query starts and cannot be module-qualified", [PI, Caller])
    ;   PI == '[|]'/2
    ->  format(string(Msg), "consulting files ([File]) is not allowed~w; the preloaded libraries are always available", [Caller])
    ;   format(string(Msg), "~q is not allowed~w: no file, OS, network, thread, flag or module-system access from this sandbox", [PI, Caller])
    ).
unsafe_message(error(existence_error(procedure, G), Ctx), M, _, Msg) :-
    !,
    goal_pi(G, PI),
    user_caller(Ctx, M, Caller),
    unknown_procedure_message(PI, Caller, Msg).
unsafe_message(error(instantiation_error, Ctx), M, _, Msg) :-
    !,
    (   Ctx = sandbox(_, [Meta0|_]), nonvar(Meta0), \+ is_control_goal(Meta0)
    ->  goal_pi(Meta0, MetaPI), format(string(Meta), "~q", [MetaPI])
    ;   Meta = "a meta-call"
    ),
    user_caller(Ctx, M, Caller),
    format(string(Msg), "cannot verify ~w~w: the goal it calls is only known at run time. Meta-calls (call/N, findall/3, maplist/N, ...) must name the called predicate in the query or program text; calling a goal held in a variable, built with =.. or read from text (atom_to_term/3, term_to_atom/2) is not allowed", [Meta, Caller]).
unsafe_message(error(type_error(callable, G), _), _, _, Msg) :-
    !,
    format(string(Msg), "type_error(callable, ~W): this cannot be called as a goal", [G, [quoted(true), max_depth(8)]]).
unsafe_message(E, _, In, Msg) :-
    stop_reason(E, In, _, Msg).

unknown_procedure_message(PI, Caller, Msg) :-
    format(string(Msg), "unknown procedure ~q~w: no predicate of that name and arity is defined by the program, the knowledge bases, the built-ins or the preloaded libraries (check the spelling and the arity; declare it with :- dynamic ~q. if it should simply fail until something is asserted)", [PI, Caller, PI]).

%   offender(+Goal, +Ctx, +M, -Offender, -Caller): the refused predicate as
%   the user's code called it (shell/1 rather than the shell/2 it calls),
%   and " (called from p/1)" when that call is in a user predicate.
offender(G, sandbox(_, Parents), M, Offender, Caller) :-
    nonvar(Parents),
    !,
    reverse(Parents, TopDown0),
    exclude(is_control_goal, TopDown0, TopDown),
    (   append(Before, [First|_], TopDown),
        \+ user_goal(First, M),
        \+ meta_goal(First, M)
    ->  Offender = First,
        (   user_goals(Before, M, Users),
            last(Users, U)
        ->  goal_pi(U, UPI), format(string(Caller), " (called from ~q)", [UPI])
        ;   Caller = ""
        )
    ;   Offender = G,
        (   last(TopDown, U), user_goal(U, M)
        ->  goal_pi(U, UPI), format(string(Caller), " (called from ~q)", [UPI])
        ;   Caller = ""
        )
    ).
offender(G, _, _, G, "").

user_goals([], _, []).
user_goals([G|Gs], M, Us) :-
    (   user_goal(G, M) -> Us = [G|Us1] ; Us = Us1 ),
    user_goals(Gs, M, Us1).

meta_goal(G, M) :-
    strip_module(M:G, Q, P),
    callable(P),
    catch(predicate_property(Q:P, meta_predicate(Spec)), _, fail),
    arg(_, Spec, S),
    meta_spec(S, _),
    !.

user_caller(sandbox(_, Parents), M, Caller) :-
    nonvar(Parents),
    member(P, Parents),
    user_goal(P, M),
    !,
    goal_pi(P, PI),
    format(string(Caller), " (called from ~q)", [PI]).
user_caller(_, _, "").

%   A predicate the program or a knowledge base defined (all are dynamic:
%   they were added with assertz/1).
user_goal(G, _) :- var(G), !, fail.
user_goal(Q:G, M) :- !, Q == M, user_goal(G, M).
user_goal(G, M) :-
    callable(G),
    \+ is_control_goal(G),
    predicate_property(M:G, dynamic),
    \+ predicate_property(M:G, imported_from(_)).

is_control_goal(G) :- var(G), !.
is_control_goal(_:G) :- !, is_control_goal(G).
is_control_goal((_,_)).
is_control_goal((_;_)).
is_control_goal((_->_)).
is_control_goal((_*->_)).
is_control_goal(\+(_)).

%   goal_pi(+Goal, -PI): Name/Arity of a goal or predicate indicator, as a
%   term whose ~q rendering reads naturally ('@'/2 rather than @ / 2).
goal_pi(G, PI) :-
    strip_module(G, _, P),
    (   P = N/A, atom(N), integer(A)
    ->  PI = N/A
    ;   callable(P)
    ->  functor(P, N, A), PI = N/A
    ;   PI = P
    ).

%!  stop_reason(+Exception, +In, -Kind, -Message)

stop_reason(time_limit_exceeded, In, "time_limit", Msg) :-
    !,
    format(string(Msg), "stopped after ~w s (time limit); the query may loop forever or need a smaller search space", [In.time_limit]).
stop_reason('$aborted', In, "time_limit", Msg) :-
    !,
    format(string(Msg), "stopped after ~w s (time limit; the query caught the time-limit exception and was aborted)", [In.time_limit]).
stop_reason(inference_limit_exceeded, In, "inference_limit", Msg) :-
    !,
    format(string(Msg), "stopped after ~D inferences (inference limit); the query may loop forever or need a smaller search space", [In.inference_limit]).
stop_reason(error(permission_error(Action, attribute_module, A), _), _, "refused", Msg) :-
    !,
    attribute_refusal(Action, A, Msg).
stop_reason(error(resource_error(R), _), _, "resource", Msg) :-
    !,
    current_prolog_flag(stack_limit, Bytes),
    MB is Bytes // (1024*1024),
    (   memberchk(R, [memory])
    ->  format(string(Msg), "out of memory (resource_error(~q)): the query asserts too many clauses or builds terms, lists or findall/3 results that are too large", [R])
    ;   format(string(Msg), "stack limit exceeded (~D MB, resource_error(~q)): probably infinite recursion, or a term or list too large", [MB, R])
    ).
stop_reason(error(existence_error(procedure, PI0), _), _, "existence", Msg) :-
    !,
    goal_pi(PI0, PI),
    unknown_procedure_message(PI, "", Msg).
stop_reason(error(instantiation_error, Ctx), _, "instantiation", Msg) :-
    !,
    context_pi(Ctx, Where),
    format(string(Msg), "instantiation_error~w: an argument was an unbound variable where a value is needed (e.g. X is Y + 1 with Y unbound); bind it first or reorder the goals", [Where]).
stop_reason(error(type_error(T, V), Ctx), _, "type", Msg) :-
    !,
    context_pi(Ctx, Where),
    type_explanation(T, V, Expl),
    format(string(Msg), "type_error(~W, ~W)~w: ~w",
           [T, [quoted(true), max_depth(8)], V, [quoted(true), max_depth(8)], Where, Expl]).
stop_reason(E, _, "error", Msg) :-
    E = error(_, _),
    catch(message_text(E, _), _, fail),  % else the term itself, below
    !,
    error_text(E, Msg).
stop_reason(E, _, "exception", Msg) :-
    format(string(Msg), "uncaught exception: ~W", [E, [quoted(true), max_depth(12), portray(false)]]).

context_pi(Ctx, Where) :-
    nonvar(Ctx),
    Ctx = context(PI0, _),
    nonvar(PI0),
    goal_pi(PI0, PI),
    PI = N/_, atom(N),
    !,
    format(string(Where), " in ~q", [PI]).
context_pi(_, "").

type_explanation(evaluable, F, Expl) :-
    !,
    format(string(Expl), "~W is not an arithmetic function (is/2, =:=, < and friends evaluate only numbers and functions such as +, *, max/2, sqrt/1; atoms are not numbers)", [F, [quoted(true), max_depth(8)]]).
type_explanation(T, V, Expl) :-
    format(string(Expl), "expected a value of type ~W, got ~W", [T, [quoted(true), max_depth(8)], V, [quoted(true), max_depth(8)]]).

%!  error_text(+Error, -Text)
%
%   SWI-Prolog's own one-line rendering of an error term.

error_text(E, Text) :-
    catch(message_text(E, S0), _, fail),
    !,
    split_string(S0, "\n", " \t", Lines0),
    exclude(==(""), Lines0, Lines),
    atomic_list_concat(Lines, ' ', Text0),
    atom_string(Text0, Text).
error_text(E, Text) :-
    format(string(Text), "~W", [E, [quoted(true), max_depth(12)]]).

%   SWI-Prolog prints the culprit of an error in full: cut at 1500 characters.
message_text(E, Text) :-
    '$messages':translate_message(E, Lines, []),
    maplist(inert_line, Lines),
    bounded_text(1500, print_message_lines(current_output, '', Lines), Text, _).

%   inert_line(+Line): a message line element whose format cannot call a goal
%   (~@) or pass write options (~W). A message with any other element is not
%   printed: the caller gets the term itself (error_text/2, stop_reason/4).
inert_line(Fmt-Args) :-
    !,
    inert_format(Fmt),
    is_list(Args).
inert_line(ansi(_Attr, Fmt, Args)) :-
    !,
    inert_format(Fmt),
    is_list(Args).
inert_line(E) :-
    atom(E),
    memberchk(E, [nl, flush, full_stop, at_same_line]),
    !.
inert_line(Fmt) :-
    (   atom(Fmt) ; string(Fmt) ),
    !,
    inert_format(Fmt).

inert_format(F) :-
    format_text(F, Codes),
    \+ format_directive(Codes, 0'@),
    \+ format_directive(Codes, 0'W).


                 /*******************************
                 *            CHECK             *
                 *******************************/

%!  mcp_check(+InJSON, -OutJSON) is det.
%
%   Parse a program in a temporary module (operators it declares apply to
%   the rest of it) without running anything. Reports syntax errors and
%   refused terms with their lines, the predicates defined, and, for each
%   predicate, what library(sandbox) thinks of its bodies: calls that would
%   be refused are errors, calls of unknown procedures are warnings.

mcp_check(InText, OutText) :-
    atom_json_dict(InText, In, [value_string_as(string)]),
    catch(setup_call_cleanup(
              temporary_module(M),
              with_watchdogs(In, check_in_module(M, In, Result)),
              ( destroy_temporary_module(M), reset_shared_state )),
          E,
          ( check_failure_message(E, In, Msg),
            Result = _{ok:false, errors:[_{line:null, message:Msg, source:"program"}],
                       warnings:[], predicates:[], clauses:0}
          )),
    atom_json_dict(OutText, Result, [as(string), width(0)]).

check_failure_message(time_limit_exceeded, In, Msg) :-
    !,
    format(string(Msg), "checking the program took longer than ~w s", [In.time_limit]).
check_failure_message(E, In, Msg) :-
    (   catch(stop_reason(E, In, _, Msg0), _, fail)
    ->  Msg = Msg0
    ;   error_text(E, Msg)
    ).

check_in_module(M, In, Result) :-
    load_sources(M, In, check, _ReadOpts, Errors0, Preds),
    findall(PI, member(PI-_, Preds), PIs),
    foldl(check_predicate(M), Preds, Errors0-[], Errors1-Warnings0),
    sort(line, @=<, Errors1, Errors),
    sort(line, @=<, Warnings0, Warnings),
    findall(S, (member(N/A, PIs), format(string(S), "~w/~w", [N, A])), PredStrings),
    aggregate_all(count, (member(N/A, PIs), functor(H, N, A), clause(M:H, _)), NClauses),
    (   Errors == [] -> OK = true ; OK = false ),
    Result = _{ok:OK, errors:Errors, warnings:Warnings, predicates:PredStrings, clauses:NClauses}.

check_predicate(M, (N/A)-(Where:Line), Errs0-Warns0, Errs-Warns) :-
    functor(Head, N, A),
    where_json(Where, WJ),
    (   catch(safe_goal(M:Head), E, true)
    ->  true
    ;   E = failed
    ),
    (   var(E)
    ->  Errs = Errs0
    ;   E = error(instantiation_error, _)
    ->  format(string(Msg), "~q makes a call that cannot be verified before running (a meta-call of a goal built at run time); queries reaching it will be refused", [N/A]),
        append(Errs0, [_{line:Line, message:Msg, source:WJ}], Errs)
    ;   unsafe_message(E, M, _{}, Msg)
    ->  append(Errs0, [_{line:Line, message:Msg, source:WJ}], Errs)
    ;   Errs = Errs0
    ),
    unknown_callees(M, Head, Unknown),
    findall(_{line:Line, message:W, source:WJ},
            ( member(PI, Unknown),
              format(string(W), "~q calls unknown procedure ~q", [N/A, PI])
            ),
            New),
    append(Warns0, New, Warns).

%!  unknown_callees(+M, +Head, -PIs) is det.
%
%   Predicates called from the clauses of Head that are neither defined
%   nor visible (built-in, library, autoloadable).

unknown_callees(M, Head, PIs) :-
    findall(PI,
            ( clause(M:Head, Body),
              callee(Body, M, 0, G),
              \+ predicate_property(M:G, visible),
              functor(G, GN, GA),
              PI = GN/GA
            ),
            PIs0),
    sort(PIs0, PIs).

callee(G, _, _, _) :- var(G), !, fail.
callee(_:_, _, _, _) :- !, fail.
callee(G, M, Extra, C) :-
    callable(G),
    (   Extra =:= 0, control(G)
    ->  arg(_, G, Sub),
        callee(Sub, M, 0, C)
    ;   extend(G, Extra, G1),
        (   C = G1
        ;   meta_args(G, Extra, M, Metas),
            member(Sub-E, Metas),
            integer(E),
            callee(Sub, M, E, C)
        )
    ).
