"""The learned ranker's trees walked with numpy give LightGBM's own leaves (``predict(pred_leaf=True)``)
on fitted rankers, for every kind of value a split can meet: missing, zero, tiny, infinite, and
values at each threshold and one float32 step either side of it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from shop.recommend.features import FEATURES, RANDOM_GAP_COLUMN
from shop.recommend.rankers import LearnedRanker
from shop.recommend.tree_routes import TreeRoutes
from tests.recommend.test_recommend_request_path import _ranked_rows


def _lightgbm_leaves(ranker: LearnedRanker, rows: np.ndarray) -> np.ndarray:
    return ranker.booster_.predict(
        rows, num_iteration=ranker.best_rounds_, pred_leaf=True, validate_features=False
    ).astype(np.intp)


def _hostile_rows(ranker: LearnedRanker, seed: int) -> np.ndarray:
    """Random rows, then every split's feature set to its threshold, one float32 step above and
    below, and to NaN, 0, -0, tiny and infinite values, one change per row."""
    rng = np.random.default_rng(seed)
    base = rng.random((40, len(FEATURES))).astype(np.float32)
    base[rng.random(base.shape) < 0.2] = np.nan
    dump = ranker.booster_.dump_model(num_iteration=ranker.best_rounds_)
    pairs = []
    stack = [tree["tree_structure"] for tree in dump["tree_info"][: ranker.best_rounds_]]
    while stack:
        node = stack.pop()
        if "split_feature" in node:
            pairs.append((int(node["split_feature"]), float(node["threshold"])))
            stack += [node["left_child"], node["right_child"]]
    specials = [np.nan, 0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, 2e-35, np.inf, -np.inf]
    rows = [base]
    for feature, threshold in pairs:
        # LightGBM writes a split that sends only missing values one way with a threshold beyond
        # float32's range: the nearest float32 is its largest finite one.
        largest = float(np.finfo(np.float32).max)
        near = np.float32(min(max(threshold, -largest), largest))
        with np.errstate(over="ignore"):  # one step above the largest float32 is infinity
            values = [
                near,
                np.nextafter(near, np.float32(np.inf)),
                np.nextafter(near, np.float32(-1)),
            ]
        for value in [*values, *specials]:
            row = base[rng.integers(len(base))].copy()
            row[feature] = value
            rows.append(row[None, :])
    return np.vstack(rows)


@pytest.mark.parametrize(
    ("seed", "params"),
    [
        (0, {}),
        (1, {"num_leaves": 7}),
        (2, {"use_missing": False}),  # splits without missing values: NaN goes where 0.0 goes
        (3, {"num_leaves": 31, "min_data_in_leaf": 5}),  # deeper than the tables cover
        (4, {"min_data_in_leaf": 1500}),  # trees of a single leaf
    ],
)
def test_numpy_routes_are_lightgbms_leaves(seed, params):
    ranker = LearnedRanker(seed=seed, n_rounds=30, params=params).fit(_ranked_rows(seed))
    routes = TreeRoutes.from_booster(ranker.booster_, ranker.best_rounds_)
    rows = _hostile_rows(ranker, seed)
    expected = _lightgbm_leaves(ranker, rows)
    if params.get("num_leaves", 15) > 16:
        assert routes is None  # LightGBM walks them
        np.testing.assert_array_equal(ranker._routes(rows, [None])[0], expected)
        return
    assert routes is not None
    np.testing.assert_array_equal(routes.leaves(rows, [None], RANDOM_GAP_COLUMN)[0], expected)
    # With the random-gap flag set per view, as requests route their rows.
    both = routes.leaves(rows, [0.0, 1.0], RANDOM_GAP_COLUMN)
    for view, flag in enumerate((0.0, 1.0)):
        flagged = rows.copy()
        flagged[:, RANDOM_GAP_COLUMN] = flag
        np.testing.assert_array_equal(both[view], _lightgbm_leaves(ranker, flagged))


def test_splits_between_negative_values_and_zero_read_tiny_values_as_zero():
    # Negative values and many zeros: LightGBM splits at -1e-35, where LightGBM reads a value
    # within 1e-35 of zero as 0 and the rows are cleaned the same way first.
    rng = np.random.default_rng(6)
    train = _ranked_rows(6)
    shifted = train.features - np.float32(0.5)
    shifted[rng.random(shifted.shape) < 0.4] = 0.0
    shifted[:, RANDOM_GAP_COLUMN] = train.features[:, RANDOM_GAP_COLUMN]
    train = dataclasses.replace(train, features=shifted)
    ranker = LearnedRanker(seed=6, n_rounds=30, params={"monotone_constraints": None}).fit(train)
    routes = TreeRoutes.from_booster(ranker.booster_, ranker.best_rounds_)
    assert routes.zero_small
    rows = _hostile_rows(ranker, 6)
    expected = _lightgbm_leaves(ranker, rows)
    np.testing.assert_array_equal(routes.leaves(rows, [None], RANDOM_GAP_COLUMN)[0], expected)


def test_rows_numpy_cannot_walk_exactly_go_to_lightgbm():
    ranker = LearnedRanker(seed=4, n_rounds=20).fit(_ranked_rows(4))
    routes = TreeRoutes.from_booster(ranker.booster_, ranker.best_rounds_)
    rows = _ranked_rows(5).features[:50]
    assert routes.leaves(rows.astype(np.float64), [None], RANDOM_GAP_COLUMN) is None
    np.testing.assert_array_equal(
        ranker._routes(rows.astype(np.float64), [None])[0], _lightgbm_leaves(ranker, rows)
    )
    zero_as_missing = LearnedRanker(seed=4, n_rounds=20, params={"zero_as_missing": True})
    zero_as_missing.fit(_ranked_rows(4))
    assert TreeRoutes.from_booster(zero_as_missing.booster_, zero_as_missing.best_rounds_) is None


def test_a_refitted_ranker_routes_by_its_new_trees():
    ranker = LearnedRanker(seed=7, n_rounds=15).fit(_ranked_rows(7))
    rows = _ranked_rows(8).features[:60]
    ranker._routes(rows, [None])  # tables of the first trees built
    ranker.fit(_ranked_rows(9))
    np.testing.assert_array_equal(ranker._routes(rows, [None])[0], _lightgbm_leaves(ranker, rows))
