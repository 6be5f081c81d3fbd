"""The scorer on BFCL-style edge cases: coercion, optional and default args, nesting, parallel calls."""

from __future__ import annotations

import itertools
import math
import re

import pytest

from mcpfleet.evals.scoring import (
    ActualCall,
    ExpectedCall,
    Matcher,
    check_call,
    check_calls,
    pass_hat_k,
    percentile,
    schema_errors,
    values_equal,
    wilson_interval,
)

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expression", "operation"],
    "properties": {
        "expression": {"type": "string"},
        "operation": {"enum": ["diff", "integrate"], "type": "string"},
        "order": {"type": "integer", "default": 1, "minimum": 1},
        "variable": {"type": "string", "default": ""},
        "point": {"type": "object", "default": {}},
    },
}


def expected(args: dict, name: str = "calc", **kw) -> ExpectedCall:
    return ExpectedCall.parse({"name": name, "args": args, **kw})


def actual(args, name: str = "calc") -> ActualCall:
    return ActualCall.from_raw(name, args if isinstance(args, str) else __import__("json").dumps(args))


@pytest.mark.parametrize(
    "a, b, equal",
    [
        (3, 3.0, True),
        (3, 3.5, False),
        ("3", 3, False),
        (True, 1, False),
        (False, 0, False),
        (None, None, True),
        (None, 0, False),
        ([1, 2], [1.0, 2.0], True),
        ([1, 2], [2, 1], False),
        ({"a": [1, {"b": 2}]}, {"a": [1.0, {"b": 2}]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ("x", "X", False),
    ],
)
def test_exact_coercion_rules(a, b, equal):
    assert values_equal(a, b) is equal
    assert (Matcher.parse({"exact": a}).check(b) is None) is equal


def test_bare_values_are_exact_matchers_and_dicts_without_matcher_keys_are_objects():
    assert Matcher.parse(5) == Matcher("exact", 5)
    assert Matcher.parse({"y(0)": "0"}).kind == "exact"
    assert Matcher.parse({"y(0)": "0"}).check({"y(0)": "0"}) is None
    assert Matcher.parse([[1, 2], [3, 4]]).check([[1.0, 2], [3, 4]]) is None


def test_text_ignores_case_and_whitespace_but_not_content():
    m = Matcher.parse({"text": ["x^2 - 5x + 6 = 0", "x**2-5*x+6=0"]})
    assert m.check("  X^2-5x +6 =0 ") is None
    assert m.check("x**2 - 5*x + 6 = 0") is None
    assert m.check("x^2 - 5x + 7 = 0") is not None
    assert m.check(["x^2 - 5x + 6 = 0"]) is not None  # a list is not a string


def test_one_of_number_regex_search():
    assert Matcher.parse({"one_of": ["real", "complex"]}).check("real") is None
    assert Matcher.parse({"one_of": ["real", "complex"]}).check("Real") is not None
    num = Matcher.parse({"number": 1.96, "tol": 0.01})
    assert num.check(1.955) is None and num.check(1.9) is not None
    assert num.check("1.96") is not None and num.check(True) is not None  # numeric strings and bools are not numbers
    assert Matcher.parse({"number": 2}).check(2.0) is None
    assert Matcher.parse({"regex": "ancestor\\(\\s*X\\s*,\\s*jim\\s*\\)"}).check("ancestor(X, jim)") is None
    assert Matcher.parse({"regex": "ancestor\\(X, jim\\)"}).check("ancestor(X, jim), true") is not None  # fullmatch
    assert Matcher.parse({"search": "jim"}).check("ancestor(X, jim), true") is None


def test_set_and_contains():
    s = Matcher.parse({"set": ["x + y = 10", "x - y = 2"]})
    assert s.check(["X-Y=2", "x+y=10"]) is None  # order-insensitive, elements text-compared
    assert s.check(["x + y = 10"]) is not None
    assert s.check(["x + y = 10", "x - y = 2", "x = 1"]) is not None
    assert Matcher.parse({"set": [1, 2]}).check([2.0, 1]) is None
    c = Matcher.parse({"contains": ["x + y <= 4"]})
    assert c.check(["x >= 0", "x+y<=4"]) is None and c.check(["x >= 0"]) is not None
    assert Matcher.parse({"contains": ["kubectl", "apply"]}).check("Run KUBECTL  apply -f x") is None
    assert Matcher.parse({"any": True}).check(None) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"exact": 1, "text": "a"},
        {"regex": "("},
        {"number": "3"},
        {"set": "a"},
        {"text": 3},
        {"one_of": [1], "bogus": 1},
    ],
)
def test_malformed_matchers_are_rejected(raw):
    with pytest.raises((ValueError, re.error)):  # load_file turns both into one ConfigError line
        Matcher.parse(raw)


