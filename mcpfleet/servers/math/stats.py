"""Statistics: descriptive statistics, classical tests, simple regression, and distributions.

Two entry points, both returning plain data (no numpy types: results cross a process boundary):

- `stats(operation, data, data2, groups, mu, alpha, confidence, equal_var, method, alternative)`
  — describe, ttest_1samp, ttest_ind, ttest_paired, anova, chi2_contingency (the table's rows in
  `groups`), chi2_goodness (observed counts in `data`, expected counts or proportions in `data2`),
  correlation, regression, confidence_interval.
- `distribution(name, params, operation, at)` — pdf/pmf, cdf, sf, ppf, isf, mean, variance, std,
  median, interval for 14 distributions, with the parametrisation stated in every result.

Numbers in results: finite floats as floats; +/-infinity as the strings "inf"/"-inf"; an
undefined value (NaN, e.g. the skewness of constant data) as None, with a note saying so — JSON
cannot carry NaN or infinity. The test statistics use the textbook formulas directly (scipy only
supplies the t/F/chi-square tail probabilities), so each number is traceable to a formula.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mcpfleet.servers.math.parser import MathInputError

MAX_VALUES = 1_000_000  # data points per call, across all inputs
MAX_AT = 10_000  # points at which a distribution is evaluated per call
MAX_MODES = 20  # modes listed (a uniform sample has as many modes as values)
_NAN_NOTE = "None marks a value that is undefined for this input (NaN)"


# ================================================================================================
# stats()
# ================================================================================================


@dataclass
class _Args:
    data: Any
    data2: Any
    groups: Any
    mu: Any
    alpha: float
    confidence: float
    equal_var: bool
    method: str
    alternative: str
    notes: list[str]


def stats(
    operation: str,
    data: Any = None,
    data2: Any = None,
    groups: Any = None,
    table: Any = None,
    observed: Any = None,
    expected: Any = None,
    mu: Any = None,
    alpha: Any = 0.05,
    confidence: Any = 0.95,
    equal_var: Any = True,
    method: str = "pearson",
    alternative: str = "two-sided",
) -> dict[str, Any]:
    """Run one statistical operation; see the module docstring for the list.

    Every result has "operation" and a one-line "text"; tests also give "p_value",
    "alternative", "alpha" and "reject_null" (p < alpha). `observed`/`expected` (chi2_goodness)
    and `table` (chi2_contingency) may be given instead of data/data2 and groups.
    """
    op = _stats_operation(operation)
    # The math_stats tool has no observed/expected/table parameters (each costs tokens on every
    # turn): chi2 reads them from data/data2 and groups. Direct callers may still name them.
    if op == "chi2_goodness" and data is None and data2 is None:
        data, data2, observed, expected = observed, expected, None, None
    elif op == "chi2_contingency" and groups is None:
        groups, table = table, None
    notes: list[str] = []
    args = _Args(
        data,
        data2,
        groups,
        mu,
        _unit(alpha, "alpha", notes, percent=False),
        _unit(confidence, "confidence", notes, percent=True),
        _bool(equal_var, "equal_var"),
        method,
        _alternative(alternative),
        notes,
    )
    handler, used = _STATS[op]
    given = {
        "data": data,
        "data2": data2,
        "groups": groups,
        "table": table,
        "observed": observed,
        "expected": expected,
        "mu": mu,
    }
    # mu = 0 is the neutral value a client may send by default; only a real choice is worth a note.
    ignored = [k for k, v in given.items() if v is not None and k not in used and not (k == "mu" and v == 0)]
    if ignored:
        notes.append(f"ignored for {op}: {', '.join(ignored)}")
    result = {"operation": op, **handler(args)}
    return _finish(result, notes)


# --- descriptive ----------------------------------------------------------------------------------


def _describe(a: _Args) -> dict[str, Any]:
    from scipy import stats as st

    x = _numbers(a.data, "data", 1)
    n = x.size
    q1, median, q3 = np.percentile(x, [25, 50, 75], method="linear")
    values, counts = np.unique(x, return_counts=True)
    top = int(counts.max())
    modes = values[counts == top]
    out: dict[str, Any] = {
        "n": n,
        "sum": float(np.sum(x)),
        "mean": float(np.mean(x)),
        "median": float(median),
        "modes": [] if (top == 1 and n > 1) else modes[:MAX_MODES].tolist(),
        "mode_count": top,
        "variance_sample": float(np.var(x, ddof=1)) if n > 1 else None,
        "variance_population": float(np.var(x)),
        "std_sample": float(np.std(x, ddof=1)) if n > 1 else None,
        "std_population": float(np.std(x)),
        "sem": float(np.std(x, ddof=1) / math.sqrt(n)) if n > 1 else None,
        "min": float(x.min()),
        "max": float(x.max()),
        "range": float(x.max() - x.min()),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
    }
    constant = out["variance_population"] == 0
    out["skewness"] = float(st.skew(x, bias=False)) if n >= 3 and not constant else None
    out["skewness_population"] = float(st.skew(x, bias=True)) if not constant else None
    out["kurtosis_excess"] = float(st.kurtosis(x, fisher=True, bias=False)) if n >= 4 and not constant else None
    out["kurtosis_excess_population"] = float(st.kurtosis(x, fisher=True, bias=True)) if not constant else None
    out["conventions"] = {
        "quartiles": "linear interpolation between order statistics: numpy 'linear' = Excel QUARTILE.INC = R type 7",
        "variance_sample": "divides by n-1; variance_population divides by n",
        "skewness": "bias-corrected sample skewness G1 (Excel SKEW, pandas); skewness_population is g1 (biased)",
        "kurtosis_excess": "excess kurtosis (normal = 0), bias-corrected G2 (Excel KURT, pandas); "
        "kurtosis_excess_population is g2 (biased)",
        "modes": "all most frequent values; empty when every value occurs once",
    }
    if top == 1 and n > 1:
        a.notes.append("no mode: every value occurs once")
    elif modes.size > MAX_MODES:
        a.notes.append(f"{modes.size} values tie as modes; the first {MAX_MODES} are listed")
    missing = [k for k in ("skewness", "kurtosis_excess") if out[k] is None]
    if missing:
        a.notes.append(
            f"{' and '.join(missing)} not defined here: the bias-corrected skewness needs n >= 3, "
            "the kurtosis n >= 4, and both need data that is not constant"
        )
    sd = out["std_sample"]
    out["text"] = (
        f"n={n}, mean={_g(out['mean'])}, median={_g(out['median'])}, "
        f"sd={_g(sd) if sd is not None else 'n/a'} (sample), sd={_g(out['std_population'])} (population), "
        f"min={_g(out['min'])}, Q1={_g(out['q1'])}, Q3={_g(out['q3'])}, max={_g(out['max'])}"
    )
    return out


def _confidence_interval(a: _Args) -> dict[str, Any]:
    from scipy import stats as st

    x = _numbers(a.data, "data", 2)
    n, mean, sd = x.size, float(np.mean(x)), float(np.std(x, ddof=1))
    se = sd / math.sqrt(n)
    t_crit = float(st.t.ppf((1 + a.confidence) / 2, n - 1))
    margin = t_crit * se
    return {
        "method": "t-based interval for the mean: mean ± t(1-(1-confidence)/2, n-1) · s/√n",
        "n": n,
        "mean": mean,
        "sd": sd,
        "se": se,
        "df": n - 1,
        "confidence": a.confidence,
        "t_critical": t_crit,
        "margin_of_error": margin,
        "lower": mean - margin,
        "upper": mean + margin,
        "interval": [mean - margin, mean + margin],
        "text": f"{_pct(a.confidence)} CI for the mean: [{_g(mean - margin)}, {_g(mean + margin)}] "
        f"(mean {_g(mean)} ± {_g(margin)}, n={n})",
    }


# --- t-tests --------------------------------------------------------------------------------------


def _ttest_1samp(a: _Args) -> dict[str, Any]:
    x = _numbers(a.data, "data", 2)
    mu = _mu(a)
    n, mean, sd = x.size, float(np.mean(x)), float(np.std(x, ddof=1))
    se = sd / math.sqrt(n)
    _nonzero_se(se, "all values in data are equal")
    t = (mean - mu) / se
    ci = _t_interval(mean, se, n - 1, a.confidence, a.alternative)
    return _test_result(
        a,
        "one-sample t-test",
        t,
        n - 1,
        extra={
            "mu": mu,
            "n": n,
            "mean": mean,
            "sd": sd,
            "se": se,
            "mean_difference": mean - mu,
            "cohens_d": (mean - mu) / sd,
            "confidence_interval": ci,
            "confidence_interval_of": "mean",
        },
        about=f"mean {_g(mean)} vs mu {_g(mu)}",
    )


def _ttest_ind(a: _Args) -> dict[str, Any]:
    x, y = _numbers(a.data, "data", 2), _numbers(a.data2, "data2", 2)
    _total(x, y)
    n1, n2 = x.size, y.size
    m1, m2 = float(np.mean(x)), float(np.mean(y))
    v1, v2 = float(np.var(x, ddof=1)), float(np.var(y, ddof=1))
    if a.equal_var:
        # Student: pooled variance, df = n1 + n2 - 2.
        pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2)
        se = math.sqrt(pooled * (1 / n1 + 1 / n2))
        df: float = n1 + n2 - 2
        name = "Student's two-sample t-test (equal variances assumed)"
        extra_var = {"pooled_variance": pooled}
    else:
        # Welch: separate variances, Welch–Satterthwaite df.
        se = math.sqrt(v1 / n1 + v2 / n2)
        df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1)) if se else math.nan
        name = "Welch's two-sample t-test (unequal variances)"
        extra_var = {}
    _nonzero_se(se, "both samples are constant")
    diff = m1 - m2
    mu = _mu(a, quiet=True)
    t = (diff - mu) / se
    ci = _t_interval(diff, se, df, a.confidence, a.alternative)
    return _test_result(
        a,
        name,
        t,
        df,
        extra={
            "n1": n1,
            "n2": n2,
            "mean1": m1,
            "mean2": m2,
            "sd1": math.sqrt(v1),
            "sd2": math.sqrt(v2),
            "mean_difference": diff,
            "hypothesized_difference": mu,
            "se": se,
            **extra_var,
            "confidence_interval": ci,
            "confidence_interval_of": "mean1 - mean2",
            "equal_var": a.equal_var,
        },
        about=f"mean1 - mean2 = {_g(diff)}",
    )


def _ttest_paired(a: _Args) -> dict[str, Any]:
    x, y = _numbers(a.data, "data", 2), _numbers(a.data2, "data2", 2)
    _same_length(x, y, "a paired t-test pairs data[i] with data2[i]")
    d = x - y
    mu = _mu(a, quiet=True)
    n, mean, sd = d.size, float(np.mean(d)), float(np.std(d, ddof=1))
    se = sd / math.sqrt(n)
    _nonzero_se(se, "all differences data[i] - data2[i] are equal")
    t = (mean - mu) / se
    ci = _t_interval(mean, se, n - 1, a.confidence, a.alternative)
    return _test_result(
        a,
        "paired t-test (on differences data - data2)",
        t,
        n - 1,
        extra={
            "n": n,
            "mean_difference": mean,
            "hypothesized_difference": mu,
            "sd_difference": sd,
            "se": se,
            "confidence_interval": ci,
            "confidence_interval_of": "mean of data - data2",
        },
        about=f"mean difference {_g(mean)}",
    )


def _t_interval(center: float, se: float, df: float, confidence: float, alternative: str) -> list[Any]:
    """Interval matching the test's alternative: two-sided, or one-sided (-inf, u] / [l, inf)."""
    from scipy import stats as st

    if alternative == "two-sided":
        q = float(st.t.ppf((1 + confidence) / 2, df))
        return [center - q * se, center + q * se]
    q = float(st.t.ppf(confidence, df))
    return [-math.inf, center + q * se] if alternative == "less" else [center - q * se, math.inf]


