"""A finished demo A/B experiment, simulated from the seeded shop's hidden world.

Nothing in it says which variant should win. The engine is trained on the history before the
experiment, as the site would have been; each shopper is assigned with the live rule
(``shop.experiments.assignment.pick_variant``); at every visit the shopper is shown the list their
variant's engine really makes from their history up to that moment (the fitted engine folds it in and
leaves out what the shopper already touched, as the home page does), and what they click, put in the cart and buy is drawn from the generator's own
browsing model (``generator.browse_list``: the same view distribution and funnel as the history).
Whatever the lists are worth to these shoppers is what the experiment page shows.

Clicks, add-to-carts and purchases (events, orders and order lines) carry the list's impression id,
exactly as the live site records them. Everything is drawn from one seeded ``numpy`` generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from shop.experiments.assignment import pick_variant
from shop.extensions import db
from shop.models import (
    Event,
    Experiment,
    ExperimentVariant,
    Impression,
    Order,
    OrderLine,
    Product,
    User,
)
from shop.recommend import HybridRecommender
from shop.recommend.evaluation import engine_scorer
from shop.seeding.generator import SeedData, browse_list
from shop.services.counters import recompute_product_counters
from shop.services.interactions import all_interactions, products_frame

DEMO_SOURCE = "home:for-you"
LIST_LENGTH = 10
DAYS = 28
ENDED_DAYS_AGO = 3
#: Home-page visits per shopper during the experiment: one plus a Poisson draw with this mean, the same
#: for every shopper whatever their variant.
EXTRA_VISITS = 4
VARIANTS = (("A", "popularity", 50), ("B", "hybrid", 50))


def demo_experiment_name(rng_seed: int) -> str:
    return f"Demo: hybrid vs popularity on “For you” (seed {rng_seed})"


def create_demo_experiment(
    data: SeedData, rng_seed: int = 0, shoppers: int | None = None
) -> Experiment:
    """Simulate and write a finished experiment over the shop ``data`` seeded; return it.

    ``data`` is what ``generator.generate`` drew for this database (its hidden world is what the
    shoppers behave by); ``shoppers`` limits how many of its shoppers take part, all by default.
    Calling it again with the same seed returns the experiment already written. Commits.
    """
    name = demo_experiment_name(rng_seed)
    existing = db.session.scalar(select(Experiment).where(Experiment.name == name))
    if existing is not None:
        return existing
    if data.world is None or data.end is None:
        raise ValueError("the demo experiment needs the generator's hidden world (SeedData.world)")
    rng = np.random.default_rng(rng_seed)
    user_index, product_index, price_of = _database_ids(data)
    if len(user_index) < 2 or len(product_index) < 2:
        raise ValueError("the demo experiment needs at least two seeded shoppers and two products")
    user_ids = np.array(sorted(user_index), dtype=np.int64)
    if shoppers is not None and shoppers < len(user_ids):
        user_ids = np.sort(rng.choice(user_ids, size=max(2, shoppers), replace=False))

    end = data.end - timedelta(days=ENDED_DAYS_AGO)
    start = end - timedelta(days=DAYS)
    interactions, engine = _engine_before(start, rng_seed)

    experiment = Experiment(
        name=name,
        description=(
            "Generated demo: does the hybrid engine's “For you” list sell more than a "
            "plain popularity list? Simulated from the demo shoppers' hidden tastes."
        ),
        status="finished",
        created_at=start,
        started_at=start,
        ended_at=end,
        variants=[
            ExperimentVariant(name=v, algorithm=algorithm, traffic_percent=pct)
            for v, algorithm, pct in VARIANTS
        ],
    )
    db.session.add(experiment)
    db.session.flush()
    variants = list(experiment.variants)
    # The home page's "For you" list: the engine's, leaving out everything the shopper touched, which
    # is what the offline evaluation scores (shop.services.recommendations.recommended_for).
    lists = {v.algorithm: engine_scorer(engine, v.algorithm, LIST_LENGTH) for v in variants}
    histories = dict(tuple(interactions.groupby("user_id", sort=False)))
    product_of = {index: product_id for product_id, index in product_index.items()}

    impressions, visits = [], []
    for user_id in user_ids.tolist():
        variant = pick_variant(variants, experiment.id, user_id)
        if variant is None:
            continue
        history = histories.get(user_id, interactions.iloc[:0])
        own: list[dict] = []  # this shopper's experiment events so far: the next list folds them in
        shown: list[int] = []
        last_known = None
        n_visits = 1 + int(rng.poisson(EXTRA_VISITS))
        offsets = np.sort(rng.uniform(0, DAYS * 86400, n_visits))
        for offset in offsets.tolist():
            shown_at = start + timedelta(seconds=offset)
            known = (int(history["timestamp"].searchsorted(pd.Timestamp(shown_at))), len(own))
            if known != last_known:  # the same history makes the same list: ask only when it grew
                before = history.iloc[: known[0]]
                if own:
                    before = pd.concat([before, pd.DataFrame(own)], ignore_index=True)
                shown, last_known = (
                    [int(p) for p in lists[variant.algorithm](user_id, before)],
                    known,
                )
            if not shown:
                continue
            visit = browse_list(
                rng,
                data.world,
                user_index[user_id],
                np.array([product_index.get(p, -1) for p in shown], dtype=np.int64),
            )
            steps = _steps(rng, visit, product_of, shown_at)
            own.extend(
                {"user_id": user_id, "product_id": p, "kind": k, "value": float(q), "timestamp": t}
                for p, k, q, t in steps
            )
            impressions.append(
                {
                    "user_id": user_id,
                    "variant_id": variant.id,
                    "source": DEMO_SOURCE,
                    "product_ids": shown,
                    "model_version": None,
                    "created_at": shown_at,
                }
            )
            visits.append((user_id, steps))

    _write(impressions, visits, price_of)
    # The same rebuild the seeder and the importer use, so the counters match the event log.
    recompute_product_counters()
    db.session.commit()
    return experiment


def _database_ids(data: SeedData) -> tuple[dict[int, int], dict[int, int], dict[int, Decimal]]:
    """Database user id -> generator shopper index (non-admins the seed made), product id -> index."""
    by_email = {row["email"]: i for i, row in enumerate(data.users)}
    by_sku = {row["sku"]: i for i, row in enumerate(data.products)}
    users = db.session.execute(
        select(User.id, User.email).where(User.is_admin.is_(False), User.email.in_(by_email))
    ).all()
    products = db.session.execute(
        select(Product.id, Product.sku, Product.price).where(Product.sku.in_(by_sku))
    ).all()
    return (
        {row.id: by_email[row.email] for row in users},
        {row.id: by_sku[row.sku] for row in products},
        {row.id: Decimal(row.price) for row in products},
    )


def _engine_before(start, rng_seed: int):
    """Every shopper's interactions, time-ordered, and the engine fitted on those before ``start``."""
    interactions = all_interactions().sort_values("timestamp", kind="stable", ignore_index=True)
    train = interactions.loc[interactions["timestamp"] < pd.Timestamp(start)]
    if train.empty:
        raise ValueError("the demo experiment needs seeded history before it starts")
    engine = HybridRecommender(random_state=rng_seed).fit(train, products_frame())
    return interactions, engine


