"""The admin area: who may see it, queued retraining, and experiments."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from shop import create_app
from shop.admin.forms import ALGORITHMS
from shop.extensions import db
from shop.models import Experiment, ExperimentVariant, TrainingRun
from shop.recommend import VARIANTS
from shop.seeding import SeedOptions, seed_database
from shop.seeding.experiment import create_demo_experiment
from shop.seeding.generator import generate
from shop.training.runs import fail_orphans, worker_id
from tests import factories
from tests.conftest import csrf_token
from tests.test_training import build_small_shop

SAMPLE_ARGS = {
    "name": "funnel",
    "run_id": 1,
    "experiment_id": 1,
    "product_id": 1,
    "category_id": 1,
    "order_id": 1,
    "pin_id": 1,
    "boost_id": 1,
}


def _admin_routes() -> list[tuple[str, str]]:
    app = create_app("testing")
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{arg}>", str(SAMPLE_ARGS[arg]), path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


ADMIN_ROUTES = _admin_routes()


def test_admin_routes_were_found():
    methods = {method for method, _ in ADMIN_ROUTES}
    assert {"GET", "POST"} <= methods
    assert ("POST", "/admin/model/retrain") in ADMIN_ROUTES


@pytest.fixture
def as_admin(client, auth, admin_user):
    auth.login(email="admin@example.com", password="admin-password")
    return client


@pytest.fixture
def as_shopper(client, auth, shopper):
    auth.login()
    return client


def send(client, method: str, path: str):
    """GET the path, or POST it with a valid CSRF token (so only the access rules can refuse it)."""
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(client, "/")})


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_shoppers_get_403_on_every_admin_route(as_shopper, method, path):
    response = send(as_shopper, method, path)
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_signed_out_visitors_are_sent_to_sign_in(client, method, path):
    response = send(client, method, path)
    if path.endswith((".json", ".csv")):
        assert response.status_code == 401
        assert response.get_json()["error"]["status"] == 401
    else:
        assert response.status_code == 302
        assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize(("method", "path"), [r for r in ADMIN_ROUTES if r[0] == "GET"])
def test_admin_pages_and_downloads_are_private(as_admin, method, path):
    response = send(as_admin, method, path)
    assert response.headers["Cache-Control"] == "private, no-store"


def test_admin_sees_every_page(as_admin):
    for path in ("/admin/", "/admin/model", "/admin/experiments"):
        assert as_admin.get(path).status_code == 200
    assert "Admin" in as_admin.get("/").get_data(as_text=True)


# --- Model health and retraining ---------------------------------------------------------------


def _wait_until_finished(client, run_id: int, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # the test shares the app context's session: drop its snapshot
        state = client.get(f"/admin/model/runs/{run_id}.json").get_json()
        if state["finished"]:
            return state
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_model_page_says_when_it_serves_the_popularity_fallback(as_admin):
    html = as_admin.get("/admin/model").get_data(as_text=True)
    assert "Serving popularity fallback:" in html
    assert "no trained model" in html


def test_retrain_without_csrf_token_is_refused(as_admin):
    response = as_admin.post("/admin/model/retrain")
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(TrainingRun.id))) == 0


def test_retrain_now_queues_a_job_that_fits_and_publishes_the_model(app, as_admin, post):
    build_small_shop()
    response = post("/admin/model/retrain")
    assert response.status_code == 302
    run_id = db.session.scalar(select(TrainingRun.id).order_by(TrainingRun.id.desc()))
    state = _wait_until_finished(as_admin, run_id)
    assert state["status"] == "succeeded", state["error"]
    assert state["progress"] == 100 and state["trigger"] == "manual"
    html = as_admin.get("/admin/model").get_data(as_text=True)
    assert f"Serving model <strong>{state['model_version']}</strong>" in html
    # the training date reads like the page's other dates, not as the engine's raw ISO string
    assert re.search(r", trained \d\d [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC\.", html)
    history = html[html.index('id="run-history"') :]
    assert f"#{run_id}" in history
    assert 'data-trigger="manual">by hand' in history
    assert "Retraining started" in html
    run = db.session.get(TrainingRun, run_id)
    assert run.active_slot is None and run.worker  # the slot is free for the next run


def test_a_failing_training_run_is_recorded_as_failed(as_admin, post):
    post("/admin/model/retrain")  # an empty shop: nothing to learn from
    run_id = db.session.scalar(select(TrainingRun.id))
    state = _wait_until_finished(as_admin, run_id)
    assert state["status"] == "failed"
    assert "no interactions yet" in state["error"]
    assert "no interactions yet" in as_admin.get("/admin/model").get_data(as_text=True)
    assert db.session.get(TrainingRun, run_id).active_slot is None


def test_second_retrain_is_refused_while_one_runs(as_admin, post):
    db.session.add(
        TrainingRun(
            status="running", progress=40, message="Fitting", active_slot=1, worker=worker_id()
        )
    )
    db.session.commit()
    response = post("/admin/model/retrain", follow_redirects=True)
    assert "is running (40%)" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(TrainingRun.id))) == 1


def test_only_one_run_can_hold_the_active_slot(app):
    db.session.add(TrainingRun(status="queued", active_slot=1))
    db.session.commit()
    db.session.add(TrainingRun(status="queued", active_slot=1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_run_whose_worker_died_is_failed_and_the_next_retrain_starts(as_admin, post):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = f"{socket.gethostname()}:{gone.stdout.strip()}"
    db.session.add(
        TrainingRun(status="running", progress=15, message="Fitting", active_slot=1, worker=dead)
    )
    db.session.commit()
    assert fail_orphans() == [1]
    orphan = db.session.get(TrainingRun, 1)
    assert orphan.status == "failed" and orphan.active_slot is None
    assert "killed or restarted" in orphan.error and "15%" in orphan.error
    post("/admin/model/retrain")
    assert db.session.scalar(select(func.count(TrainingRun.id))) == 2


# --- Experiments ---------------------------------------------------------------------------


def _experiment_form(name="Home list test", rows=(("A", "hybrid", 50), ("B", "popularity", 50))):
    data = {"name": name, "description": "Does the hybrid sell more?"}
    for i, (v_name, algorithm, percent) in enumerate(rows):
        data[f"variants-{i}-name"] = v_name
        data[f"variants-{i}-algorithm"] = algorithm
        data[f"variants-{i}-traffic_percent"] = str(percent)
    return data


def test_create_and_stop_an_experiment(as_admin, post):
    response = post("/admin/experiments", data=_experiment_form())
    assert response.status_code == 302
    experiment = db.session.scalar(select(Experiment))
    assert experiment.status == "running"
    assert [(v.name, v.algorithm, v.traffic_percent) for v in experiment.variants] == [
        ("A", "hybrid", 50),
        ("B", "popularity", 50),
    ]
    page = as_admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Stop experiment" in page
    post(f"/admin/experiments/{experiment.id}/stop")
    db.session.refresh(experiment)
    assert experiment.status == "finished" and experiment.ended_at is not None


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ((("A", "hybrid", 60), ("B", "popularity", 30)), "must add up to 100 (they add up to 90)"),
        ((("A", "hybrid", 100),), "Give between 2 and 4 variants"),
        ((("A", "hybrid", 50), ("a", "svd", 50)), "Each variant needs its own name."),
        (
            (("A", "hybrid", 50), ("B", "popularity", "")),
            "Give every variant a traffic percentage.",
        ),
        ((("A", "hybrid", "9" * 400), ("B", "popularity", 50)), "Use 1 to 100."),
        ((("A", "hybrid", "fifty"), ("B", "popularity", 50)), "Use 1 to 100."),
    ],
)
def test_invalid_experiments_are_refused_with_a_message(as_admin, post, rows, message):
    response = post("/admin/experiments", data=_experiment_form(rows=rows))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Experiment.id))) == 0
    assert db.session.scalar(select(func.count(ExperimentVariant.id))) == 0


def test_control_characters_never_reach_the_experiment_tables(as_admin, post):
    data = _experiment_form(name="Home\x00 list", rows=(("A\x00", "hybrid", 50), ("B", "svd", 50)))
    assert post("/admin/experiments", data=data).status_code == 302
    experiment = db.session.scalar(select(Experiment))
    assert experiment.name == "Home list"
    assert [v.name for v in experiment.variants] == ["A", "B"]


def test_every_engine_variant_can_be_an_experiment_arm(as_admin, post):
    assert set(ALGORITHMS) == set(VARIANTS)
    response = post(
        "/admin/experiments", data=_experiment_form(rows=(("A", "hybrid", 50), ("B", "ease", 50)))
    )
    assert response.status_code == 302
    experiment = db.session.scalar(select(Experiment))
    assert [v.algorithm for v in experiment.variants] == ["hybrid", "ease"]
    page = as_admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "EASE (item-item)" in page


def test_unknown_algorithm_is_refused(as_admin, post):
    response = post(
        "/admin/experiments", data=_experiment_form(rows=(("A", "magic", 50), ("B", "svd", 50)))
    )
    assert response.status_code == 422
    assert db.session.scalar(select(func.count(Experiment.id))) == 0


def test_only_one_experiment_runs_at_a_time(as_admin, post):
    post("/admin/experiments", data=_experiment_form(name="First"))
    response = post("/admin/experiments", data=_experiment_form(name="Second"))
    assert response.status_code == 409
    assert "“First” is still running" in response.get_data(as_text=True)
    assert db.session.scalars(select(Experiment.name)).all() == ["First"]


def _variant_sql(variant_id: int) -> dict:
    one = lambda q: db.session.execute(text(q), {"v": variant_id}).scalar()  # noqa: E731
    shoppers = one("SELECT count(DISTINCT user_id) FROM impressions WHERE variant_id=:v")
    buyers = one(
        "SELECT count(DISTINCT i.user_id) FROM events e JOIN impressions i ON i.id=e.impression_id "
        "WHERE i.variant_id=:v AND e.kind='purchase'"
    )
    revenue = one(
        "SELECT sum(l.quantity * l.unit_price) FROM order_lines l "
        "JOIN impressions i ON i.id=l.impression_id WHERE i.variant_id=:v"
    )
    return {
        "shoppers": shoppers,
        "impressions": one("SELECT count(*) FROM impressions WHERE variant_id=:v"),
        "clicks": one(
            "SELECT count(*) FROM events e JOIN impressions i ON i.id=e.impression_id "
            "WHERE i.variant_id=:v AND e.kind='click'"
        ),
        "conversion": buyers / shoppers,
        "revenue_per_shopper": float(revenue or 0) / shoppers,
    }


DEMO_OPTIONS = SeedOptions(users=60, products=20, events=3000, seed=3, days=60)


@pytest.fixture
def demo_experiment(app, tmp_path):
    app.static_folder = str(tmp_path / "static")
    report = seed_database(DEMO_OPTIONS, with_experiment=True)
    return db.session.get(Experiment, report.experiment_id)


def test_experiment_page_numbers_match_sql(as_admin, demo_experiment):
    html = as_admin.get(f"/admin/experiments/{demo_experiment.id}").get_data(as_text=True)
    for variant in demo_experiment.variants:
        expected = _variant_sql(variant.id)
        row = re.search(rf'<tr data-variant="{variant.name}">(.*?)</tr>', html, re.S).group(1)

        def cell(col: str, row=row) -> str:
            return re.search(rf'data-col="{col}">(.*?)</td>', row, re.S).group(1)

        assert cell("shoppers").strip() == f"{expected['shoppers']:,}"
        assert cell("impressions").strip() == f"{expected['impressions']:,}"
        assert cell("clicks").strip().startswith(f"{expected['clicks']:,}")
        assert f"{100 * expected['conversion']:.2f}%" in cell("conversion")
        assert f"£{expected['revenue_per_shopper']:,.2f}" in cell("revenue")
    assert re.search(
        r"Conversion:</strong> B (is (ahead of|behind) A by \d+\.\d points|and A are level)", html
    )


def _variant_row(html: str, name: str) -> dict[str, str]:
    """The visible text of each cell of a variant's row on the experiment page."""
    row = re.search(rf'<tr data-variant="{name}">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r'data-col="([\w-]+)">(.*?)</td>', row, re.S)
    return {col: " ".join(re.sub(r"<[^>]+>", " ", text).split()) for col, text in cells}


def test_experiment_page_counts_one_buyer_and_gives_no_interval_it_cannot_measure(as_admin):
    experiment = factories.make_experiment()
    control, variant = sorted(experiment.variants, key=lambda v: v.id)
    kettle = factories.make_product(price="42.99")
    buyer, browser, other = (factories.make_user() for _ in range(3))
    factories.buy_from_list(buyer, factories.show_list(buyer, control, [kettle]), kettle)
    for shopper in (browser, other):
        shown = factories.show_list(shopper, variant, [kettle])
        factories.make_event(shopper, kettle, "click", impression_id=shown.id)

    html = as_admin.get(f"/admin/experiments/{experiment.id}").get_data(as_text=True)

    a, b = _variant_row(html, "A"), _variant_row(html, "B")
    assert a["conversion"].endswith("1 buyer") and "buyers" not in a["conversion"]
    assert b["conversion"].endswith("0 buyers")
    assert a["clicks"] == "1 1 list clicked" and b["clicks"] == "2 2 lists clicked"
    assert a["revenue"] == "£42.99 too few buyers for an interval"
    assert b["revenue"] == "£0.00 too few buyers for an interval"
    assert "£42.99 – £42.99" not in html and "95% CI £" not in html


def test_demo_experiment_is_finished_deterministic_and_attributed(app, demo_experiment):
    assert demo_experiment.status == "finished"
    ended = demo_experiment.ended_at
    assert (ended if ended.tzinfo else ended.replace(tzinfo=UTC)) < datetime.now(UTC)
    again = create_demo_experiment(generate(DEMO_OPTIONS), rng_seed=3)
    assert again.id == demo_experiment.id
    # Every purchase from a list is an order line naming the same list and product, and back.
    attributed = db.session.execute(
        text(
            "SELECT (SELECT count(*) FROM events WHERE kind='purchase' AND impression_id IS NOT NULL), "
            "(SELECT count(*) FROM order_lines WHERE impression_id IS NOT NULL), "
            "(SELECT count(*) FROM events e JOIN order_lines l ON l.impression_id=e.impression_id "
            "AND l.product_id=e.product_id WHERE e.kind='purchase')"
        )
    ).one()
    assert attributed[0] == attributed[1] == attributed[2] > 0
    counters = db.session.execute(
        text(
            "SELECT sum(click_count), (SELECT count(*) FROM events WHERE kind='click') FROM products"
        )
    ).one()
    assert counters[0] == counters[1]


def test_seed_command_can_add_the_demo_experiment(runner):
    result = runner.invoke(
        args=["seed", "--users", "40", "--products", "20", "--events", "2000", "--quiet"]
        + ["--with-experiment"]
    )
    assert result.exit_code == 0, result.output
    experiment = db.session.scalar(select(Experiment))
    assert experiment.status == "finished"
    assert f"/admin/experiments/{experiment.id}" in result.output
    impressions = db.session.execute(text("SELECT count(*) FROM impressions")).scalar()
    assert impressions >= 40


def test_forged_or_borrowed_impression_ids_change_no_experiment_figure(
    app, client, auth, demo_experiment
):
    from shop.experiments.impressions import impression_token
    from shop.experiments.results import experiment_results
    from shop.models import Impression

    before = experiment_results(demo_experiment)
    impressions = db.session.scalars(select(Impression).order_by(Impression.id).limit(9)).all()
    anonymous = app.test_client()
    factories.make_user(email="stranger@example.com", password="correct-horse")
    # A shopper of their own, following other shoppers' links.
    auth.login(email="stranger@example.com")
    for impression in impressions:
        product = impression.product_ids[0]
        borrowed = impression_token(impression.id, impression.user_id)
        for imp in (str(impression.id), borrowed, borrowed[:-3] + "abc"):
            path = f"/products/{product}?src={impression.source}&imp={imp}"
            assert anonymous.get(path).status_code == 200
            assert client.get(path).status_code == 200
    db.session.expire_all()
    assert experiment_results(demo_experiment) == before


def _experiment_with(buyers: tuple[int, int], shoppers: int = 20, days: int = 7):
    """An experiment ``days`` old: ``shoppers`` shown each list, ``buyers`` of them bought from it."""
    experiment = factories.make_experiment()
    experiment.started_at = datetime.now(UTC) - timedelta(days=days)
    db.session.commit()
    kettle = factories.make_product(price="20.00")
    for variant, n_buyers in zip(
        sorted(experiment.variants, key=lambda v: v.id), buyers, strict=True
    ):
        for i in range(shoppers):
            shopper = factories.make_user()
            shown = factories.show_list(shopper, variant, [kettle])
            if i < n_buyers:
                factories.buy_from_list(shopper, shown, kettle)
    return experiment


def _advice(html: str) -> tuple[str, str]:
    match = re.search(r'data-advice="(\w+)" data-advice-for="B">\s*<p[^>]*>(.*?)</p>', html, re.S)
    return match.group(1), " ".join(match.group(2).split())


def test_experiment_page_says_roll_out_b_when_b_clearly_sells_more(as_admin):
    experiment = _experiment_with(buyers=(2, 12))
    html = as_admin.get(f"/admin/experiments/{experiment.id}").get_data(as_text=True)
    assert _advice(html) == (
        "roll_out",
        "Roll out B: shoppers shown B bought 6.0× as often as those shown A "
        "(95% interval: 248% to 752% more).",
    )


def test_experiment_page_says_how_many_more_days_then_what_a_stopped_one_showed(as_admin, post):
    # 10% against 20% of 20 shoppers a list in 7 days: 199 a list are needed, at 20/7 a day
    experiment = _experiment_with(buyers=(2, 4))
    page = f"/admin/experiments/{experiment.id}"
    action, sentence = _advice(as_admin.get(page).get_data(as_text=True))
    assert action == "keep_running"
    assert sentence.startswith(
        "Keep it running for about 63 more days: so far shoppers shown B bought 2.0× as often as "
        "those shown A, not yet enough to tell from chance (199 shoppers per list needed, "
        "20 so far)."
    )
    assert "not yet significant" in as_admin.get(page).get_data(as_text=True)  # the verdict stays

    post(f"{page}/stop")
    action, sentence = _advice(as_admin.get(page).get_data(as_text=True))
    assert action == "keep_control"
    assert sentence == (
        "Keep A for now: shoppers shown B bought 2.0× as often as those shown A, which could "
        "still be chance. To know, run it again for about 70 days at this traffic "
        "(199 shoppers per list)."
    )


# --- The model page in an owner's words --------------------------------------------------------


def _evaluated_run(hybrid_recall: float, popularity_recall: float) -> TrainingRun:
    scores = {"precision": 0.05, "ndcg": 0.2, "map": 0.1, "coverage": 0.3}
    run = TrainingRun(
        status="succeeded",
        model_version="v-measured",
        n_users=298,
        n_products=40,
        n_interactions=5000,
        finished_at=datetime.now(UTC),
        metrics={
            "k": 10,
            "topn": {
                "split": {
                    "protocol": "time",
                    "cut": "2026-11-01T09:00:00+00:00",
                    "end": "2026-11-13T08:00:00+00:00",
                    "n_train": 4000,
                    "n_test_users": 120,
                    "n_test_pairs": 300,
                },
                "models": {
                    "popularity": {**scores, "recall": popularity_recall, "n_users": 120},
                    "hybrid": {**scores, "recall": hybrid_recall, "n_users": 120},
                },
            },
        },
    )
    db.session.add(run)
    db.session.commit()
    return run


def test_model_page_leads_with_a_plain_sentence_and_keeps_the_metrics_behind_a_toggle(as_admin):
    run = _evaluated_run(hybrid_recall=0.27, popularity_recall=0.15)
    html = as_admin.get("/admin/model").get_data(as_text=True)

    lead = re.search(r"<p [^>]*data-summary>(.*?)</p>", html, re.S).group(1)
    assert lead == (
        "Personal recommendations are 1.8× as likely to be bought, liked or put in a cart as "
        "best sellers, measured on the last 12 days of history."
    )
    counts = " ".join(re.search(r"data-shopper-counts>(.*?)</p>", html, re.S).group(1).split())
    assert counts == (
        "The model learned from the history of 298 shoppers. It was checked on 120 shoppers who "
        "came back after 1 Nov 2026: what they bought, liked or put in their cart then was hidden "
        "from it, and it was scored on whether their personal list of 10 held it, against the 10 "
        f"best sellers. (From training run #{run.id}.)"
    )
    before, figures = html.split('<details class="mb-4" id="model-figures">')
    figures, after = figures.split('</details>\n\n<div class="card shadow-sm">', 1)
    assert "<summary" in figures and "The figures behind this" in figures
    assert "NDCG" in figures and 'id="topn-metrics"' in figures and "Shoppers checked" in figures
    assert "NDCG" not in before and "NDCG" not in after  # the history speaks plainly too
    assert re.search(r'id="run-history".*?<td class="text-end fw-semibold">1\.8×</td>', after, re.S)


def test_model_page_is_honest_when_best_sellers_do_better_or_nothing_was_measured(as_admin):
    html = as_admin.get("/admin/model").get_data(as_text=True)
    assert "Not measured yet: retrain the model" in html

    _evaluated_run(hybrid_recall=0.09, popularity_recall=0.15)
    html = as_admin.get("/admin/model").get_data(as_text=True)
    lead = re.search(r"<p [^>]*data-summary>(.*?)</p>", html, re.S).group(1)
    assert lead.startswith(
        "Best sellers do better than personal recommendations for now: a personal list is 0.6× "
        "as likely to hold what shoppers bought, liked or put in their cart next, measured on "
        "the last 12 days of history."
    )


def test_the_guards_shopper_count_is_named_apart_from_the_shoppers_learned_from():
    from shop.training import report

    choice = report.ranker_choice({"ranker": {"chosen": "blend", "n_users": 562}})
    assert choice.details == [
        ("validation cases (shoppers with held-out choices, once per holdout)", "562")
    ]