def _t_pvalue(t: float, df: float, alternative: str) -> float:
    from scipy import stats as st

    if math.isnan(t):
        return math.nan
    if alternative == "two-sided":
        return float(min(1.0, 2 * st.t.sf(abs(t), df)))
    return float(st.t.cdf(t, df) if alternative == "less" else st.t.sf(t, df))


def _test_result(a: _Args, name: str, t: float, df: float, extra: dict[str, Any], about: str) -> dict[str, Any]:
    p = _t_pvalue(t, df, a.alternative)
    ci = extra["confidence_interval"]
    return {
        "test": name,
        "t": t,
        "df": df,
        "p_value": p,
        "alternative": a.alternative,
        **extra,
        "confidence": a.confidence,
        "alpha": a.alpha,
        "reject_null": bool(p < a.alpha),
        "text": f"{name}: t={_g(t)}, df={_g(df)}, p={_g(p)} ({a.alternative}); {about}; "
        f"{_pct(a.confidence)} CI [{_g(ci[0])}, {_g(ci[1])}]; "
        f"{'reject' if p < a.alpha else 'do not reject'} H0 at alpha={_g(a.alpha)}",
    }


# --- ANOVA and chi-square -------------------------------------------------------------------------


def _anova(a: _Args) -> dict[str, Any]:
    from scipy import stats as st

    if not isinstance(a.groups, (list, tuple)) or len(a.groups) < 2:
        raise MathInputError("anova needs `groups`: a list of at least 2 lists of numbers, e.g. [[1, 2], [3, 4]]")
    samples = [_numbers(g, f"groups[{i}]", 1) for i, g in enumerate(a.groups)]
    _total(*samples)
    k, n_total = len(samples), sum(s.size for s in samples)
    if n_total <= k:
        raise MathInputError(
            f"anova needs more values ({n_total}) than groups ({k}) to estimate the within-group variance"
        )
    grand = float(np.mean(np.concatenate(samples)))
    ss_between = sum(s.size * (float(np.mean(s)) - grand) ** 2 for s in samples)
    ss_within = sum(float(np.sum((s - np.mean(s)) ** 2)) for s in samples)
    df_b, df_w = k - 1, n_total - k
    ms_b, ms_w = ss_between / df_b, ss_within / df_w
    if ms_w == 0:
        if ss_between == 0:
            raise MathInputError("every value is identical: the F statistic is undefined")
        a.notes.append("no variation within groups: F is infinite")
        f_stat, p = math.inf, 0.0
    else:
        f_stat = ms_b / ms_w
        p = float(st.f.sf(f_stat, df_b, df_w))
    summary = [
        {"n": s.size, "mean": float(np.mean(s)), "sd": float(np.std(s, ddof=1)) if s.size > 1 else None}
        for s in samples
    ]
    return {
        "test": "one-way ANOVA",
        "F": f_stat,
        "df_between": df_b,
        "df_within": df_w,
        "p_value": p,
        "ss_between": ss_between,
        "ss_within": ss_within,
        "ss_total": ss_between + ss_within,
        "ms_between": ms_b,
        "ms_within": ms_w,
        "eta_squared": ss_between / (ss_between + ss_within) if ss_between + ss_within else None,
        "groups": summary,
        "grand_mean": grand,
        "alpha": a.alpha,
        "reject_null": bool(p < a.alpha),
        "text": f"one-way ANOVA: F({df_b}, {df_w}) = {_g(f_stat)}, p = {_g(p)}; "
        f"{'reject' if p < a.alpha else 'do not reject'} equal means at alpha={_g(a.alpha)}",
    }