def _steps(rng, visit, product_of: dict[int, int], shown_at) -> list[tuple]:
    """(product id, kind, quantity, time) of each click, add-to-cart and purchase in one visit."""
    steps = []
    checkout = None
    for j, clicked, carted, bought, quantity in zip(*visit, strict=True):
        if not clicked:
            continue
        product_id = product_of[int(j)]
        at = shown_at + timedelta(seconds=float(rng.uniform(5, 120)) + 60.0 * len(steps))
        steps.append((product_id, "click", 1, at))
        if carted:
            steps.append(
                (
                    product_id,
                    "add_to_cart",
                    int(quantity),
                    at + timedelta(minutes=rng.uniform(1, 10)),
                )
            )
        if bought:
            checkout = checkout or shown_at + timedelta(minutes=float(rng.uniform(30, 60)))
            steps.append((product_id, "purchase", int(quantity), checkout))
    return steps


def _write(impressions: list[dict], visits: Sequence[tuple], price_of: dict[int, Decimal]) -> None:
    """Impressions, then their events; each visit's purchases are one order whose lines name the list."""
    if not impressions:
        return
    ids = db.session.scalars(
        insert(Impression).returning(Impression.id, sort_by_parameter_order=True), impressions
    ).all()
    events, orders, order_lines = [], [], []
    for impression_id, (user_id, steps) in zip(ids, visits, strict=True):
        bought = [(p, q, t) for p, kind, q, t in steps if kind == "purchase"]
        if bought:
            total = sum((price_of[p] * q for p, q, _ in bought), Decimal("0"))
            orders.append({"user_id": user_id, "total": total, "created_at": bought[0][2]})
            order_lines.append(
                [
                    {
                        "product_id": p,
                        "quantity": q,
                        "unit_price": price_of[p],
                        "impression_id": impression_id,
                    }
                    for p, q, _ in bought
                ]
            )
        events.extend(
            {
                "user_id": user_id,
                "product_id": p,
                "kind": kind,
                "quantity": q,
                "source": DEMO_SOURCE,
                "impression_id": impression_id,
                "created_at": t,
            }
            for p, kind, q, t in steps
        )
    if events:
        db.session.execute(insert(Event), events)
    if orders:
        order_ids = db.session.scalars(
            insert(Order).returning(Order.id, sort_by_parameter_order=True),
            [{**o, "status": "placed"} for o in orders],
        ).all()
        rows = [
            {**line, "order_id": order_id}
            for lines, order_id in zip(order_lines, order_ids, strict=True)
            for line in lines
        ]
        db.session.execute(insert(OrderLine), rows)
