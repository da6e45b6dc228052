"""The statistics of an A/B experiment page: scipy's intervals and tests, with the shop's wording.

Pure functions over counts, no database, so every number on the experiment page can be checked by
hand. scipy.stats computes what it already has: the Wilson score interval of a proportion
(``binomtest(...).proportion_ci(method="wilson")``, well behaved near 0 and with small samples,
unlike the textbook normal interval) and Welch's unequal-variance t-test for means such as revenue
per shopper (``ttest_ind(equal_var=False)``). The pooled two-proportion z-test ("is B's rate really
higher than A's") and the normal-approximation interval of a mean are a line each over scipy's normal
distribution. What is ours is the wording of the verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
Z_95 = float(stats.norm.ppf(1 - ALPHA / 2))  # two-sided 95% quantile of the standard normal


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a 95% interval; ``value`` is None when there is no data.

    ``low`` and ``high`` are None, with a value, when the data has no spread to measure an interval
    from (one shopper, or every shopper spending the same): a zero-width interval would claim a
    certainty the data does not have, so the page says in words that there are too few buyers.
    """

    value: float | None
    low: float | None
    high: float | None
    n: int


def wilson_interval(successes: int, trials: int) -> Estimate:
    """Proportion successes/trials with its 95% Wilson score interval."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return Estimate(None, None, None, 0)
    ci = stats.binomtest(successes, trials).proportion_ci(
        confidence_level=CONFIDENCE, method="wilson"
    )
    low, high = max(0.0, float(ci.low)), min(1.0, float(ci.high))
    return Estimate(successes / trials, low, high, trials)


@dataclass(frozen=True)
class TestResult:
    """A two-sided test of treatment minus control: the difference, the test statistic, p."""

    difference: float
    statistic: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> TestResult | None:
    """Pooled two-sided z-test of p2 - p1 (group 1 is the control). None when it cannot be computed."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return TestResult(p2 - p1, 0.0, 1.0)
    z = (p2 - p1) / se
    return TestResult(p2 - p1, z, float(2 * stats.norm.sf(abs(z))))


def mean_interval(values: Sequence[float]) -> Estimate:
    """Sample mean with a 95% normal-approximation interval (mean ± z·s/√n); no interval without spread."""
    n = len(values)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    if var == 0:
        return Estimate(mean, None, None, n)
    half = Z_95 * math.sqrt(var / n)
    return Estimate(mean, mean - half, mean + half, n)


def welch_t_test(control: Sequence[float], treatment: Sequence[float]) -> TestResult | None:
    """Welch's two-sided t-test of mean(treatment) - mean(control). None with fewer than two each."""
    n1, n2 = len(control), len(treatment)
    if n1 < 2 or n2 < 2:
        return None
    difference = math.fsum(treatment) / n2 - math.fsum(control) / n1
    if len(set(control)) == 1 and len(set(treatment)) == 1:
        # No spread in either group: scipy's statistic is undefined (0/0), and nothing is learned.
        return TestResult(difference, 0.0, 1.0)
    result = stats.ttest_ind(treatment, control, equal_var=False)
    return TestResult(difference, float(result.statistic), float(result.pvalue))


def format_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def proportion_verdict(
    variant: str, control: str, test: TestResult | None, test_name: str = "two-proportion z-test"
) -> str:
    """Plain words for a difference of two rates, in percentage points."""
    if test is None:
        return f"Not enough data yet to compare {variant} with {control}."
    points = 100 * test.difference
    if abs(points) < 0.05:
        direction = f"{variant} and {control} are level"
    else:
        word = "ahead of" if points > 0 else "behind"
        direction = f"{variant} is {word} {control} by {abs(points):.1f} points"
    if test.significant:
        return f"{direction}; significant at 95% ({test_name} {format_p(test.p_value)})."
    return f"{direction}, not yet significant ({format_p(test.p_value)})."


def amount_verdict(
    variant: str,
    control: str,
    test: TestResult | None,
    money: Callable[[float], str] = "{:.2f}".format,
) -> str:
    """Plain words for a difference of two means such as revenue per shopper."""
    if test is None:
        return f"Not enough data yet to compare {variant} with {control}."
    if test.difference == 0:
        direction = f"{variant} and {control} are level"
    else:
        word = "ahead of" if test.difference > 0 else "behind"
        direction = f"{variant} is {word} {control} by {money(abs(test.difference))} per shopper"
    if test.significant:
        return f"{direction}; significant at 95% (Welch t-test {format_p(test.p_value)})."
    return f"{direction}, not yet significant ({format_p(test.p_value)})."