def _chi2_contingency(a: _Args) -> dict[str, Any]:
    from scipy import stats as st

    obs = _table(a.groups)
    rows, cols = obs.sum(axis=1), obs.sum(axis=0)
    for what, sums in (("row", rows), ("column", cols)):
        empty = [i + 1 for i, s in enumerate(sums) if s == 0]
        if empty:
            raise MathInputError(f"{what}(s) {empty} of the table sum to 0: expected counts would be 0; remove them")
    total = float(obs.sum())
    expected = np.outer(rows, cols) / total
    chi2 = float(np.sum((obs - expected) ** 2 / expected))
    dof = (obs.shape[0] - 1) * (obs.shape[1] - 1)
    p = float(st.chi2.sf(chi2, dof))
    out: dict[str, Any] = {
        "test": "Pearson chi-square test of independence (no continuity correction)",
        "chi2": chi2,
        "df": dof,
        "p_value": p,
        "n": total,
        "expected": expected.tolist(),
        "cramers_v": math.sqrt(chi2 / (total * (min(obs.shape) - 1))),
        "alpha": a.alpha,
        "reject_null": bool(p < a.alpha),
    }
    text_extra = ""
    if obs.shape == (2, 2):
        # Yates's correction as in scipy/R: |O - E| is reduced by 0.5, but not below 0.
        diff = np.abs(obs - expected)
        yates = float(np.sum((diff - np.minimum(0.5, diff)) ** 2 / expected))
        out["yates_corrected"] = {"chi2": yates, "p_value": float(st.chi2.sf(yates, 1))}
        if np.all(obs == np.round(obs)):
            out["fisher_exact_p_value"] = float(st.fisher_exact(obs.astype(int)).pvalue)
        text_extra = f"; with Yates correction chi2={_g(yates)}, p={_g(out['yates_corrected']['p_value'])}"
    small = int(np.sum(expected < 5))
    if small:
        a.notes.append(
            f"{small} of {expected.size} expected counts are below 5: the chi-square approximation "
            "may be poor" + (" (see fisher_exact_p_value)" if obs.shape == (2, 2) else "")
        )
    out["text"] = (
        f"chi-square test of independence: chi2={_g(chi2)}, df={dof}, p={_g(p)}{text_extra}; "
        f"{'reject' if p < a.alpha else 'do not reject'} independence at alpha={_g(a.alpha)}"
    )
    return out


