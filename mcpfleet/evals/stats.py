"""Statistics with the case as the unit: repeats of one case are not independent trials.

Accuracy is the mean over cases of each case's success rate; its 95% interval is the Wilson score
interval with n = the number of cases applied to that mean (so 50 cases x 5 repeats is as uncertain
as 50 cases, not 250). pass^k gets the same interval over its per-case values. Two runs of the same
cases compare paired: the exact sign test on the cases where one did better than the other (for
one trial per case this is McNemar's exact test) and a paired bootstrap interval (fixed seed) for
the difference in accuracy. Faulted trials (endpoint errors, engine faults) never reach these
functions: callers pass only the trials that measured the model.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mcpfleet.evals.scoring import wilson_interval

Trials = Mapping[str, Sequence[bool]]  # case id -> outcomes of its (unfaulted) trials
SIGNIFICANCE = 0.05
BOOTSTRAP_SAMPLES = 2000


def _rates(trials: Trials) -> list[float]:
    return [sum(t) / len(t) for t in trials.values() if t]


def case_accuracy(trials: Trials) -> float | None:
    """Mean over cases of the per-case success rate (None without trials)."""
    rates = _rates(trials)
    return sum(rates) / len(rates) if rates else None


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """95% Wilson interval for the mean of per-case values in [0, 1], n = the number of cases."""
    n = len(values)
    if not n:
        return (0.0, 1.0)
    total = sum(values)
    lo, hi = wilson_interval(round(total), n) if float(total).is_integer() else _wilson_real(total, n)
    return (lo, hi)


def _wilson_real(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy_interval(trials: Trials) -> tuple[float, float]:
    return mean_interval(_rates(trials))


def pass_k_values(trials: Trials, k: int) -> list[float]:
    """Per case C(c, k) / C(n, k) (τ²-bench), for cases with at least k trials."""
    return [math.comb(sum(t), k) / math.comb(len(t), k) for t in trials.values() if len(t) >= k]


def pass_k_interval(trials: Trials, k: int) -> tuple[float, float]:
    return mean_interval(pass_k_values(trials, k))


def sign_test(a_better: int, b_better: int) -> float:
    """Two-sided exact binomial p-value for a_better vs b_better discordant cases (McNemar exact)."""
    n = a_better + b_better
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(a_better, b_better) + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Paired:
    """A paired comparison of runs A and B over the cases both measured."""

    cases: int
    a_better: int  # cases where A's success rate is higher
    b_better: int
    difference: float  # accuracy(A) - accuracy(B) over the common cases
    interval: tuple[float, float]  # 95% paired bootstrap interval of the difference
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE

    def verdict(self, a: str, b: str) -> str:
        """One sentence a reader can act on."""
        lo, hi = self.interval
        diff = f"{100 * self.difference:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]"
        if not self.cases:
            return f"{a} and {b} share no measured case: no comparison."
        if not self.significant:
            return (
                f"No significant difference between {a} and {b} ({diff}; p = {self.p_value:.3g}, "
                f"{self.a_better} vs {self.b_better} cases differ, {self.cases} cases)."
            )
        better, worse = (
            (a, b) if self.difference > 0 or (self.difference == 0 and self.a_better > self.b_better) else (b, a)
        )
        return (
            f"{better} is better than {worse} ({diff}; p = {self.p_value:.3g}, exact sign test over "
            f"{self.a_better + self.b_better} discordant of {self.cases} cases)."
        )


def paired(a: Trials, b: Trials, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Paired:
    """Compare A and B on the cases both have unfaulted trials for."""
    common = sorted(c for c in a if a[c] and b.get(c))
    diffs = [sum(a[c]) / len(a[c]) - sum(b[c]) / len(b[c]) for c in common]
    a_better = sum(d > 0 for d in diffs)
    b_better = sum(d < 0 for d in diffs)
    if not diffs:
        return Paired(0, 0, 0, 0.0, (0.0, 0.0), 1.0)
    mean = sum(diffs) / len(diffs)
    rng = random.Random(seed)
    n = len(diffs)
    boot = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    lo, hi = boot[int(0.025 * (samples - 1))], boot[round(0.975 * (samples - 1))]
    return Paired(n, a_better, b_better, mean, (lo, hi), sign_test(a_better, b_better))