def test_required_optional_and_unexpected_arguments():
    e = expected({"expression": {"text": "x^2"}, "operation": "diff", "order": {"exact": 2, "optional": True}})
    assert check_call(e, actual({"expression": "x^2", "operation": "diff"}), SCHEMA).ok  # optional omitted
    assert check_call(e, actual({"expression": "x^2", "operation": "diff", "order": 2}), SCHEMA).ok
    bad = check_call(e, actual({"expression": "x^2", "operation": "diff", "order": 3}), SCHEMA)
    assert not bad.ok and "order" in bad.errors[0]  # an optional argument, if present, must match
    missing = check_call(e, actual({"expression": "x^2"}), SCHEMA)
    assert not missing.ok and "missing argument 'operation'" in missing.errors[0]
    extra = check_call(e, actual({"expression": "x^2", "operation": "diff", "verbose": True}), SCHEMA)
    assert not extra.ok and "unexpected argument 'verbose'" in extra.errors[0]


def test_schema_default_values_are_not_unexpected_but_other_values_are():
    e = expected({"expression": "x", "operation": "diff"})
    assert check_call(e, actual({"expression": "x", "operation": "diff", "variable": "", "point": {}}), SCHEMA).ok
    assert check_call(e, actual({"expression": "x", "operation": "diff", "order": 1.0}), SCHEMA).ok  # 1.0 == default 1
    assert not check_call(e, actual({"expression": "x", "operation": "diff", "variable": "y"}), SCHEMA).ok
    assert check_call(
        expected({"expression": "x", "operation": "diff"}, allow_extra_args=True),
        actual({"expression": "x", "operation": "diff", "variable": "y"}),
        SCHEMA,
    ).ok


def test_wrong_name_and_bad_json():
    e = expected({"expression": "x", "operation": "diff"})
    assert "expected 'calc'" in check_call(e, actual({"expression": "x", "operation": "diff"}, "calc_v2")).errors[0]
    broken = ActualCall.from_raw("calc", '{"expression": "x", "operation": "di')
    assert broken.args is None and not check_call(e, broken).ok
    assert ActualCall.from_raw("calc", "[1, 2]").parse_error == "arguments are not a JSON object"
    # json.loads raises a plain ValueError (no .msg) for an integer past Python's 4300-digit limit
    huge = ActualCall.from_raw("calc", '{"expression": ' + "1" * 5000 + "}")
    assert huge.args is None and "not valid JSON" in str(huge.parse_error) and "4300" in str(huge.parse_error)
    assert ActualCall.from_raw("calc", "").args == {}  # no arguments at all
    assert ActualCall.from_raw("calc", {"expression": "x"}).args == {"expression": "x"}  # object instead of string


def test_nested_objects_and_lists():
    e = ExpectedCall.parse({"name": "ode", "args": {"ics": {"y(0)": "0", "y'(0)": "1"}, "m": [[1, 2], [3, 4]]}})
    assert check_call(e, actual({"ics": {"y'(0)": "1", "y(0)": "0"}, "m": [[1, 2.0], [3, 4]]}, "ode")).ok
    assert not check_call(e, actual({"ics": {"y(0)": 0, "y'(0)": "1"}, "m": [[1, 2], [3, 4]]}, "ode")).ok
    assert not check_call(e, actual({"ics": {"y(0)": "0", "y'(0)": "1"}, "m": [[1, 2], [4, 3]]}, "ode")).ok


def test_schema_validity_is_reported_apart_from_correctness():
    ok = actual({"expression": "x", "operation": "diff", "order": 2})
    assert schema_errors(ok, SCHEMA) == []
    assert any(
        "'fly' is not one of" in e for e in schema_errors(actual({"expression": "x", "operation": "fly"}), SCHEMA)
    )
    assert schema_errors(actual({"expression": "x"}), SCHEMA)  # required operation missing
    assert schema_errors(actual({"expression": "x", "operation": "diff", "order": 0}), SCHEMA)
    assert "no tool named" in schema_errors(actual({}, "nope"), None)[0]
    # a call can be schema-valid and wrong, or right by the matchers and schema-invalid
    e = expected({"expression": "x", "operation": "diff"}, allow_extra_args=True)
    extra = actual({"expression": "x", "operation": "diff", "colour": "red"})
    assert check_call(e, extra, SCHEMA).ok and schema_errors(extra, SCHEMA)


