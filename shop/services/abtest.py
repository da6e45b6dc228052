"""Statistics for A/B experiments: pure functions over counts, no database.

Kept apart from the queries so that every number on the experiment page can be checked by hand:
Wilson score intervals for proportions (well behaved near 0 and with small samples, unlike the
textbook normal interval), the pooled two-proportion z-test for "is B really better than A", and a
normal-approximation interval and Welch z-test for means such as revenue per shopper.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal
ALPHA = 0.05


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a 95% interval; ``value`` is None when there is no data."""

    value: float | None
    low: float | None
    high: float | None
    n: int


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal variable."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Estimate:
    """Proportion successes/trials with its Wilson score interval."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return Estimate(None, None, None, 0)
    p = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), trials)


@dataclass(frozen=True)
class TestResult:
    difference: float  # treatment minus control
    z: float
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
    return TestResult(p2 - p1, z, 2 * normal_sf(abs(z)))


def mean_interval(values: Sequence[float], z: float = Z_95) -> Estimate:
    """Sample mean with a normal-approximation interval (mean ± z·s/√n)."""
    n = len(values)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Estimate(mean, mean, mean, 1)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = z * math.sqrt(var / n)
    return Estimate(mean, mean - half, mean + half, n)


def welch_z_test(control: Sequence[float], treatment: Sequence[float]) -> TestResult | None:
    """Two-sided test of mean(treatment) - mean(control) with unpooled variances (large samples)."""
    n1, n2 = len(control), len(treatment)
    if n1 < 2 or n2 < 2:
        return None
    m1, m2 = math.fsum(control) / n1, math.fsum(treatment) / n2
    v1 = math.fsum((v - m1) ** 2 for v in control) / (n1 - 1)
    v2 = math.fsum((v - m2) ** 2 for v in treatment) / (n2 - 1)
    se = math.sqrt(v1 / n1 + v2 / n2)
    if se == 0:
        return TestResult(m2 - m1, 0.0, 1.0)
    z = (m2 - m1) / se
    return TestResult(m2 - m1, z, 2 * normal_sf(abs(z)))


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
        return f"{direction}; significant at 95% (Welch z-test {format_p(test.p_value)})."
    return f"{direction}, not yet significant ({format_p(test.p_value)})."