def _chi2_goodness(a: _Args) -> dict[str, Any]:
    from scipy import stats as st

    obs = _numbers(a.data, "data (observed counts)", 2)
    if np.any(obs < 0):
        raise MathInputError("observed counts must be non-negative")
    total = float(obs.sum())
    if total <= 0:
        raise MathInputError("observed counts sum to 0")
    if a.data2 is None:
        exp = np.full(obs.size, total / obs.size)
        a.notes.append("no expected counts (data2) given: testing against equal frequencies")
    else:
        exp = _numbers(a.data2, "data2 (expected counts)", 2)
        _same_length(obs, exp, "data2 needs one expected value per observed category in data")
        if np.any(exp <= 0):
            raise MathInputError("expected counts/proportions must all be positive")
        exp_total = float(exp.sum())
        if abs(exp_total - total) > 1e-8 * total:
            if abs(exp_total - 1) <= 1e-6:
                a.notes.append("expected sums to 1: read as proportions and scaled to the observed total")
            else:
                a.notes.append(
                    f"expected sums to {_g(exp_total)}, observed to {_g(total)}: "
                    "expected rescaled proportionally to the observed total"
                )
            exp = exp * (total / exp_total)
    chi2 = float(np.sum((obs - exp) ** 2 / exp))
    dof = obs.size - 1
    p = float(st.chi2.sf(chi2, dof))
    if np.any(exp < 5):
        a.notes.append("some expected counts are below 5: the chi-square approximation may be poor")
    return {
        "test": "chi-square goodness-of-fit test",
        "chi2": chi2,
        "df": dof,
        "p_value": p,
        "n": total,
        "expected": exp.tolist(),
        "alpha": a.alpha,
        "reject_null": bool(p < a.alpha),
        "text": f"chi-square goodness of fit: chi2={_g(chi2)}, df={dof}, p={_g(p)}; "
        f"{'reject' if p < a.alpha else 'do not reject'} the expected distribution at alpha={_g(a.alpha)}",
    }


# --- correlation and regression -------------------------------------------------------------------


def _correlation(a: _Args) -> dict[str, Any]:
    from scipy import stats as st

    x, y = _numbers(a.data, "data", 3), _numbers(a.data2, "data2", 3)
    _same_length(x, y, "correlation pairs data[i] with data2[i]")
    for name, v in (("data", x), ("data2", y)):
        if np.all(v == v[0]):
            raise MathInputError(f"{name} is constant: the correlation is undefined")
    method = str(a.method).strip().lower() if isinstance(a.method, str) else ""
    if method == "pearson":
        res = st.pearsonr(x, y, alternative=a.alternative)
        ci = res.confidence_interval(confidence_level=a.confidence)
        extra = {
            "r_squared": float(res.statistic) ** 2,
            "confidence_interval": [float(ci.low), float(ci.high)],
            "confidence": a.confidence,
            "confidence_interval_method": "Fisher z transformation",
        }
        symbol = "r"
    elif method == "spearman":
        res, extra, symbol = st.spearmanr(x, y, alternative=a.alternative), {}, "rho"
    elif method == "kendall":
        res, extra, symbol = st.kendalltau(x, y, alternative=a.alternative), {"variant": "tau-b"}, "tau"
    else:
        raise MathInputError(f"method must be pearson, spearman or kendall, got {a.method!r}")
    r, p = float(res.statistic), float(res.pvalue)
    return {
        "method": method,
        "r": r,
        "coefficient": symbol,
        "p_value": p,
        "n": x.size,
        "alternative": a.alternative,
        **extra,
        "alpha": a.alpha,
        "reject_null": bool(p < a.alpha),
        "text": f"{method} {symbol} = {_g(r)}, p = {_g(p)} ({a.alternative}), n = {x.size}",
    }


def _regression(a: _Args) -> dict[str, Any]:
    from scipy import stats as st

    x, y = _numbers(a.data, "data (x)", 3), _numbers(a.data2, "data2 (y)", 3)
    _same_length(x, y, "regression pairs x = data[i] with y = data2[i]")
    n = x.size
    mx, my = float(np.mean(x)), float(np.mean(y))
    sxx, syy = float(np.sum((x - mx) ** 2)), float(np.sum((y - my) ** 2))
    if sxx == 0:
        raise MathInputError("all x values (data) are equal: the slope is undefined")
    sxy = float(np.sum((x - mx) * (y - my)))
    slope = sxy / sxx
    intercept = my - slope * mx
    residuals = y - (intercept + slope * x)
    sse = float(np.sum(residuals**2))
    df = n - 2
    s = math.sqrt(sse / df)
    se_slope = s / math.sqrt(sxx)
    se_intercept = s * math.sqrt(1 / n + mx**2 / sxx)
    r = sxy / math.sqrt(sxx * syy) if syy > 0 else math.nan
    t_slope, t_intercept = _ratio(slope, se_slope), _ratio(intercept, se_intercept)
    q = float(st.t.ppf((1 + a.confidence) / 2, df))
    if syy == 0:
        a.notes.append("y is constant: the correlation r is undefined (the slope is 0)")
    elif sse <= 1e-24 * syy:
        a.notes.append("the points lie exactly on a line: standard errors are 0 and t is infinite")
    p_slope, p_int = _t_pvalue(t_slope, df, a.alternative), _t_pvalue(t_intercept, df, a.alternative)
    return {
        "model": "y = intercept + slope * x (ordinary least squares)",
        "n": n,
        "slope": slope,
        "intercept": intercept,
        "r": r,
        "r_squared": r * r if syy > 0 else math.nan,
        "se_slope": se_slope,
        "se_intercept": se_intercept,
        "residual_std_error": s,
        "df": df,
        "t_slope": t_slope,
        "p_value_slope": p_slope,
        "t_intercept": t_intercept,
        "p_value_intercept": p_int,
        "alternative": a.alternative,
        "confidence": a.confidence,
        "confidence_interval_slope": [slope - q * se_slope, slope + q * se_slope],
        "confidence_interval_intercept": [intercept - q * se_intercept, intercept + q * se_intercept],
        "sse": sse,
        "text": f"y = {_g(intercept)} + {_g(slope)}·x; r² = {_g(r * r) if syy > 0 else 'n/a'}, "
        f"slope SE {_g(se_slope)}, t={_g(t_slope)}, p={_g(p_slope)}; residual SE {_g(s)}, n={n}",
    }


def _ratio(estimate: float, se: float) -> float:
    """estimate / se, with a zero standard error giving ±inf (or NaN for 0/0) instead of an error."""
    if se > 0:
        return estimate / se
    return math.nan if estimate == 0 else math.copysign(math.inf, estimate)


