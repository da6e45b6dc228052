"""ALS fitted on Spark: the same interest strengths as the local fit, item factors only, folded in alike.

One small Spark on two local cores serves the whole module (its start is most of the cost).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import CATEGORIES, spark_fitter

from shop.recommend.frames import (
    DEFAULT_KIND_WEIGHTS,
    decay,
    encode_events,
    implicit_weights,
    strength_matrix,
)
from shop.recommend.implicit_mf import ALSModel
from shop.recommend.sources import ALSEvents
from shop.training.spark_als import write_events

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    with spark_fitter() as fitter:
        yield fitter


@pytest.fixture(scope="module")
def coded(shop):
    interactions, products = shop
    events = encode_events(interactions, pd.Index(products["product_id"]))
    weights = implicit_weights(events.kinds, events.values, DEFAULT_KIND_WEIGHTS)
    return events, weights


def spark_strengths(spark, path, n_users: int, n_items: int, half_life) -> sp.csr_matrix:
    rows = spark.strengths(str(path), half_life).collect()
    users = [r["user"] for r in rows]
    items = [r["item"] for r in rows]
    values = [r["strength"] for r in rows]
    return sp.csr_matrix((values, (users, items)), shape=(n_users, n_items))


@pytest.mark.parametrize("half_life", [None, 20.0])
def test_spark_sums_and_damps_interest_exactly_as_the_local_fit(spark, coded, tmp_path, half_life):
    events, weights = coded
    path = tmp_path / "events.parquet"
    # Small row groups: the file is written and read in chunks, and the sums must not care.
    assert write_events(path, events.users, events.items, weights, events.days, chunk_rows=997) == (
        len(events)
    )
    newest = float(np.nanmax(events.days))
    local = strength_matrix(
        events.users,
        events.items,
        weights * decay(events.days, newest, half_life),
        (events.n_users, events.n_items),
    )
    on_spark = spark_strengths(spark, path, events.n_users, events.n_items, half_life)
    assert on_spark.nnz == local.nnz
    assert np.allclose(on_spark.toarray(), local.toarray())


def test_spark_item_factors_fold_a_shopper_into_their_category(spark, coded, shop):
    events, weights = coded
    _, products = shop
    model = ALSModel(factors=16, regularization=0.05, iterations=10, alpha=2.0, random_state=0)
    factors = spark(
        ALSEvents(events.users, events.items, weights, events.days, events.n_items), model
    )
    assert factors.shape == (events.n_items, 16)
    model.use_item_factors(factors)
    # A new shopper who bought three Books products: the rest of Books comes first.
    books = np.flatnonzero(products["category"].to_numpy() == CATEGORIES[2])
    scores = model.scores_for(books[:3], np.full(3, np.log1p(8.0)))
    top = np.argsort(-scores)[:5]
    assert set(top) - set(books[:3]) <= set(books)
    assert not hasattr(model, "user_factors_")  # only the item factors came back


def test_products_nobody_touched_get_zero_factors(spark, tmp_path):
    model = ALSModel(factors=4, regularization=0.1, iterations=5, alpha=1.0, random_state=0)
    users = np.repeat(np.arange(6), 2)
    items = np.tile([0, 1], 6)
    factors = spark(ALSEvents(users, items, np.ones(12), np.full(12, np.nan), 4), model)
    assert factors.shape == (4, 4)
    assert np.abs(factors[:2]).sum() > 0
    assert not factors[2:].any()


def test_item_factors_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="item factors"):
        ALSModel(factors=8).use_item_factors(np.zeros((5, 4)))
