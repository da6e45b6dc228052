"""The demo A/B experiment is simulated from the seeded shop's hidden world, not scripted per variant."""

from __future__ import annotations

from datetime import UTC, date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text

from shop.extensions import db
from shop.models import Experiment, Impression
from shop.recommend import HybridRecommender
from shop.recommend.evaluation import engine_scorer
from shop.seeding import SeedOptions, seed_database
from shop.seeding.experiment import create_demo_experiment
from shop.seeding.generator import browse_list, generate
from shop.services.interactions import all_interactions, products_frame

OPTIONS = SeedOptions(users=60, products=30, events=4000, seed=3, days=60, as_of=date(2026, 1, 15))


@pytest.fixture(scope="module")
def world():
    return generate(SeedOptions(users=200, products=80, events=20_000, seed=5)).world


@pytest.fixture
def seeded(app, tmp_path):
    app.static_folder = str(tmp_path / "static")
    report = seed_database(OPTIONS, with_experiment=True)
    return db.session.get(Experiment, report.experiment_id)


def _outcomes(world, user: int, shown: np.ndarray, visits: int = 400) -> tuple[int, int]:
    rng = np.random.default_rng(0)
    clicks = purchases = 0
    for _ in range(visits):
        visit = browse_list(rng, world, user, shown)
        clicks += int(visit.clicked.sum())
        purchases += int(visit.bought.sum())
    return clicks, purchases


def test_a_list_of_what_the_shopper_likes_earns_more_clicks_and_purchases(world):
    for user in (1, 2, 3):
        ranked = np.argsort(-world.affinity([user])[0])
        best, worst = _outcomes(world, user, ranked[:10]), _outcomes(world, user, ranked[-10:])
        assert best[0] > 3 * max(worst[0], 1) and best[1] > worst[1]


def test_a_visit_acts_only_on_the_products_the_list_shows(world):
    rng = np.random.default_rng(1)
    shown = np.arange(5)
    for _ in range(200):
        visit = browse_list(rng, world, 7, shown)
        assert set(visit.product.tolist()) <= set(shown.tolist())
        assert len(set(visit.product.tolist())) == visit.product.size
        assert (
            not (visit.carted & ~visit.clicked).any() and not (visit.bought & ~visit.carted).any()
        )
    assert browse_list(rng, world, 7, np.array([], dtype=np.int64)).product.size == 0


def test_every_impression_is_the_list_its_variant_really_makes(seeded):
    """Refit the engine on the history before the experiment: each shopper's first list is the list the
    home page would show (the engine's, without what the shopper touched)."""
    experiment = seeded
    start = pd.Timestamp(experiment.started_at).tz_localize(None).tz_localize(UTC)
    interactions = all_interactions().sort_values("timestamp", kind="stable", ignore_index=True)
    engine = HybridRecommender(random_state=OPTIONS.seed).fit(
        interactions.loc[interactions["timestamp"] < start], products_frame()
    )
    algorithm = {v.id: v.algorithm for v in experiment.variants}
    impressions = db.session.scalars(select(Impression).order_by(Impression.created_at)).all()
    first = {}
    for impression in impressions:
        first.setdefault(impression.user_id, impression)
    assert {algorithm[i.variant_id] for i in first.values()} == {"popularity", "hybrid"}
    for user_id, impression in list(first.items())[:12]:
        shown_at = pd.Timestamp(impression.created_at).tz_localize(None).tz_localize(UTC)
        history = interactions.loc[
            (interactions["user_id"] == user_id) & (interactions["timestamp"] < shown_at)
        ]
        expected = engine_scorer(engine, algorithm[impression.variant_id], 10)(user_id, history)
        assert impression.product_ids == list(expected)
        assert not set(expected) & set(history["product_id"])  # nothing the shopper touched


def test_the_experiment_records_what_the_shoppers_did_with_the_lists(seeded):
    clicks_outside = db.session.execute(
        text(
            "SELECT count(*) FROM events e JOIN impressions i ON i.id = e.impression_id "
            "WHERE e.user_id != i.user_id"
        )
    ).scalar()
    assert clicks_outside == 0
    rows = db.session.execute(
        text(
            "SELECT e.product_id, i.product_ids FROM events e "
            "JOIN impressions i ON i.id = e.impression_id WHERE e.kind = 'click'"
        )
    ).all()
    assert rows, "nobody clicked anything in the demo experiment"
    shown = db.session.scalars(select(Impression)).all()
    lists = {tuple(i.product_ids) for i in shown}
    assert all(str(product) in str(ids) for product, ids in rows)
    assert len(lists) > 2  # personal lists, not one list for everyone


def test_the_experiment_needs_the_hidden_world(app):
    data = generate(OPTIONS)
    data.world = None
    with pytest.raises(ValueError, match="hidden world"):
        create_demo_experiment(data, rng_seed=99)