_STATS: dict[str, tuple[Callable[[_Args], dict[str, Any]], tuple[str, ...]]] = {
    "describe": (_describe, ("data",)),
    "ttest_1samp": (_ttest_1samp, ("data", "mu")),
    "ttest_ind": (_ttest_ind, ("data", "data2", "mu")),
    "ttest_paired": (_ttest_paired, ("data", "data2", "mu")),
    "anova": (_anova, ("groups",)),
    "chi2_contingency": (_chi2_contingency, ("groups",)),
    "chi2_goodness": (_chi2_goodness, ("data", "data2")),
    "correlation": (_correlation, ("data", "data2")),
    "regression": (_regression, ("data", "data2")),
    "confidence_interval": (_confidence_interval, ("data",)),
}

_STATS_ALIASES = {
    "summary": "describe",
    "descriptive": "describe",
    "describe_data": "describe",
    "ttest": "ttest_1samp",
    "t_test": "ttest_1samp",
    "one_sample_t": "ttest_1samp",
    "ttest_one_sample": "ttest_1samp",
    "ttest_two_sample": "ttest_ind",
    "two_sample_t": "ttest_ind",
    "ttest_independent": "ttest_ind",
    "ttest_rel": "ttest_paired",
    "paired_t": "ttest_paired",
    "paired": "ttest_paired",
    "f_oneway": "anova",
    "one_way_anova": "anova",
    "anova_oneway": "anova",
    "chi2": "chi2_contingency",
    "chi_square": "chi2_contingency",
    "contingency": "chi2_contingency",
    "chi2_independence": "chi2_contingency",
    "chisquare": "chi2_goodness",
    "goodness_of_fit": "chi2_goodness",
    "chi2_gof": "chi2_goodness",
    "corr": "correlation",
    "pearson": "correlation",
    "linregress": "regression",
    "linear_regression": "regression",
    "ci": "confidence_interval",
}


# --- input checking -------------------------------------------------------------------------------


def _stats_operation(operation: Any) -> str:
    key = re.sub(r"[\s\-]+", "_", operation.strip().lower()) if isinstance(operation, str) else ""
    key = _STATS_ALIASES.get(key, key)
    if key not in _STATS:
        raise MathInputError(f"unknown statistics operation {operation!r}; valid operations: {', '.join(_STATS)}")
    return key


def _numbers(values: Any, name: str, min_n: int) -> np.ndarray:
    """A finite float array from a list of numbers (or numeric strings, or "1, 2, 3" text)."""
    if values is None:
        raise MathInputError(f"this operation needs `{name.split(' ')[0]}`: a list of numbers")
    if isinstance(values, str):
        values = [v for v in re.split(r"[,;\s]+", values.strip()) if v]
    if not isinstance(values, (list, tuple)):
        raise MathInputError(f"{name} must be a list of numbers, got {type(values).__name__}")
    if len(values) > MAX_VALUES:
        raise MathInputError(f"{name} has {len(values)} values; the limit is {MAX_VALUES}")
    if all(type(v) in (int, float) for v in values):
        try:
            arr = np.asarray(values, dtype=float)  # fast path: plain numbers
        except OverflowError:
            raise MathInputError(f"{name} holds an integer too large for floating point") from None
    else:
        arr = np.array([_number(v, f"{name}[{i}]") for i, v in enumerate(values)], dtype=float)
    if arr.size < min_n:
        raise MathInputError(f"{name} needs at least {min_n} value(s), got {arr.size}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise MathInputError(f"{name}[{int(bad[0])}] is {arr[bad[0]]}: values must be finite numbers")
    return arr


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or v is None:
        raise MathInputError(f"{where} is {v!r}: values must be numbers")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())  # float() parses a numeral, it evaluates nothing
        except ValueError:
            pass
    raise MathInputError(f"{where} is {str(v)[:40]!r}: values must be numbers")


def _table(table: Any) -> np.ndarray:
    if not isinstance(table, (list, tuple)) or len(table) < 2 or not all(isinstance(r, (list, tuple)) for r in table):
        raise MathInputError(
            "chi2_contingency needs the table in `groups`: a list of at least 2 rows of counts, "
            "e.g. [[10, 20], [30, 40]]"
        )
    width = len(table[0])
    if width < 2 or any(len(r) != width for r in table):
        raise MathInputError("every row of the table needs the same number (at least 2) of counts")
    if len(table) * width > MAX_VALUES:
        raise MathInputError(f"the table has more than {MAX_VALUES} cells")
    obs = np.array([_numbers(list(r), f"groups[{i}]", 2) for i, r in enumerate(table)])
    if np.any(obs < 0):
        raise MathInputError("table counts must be non-negative")
    return obs


def _same_length(x: np.ndarray, y: np.ndarray, why: str) -> None:
    if x.size != y.size:
        raise MathInputError(f"the two lists have different lengths ({x.size} and {y.size}): {why}")


def _total(*arrays: np.ndarray) -> None:
    total = sum(a.size for a in arrays)
    if total > MAX_VALUES:
        raise MathInputError(f"{total} values in all; the limit is {MAX_VALUES}")


def _nonzero_se(se: float, why: str) -> None:
    if not se > 0:
        raise MathInputError(f"{why}: the standard error is 0, so the t statistic is undefined")


def _mu(a: _Args, quiet: bool = False) -> float:
    """The hypothesised mean (difference); 0 when not given."""
    if a.mu is None:
        if not quiet:
            a.notes.append("mu not given: testing against mu = 0")
        return 0.0
    value = _number(a.mu, "mu")
    if not math.isfinite(value):
        raise MathInputError("mu must be a finite number")
    return value


def _unit(value: Any, name: str, notes: list[str], percent: bool) -> float:
    """A probability strictly between 0 and 1; for confidence, 95 is read as 95%."""
    v = _number(value, name)
    if percent and 1 < v < 100:
        notes.append(f"{name} {_g(v)} read as {_g(v)}%")
        v /= 100
    if not 0 < v < 1:
        raise MathInputError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")
    return v


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MathInputError(f"{name} must be true or false, got {value!r}")


_ALTERNATIVES = {
    "two-sided": "two-sided",
    "two_sided": "two-sided",
    "two sided": "two-sided",
    "two-tailed": "two-sided",
    "two_tailed": "two-sided",
    "both": "two-sided",
    "!=": "two-sided",
    "ne": "two-sided",
    "less": "less",
    "lower": "less",
    "left": "less",
    "<": "less",
    "lt": "less",
    "greater": "greater",
    "upper": "greater",
    "right": "greater",
    ">": "greater",
    "gt": "greater",
}