def test_parallel_calls_match_in_any_order_as_a_multiset():
    calls = [expected({"expression": "x^3", "operation": op}) for op in ("diff", "integrate")]
    made = [actual({"expression": "x^3", "operation": op}) for op in ("integrate", "diff")]
    assert check_calls(calls, made, {"calc": SCHEMA}).ok
    for perm in itertools.permutations(made):
        assert check_calls(calls, list(perm), {"calc": SCHEMA}).ok
    dup = [actual({"expression": "x^3", "operation": "diff"})] * 2
    assert not check_calls(calls, dup, {"calc": SCHEMA}).ok  # a duplicate is not the other call
    assert "expected 2 call(s), got 1" in check_calls(calls, made[:1], {}).errors[0]
    assert not check_calls(calls[:1], made[1:] + made[1:], {}).ok  # the right call twice is wrong


def test_matching_needs_a_perfect_assignment_not_a_greedy_one():
    # the first actual call satisfies both expectations; only one assignment works
    loose = expected({"expression": {"any": True}, "operation": "diff"})
    tight = expected({"expression": "x", "operation": "diff"})
    made = [actual({"expression": "x", "operation": "diff"}), actual({"expression": "y", "operation": "diff"})]
    assert check_calls([tight, loose], made, {}).ok
    assert check_calls([loose, tight], made, {}).ok


def test_irrelevance_means_no_call():
    assert check_calls([], [], {}).ok
    assert not check_calls([], [actual({})], {}).ok


def test_pass_hat_k_is_taus_estimator():
    trials = [[True, True, True], [True, False, True], [False, False, False]]
    assert pass_hat_k(trials, 1) == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert pass_hat_k(trials, 2) == pytest.approx((1 + math.comb(2, 2) / math.comb(3, 2) + 0) / 3)
    assert pass_hat_k(trials, 3) == pytest.approx(1 / 3)
    assert pass_hat_k(trials, 4) is None


def test_wilson_interval_and_percentiles():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo < 1.0
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 99) == 5 and percentile([], 50) is None


def test_normalised_strings_follow_bfcl_standardize():
    m = Matcher.parse({"normalised": ["April 1, 2024", "2024-04-01"]})
    assert m.check("april 1 2024") is None and m.check("APRIL_1,2024.") is None and m.check("20240401") is None
    assert m.check("April 2, 2024") is not None and m.check("April 1, 2024!") is not None
    assert Matcher.parse({"normalised": "it's"}).check('IT"S') is None  # ' read as ", as BFCL does
    assert m.check(20240401) is not None  # a number is not a string


def test_integer_is_strict():
    m = Matcher.parse({"integer": [10, 20]})
    assert m.check(10) is None and m.check(20) is None
    assert m.check(10.0) is not None and m.check(True) is not None and m.check("10") is not None
    assert Matcher.parse({"one_of": [10]}).check(10.0) is None  # one_of compares numbers by value


def test_items_keys_and_any_of_nest():
    m = Matcher.parse(
        {
            "any_of": [
                {"items": [{"normalised": "New York"}, {"integer": 3}]},
                {"keys": {"city": {"normalised": "NYC"}, "days": {"integer": 3, "optional": True}}},
            ]
        }
    )
    assert m.check(["new-york", 3]) is None
    assert m.check(["new york", 3.0]) is not None and m.check([3, "new york"]) is not None  # in order, strict
    assert m.check({"city": "nyc"}) is None and m.check({"city": "N.Y.C.", "days": 3}) is None
    assert m.check({"city": "nyc", "days": 4}) is not None
    assert m.check({"city": "nyc", "extra": 1}) is not None  # no other key
    assert m.check({"days": 3}) is not None  # a required key is missing
    assert Matcher.parse(m.to_json()) == m and m.literals() == [["New York", 3], {"city": "NYC"}]


@pytest.mark.parametrize(
    "raw", [{"integer": 1.5}, {"normalised": 3}, {"items": "x"}, {"keys": ["a"]}, {"any_of": {"exact": 1}}]
)
def test_malformed_nested_matchers_are_rejected(raw):
    with pytest.raises(ValueError):
        Matcher.parse(raw)
