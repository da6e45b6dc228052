"""Experiment statistics checked against numbers worked out by hand, and the assignment rule."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from shop.experiments import statistics
from shop.experiments.assignment import bucket, pick_variant


def test_wilson_interval_for_half_of_a_hundred():
    # p = 0.5, z^2/n = 0.038415: centre 0.5, half-width 1.96*sqrt(0.0025+0.000096)/1.038415
    est = statistics.wilson_interval(50, 100)
    assert est.value == 0.5
    assert est.low == pytest.approx(0.40383, abs=1e-5)
    assert est.high == pytest.approx(0.59617, abs=1e-5)
    assert est.n == 100


def test_wilson_interval_stays_inside_zero_one_at_the_edges():
    none = statistics.wilson_interval(0, 10)
    assert none.value == 0.0
    assert none.low == 0.0
    # upper end = (z^2/2n + z*sqrt(z^2/4n^2)) / (1 + z^2/n) = 2*0.19207/1.38415
    assert none.high == pytest.approx(0.27753, abs=1e-5)
    everyone = statistics.wilson_interval(10, 10)
    assert everyone.high == pytest.approx(1.0)
    assert everyone.low == pytest.approx(1 - 0.27753, abs=1e-5)


def test_wilson_interval_without_trials_has_no_value():
    est = statistics.wilson_interval(0, 0)
    assert est.value is None and est.low is None and est.high is None


def test_wilson_interval_refuses_more_successes_than_trials():
    with pytest.raises(ValueError):
        statistics.wilson_interval(11, 10)


def test_two_proportion_z_test_matches_hand_computation():
    # 10% of 1000 vs 13% of 1000: pooled 0.115, se = sqrt(0.115*0.885*0.002) = 0.0142671
    result = statistics.two_proportion_z_test(100, 1000, 130, 1000)
    assert result.difference == pytest.approx(0.03)
    assert result.statistic == pytest.approx(0.03 / math.sqrt(0.115 * 0.885 * 0.002))
    assert result.statistic == pytest.approx(2.1027, abs=1e-4)
    assert result.p_value == pytest.approx(0.03549, abs=1e-4)
    assert result.significant


def test_two_proportion_z_test_is_symmetric_and_needs_samples():
    ahead = statistics.two_proportion_z_test(100, 1000, 130, 1000)
    behind = statistics.two_proportion_z_test(130, 1000, 100, 1000)
    assert behind.statistic == pytest.approx(-ahead.statistic)
    assert behind.p_value == pytest.approx(ahead.p_value)
    assert statistics.two_proportion_z_test(0, 0, 5, 10) is None
    same = statistics.two_proportion_z_test(0, 10, 0, 10)
    assert same.p_value == 1.0 and not same.significant


def test_mean_interval_uses_sample_standard_deviation():
    # mean 3, s = sqrt(2.5), half-width 1.96*sqrt(2.5/5) = 1.38590
    est = statistics.mean_interval([1, 2, 3, 4, 5])
    assert est.value == 3
    assert est.low == pytest.approx(3 - 1.385903, abs=1e-5)
    assert est.high == pytest.approx(3 + 1.385903, abs=1e-5)
    assert statistics.mean_interval([]).value is None


@pytest.mark.parametrize("values", [[42.99], [0.0, 0.0, 0.0], [10.0, 10.0]])
def test_mean_interval_without_spread_gives_no_interval(values):
    # One shopper, or all spending alike: a zero-width interval would claim certainty it lacks.
    est = statistics.mean_interval(values)
    assert est.value == pytest.approx(values[0]) and est.n == len(values)
    assert est.low is None and est.high is None


def test_welch_t_test_on_equal_groups_is_not_significant():
    result = statistics.welch_t_test([0, 10, 0, 10], [0, 10, 0, 10])
    assert result.difference == 0 and result.p_value == pytest.approx(1.0)
    assert statistics.welch_t_test([1.0], [2.0, 3.0]) is None


def test_verdict_for_a_significant_lead():
    result = statistics.two_proportion_z_test(100, 1000, 130, 1000)
    assert statistics.proportion_verdict("B", "A", result) == (
        "B is ahead of A by 3.0 points; significant at 95% (two-proportion z-test p=0.035)."
    )


def test_verdict_for_a_small_lead_says_not_yet_significant():
    result = statistics.two_proportion_z_test(100, 1000, 121, 1000)
    text = statistics.proportion_verdict("B", "A", result)
    assert text.startswith("B is ahead of A by 2.1 points, not yet significant (p=0.")


def test_verdict_for_a_variant_behind_and_for_missing_data():
    result = statistics.two_proportion_z_test(300, 1000, 200, 1000)
    assert statistics.proportion_verdict("B", "A", result).startswith(
        "B is behind A by 10.0 points; significant at 95% (two-proportion z-test p<0.001)"
    )
    assert (
        statistics.proportion_verdict("B", "A", None) == "Not enough data yet to compare B with A."
    )


def test_amount_verdict_uses_the_money_format():
    result = statistics.welch_t_test([0.0, 10.0] * 50, [0.0, 12.0] * 50)
    text = statistics.amount_verdict("B", "A", result, money="£{:.2f}".format)
    assert text.startswith("B is ahead of A by £1.00 per shopper, not yet significant")


def _variants(*percents):
    return [
        SimpleNamespace(id=i + 1, name=chr(65 + i), traffic_percent=p)
        for i, p in enumerate(percents)
    ]


def test_assignment_is_stable_for_a_shopper():
    variants = _variants(50, 50)
    first = [pick_variant(variants, 7, uid).name for uid in range(1, 200)]
    again = [pick_variant(list(reversed(variants)), 7, uid).name for uid in range(1, 200)]
    assert first == again
    assert bucket(7, 42) == bucket(7, 42)


@pytest.mark.parametrize("percents", [(50, 50), (70, 30), (20, 30, 50)])
def test_assignment_matches_the_traffic_split_over_ten_thousand_shoppers(percents):
    variants = _variants(*percents)
    counts = dict.fromkeys((v.name for v in variants), 0)
    for uid in range(1, 10_001):
        counts[pick_variant(variants, 3, uid).name] += 1
    for variant in variants:
        assert counts[variant.name] / 10_000 == pytest.approx(
            variant.traffic_percent / 100, abs=0.02
        )


def test_assignment_differs_between_experiments():
    variants = _variants(50, 50)
    one = [pick_variant(variants, 1, uid).name for uid in range(1, 1001)]
    two = [pick_variant(variants, 2, uid).name for uid in range(1, 1001)]
    assert one != two


def test_welch_t_test_matches_the_welch_satterthwaite_hand_computation():
    # means 5 and 6, s^2 = 25*100/99 and 36*100/99: se = sqrt((25.2525 + 36.3636)/100) = 0.784931
    result = statistics.welch_t_test([0.0, 10.0] * 50, [0.0, 12.0] * 50)
    assert result.difference == pytest.approx(1.0)
    assert result.statistic == pytest.approx(1.0 / 0.784931, abs=1e-4)
    assert result.p_value == pytest.approx(0.2042, abs=1e-3)  # t on 191.8 degrees of freedom