def _alternative(value: Any) -> str:
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in _ALTERNATIVES:
        raise MathInputError(f"alternative must be two-sided, less or greater, got {value!r}")
    return _ALTERNATIVES[key]


# ================================================================================================
# distribution()
# ================================================================================================


@dataclass(frozen=True)
class _Param:
    name: str
    aliases: tuple[str, ...]
    rule: str  # positive | nonneg | prob | prob_pos | real | int_nonneg | positive_df
    default: float | None = None  # None: required unless it belongs to a `choice`


@dataclass(frozen=True)
class _Dist:
    name: str
    aliases: tuple[str, ...]
    discrete: bool
    params: tuple[_Param, ...]
    build: Callable[[dict[str, float]], Any]  # canonical params -> frozen scipy distribution
    scipy: str  # the mapping onto scipy's parametrisation
    choice: tuple[str, ...] = ()  # at most one of these; the first is the default
    choice_default: float = 1.0  # the first choice's value when none is given
    check: Callable[[dict[str, float]], str | None] | None = None  # cross-parameter validation


def _sst() -> Any:
    from scipy import stats as st

    return st


def _exp_build(p: dict[str, float]) -> Any:
    scale = p["scale"] if "scale" in p else 1 / p["rate"]
    return _sst().expon(scale=scale)


def _gamma_build(p: dict[str, float]) -> Any:
    scale = p["scale"] if "scale" in p else 1 / p["rate"]
    return _sst().gamma(p["shape"], scale=scale)


def _normal_build(p: dict[str, float]) -> Any:
    sigma = p["sigma"] if "sigma" in p else math.sqrt(p["variance"])
    return _sst().norm(loc=p["mu"], scale=sigma)


_DISTS: tuple[_Dist, ...] = (
    _Dist(
        "normal",
        ("norm", "gaussian", "gauss"),
        False,
        (
            _Param("mu", ("mean", "loc", "m"), "real", 0.0),
            _Param("sigma", ("sd", "std", "scale", "s", "standard_deviation"), "positive"),
            _Param("variance", ("var", "sigma2", "sigma_squared"), "positive"),
        ),
        _normal_build,
        "scipy.stats.norm(loc=mu, scale=sigma); variance = sigma²",
        choice=("sigma", "variance"),
        choice_default=1.0,
    ),
    _Dist(
        "t",
        ("student_t", "students_t", "student", "t_distribution"),
        False,
        (_Param("df", ("nu", "degrees_of_freedom", "v"), "positive"),),
        lambda p: _sst().t(p["df"]),
        "scipy.stats.t(df)",
    ),
    _Dist(
        "chi2",
        ("chi_square", "chisquare", "chi_squared", "chi2_distribution"),
        False,
        (_Param("df", ("k", "nu", "degrees_of_freedom"), "positive"),),
        lambda p: _sst().chi2(p["df"]),
        "scipy.stats.chi2(df)",
    ),
    _Dist(
        "f",
        ("fisher", "f_distribution", "snedecor"),
        False,
        (
            _Param("dfn", ("df1", "d1", "numerator_df", "dfnum"), "positive"),
            _Param("dfd", ("df2", "d2", "denominator_df", "dfden"), "positive"),
        ),
        lambda p: _sst().f(p["dfn"], p["dfd"]),
        "scipy.stats.f(dfn, dfd)",
    ),
    _Dist(
        "binomial",
        ("binom",),
        True,
        (
            _Param("n", ("trials", "size", "N"), "int_nonneg"),
            _Param("p", ("prob", "probability", "success_probability"), "prob"),
        ),
        lambda p: _sst().binom(int(p["n"]), p["p"]),
        "scipy.stats.binom(n, p): number of successes in n trials",
    ),
    _Dist(
        "poisson",
        ("pois",),
        True,
        (_Param("lambda", ("mu", "lam", "rate", "mean", "λ"), "positive"),),
        lambda p: _sst().poisson(p["lambda"]),
        "scipy.stats.poisson(mu=lambda)",
    ),
    _Dist(
        "uniform",
        ("unif", "continuous_uniform"),
        False,
        (
            _Param("a", ("low", "lower", "min", "lo", "start"), "real", 0.0),
            _Param("b", ("high", "upper", "max", "hi", "end"), "real", 1.0),
        ),
        lambda p: _sst().uniform(loc=p["a"], scale=p["b"] - p["a"]),
        "scipy.stats.uniform(loc=a, scale=b-a) on [a, b]",
        check=lambda p: None if p["a"] < p["b"] else "uniform needs a < b",
    ),
    _Dist(
        "exponential",
        ("exp", "expon"),
        False,
        (_Param("rate", ("lambda", "lam", "λ"), "positive"), _Param("scale", ("beta", "theta", "mean"), "positive")),
        _exp_build,
        "scipy.stats.expon(scale=1/rate): density rate·exp(-rate·x), mean = scale = 1/rate",
        choice=("rate", "scale"),
        choice_default=1.0,
    ),
    _Dist(
        "gamma",
        ("gamma_distribution",),
        False,
        (
            _Param("shape", ("k", "alpha", "a"), "positive"),
            _Param("scale", ("theta",), "positive"),
            _Param("rate", ("beta", "lambda"), "positive"),
        ),
        _gamma_build,
        "scipy.stats.gamma(a=shape, scale=scale), scale = 1/rate; mean = shape·scale "
        "(beta here means the rate, as in Gamma(alpha, beta))",
        choice=("scale", "rate"),
        choice_default=1.0,
    ),
    _Dist(
        "beta",
        ("beta_distribution",),
        False,
        (_Param("a", ("alpha",), "positive"), _Param("b", ("beta",), "positive")),
        lambda p: _sst().beta(p["a"], p["b"]),
        "scipy.stats.beta(a, b) on [0, 1]",
    ),
    _Dist(
        "lognormal",
        ("lognorm", "log_normal"),
        False,
        (
            _Param("mu", ("meanlog", "mu_log"), "real", 0.0),
            _Param("sigma", ("sdlog", "sigma_log", "s"), "positive", 1.0),
        ),
        lambda p: _sst().lognorm(s=p["sigma"], scale=math.exp(p["mu"])),
        "scipy.stats.lognorm(s=sigma, scale=exp(mu)); mu and sigma are the mean and sd of log(X)",
    ),
    _Dist(
        "geometric",
        ("geom",),
        True,
        (_Param("p", ("prob", "probability", "success_probability"), "prob_pos"),),
        lambda p: _sst().geom(p["p"]),
        "scipy.stats.geom(p): number of trials up to and including the first success, support 1, 2, 3, ...",
    ),
    _Dist(
        "negative_binomial",
        ("nbinom", "negbinom", "neg_binomial", "negative_binomial_distribution"),
        True,
        (_Param("r", ("n", "successes", "size"), "positive"), _Param("p", ("prob", "probability"), "prob_pos")),
        lambda p: _sst().nbinom(p["r"], p["p"]),
        "scipy.stats.nbinom(n=r, p): number of failures before the r-th success, support 0, 1, 2, ...",
    ),
    _Dist(
        "hypergeometric",
        ("hypergeom",),
        True,
        (
            _Param("N", ("population", "population_size", "M"), "int_nonneg"),
            _Param("K", ("successes", "success_states", "good"), "int_nonneg"),
            _Param("n", ("draws", "sample_size", "sample"), "int_nonneg"),
        ),
        lambda p: _sst().hypergeom(int(p["N"]), int(p["K"]), int(p["n"])),
        "scipy.stats.hypergeom(M=N, n=K, N=n): successes among n draws without replacement from N items "
        "of which K are successes (note scipy's own letters differ)",
        check=lambda p: None if p["K"] <= p["N"] and p["n"] <= p["N"] else "hypergeometric needs K <= N and n <= N",
    ),
    _Dist(
        "bernoulli",
        ("bern",),
        True,
        (_Param("p", ("prob", "probability"), "prob"),),
        lambda p: _sst().bernoulli(p["p"]),
        "scipy.stats.bernoulli(p)",
    ),
)

