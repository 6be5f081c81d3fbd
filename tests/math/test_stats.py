"""Statistics (`servers/math/stats.py`) against hand formulas and textbook values.

Where a p-value is checked independently of scipy it is computed with mpmath (regularised
incomplete beta for t, closed forms for chi-square with 2 df and F with 2 numerator df).
"""

from __future__ import annotations

import math
import statistics

import mpmath
import numpy as np
import pytest
from scipy import stats as st

from math_testing import assert_plain, cpu_budget
from mcpfleet.servers.math.parser import MathInputError
from mcpfleet.servers.math.stats import distribution, stats


def run(*args, **kwargs):
    r = stats(*args, **kwargs)
    assert_plain(r)
    assert r["text"]
    return r


def dist(*args, **kwargs):
    r = distribution(*args, **kwargs)
    assert_plain(r)
    assert r["text"]
    return r


def t_two_sided_p(t, df):
    """P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2), independent of scipy."""
    return float(mpmath.betainc(df / 2, 0.5, 0, df / (df + t * t), regularized=True))


# --- describe -------------------------------------------------------------------------------------

DATA = [2, 4, 4, 4, 5, 5, 7, 9]


def test_describe_textbook():
    r = run("describe", DATA)
    assert r["n"] == 8 and r["sum"] == 40
    assert r["mean"] == pytest.approx(5)
    assert r["std_population"] == pytest.approx(2)
    assert r["variance_population"] == pytest.approx(4)
    assert r["variance_sample"] == pytest.approx(32 / 7)
    assert r["std_sample"] == pytest.approx(math.sqrt(32 / 7))
    assert r["median"] == pytest.approx(4.5)
    assert r["modes"] == [4] and r["mode_count"] == 3
    assert (r["min"], r["max"], r["range"]) == (2, 9, 7)
    # R type 7 / Excel QUARTILE.INC: positions 1 + 0.25*7 = 2.75 → 4, 1 + 0.75*7 = 6.25 → 5 + 0.25*2
    assert r["q1"] == pytest.approx(4) and r["q3"] == pytest.approx(5.5) and r["iqr"] == pytest.approx(1.5)


def test_describe_shape_statistics_by_hand():
    r = run("describe", DATA)
    n = 8
    g1 = 5.25 / 4**1.5  # m3 = 42/8, m2 = 4
    g2 = 44.5 / 16 - 3  # m4 = 356/8
    assert r["skewness_population"] == pytest.approx(g1)
    assert r["kurtosis_excess_population"] == pytest.approx(g2)
    assert r["skewness"] == pytest.approx(g1 * math.sqrt(n * (n - 1)) / (n - 2))
    assert r["kurtosis_excess"] == pytest.approx(((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3)))
    assert r["sem"] == pytest.approx(math.sqrt(32 / 7) / math.sqrt(8))
    assert "QUARTILE.INC" in r["conventions"]["quartiles"]


def test_describe_matches_statistics_module():
    data = [3.1, 2.7, 8.4, 5.5, 6.0, 1.2, 9.9, 4.4, 4.4, 7.3, 0.5]
    r = run("describe", data)
    assert r["mean"] == pytest.approx(statistics.fmean(data))
    assert r["median"] == pytest.approx(statistics.median(data))
    assert r["std_sample"] == pytest.approx(statistics.stdev(data))
    assert r["std_population"] == pytest.approx(statistics.pstdev(data))
    q = statistics.quantiles(data, n=4, method="inclusive")
    assert [r["q1"], r["median"], r["q3"]] == pytest.approx(q)


def test_describe_modes():
    assert run("describe", [1, 1, 2, 2, 3])["modes"] == [1, 2]
    r = run("describe", [1, 2, 3])
    assert r["modes"] == [] and any("no mode" in n for n in r["notes"])


