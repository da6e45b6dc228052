"""Small DataFrame factories for the engine tests: the engine knows DataFrames, so tests build DataFrames."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pytest

from shop.recommend import HybridRecommender
from tests.spark_support import spark_or_skip

START = pd.Timestamp("2025-03-01", tz="UTC")
CATEGORIES = ("Kitchen", "Garden", "Books", "Toys", "Tech")


def events(rows: Iterable[tuple], start: pd.Timestamp = START) -> pd.DataFrame:
    """Interactions from (user, product, kind[, value[, hours after start]]) tuples."""
    records = []
    for position, row in enumerate(rows):
        user, product, kind, *rest = row
        value = rest[0] if rest else 1.0
        hours = rest[1] if len(rest) > 1 else position
        records.append((user, product, kind, float(value), start + pd.Timedelta(hours=hours)))
    return pd.DataFrame(records, columns=["user_id", "product_id", "kind", "value", "timestamp"])


def history(rows: Iterable[tuple]) -> pd.DataFrame:
    """One shopper's history from (product, kind[, value[, hours]]) tuples."""
    return events(("me", *row) for row in rows).drop(columns="user_id")


def catalogue(names: dict, categories: dict | None = None) -> pd.DataFrame:
    categories = categories or {}
    return pd.DataFrame(
        {
            "product_id": list(names),
            "name": list(names.values()),
            "description": list(names.values()),
            "category": [categories.get(p, "") for p in names],
            "price": 10.0,
        }
    )


def shop_data(n_users: int = 120, n_products: int = 60, n_events: int = 6000, seed: int = 0):
    """A seeded shop: shoppers prefer one category, so there is structure for every model to find."""
    rng = np.random.default_rng(seed)
    colours = ("blue", "red", "green", "oak", "steel")
    products = pd.DataFrame(
        {
            "product_id": np.arange(n_products),
            "name": [
                f"{colours[i % 5]} {CATEGORIES[i % 5].lower()} item {i}" for i in range(n_products)
            ],
            "description": [
                f"a {CATEGORIES[i % 5].lower()} product, model {i % 7}" for i in range(n_products)
            ],
            "category": [CATEGORIES[i % 5] for i in range(n_products)],
            "price": rng.uniform(5, 50, n_products).round(2),
        }
    )
    taste = rng.integers(0, 5, n_users)
    users = rng.integers(0, n_users, n_events)
    in_taste = rng.random(n_events) < 0.8
    items = np.where(
        in_taste,
        (rng.integers(0, n_products // 5, n_events) * 5 + taste[users]),
        rng.integers(0, n_products, n_events),
    )
    kinds = rng.choice(
        ["view", "click", "add_to_cart", "like", "purchase", "rating"],
        n_events,
        p=[0.4, 0.25, 0.1, 0.08, 0.1, 0.07],
    )
    stars = np.where(in_taste, rng.integers(4, 6, n_events), rng.integers(1, 3, n_events))
    values = np.where(
        kinds == "rating", stars, np.where(kinds == "purchase", rng.integers(1, 4, n_events), 1)
    )
    stamps = START + pd.to_timedelta(rng.integers(0, 120 * 86_400, n_events), unit="s")
    interactions = pd.DataFrame(
        {
            "user_id": users,
            "product_id": items,
            "kind": kinds,
            "value": values.astype(float),
            "timestamp": stamps,
        }
    )
    return interactions.sort_values("timestamp").reset_index(drop=True), products


@pytest.fixture(scope="session")
def shop():
    return shop_data()


def spark_fitter():
    """A small Spark on two local cores, as CI runs it."""
    from shop.training.spark_als import SparkALS

    spark_or_skip()
    return SparkALS("local[2]", shuffle_partitions=2, driver_memory="512m")


#: The engine tests run against an engine whose ALS was fitted locally and one fitted on Spark:
#: whichever backend trained it, the shop's pages ask the same questions of the same engine.
BACKENDS = ("local", pytest.param("spark", marks=pytest.mark.spark))


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request, shop):
    interactions, products = shop
    if request.param == "local":
        return HybridRecommender(random_state=0).fit(interactions, products)
    with spark_fitter() as fitter:  # the session stops once the factors are back
        return HybridRecommender(random_state=0).fit(interactions, products, als_fitter=fitter)