_DIST_OPS = {
    "pdf": "pdf",
    "pmf": "pdf",
    "density": "pdf",
    "probability": "pdf",
    "prob": "pdf",
    "cdf": "cdf",
    "sf": "sf",
    "survival": "sf",
    "ccdf": "sf",
    "ppf": "ppf",
    "quantile": "ppf",
    "inverse_cdf": "ppf",
    "icdf": "ppf",
    "inv_cdf": "ppf",
    "isf": "isf",
    "inverse_sf": "isf",
    "mean": "mean",
    "expectation": "mean",
    "expected_value": "mean",
    "variance": "variance",
    "var": "variance",
    "std": "std",
    "sd": "std",
    "standard_deviation": "std",
    "median": "median",
    "interval": "interval",
    "central_interval": "interval",
    "ci": "interval",
}
_POINT_OPS = ("pdf", "cdf", "sf", "ppf", "isf", "interval")


def distribution(name: str, params: dict[str, Any] | None, operation: str, at: Any = None) -> dict[str, Any]:
    """Evaluate `operation` for the distribution `name` with `params`, at `at` (a number or list).

    pdf (pmf for discrete distributions; either name works), cdf, sf (= 1 - cdf), ppf (quantile;
    `at` a probability), isf, mean, variance, std, median, interval (central interval holding
    probability `at`, default 0.95). "value" has the shape of `at`.
    """
    dist = _find_dist(name)
    values = _dist_params(dist, params)
    op = _dist_operation(operation)
    notes: list[str] = []
    frozen = dist.build(values)
    shown_op = "pmf" if (op == "pdf" and dist.discrete) else op
    out: dict[str, Any] = {
        "distribution": dist.name,
        "parameters": values,
        "parametrization": dist.scipy,
        "discrete": dist.discrete,
        "operation": shown_op,
    }
    if op in _POINT_OPS:
        points, scalar = _at(at, op, notes)
        result = _evaluate_at(frozen, op, np.array(points, dtype=float), dist.discrete)
        out["at"] = points[0] if scalar else points
        out["value"] = result[0] if scalar else result
        if op == "pdf" and dist.discrete and any(v != math.floor(v) for v in points):
            notes.append("the pmf is 0 at non-integer points")
    else:
        if at is not None:
            notes.append(f"`at` is not used by {op}")
        out["value"] = _evaluate(frozen, op, None, dist.discrete)
        if dist.name == "t" and op == "mean" and values["df"] <= 1:
            # scipy says inf; for df <= 1 (Cauchy-like tails on both sides) the mean does not exist.
            out["value"] = math.nan
            notes.append("the mean of the t distribution is undefined for df <= 1")
    out["text"] = _dist_text(dist, values, shown_op, out)
    return _finish(out, notes)


def _evaluate_at(frozen: Any, op: str, x: np.ndarray, discrete: bool) -> list[Any]:
    """One vectorised scipy call for all points (10,000 separate calls would take seconds)."""
    if op == "interval":
        lo, hi = frozen.interval(x)
        return [[float(a), float(b)] for a, b in zip(np.atleast_1d(lo), np.atleast_1d(hi))]
    if op == "pdf":
        values = frozen.pmf(x) if discrete else frozen.pdf(x)
    else:
        values = getattr(frozen, op)(x)
    return [float(v) for v in np.atleast_1d(values)]


def _evaluate(frozen: Any, op: str, x: None, discrete: bool) -> float:
    """A moment or the median."""
    return float(frozen.var() if op == "variance" else getattr(frozen, op)())


def _find_dist(name: Any) -> _Dist:
    key = re.sub(r"[\s\-]+", "_", name.strip().lower()) if isinstance(name, str) else ""
    for d in _DISTS:
        if key == d.name or key in d.aliases:
            return d
    raise MathInputError(f"unknown distribution {str(name)[:40]!r}; known: {', '.join(d.name for d in _DISTS)}")


def _dist_operation(operation: Any) -> str:
    key = re.sub(r"[\s\-]+", "_", operation.strip().lower()) if isinstance(operation, str) else ""
    if key not in _DIST_OPS:
        raise MathInputError(
            f"unknown distribution operation {str(operation)[:40]!r}; valid operations: "
            "pdf (pmf), cdf, sf, ppf (quantile), isf, mean, variance, std, median, interval"
        )
    return _DIST_OPS[key]