def test_describe_constant_data_gives_none_with_note():
    r = run("describe", [3, 3, 3, 3, 3])
    assert r["skewness"] is None and r["kurtosis_excess"] is None
    assert r["std_sample"] == 0
    r1 = run("describe", [7])
    assert r1["variance_sample"] is None and r1["mean"] == 7


def test_describe_accepts_numeric_strings():
    assert run("describe", "1, 2, 3, 4")["mean"] == pytest.approx(2.5)
    assert run("describe", ["1.5", 2.5])["mean"] == pytest.approx(2)


# --- confidence interval and t-tests --------------------------------------------------------------


def test_confidence_interval_by_hand():
    r = run("confidence_interval", DATA, confidence=0.95)
    se = math.sqrt(32 / 7) / math.sqrt(8)
    t = 2.364624251592785  # t(0.975, 7), tables: 2.365
    assert r["t_critical"] == pytest.approx(t)
    assert r["interval"] == pytest.approx([5 - t * se, 5 + t * se])
    assert r["interval"] == pytest.approx([3.2125, 6.7875], abs=1e-4)


def test_confidence_interval_percent_is_read_as_percent():
    r = run("confidence_interval", DATA, confidence=99)
    assert r["confidence"] == pytest.approx(0.99)
    assert r["t_critical"] == pytest.approx(3.499483, abs=1e-6)  # t(0.995, 7)


def test_ttest_1samp_by_hand():
    x = [5.1, 4.9, 5.6, 5.8, 6.0, 5.2]
    r = run("ttest_1samp", x, mu=5)
    mean, sd, n = statistics.fmean(x), statistics.stdev(x), len(x)
    t = (mean - 5) / (sd / math.sqrt(n))
    assert r["t"] == pytest.approx(t) and r["df"] == 5
    assert r["p_value"] == pytest.approx(t_two_sided_p(t, 5), rel=1e-9)
    assert r["mean_difference"] == pytest.approx(mean - 5)
    q = float(st.t.ppf(0.975, 5))
    assert r["confidence_interval"] == pytest.approx([mean - q * sd / math.sqrt(n), mean + q * sd / math.sqrt(n)])
    ref = st.ttest_1samp(x, 5)
    assert r["p_value"] == pytest.approx(ref.pvalue)


def test_ttest_1samp_one_sided():
    x = [5.1, 4.9, 5.6, 5.8, 6.0, 5.2]
    two = run("ttest_1samp", x, mu=5)["p_value"]
    greater = run("ttest_1samp", x, mu=5, alternative="greater")
    less = run("ttest_1samp", x, mu=5, alternative="less")["p_value"]
    assert greater["p_value"] == pytest.approx(two / 2)
    assert less == pytest.approx(1 - two / 2)
    assert greater["confidence_interval"][1] == "inf"  # one-sided interval [l, inf)


def test_ttest_1samp_textbook():
    # Weights of 10 bags vs 500 g (classic textbook-style example), by hand.
    x = [495, 502, 498, 497, 501, 499, 496, 500, 494, 498]
    r = run("ttest_1samp", x, mu=500)
    mean = 498.0
    sd = statistics.stdev(x)
    assert r["mean"] == pytest.approx(mean)
    assert r["t"] == pytest.approx((mean - 500) / (sd / math.sqrt(10)))
    assert r["p_value"] == pytest.approx(t_two_sided_p(r["t"], 9), rel=1e-9)
    assert r["reject_null"] is (r["p_value"] < 0.05)


def test_ttest_ind_student_by_hand():
    x, y = [1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8]
    r = run("ttest_ind", x, y)
    sp2 = (4 * statistics.variance(x) + 5 * statistics.variance(y)) / 9
    se = math.sqrt(sp2 * (1 / 5 + 1 / 6))
    t = (3 - 5.5) / se
    assert r["t"] == pytest.approx(t) and r["df"] == 9
    assert r["p_value"] == pytest.approx(t_two_sided_p(t, 9), rel=1e-9)
    assert r["mean_difference"] == pytest.approx(-2.5)
    assert r["p_value"] == pytest.approx(st.ttest_ind(x, y).pvalue)
    q = float(st.t.ppf(0.975, 9))
    assert r["confidence_interval"] == pytest.approx([-2.5 - q * se, -2.5 + q * se])


