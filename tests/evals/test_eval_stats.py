"""Case-level statistics: intervals over cases, pass^k's own interval, faults kept out, paired tests
(checked against scipy where scipy has the same test)."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from mcpfleet.evals.report import summarise
from mcpfleet.evals.scoring import wilson_interval
from mcpfleet.evals.stats import accuracy_interval, case_accuracy, paired, pass_k_interval, sign_test


def row(case: str, ok: bool, repeat: int = 0, stream: bool = False, fault: str | None = None, **kw) -> dict:
    return {
        "model": "m",
        "case": case,
        "server": "math",
        "category": "simple",
        "repeat": repeat,
        "stream": stream,
        "scores": {"success": ok, "schema_ok": ok, "errors": []},
        "fault": fault,
        "faults": [{"kind": "endpoint_error"}] if fault == "endpoint" else [],
        "error": "HTTP 503" if fault else None,
        "calls": [],
        **kw,
    }


def test_repeats_do_not_narrow_the_interval():
    one = {f"c{i}": [i % 2 == 0] for i in range(50)}
    five = {c: v * 5 for c, v in one.items()}
    assert accuracy_interval(five) == accuracy_interval(one) == wilson_interval(25, 50)
    pooled_as_trials = wilson_interval(125, 250)  # what treating repeats as independent would claim
    assert pooled_as_trials[1] - pooled_as_trials[0] < 0.5 * (accuracy_interval(five)[1] - accuracy_interval(five)[0])


def test_accuracy_is_the_mean_of_per_case_rates():
    trials = {"a": [True, True, False, False], "b": [True], "c": [False, False]}
    assert case_accuracy(trials) == pytest.approx((0.5 + 1 + 0) / 3)
    lo, hi = accuracy_interval(trials)
    assert lo < 0.5 < hi


def test_pass_k_has_its_own_interval():
    trials = {"a": [True, True, True], "b": [True, False, True], "c": [False, False, False], "d": [True] * 3}
    lo, hi = pass_k_interval(trials, 3)
    assert lo < 0.5 < hi and (lo, hi) == wilson_interval(2, 4)  # two of four cases pass all three


def test_an_endpoint_error_is_a_fault_not_a_failure():
    rows = [row(f"c{i}", True, r) for i in range(10) for r in range(3)]
    rows[4] = row("c1", False, 1, fault="endpoint")  # one 503 after the retries
    run = summarise("", "m", rows)
    assert run.errors == 1 and run.overall.trials == 29
    assert run.overall.accuracy == 1.0
    assert run.overall.pass_k == 1.0 and run.overall.k == 2  # c1 has two measured trials left


def test_streamed_and_plain_trials_are_trials_of_one_case():
    rows = [row(f"c{i}", i < 6, 0, stream) for i in range(10) for stream in (False, True)]
    run = summarise("", "m", rows)
    assert run.overall.cases == 10 and run.overall.k == 2
    assert run.overall.ci == wilson_interval(6, 10)
    assert run.disagreement == (0, 10)


@pytest.mark.parametrize("a, b", [(0, 0), (1, 0), (7, 2), (3, 12), (20, 20), (0, 9)])
def test_the_sign_test_is_mcnemars_exact_test(a, b):
    want = 1.0 if a + b == 0 else binomtest(a, a + b, 0.5).pvalue
    assert sign_test(a, b) == pytest.approx(want, rel=1e-12)


def test_a_paired_comparison_counts_only_cases_both_measured():
    a = {f"c{i}": [True] for i in range(30)}
    b = {f"c{i}": [i >= 12] for i in range(30)}
    b["only-b"] = [False]
    a["c0"] = []  # faulted away in A
    result = paired(a, b)
    assert result.cases == 29 and (result.a_better, result.b_better) == (11, 0)
    assert result.p_value == pytest.approx(binomtest(11, 11, 0.5).pvalue)
    assert result.significant and 0 < result.interval[0] <= result.difference <= result.interval[1]
    assert paired(a, b) == result  # the bootstrap has a fixed seed
    assert result.verdict("A", "B").startswith("A is better than B")
    tie = paired(a, a)
    assert not tie.significant and tie.verdict("A", "A2").startswith("No significant difference")