def _accepted(dist: _Dist) -> str:
    parts = [f"{p.name} (aliases: {', '.join(p.aliases)})" if p.aliases else p.name for p in dist.params]
    either = f"; give at most one of {' or '.join(dist.choice)}" if dist.choice else ""
    return "; ".join(parts) + either


def _dist_params(dist: _Dist, params: Any) -> dict[str, float]:
    """Canonical parameter values, validated; aliases matched exactly, then case-insensitively."""
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise MathInputError(
            f'params is an object, e.g. {{"mu": 0, "sigma": 1}}; {dist.name} accepts: {_accepted(dist)}'
        )
    exact = {a: p for p in dist.params for a in (p.name, *p.aliases)}
    folded: dict[str, list[_Param]] = {}
    for a, p in exact.items():
        folded.setdefault(a.lower(), []).append(p)
    values: dict[str, float] = {}
    for key, raw in params.items():
        param = exact.get(key) if isinstance(key, str) else None
        if param is None and isinstance(key, str) and len({id(p) for p in folded.get(key.strip().lower(), [])}) == 1:
            param = folded[key.strip().lower()][0]
        if param is None:
            raise MathInputError(
                f"unknown parameter {key!r} for the {dist.name} distribution; accepted: {_accepted(dist)}"
            )
        if param.name in values:
            raise MathInputError(f"parameter {param.name} of {dist.name} is given twice (as {key!r} and an alias)")
        values[param.name] = _param_value(dist, param, raw, key)
    chosen = [c for c in dist.choice if c in values]
    if len(chosen) > 1:
        raise MathInputError(f"{dist.name}: give only one of {' or '.join(dist.choice)}, not both")
    for p in dist.params:
        if p.name in values or p.name in dist.choice:
            continue
        if p.default is None:
            raise MathInputError(f"{dist.name} needs parameter {p.name!r}; accepted: {_accepted(dist)}")
        values[p.name] = p.default
    if dist.choice and not chosen:
        values[dist.choice[0]] = dist.choice_default  # e.g. scale = 1, as scipy does
    problem = dist.check(values) if dist.check else None
    if problem:
        raise MathInputError(f"{problem} (got {', '.join(f'{k}={_g(v)}' for k, v in values.items())})")
    return values


_RULES = {
    "positive": (lambda v: v > 0, "must be > 0"),
    "nonneg": (lambda v: v >= 0, "must be >= 0"),
    "prob": (lambda v: 0 <= v <= 1, "must be a probability, 0 <= p <= 1"),
    "prob_pos": (lambda v: 0 < v <= 1, "must be a probability with 0 < p <= 1"),
    "real": (lambda v: True, ""),
    "int_nonneg": (lambda v: v >= 0 and v == math.floor(v), "must be a whole number >= 0"),
}


def _param_value(dist: _Dist, param: _Param, raw: Any, key: str) -> float:
    v = _number(raw, f"{dist.name} parameter {key}")
    ok, why = _RULES[param.rule]
    if not math.isfinite(v) or not ok(v):
        aliases = f" (aliases: {', '.join(param.aliases)})" if param.aliases else ""
        raise MathInputError(f"{dist.name} parameter {param.name}{aliases} {why or 'must be finite'}; got {raw!r}")
    return int(v) if param.rule == "int_nonneg" else v


def _at(at: Any, op: str, notes: list[str]) -> tuple[list[float], bool]:
    """The evaluation points and whether `at` was a single number."""
    if at is None:
        if op == "interval":
            notes.append("no `at` given: 95% central interval")
            return [0.95], True
        raise MathInputError(f"{op} needs `at`: a number or a list of numbers")
    scalar = not isinstance(at, (list, tuple))
    points = [at] if scalar else list(at)
    if not points:
        raise MathInputError("`at` is an empty list")
    if len(points) > MAX_AT:
        raise MathInputError(f"`at` has {len(points)} points; the limit is {MAX_AT}")
    values = [_number(v, "at" if scalar else f"at[{i}]") for i, v in enumerate(points)]
    for i, v in enumerate(values):
        where = "at" if scalar else f"at[{i}]"
        if not math.isfinite(v):
            raise MathInputError(f"{where} must be a finite number")
        if op in ("ppf", "isf") and not 0 <= v <= 1:
            raise MathInputError(f"{where} = {_g(v)}: {op} takes a probability between 0 and 1")
        if op == "interval":
            if 1 < v < 100:
                notes.append(f"{where} = {_g(v)} read as {_g(v)}%")
                values[i] = v = v / 100
            if not 0 < v < 1:
                raise MathInputError(f"{where} = {_g(v)}: interval takes a confidence level between 0 and 1, e.g. 0.95")
    return values, scalar


def _dist_text(dist: _Dist, values: dict[str, float], op: str, out: dict[str, Any]) -> str:
    head = f"{dist.name}({', '.join(f'{k}={_g(v)}' for k, v in values.items())})"
    value = out["value"]
    if "at" not in out:
        return f"{head}: {op} = {_g(value)}"
    pairs = list(zip(out["at"], value)) if isinstance(out["at"], list) else [(out["at"], value)]
    shown = "; ".join(f"{op}({_g(x)}) = {_fmt(v)}" for x, v in pairs[:10])
    more = f"; … ({len(pairs)} points)" if len(pairs) > 10 else ""
    return f"{head}: {shown}{more}"


# ================================================================================================
# output
# ================================================================================================


def _finish(result: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Plain data only, with NaN as None (and a note) and infinities as "inf"/"-inf"."""
    seen_nan: list[bool] = []
    plain = _plain(result, seen_nan)
    if seen_nan:
        notes.append(_NAN_NOTE)
    if notes:
        plain["notes"] = notes
    return plain


def _plain(value: Any, seen_nan: list[bool]) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v, seen_nan) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v, seen_nan) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            seen_nan.append(True)
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    return value  # str, None


def _g(v: Any) -> str:
    """Compact number for the one-line text."""
    if v is None:
        return "n/a"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v))
    v = float(v)
    if math.isnan(v):
        return "undefined"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_g(x) for x in v) + "]"
    return _g(v) if not isinstance(v, float) or not math.isfinite(v) else f"{v:.10g}"


def _pct(c: float) -> str:
    return f"{c * 100:g}%"