def test_ttest_ind_welch_by_hand():
    # unequal sizes and clearly unequal variances
    x = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0]
    y = [
        28.2,
        26.6,
        20.1,
        23.3,
        25.2,
        22.1,
        17.7,
        27.6,
        20.6,
        13.7,
        23.2,
        17.5,
        20.6,
        18.0,
        23.9,
        21.6,
        24.3,
        20.4,
        23.9,
        13.3,
    ]
    r = run("ttest_ind", x, y, equal_var=False)
    v1, v2, n1, n2 = statistics.variance(x), statistics.variance(y), len(x), len(y)
    se = math.sqrt(v1 / n1 + v2 / n2)
    df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    t = (statistics.fmean(x) - statistics.fmean(y)) / se
    assert r["t"] == pytest.approx(t) and r["df"] == pytest.approx(df)
    assert r["p_value"] == pytest.approx(t_two_sided_p(t, df), rel=1e-8)
    assert r["p_value"] == pytest.approx(st.ttest_ind(x, y, equal_var=False).pvalue)
    assert "Welch" in r["test"]


def test_ttest_paired_by_hand():
    before = [200, 190, 210, 220, 205, 195, 215, 200]
    after = [192, 188, 200, 215, 199, 196, 205, 193]
    r = run("ttest_paired", before, after)
    d = [b - a for b, a in zip(before, after)]
    mean, sd = statistics.fmean(d), statistics.stdev(d)
    t = mean / (sd / math.sqrt(8))
    assert r["mean_difference"] == pytest.approx(mean) and r["df"] == 7
    assert r["t"] == pytest.approx(t)
    assert r["p_value"] == pytest.approx(t_two_sided_p(t, 7), rel=1e-9)
    assert r["p_value"] == pytest.approx(st.ttest_rel(before, after).pvalue)


# --- ANOVA and chi-square -------------------------------------------------------------------------


