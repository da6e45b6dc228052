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


# --- What to do next --------------------------------------------------------------------------

POWER = 0.80
Z_POWER = float(stats.norm.ppf(POWER))
#: A relative change in conversion smaller than this is not worth acting on, however sure we are.
MIN_MEANINGFUL_LIFT = 0.05
#: Beyond this many more days the answer is "no meaningful difference", not "keep running".
MAX_USEFUL_DAYS = 90


def sample_size_per_group(p1: float, p2: float) -> int:
    """Shoppers needed in each of two groups to detect rates ``p1`` vs ``p2`` (two-sided, 95%
    confidence, 80% power), by the usual normal-approximation formula for two proportions.

    Raises ValueError when the rates are equal (no sample is big enough) or not in [0, 1].
    """
    if not (0.0 <= p1 <= 1.0 and 0.0 <= p2 <= 1.0):
        raise ValueError(f"rates must be in [0, 1], got {p1} and {p2}")
    if p1 == p2:
        raise ValueError("equal rates: no sample size detects a difference of zero")
    mean = (p1 + p2) / 2
    spread = Z_95 * math.sqrt(2 * mean * (1 - mean)) + Z_POWER * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(spread**2 / (p1 - p2) ** 2)


def relative_lift_interval(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float] | None:
    """B's rate relative to A's, minus one, with a 95% interval: (lift, low, high).

    The interval is the normal-approximation interval of p2 - p1 divided by p1, so it reads
    "bought 23% more often (5% to 41% more)". None when the control has no successes to divide by.
    """
    if n1 <= 0 or n2 <= 0 or x1 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    half = Z_95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return (p2 - p1) / p1, (p2 - p1 - half) / p1, (p2 - p1 + half) / p1


@dataclass(frozen=True)
class Advice:
    """What the owner should do about one variant against the control, in a sentence.

    ``action`` is one of ``"roll_out"``, ``"keep_control"``, ``"keep_running"``, ``"no_difference"``
    or ``"too_early"``, so a page can colour it and a test can check it without parsing words.
    """

    action: str
    sentence: str
    days_more: int | None = None


def _compared(lift: float, control: str) -> str:
    """``0.23`` -> "23% more often than those shown A"; ``1.0`` -> "2.0× as often as ..."."""
    if lift >= 1:
        return f"{1 + lift:.1f}× as often as those shown {control}"
    return f"{abs(lift):.0%} {'more' if lift >= 0 else 'less'} often than those shown {control}"


def _interval_words(low: float, high: float) -> str:
    def one(value: float) -> str:
        if abs(value) < 0.005:
            return "no change"
        return f"{abs(value):.0%} {'more' if value > 0 else 'less'}"

    if low > 0.005 or high < -0.005:  # both ends on one side: "5% to 41% more"
        return f"95% interval: {abs(low):.0%} to {one(high)}"
    return f"95% interval: {one(low)} to {one(high)}"


def advise(
    control: str,
    variant: str,
    buyers: tuple[int, int],
    shoppers: tuple[int, int],
    days_run: float,
    *,
    finished: bool = False,
) -> Advice:
    """Roll out, keep the control, keep running for about N days, or stop: decided on conversion.

    ``buyers`` and ``shoppers`` are (control, variant); ``days_run`` is how long the experiment has
    collected shoppers, which sets the traffic the "N more days" estimate assumes. A finished
    experiment cannot run on, so it is told what its data showed and how long a rerun would need.
    """
    (x1, x2), (n1, n2) = buyers, shoppers
    if min(n1, n2) == 0 or x1 + x2 == 0:
        seen = "No shoppers have seen both lists" if min(n1, n2) == 0 else "Nobody has bought"
        if finished:
            return Advice(
                "too_early",
                f"{seen} from these lists, so this experiment showed nothing. Keep {control}.",
            )
        return Advice(
            "too_early", f"{seen} from these lists yet: keep it running and look again in a week."
        )
    test = two_proportion_z_test(x1, n1, x2, n2)
    lift = relative_lift_interval(x1, n1, x2, n2)
    p1, p2 = x1 / n1, x2 / n2
    if test is not None and test.significant and lift is not None:
        lift_value, low, high = lift
        measured = f"({_interval_words(low, high)})"
        if lift_value > 0:
            return Advice(
                "roll_out",
                f"Roll out {variant}: shoppers shown {variant} bought "
                f"{_compared(lift_value, control)} {measured}.",
            )
        return Advice(
            "keep_control",
            f"Keep {control}: shoppers shown {variant} bought {_compared(lift_value, control)} "
            f"{measured}.",
        )
    if test is not None and test.significant:  # the control sold nothing, the variant did
        return Advice(
            "roll_out",
            f"Roll out {variant}: {x2} of {n2} shoppers shown {variant} bought from it, none of "
            f"the {n1} shown {control}.",
        )
    observed = (
        f"shoppers shown {variant} bought {_compared(lift[0], control)}"
        if lift
        else f"{p2:.1%} of shoppers shown {variant} bought, {p1:.1%} of those shown {control}"
    )
    if p1 == p2 or (lift is not None and abs(lift[0]) < MIN_MEANINGFUL_LIFT):
        return Advice(
            "no_difference",
            f"No meaningful difference: keep {control} ({observed}, "
            f"less than {MIN_MEANINGFUL_LIFT:.0%} apart).",
        )
    needed = sample_size_per_group(p1, p2)
    per_day = min(n1, n2) / max(days_run, 1 / 24)
    days_more = math.ceil(max(needed - min(n1, n2), 0) / per_day) if per_day else None
    rerun = max(math.ceil(needed / per_day), 1) if per_day else None
    wait = rerun if finished else days_more
    if wait is None or wait > MAX_USEFUL_DAYS:
        how_long = f"about {_days(wait, 'more ' if not finished else '')}" if wait else "too long"
        return Advice(
            "keep_control",
            f"Keep {control}: {'' if finished else 'so far '}{observed}, but at this traffic "
            f"{'a rerun' if finished else 'it'} would take {how_long} to tell that from chance "
            f"({needed:,} shoppers per list). Not worth waiting for unless more shoppers can "
            "see the test.",
            wait,
        )
    if finished:
        return Advice(
            "keep_control",
            f"Keep {control} for now: {observed}, which could still be chance. To know, run "
            f"it again for about {_days(rerun)} at this traffic ({needed:,} shoppers per list).",
            rerun,
        )
    days = max(days_more, 1)
    return Advice(
        "keep_running",
        f"Keep it running for about {_days(days, 'more ')}: so far {observed}, not yet enough to "
        f"tell from chance ({needed:,} shoppers per list needed, {min(n1, n2):,} so far).",
        days,
    )


def _days(n: int, more: str = "") -> str:
    return f"1 {more}day" if n == 1 else f"{n:,} {more}days"
