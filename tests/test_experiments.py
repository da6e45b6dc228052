"""Experiment statistics checked against numbers worked out by hand, the assignment rule, honest
counts (a reload is not another list shown) and the prune of old impressions."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from shop.experiments import statistics
from shop.experiments.assignment import bucket, pick_variant
from shop.extensions import db
from shop.models import CartItem, Event, Experiment, Impression, OrderLine
from tests import factories
from tests.conftest import AuthActions


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


def test_sample_size_for_ten_against_fifteen_percent_is_the_textbook_686():
    # (1.95996*sqrt(2*0.125*0.875) + 0.84162*sqrt(0.09+0.1275))^2 / 0.05^2 = 685.3 -> 686
    assert statistics.sample_size_per_group(0.10, 0.15) == 686
    assert statistics.sample_size_per_group(0.15, 0.10) == 686
    # a difference half as large needs about four times the shoppers
    assert 4 * 686 * 0.9 < statistics.sample_size_per_group(0.10, 0.125) < 4 * 686 * 1.2


@pytest.mark.parametrize(("p1", "p2"), [(0.1, 0.1), (-0.1, 0.2), (0.3, 1.5)])
def test_sample_size_refuses_equal_or_impossible_rates(p1, p2):
    with pytest.raises(ValueError):
        statistics.sample_size_per_group(p1, p2)


def test_advice_rolls_out_a_clear_winner_with_its_interval():
    advice = statistics.advise("A", "B", (40, 80), (200, 200), days_run=7)
    assert advice.action == "roll_out"
    assert advice.sentence == (
        "Roll out B: shoppers shown B bought 2.0× as often as those shown A "
        "(95% interval: 56% to 144% more)."
    )


def test_advice_keeps_the_control_when_the_variant_clearly_sells_less():
    advice = statistics.advise("A", "B", (80, 40), (200, 200), days_run=7)
    assert advice.action == "keep_control"
    assert advice.sentence.startswith("Keep A: shoppers shown B bought 50% less often")


def test_advice_estimates_the_days_still_needed_at_the_current_traffic():
    # 10% vs 15% needs 686 shoppers a list; 140 each in 7 days is 20 a day: (686-140)/20 = 27.3
    advice = statistics.advise("A", "B", (14, 21), (140, 140), days_run=7)
    assert advice.action == "keep_running" and advice.days_more == 28
    assert advice.sentence.startswith("Keep it running for about 28 more days: so far shoppers ")
    assert "(686 shoppers per list needed, 140 so far)" in advice.sentence


def test_advice_calls_a_tiny_difference_no_meaningful_difference():
    tiny = statistics.advise("A", "B", (100, 102), (1000, 1000), days_run=7)
    assert tiny.action == "no_difference"
    assert tiny.sentence == (
        "No meaningful difference: keep A (shoppers shown B bought 2% more often than those "
        "shown A, less than 5% apart)."
    )


def test_advice_does_not_ask_to_wait_for_years():
    # 10% vs 11% needs 14,751 shoppers a list; at 5 a day that is 2,931 more days
    slow = statistics.advise("A", "B", (10, 11), (100, 100), days_run=20)
    assert slow.action == "keep_control" and slow.days_more == 2931
    assert slow.sentence.startswith(
        "Keep A: so far shoppers shown B bought 10% more often than those shown A, but at this "
        "traffic it would take about 2,931 more days to tell that from chance"
    )
    assert slow.sentence.endswith("Not worth waiting for unless more shoppers can see the test.")


def test_advice_for_a_stopped_experiment_says_what_it_showed_and_how_long_a_rerun_needs():
    advice = statistics.advise("A", "B", (14, 21), (140, 140), days_run=7, finished=True)
    assert advice.action == "keep_control"
    assert advice.sentence.startswith(
        "Keep A for now: shoppers shown B bought 50% more often than those shown A, "
        "which could still be chance. To know, run it again for about 35 days"
    )


def test_advice_without_buyers_asks_for_patience():
    assert statistics.advise("A", "B", (0, 0), (30, 30), days_run=2).action == "too_early"
    assert statistics.advise("A", "B", (0, 0), (0, 0), days_run=0).action == "too_early"


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


# --- Honest counts ------------------------------------------------------------------------------


def variant_rows(admin, experiment_id: int) -> dict[str, dict[str, str]]:
    """The experiment page's figures, variant by variant and column by column."""
    response = admin.get(f"/admin/experiments/{experiment_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr data-variant="([^"]+)">(.*?)</tr>', html, re.S)
    return {
        name: dict(re.findall(r'data-col="([^"]+)">(.*?)</td>', row, re.S)) for name, row in rows
    }


@pytest.fixture
def one_variant_experiment(app, shopper):
    teapot, *_ = (factories.make_product(name) for name in ("Teapot", "Kettle", "Mug", "Bowl"))
    # The shopper has a history: a newcomer's home page shows the shop's lists, not the experiment.
    factories.make_event(shopper, teapot, "view")
    return factories.make_experiment(variants=(("all", "popularity", 100),))


@pytest.fixture
def admin(app, admin_user):
    browser = app.test_client()
    AuthActions(browser).login(email="admin@example.com", password="admin-password")
    return browser


def impressions() -> int:
    return db.session.scalar(select(func.count(Impression.id)))


@pytest.mark.parametrize("page", ["/", "/recommend?user_id={user_id}"])
def test_300_reloads_by_one_shopper_add_1_impression_and_the_experiment_page_does_not_move(
    client, auth, shopper, admin, one_variant_experiment, page
):
    auth.login()
    path = page.format(user_id=shopper.id)
    assert client.get(path).status_code == 200
    assert impressions() == 1
    before = variant_rows(admin, one_variant_experiment.id)
    assert before["all"]["shoppers"] == "1" and before["all"]["impressions"] == "1"
    assert before["all"]["lists-per-shopper"] == "1.0"

    for _ in range(300):
        assert client.get(path).status_code == 200

    assert impressions() == 1
    assert variant_rows(admin, one_variant_experiment.id) == before


def test_the_experiment_page_reports_shoppers_and_lists_shown_per_shopper(admin, app):
    products = [factories.make_product(f"Gadget {i}") for i in range(3)]
    experiment = factories.make_experiment()
    control, treatment = experiment.variants
    ann, bob, cat = (factories.make_user(name=n) for n in ("Ann", "Bob", "Cat"))
    for user, variant, times in ((ann, control, 3), (bob, control, 1), (cat, treatment, 2)):
        for _ in range(times):
            factories.show_list(user, variant, products)

    rows = variant_rows(admin, experiment.id)

    assert (rows["A"]["shoppers"], rows["A"]["impressions"]) == ("2", "4")
    assert rows["A"]["lists-per-shopper"] == "2.0"
    assert (rows["B"]["shoppers"], rows["B"]["impressions"]) == ("1", "2")
    assert rows["B"]["lists-per-shopper"] == "2.0"


# --- Pruning old impressions ----------------------------------------------------------------------


def ended_experiment(name: str, days_ago: float, products, shoppers, in_cart) -> Experiment:
    """A finished experiment with lists shown to ``shoppers``; the first bought the first product
    from one and put ``in_cart`` in the cart from it."""
    experiment = factories.make_experiment(name=name)
    control, treatment = experiment.variants
    for i, user in enumerate(shoppers):
        impression = factories.show_list(user, (control, treatment)[i % 2], products)
        if i == 0:
            factories.buy_from_list(user, impression, products[0])
            db.session.add(
                CartItem(user_id=user.id, product_id=in_cart.id, impression_id=impression.id)
            )
    experiment.status = "finished"
    experiment.ended_at = datetime.now(UTC) - timedelta(days=days_ago)
    db.session.commit()
    return experiment


@pytest.fixture
def three_experiments(app):
    products = [factories.make_product(f"Gadget {i}") for i in range(3)]
    shoppers = [factories.make_user(name=f"Shopper {i}") for i in range(6)]
    old = ended_experiment("Over long ago", 91, products, shoppers, in_cart=products[1])
    recent = ended_experiment("Over last month", 30, products, shoppers, in_cart=products[2])
    running = factories.make_experiment(name="Still running")
    for user in shoppers:
        factories.show_list(user, running.variants[0], products)
    return old, recent, running


def impressions_of(experiment: Experiment) -> int:
    ids = [v.id for v in experiment.variants]
    return db.session.scalar(
        select(func.count(Impression.id)).where(Impression.variant_id.in_(ids))
    )


def test_the_prune_deletes_only_impressions_of_experiments_over_for_the_retention_period(
    three_experiments,
):
    from shop.experiments.retention import prune_impressions

    old, recent, running = three_experiments
    events, lines, carts = (
        db.session.scalar(select(func.count()).select_from(m)) for m in (Event, OrderLine, CartItem)
    )

    report = prune_impressions(90)

    assert report.experiment_ids == (old.id,) and report.impressions == 6
    db.session.expire_all()
    assert (impressions_of(old), impressions_of(recent), impressions_of(running)) == (0, 6, 6)
    # The clicks, purchases, order lines and cart rows stay, unlinked from the pruned lists only.
    assert [
        db.session.scalar(select(func.count()).select_from(m)) for m in (Event, OrderLine, CartItem)
    ] == [events, lines, carts]
    linked = db.session.scalars(
        select(Impression.variant_id)
        .join(Event, Event.impression_id == Impression.id)
        .where(Event.impression_id.is_not(None))
    ).all()
    assert linked and set(linked) <= {v.id for v in recent.variants}
    assert (
        db.session.scalar(
            select(func.count(OrderLine.id)).where(OrderLine.impression_id.is_not(None))
        )
        == 1
    )
    # Nothing left to prune: a second run changes nothing.
    assert prune_impressions(90).impressions == 0


def test_a_pruned_experiment_page_shows_the_figures_it_had_and_says_they_were_pruned(
    admin, three_experiments
):
    from shop.experiments.retention import prune_impressions

    old = three_experiments[0]
    before = variant_rows(admin, old.id)
    assert before["A"]["shoppers"] == "3" and before["A"]["revenue-total"] != "£0.00"

    prune_impressions(90)

    db.session.expire_all()
    assert impressions_of(old) == 0
    html = admin.get(f"/admin/experiments/{old.id}").get_data(as_text=True)
    assert 'id="pruned-note"' in html
    assert variant_rows(admin, old.id) == before


def test_prune_command_uses_the_retention_setting_or_days_given(app, runner, three_experiments):
    old, recent, running = three_experiments
    app.config["SHOP_IMPRESSION_RETENTION_DAYS"] = 365

    result = runner.invoke(args=["prune-impressions"])
    assert result.exit_code == 0, result.output
    assert "Pruned 0 impressions" in result.output

    result = runner.invoke(args=["prune-impressions", "--days", "20"])
    assert result.exit_code == 0, result.output
    assert "Pruned 12 impressions" in result.output
    assert f"#{old.id}, #{recent.id}" in result.output
    db.session.expire_all()
    assert (impressions_of(old), impressions_of(recent), impressions_of(running)) == (0, 0, 6)
    assert runner.invoke(args=["prune-impressions", "--help"]).exit_code == 0


def test_the_worker_runs_the_prune_daily_with_the_retention_setting(app, three_experiments):
    from shop.experiments.tasks import prune_old_impressions
    from shop.jobs import huey

    def due(when: datetime) -> set[str]:
        return {task.name for task in huey.read_periodic(when)}

    assert "prune-impressions" in due(datetime(2026, 1, 5, 4, 30))
    assert "prune-impressions" not in due(datetime(2026, 1, 5, 12, 0))
    old, recent, _ = three_experiments
    app.config["SHOP_IMPRESSION_RETENTION_DAYS"] = 90

    prune_old_impressions()  # the queue runs it at once here (SHOP_JOBS_IMMEDIATE)

    db.session.expire_all()
    assert (impressions_of(old), impressions_of(recent)) == (0, 6)
    assert db.session.get(Experiment, old.id).final_results is not None