def test_anova_exact_example():
    # SSB = 54, SSW = 6 → F = 27 on (2, 6); with 2 numerator df, p = (1 + 2F/6)^(-3) = 0.001
    r = run("anova", groups=[[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert r["F"] == pytest.approx(27) and (r["df_between"], r["df_within"]) == (2, 6)
    assert r["ss_between"] == pytest.approx(54) and r["ss_within"] == pytest.approx(6)
    assert r["p_value"] == pytest.approx(0.001, rel=1e-9)
    assert r["eta_squared"] == pytest.approx(0.9)


def test_anova_wikipedia_example():
    # Wikipedia "One-way analysis of variance" worked example: means 5, 9, 10; SSB = 84, SSW = 68,
    # F = (84/2) / (68/15) ≈ 9.26 (Wikipedia rounds to 9.3) on (2, 15)
    r = run("anova", groups=[[6, 8, 4, 5, 3, 4], [8, 12, 9, 11, 6, 8], [13, 9, 11, 8, 7, 12]])
    f = (84 / 2) / (68 / 15)
    assert r["ss_between"] == pytest.approx(84) and r["ss_within"] == pytest.approx(68)
    assert r["F"] == pytest.approx(f) and round(r["F"], 1) == 9.3
    assert (r["df_between"], r["df_within"]) == (2, 15)
    assert r["p_value"] == pytest.approx((1 + 2 * f / 15) ** (-7.5), rel=1e-9)
    ref = st.f_oneway([6, 8, 4, 5, 3, 4], [8, 12, 9, 11, 6, 8], [13, 9, 11, 8, 7, 12])
    assert r["p_value"] == pytest.approx(ref.pvalue)


def test_chi2_contingency_2x2_by_hand():
    r = run("chi2_contingency", table=[[10, 20], [30, 40]])
    assert [e for row in r["expected"] for e in row] == pytest.approx([12, 18, 28, 42])
    chi2 = 4 / 12 + 4 / 18 + 4 / 28 + 4 / 42
    assert r["chi2"] == pytest.approx(chi2) and r["df"] == 1
    assert r["p_value"] == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))  # chi2(1) tail
    yates = 2.25 * (1 / 12 + 1 / 18 + 1 / 28 + 1 / 42)
    assert r["yates_corrected"]["chi2"] == pytest.approx(yates)
    ref = st.chi2_contingency([[10, 20], [30, 40]], correction=True)
    assert r["yates_corrected"]["p_value"] == pytest.approx(ref.pvalue)
    assert r["fisher_exact_p_value"] == pytest.approx(st.fisher_exact([[10, 20], [30, 40]]).pvalue)


def test_chi2_contingency_2x3_closed_form():
    # Expected 25, 25, 50 in each row; four cells off by ±5 → chi2 = 4, df = 2, p = exp(-2)
    r = run("chi2_contingency", table=[[20, 30, 50], [30, 20, 50]])
    assert r["chi2"] == pytest.approx(4) and r["df"] == 2
    assert r["p_value"] == pytest.approx(math.exp(-2))
    assert "yates_corrected" not in r
    assert r["cramers_v"] == pytest.approx(math.sqrt(4 / 200))


def test_chi2_goodness_die():
    obs = [22, 17, 20, 26, 22, 13]  # 120 rolls, expected 20 each
    r = run("chi2_goodness", observed=obs)
    assert r["chi2"] == pytest.approx(102 / 20) and r["df"] == 5
    assert r["p_value"] == pytest.approx(float(mpmath.gammainc(2.5, 0, 5.1 / 2, regularized=True) * -1 + 1), rel=1e-9)


def test_chi2_goodness_mendel():
    # Mendel's peas, 9:3:3:1 → chi2 ≈ 0.470, p ≈ 0.925
    r = run("chi2_goodness", observed=[315, 108, 101, 32], expected=[9 / 16, 3 / 16, 3 / 16, 1 / 16])
    assert r["chi2"] == pytest.approx(0.470, abs=1e-3) and r["df"] == 3
    assert r["p_value"] == pytest.approx(0.925, abs=1e-3)
    assert any("proportions" in n for n in r["notes"])
    counts = run("chi2_goodness", observed=[315, 108, 101, 32], expected=[312.75, 104.25, 104.25, 34.75])
    assert counts["chi2"] == pytest.approx(r["chi2"])


def test_chi2_reads_data_data2_and_groups_as_the_tool_sends_them():
    # math_stats has no observed/expected/table parameters: the same numbers come as data, data2, groups
    named = run("chi2_goodness", observed=[315, 108, 101, 32], expected=[9 / 16, 3 / 16, 3 / 16, 1 / 16])
    sent = run("chi2_goodness", data=[315, 108, 101, 32], data2=[9 / 16, 3 / 16, 3 / 16, 1 / 16])
    assert sent == named and sent["df"] == 3
    assert run("chi2_contingency", groups=[[20, 30, 50], [30, 20, 50]]) == run(
        "chi2_contingency", table=[[20, 30, 50], [30, 20, 50]]
    )
    assert any("equal frequencies" in n for n in run("chi2_goodness", data=[22, 17, 20, 26, 22, 13])["notes"])
    with pytest.raises(MathInputError, match="needs `data`"):
        run("chi2_goodness")
    with pytest.raises(MathInputError, match="in `groups`"):
        run("chi2_contingency", data=[1, 2])


# --- correlation and regression -------------------------------------------------------------------

X, Y = [1, 2, 3, 4, 5], [2, 4, 5, 4, 5]


def test_pearson_by_hand():
    r = run("correlation", X, Y)
    rho = 6 / math.sqrt(10 * 6)  # Sxy / sqrt(Sxx Syy)
    assert r["r"] == pytest.approx(rho) and r["n"] == 5
    t = rho * math.sqrt(3) / math.sqrt(1 - rho**2)
    assert r["p_value"] == pytest.approx(t_two_sided_p(t, 3), rel=1e-9)
    assert r["r_squared"] == pytest.approx(0.6)
    lo, hi = r["confidence_interval"]
    z, se = math.atanh(rho), 1 / math.sqrt(2)
    assert (lo, hi) == pytest.approx((math.tanh(z - 1.959963984540054 * se), math.tanh(z + 1.959963984540054 * se)))


def test_spearman_is_pearson_of_ranks():
    r = run("correlation", X, Y, method="spearman")
    ranks_y = [1, 2.5, 4.5, 2.5, 4.5]
    assert r["r"] == pytest.approx(np.corrcoef([1, 2, 3, 4, 5], ranks_y)[0, 1])
    assert r["coefficient"] == "rho"


def test_kendall_by_hand():
    # x increasing; of the 10 pairs 7 are concordant, 1 discordant, 2 tied in y
    # → tau-b = (7 - 1) / sqrt(10 * (10 - 2))
    r = run("correlation", X, Y, method="kendall")
    assert r["r"] == pytest.approx(6 / math.sqrt(10 * 8))


def test_perfect_correlation():
    assert run("correlation", [1, 2, 3, 4], [10, 8, 6, 4])["r"] == pytest.approx(-1)


def test_regression_exact_line():
    x = [0, 1, 2, 3, 4, 5]
    r = run("regression", x, [2 * v + 1 for v in x])
    assert r["slope"] == pytest.approx(2) and r["intercept"] == pytest.approx(1)
    assert r["r_squared"] == pytest.approx(1) and r["r"] == pytest.approx(1)
    assert r["residual_std_error"] == pytest.approx(0, abs=1e-12)
    assert r["p_value_slope"] == pytest.approx(0, abs=1e-12)


def test_regression_noisy_by_hand():
    r = run("regression", X, Y)
    assert r["slope"] == pytest.approx(0.6) and r["intercept"] == pytest.approx(2.2)
    s = math.sqrt(2.4 / 3)  # SSE = Syy - b Sxy = 6 - 3.6
    assert r["residual_std_error"] == pytest.approx(s)
    assert r["se_slope"] == pytest.approx(s / math.sqrt(10))
    assert r["se_intercept"] == pytest.approx(s * math.sqrt(1 / 5 + 9 / 10))
    assert r["t_slope"] == pytest.approx(0.6 / (s / math.sqrt(10)))
    assert r["p_value_slope"] == pytest.approx(t_two_sided_p(r["t_slope"], 3), rel=1e-9)
    assert r["r_squared"] == pytest.approx(0.6) and r["df"] == 3
    ref = st.linregress(X, Y)
    assert r["p_value_slope"] == pytest.approx(ref.pvalue)
    assert r["se_intercept"] == pytest.approx(ref.intercept_stderr)


def test_regression_second_example_by_hand():
    # (1, 1), (2, 2), (3, 1.3), (4, 3.75), (5, 2.25): Sxy = 4.25, Sxx = 10, ȳ = 2.06
    # → slope 0.425, intercept 2.06 - 0.425 * 3 = 0.785
    r = run("regression", [1, 2, 3, 4, 5], [1, 2, 1.3, 3.75, 2.25])
    assert r["slope"] == pytest.approx(0.425) and r["intercept"] == pytest.approx(0.785)


# --- distributions --------------------------------------------------------------------------------

KNOWN = [
    ("normal", {"mu": 0, "sigma": 1}, "cdf", 1.96, 0.9750021048517795, 1e-9),
    ("normal", {"mean": 0, "sd": 1}, "ppf", 0.975, 1.959963984540054, 1e-9),
    ("normal", {}, "sf", 1.96, 0.0249978951482205, 1e-9),
    ("normal", {"mu": 0, "variance": 4}, "cdf", 2, 0.8413447460685429, 1e-9),
    ("normal", {"mu": 100, "sigma": 15}, "cdf", 130, 0.9772498680518208, 1e-9),
    ("normal", {"mu": 0, "sigma": 1}, "pdf", 0, 1 / math.sqrt(2 * math.pi), 1e-12),
    ("binomial", {"n": 10, "p": 0.5}, "pmf", 3, 0.1171875, 1e-12),
    ("binomial", {"n": 10, "p": 0.5}, "cdf", 3, 176 / 1024, 1e-12),
    ("binomial", {"trials": 5, "prob": 0.2}, "pdf", 0, 0.8**5, 1e-12),
    ("poisson", {"lambda": 3}, "pmf", 2, 9 * math.exp(-3) / 2, 1e-12),
    ("poisson", {"mu": 2}, "cdf", 1, 3 * math.exp(-2), 1e-12),
    ("t", {"df": 10}, "ppf", 0.975, 2.228138851986274, 1e-9),
    ("t", {"df": 1}, "cdf", 1, 0.75, 1e-12),  # Cauchy: 1/2 + atan(1)/pi
    ("chi2", {"df": 1}, "ppf", 0.95, 3.841458820694124, 1e-9),
    ("chi2", {"df": 2}, "sf", 3, math.exp(-1.5), 1e-12),
    ("f", {"dfn": 2, "dfd": 10}, "ppf", 0.95, 4.102821015130399, 1e-9),
    ("f", {"df1": 2, "df2": 6}, "sf", 27, 0.001, 1e-9),
    ("uniform", {"a": 0, "b": 10}, "cdf", 2.5, 0.25, 1e-12),
    ("uniform", {"low": 2, "high": 4}, "pdf", 3, 0.5, 1e-12),
    ("exponential", {"rate": 2}, "cdf", 1, 1 - math.exp(-2), 1e-12),
    ("exponential", {"scale": 2}, "sf", 2, math.exp(-1), 1e-12),
    ("gamma", {"shape": 1, "rate": 3}, "cdf", 1, 1 - math.exp(-3), 1e-12),  # Gamma(1, rate) = Exp(rate)
    ("beta", {"a": 2, "b": 1}, "cdf", 0.5, 0.25, 1e-12),  # F(x) = x²
    ("lognormal", {"mu": 0, "sigma": 1}, "cdf", 1, 0.5, 1e-12),
    ("geometric", {"p": 0.5}, "pmf", 3, 0.125, 1e-12),  # trials until first success
    ("negative_binomial", {"r": 3, "p": 0.5}, "pmf", 2, math.comb(4, 2) * 0.5**5, 1e-12),
    (
        "hypergeometric",
        {"N": 50, "K": 5, "n": 10},
        "pmf",
        1,
        math.comb(5, 1) * math.comb(45, 9) / math.comb(50, 10),
        1e-12,
    ),
    ("bernoulli", {"p": 0.3}, "pmf", 1, 0.3, 1e-12),
]


@pytest.mark.parametrize(("name", "params", "op", "at", "expected", "tol"), KNOWN)
def test_distribution_known_values(name, params, op, at, expected, tol):
    r = dist(name, params, op, at)
    assert r["value"] == pytest.approx(expected, rel=tol, abs=tol)


MOMENTS = [
    ("exponential", {"rate": 4}, "mean", 0.25),
    ("exponential", {"scale": 3}, "mean", 3),
    ("exponential", {"lambda": 2}, "median", math.log(2) / 2),
    ("gamma", {"shape": 3, "scale": 2}, "variance", 12),
    ("gamma", {"alpha": 3, "beta": 2}, "variance", 0.75),  # beta is the rate
    ("gamma", {"k": 2, "theta": 5}, "mean", 10),
    ("beta", {"a": 2, "b": 3}, "mean", 0.4),
    ("beta", {"alpha": 2, "beta": 3}, "variance", 6 / (25 * 6)),
    ("lognormal", {"mu": 0, "sigma": 1}, "mean", math.exp(0.5)),
    ("poisson", {"lambda": 9}, "std", 3),
    ("binomial", {"n": 20, "p": 0.3}, "variance", 4.2),
    ("geometric", {"p": 0.25}, "mean", 4),
    ("negative_binomial", {"r": 5, "p": 0.5}, "mean", 5),  # failures before 5th success
    ("hypergeometric", {"N": 50, "K": 5, "n": 10}, "mean", 1),
    ("chi2", {"df": 7}, "mean", 7),
    ("chi2", {"df": 7}, "variance", 14),
    ("t", {"df": 6}, "variance", 1.5),
    ("uniform", {"a": 0, "b": 12}, "variance", 12),
    ("f", {"dfn": 5, "dfd": 10}, "mean", 1.25),
]


@pytest.mark.parametrize(("name", "params", "op", "expected"), MOMENTS)
def test_distribution_moments(name, params, op, expected):
    assert dist(name, params, op)["value"] == pytest.approx(expected, rel=1e-12)


def test_uniform_interval():
    r = dist("uniform", {"a": 0, "b": 10}, "interval", 0.9)
    assert r["value"] == pytest.approx([0.5, 9.5])


def test_normal_interval_and_lists():
    r = dist("normal", {"mu": 0, "sigma": 1}, "interval", [0.95, 0.99])
    assert r["value"][0] == pytest.approx([-1.959963984540054, 1.959963984540054])
    assert r["value"][1] == pytest.approx([-2.5758293035489, 2.5758293035489])
    r = dist("normal", {}, "cdf", [-1, 0, 1])
    assert r["value"] == pytest.approx([0.15865525393145707, 0.5, 0.8413447460685429])
    assert dist("normal", {}, "interval")["value"] == pytest.approx([-1.959963984540054, 1.959963984540054])


def test_ppf_edges_are_infinite_strings():
    r = dist("normal", {}, "ppf", [0, 1])
    assert r["value"] == ["-inf", "inf"]


def test_t_mean_undefined_for_df_1():
    r = dist("t", {"df": 1}, "mean")
    assert r["value"] is None and any("undefined" in n for n in r["notes"])


def test_parametrization_is_stated():
    assert "scale=1/rate" in dist("exponential", {"rate": 2}, "mean")["parametrization"]
    assert "lognorm(s=sigma, scale=exp(mu))" in dist("lognormal", {}, "mean")["parametrization"]
    assert dist("binomial", {"n": 4, "p": 0.5}, "pdf", 2)["operation"] == "pmf"


# --- bad input ------------------------------------------------------------------------------------


def test_unknown_stats_operation_lists_valid():
    with pytest.raises(MathInputError) as exc:
        stats("average", [1, 2])
    for op in ("describe", "ttest_ind", "anova", "chi2_contingency", "regression"):
        assert op in str(exc.value)


def test_unknown_distribution_operation_and_name():
    with pytest.raises(MathInputError, match="pdf.*cdf.*ppf"):
        distribution("normal", {}, "integrate", 1)
    with pytest.raises(MathInputError, match="known: normal"):
        distribution("zipf", {}, "pdf", 1)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("normal", {"mu": 0, "stdev": 1}, r"unknown parameter 'stdev'.*sigma \(aliases: sd"),
        ("normal", {"sigma": 0}, r"sigma .* must be > 0"),
        ("normal", {"sigma": 1, "variance": 1}, "only one of sigma or variance"),
        ("normal", {"sigma": 1, "sd": 2}, "given twice"),
        ("binomial", {"n": 10, "p": 1.5}, r"p .*0 <= p <= 1"),
        ("binomial", {"n": 2.5, "p": 0.5}, "whole number"),
        ("binomial", {"p": 0.5}, "needs parameter 'n'"),
        ("poisson", {"lambda": -1}, "must be > 0"),
        ("uniform", {"a": 3, "b": 1}, "a < b"),
        ("exponential", {"rate": 1, "scale": 1}, "only one of rate or scale"),
        ("beta", {"a": 1}, "needs parameter 'b'"),
        ("hypergeometric", {"N": 10, "K": 11, "n": 2}, "K <= N"),
        ("t", {"df": "abc"}, "must be numbers"),
    ],
)
def test_bad_distribution_parameters(name, params, match):
    with pytest.raises(MathInputError, match=match):
        distribution(name, params, "mean")


