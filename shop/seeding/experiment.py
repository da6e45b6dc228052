"""A finished demo A/B experiment, so the experiments page has something real to show after a seed.

Shoppers are assigned with the live assignment rule (``shop.services.experiments.pick_variant``), so
a shopper's variant in the demo is the one the site would give them. Each shopper saw a few "For you"
lists over four weeks that ended a few days ago; clicks, add-to-carts and purchases (events, orders
and order lines) carry the list's impression id, exactly as the live site records them. The hybrid
lists are made a few points better than the popularity lists, which is what the engine's offline
evaluation predicts, so the statistics have a real (not huge) effect to find.

Everything is drawn from one seeded ``numpy`` generator and written with bulk inserts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import insert, select

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
from shop.services.experiments import pick_variant
from shop.services.stats import recompute_product_counters

DEMO_SOURCE = "home:for-you"
LIST_LENGTH = 10
DAYS = 28
ENDED_DAYS_AGO = 3
# Per shown list: P(click), P(add to cart | click), P(purchase | add to cart).
BEHAVIOUR = {
    "popularity": (0.20, 0.34, 0.60),
    "hybrid": (0.24, 0.38, 0.62),
}
VARIANTS = (("A", "popularity", 50), ("B", "hybrid", 50))


def demo_experiment_name(rng_seed: int) -> str:
    return f"Demo: hybrid vs popularity on “For you” (seed {rng_seed})"


def create_demo_experiment(rng_seed: int = 0, shoppers: int | None = None) -> Experiment:
    """Write a finished experiment over the existing shoppers and products and return it.

    ``shoppers`` limits how many (non-admin) shoppers take part; all of them by default. Calling it
    again with the same seed returns the experiment already written. Commits.
    """
    name = demo_experiment_name(rng_seed)
    existing = db.session.scalar(select(Experiment).where(Experiment.name == name))
    if existing is not None:
        return existing
    rng = np.random.default_rng(rng_seed)
    user_ids = np.array(
        db.session.scalars(select(User.id).where(User.is_admin.is_(False)).order_by(User.id)).all(),
        dtype=np.int64,
    )
    products = db.session.execute(
        select(Product.id, Product.price).order_by(Product.click_count.desc(), Product.id)
    ).all()
    if len(user_ids) < 2 or len(products) < 2:
        raise ValueError("the demo experiment needs at least two shoppers and two products")
    if shoppers is not None and shoppers < len(user_ids):
        user_ids = np.sort(rng.choice(user_ids, size=max(2, shoppers), replace=False))
    product_ids = np.array([p.id for p in products], dtype=np.int64)
    price_of = {p.id: Decimal(p.price) for p in products}
    list_length = min(LIST_LENGTH, len(product_ids))

    end = datetime.now(UTC).replace(microsecond=0) - timedelta(days=ENDED_DAYS_AGO)
    start = end - timedelta(days=DAYS)
    experiment = Experiment(
        name=name,
        description=(
            "Generated demo: does the hybrid engine's “For you” list sell more than a "
            "plain popularity list?"
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

    # Popularity shows the head of the catalogue; the hybrid list is personal (a wider spread).
    head = product_ids[: max(list_length, min(len(product_ids), 3 * list_length))]
    impressions, plans = [], []
    for user_id in user_ids.tolist():
        variant = pick_variant(variants, experiment.id, user_id)
        if variant is None:
            continue
        p_click, p_cart, p_buy = BEHAVIOUR[variant.algorithm]
        for _ in range(1 + rng.poisson(4)):
            shown_at = start + timedelta(seconds=float(rng.uniform(0, DAYS * 86400)))
            pool = head if variant.algorithm == "popularity" else product_ids
            shown = rng.choice(pool, size=list_length, replace=False).tolist()
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
            clicked = rng.random() < p_click
            carted = clicked and rng.random() < p_cart
            bought = carted and rng.random() < p_buy
            plans.append((user_id, shown, shown_at, clicked, carted, bought))

    ids = db.session.scalars(
        insert(Impression).returning(Impression.id, sort_by_parameter_order=True), impressions
    ).all()

    events, orders, lines = [], [], []
    for impression_id, (user_id, shown, shown_at, clicked, carted, bought) in zip(
        ids, plans, strict=True
    ):
        if not clicked:
            continue
        product_id = int(shown[int(rng.integers(len(shown)))])
        at = shown_at + timedelta(seconds=float(rng.uniform(5, 120)))
        steps = [("click", 1, at)]
        if carted:
            steps.append(("add_to_cart", 1, at + timedelta(minutes=float(rng.uniform(1, 10)))))
        if bought:
            quantity = int(rng.choice([1, 1, 1, 2, 3]))
            paid_at = at + timedelta(minutes=float(rng.uniform(11, 60)))
            steps.append(("purchase", quantity, paid_at))
            unit = price_of[product_id]
            orders.append({"user_id": user_id, "total": unit * quantity, "created_at": paid_at})
            lines.append(
                {
                    "product_id": product_id,
                    "quantity": quantity,
                    "unit_price": unit,
                    "impression_id": impression_id,
                }
            )
        for kind, quantity, when in steps:
            events.append(
                {
                    "user_id": user_id,
                    "product_id": product_id,
                    "kind": kind,
                    "quantity": quantity,
                    "source": DEMO_SOURCE,
                    "impression_id": impression_id,
                    "created_at": when,
                }
            )

    if events:
        db.session.execute(insert(Event), events)
    if orders:
        order_ids = db.session.scalars(
            insert(Order).returning(Order.id, sort_by_parameter_order=True),
            [{**o, "status": "placed"} for o in orders],
        ).all()
        for line, order_id in zip(lines, order_ids, strict=True):
            line["order_id"] = order_id
        db.session.execute(insert(OrderLine), lines)
    # The same rebuild the seeder and the importer use, so the counters match the event log.
    recompute_product_counters()
    db.session.commit()
    return experiment