def test_bad_at():
    with pytest.raises(MathInputError, match="probability between 0 and 1"):
        distribution("normal", {}, "ppf", 1.5)
    with pytest.raises(MathInputError, match="needs `at`"):
        distribution("normal", {}, "cdf")
    with pytest.raises(MathInputError, match="finite"):
        distribution("normal", {}, "cdf", [0, float("nan")])


@pytest.mark.parametrize(
    ("op", "kwargs", "match"),
    [
        ("ttest_paired", {"data": [1, 2, 3], "data2": [1, 2]}, "different lengths"),
        ("correlation", {"data": [1, 2, 3], "data2": [1, 2, 3, 4]}, "different lengths"),
        ("regression", {"data": [1, 2, 3, 4], "data2": [1, 2, 3]}, "different lengths"),
        ("describe", {"data": [1, float("nan"), 3]}, r"data\[1\] is nan"),
        ("describe", {"data": [1, 2, float("inf")]}, r"data\[2\] is inf"),
        ("describe", {"data": [1, "two", 3]}, r"data\[1\]"),
        ("describe", {"data": [1, True]}, "must be numbers"),
        ("describe", {}, "needs `data`"),
        ("ttest_1samp", {"data": [1]}, "at least 2"),
        ("ttest_1samp", {"data": [4, 4, 4], "mu": 3}, "standard error is 0"),
        ("ttest_ind", {"data": [1, 2, 3]}, "needs `data2`"),
        ("anova", {"groups": [[1, 2, 3]]}, "at least 2"),
        ("chi2_contingency", {"table": [[1, 2], [3]]}, "same number"),
        ("chi2_contingency", {"table": [[0, 0], [3, 4]]}, "sum to 0"),
        ("chi2_goodness", {"observed": [1, 2, 3], "expected": [1, 2]}, "different lengths"),
        ("correlation", {"data": [1, 1, 1], "data2": [1, 2, 3]}, "constant"),
        ("correlation", {"data": [1, 2, 3], "data2": [1, 2, 4], "method": "magic"}, "pearson, spearman or kendall"),
        ("regression", {"data": [2, 2, 2], "data2": [1, 2, 3]}, "x values"),
        ("describe", {"data": [1, 2], "alpha": 1.5}, "alpha must be between 0 and 1"),
        ("ttest_1samp", {"data": [1, 2, 3], "alternative": "sideways"}, "two-sided, less or greater"),
    ],
)
def test_bad_stats_input(op, kwargs, match):
    with pytest.raises(MathInputError, match=match):
        stats(op, **kwargs)


def test_too_many_values():
    with pytest.raises(MathInputError, match="limit"):
        stats("describe", [0.0] * 1_000_001)


def test_a_million_values_are_described_within_a_cpu_budget():
    data = np.random.default_rng(0).normal(size=1_000_000).tolist()
    with cpu_budget(20):  # about 1 CPU second; a quadratic step would take hours
        r = run("describe", data)
    assert r["n"] == 1_000_000 and r["mean"] == pytest.approx(0, abs=0.01)
    assert r["std_sample"] == pytest.approx(1, abs=0.01)


def test_ignored_arguments_are_noted():
    r = run("describe", [1, 2, 3], data2=[4, 5, 6])
    assert any("ignored" in n and "data2" in n for n in r["notes"])
