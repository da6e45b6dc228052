"""The learned ranker's request path: scores and explanations read from per-leaf tables."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from shop.recommend.features import FEATURES, SCORE_COLUMN
from shop.recommend.ranker import LearnedRanker, ValidationSet


def _validation_set(seed: int = 0, groups: int = 120, size: int = 30) -> ValidationSet:
    """Groups of candidates in which the item-kNN score decides what the shopper takes."""
    rng = np.random.default_rng(seed)
    rows = groups * size
    features = rng.random((rows, len(FEATURES))).astype(np.float32)
    features[rng.random(features.shape) < 0.1] = np.nan  # silent sources
    knn = np.nan_to_num(features[:, SCORE_COLUMN["itemknn"]])
    labels = np.where(knn + 0.1 * rng.random(rows) > 0.9, 2.0, 0.0)
    positives = labels.reshape(groups, size).astype(bool).sum(axis=1)
    return ValidationSet(
        features, labels, np.full(groups, size), positives, np.zeros(groups, dtype=np.int64)
    )


@pytest.fixture(scope="module")
def ranker() -> LearnedRanker:
    return LearnedRanker(seed=3, n_rounds=60).fit(_validation_set())


def test_leaf_table_scores_are_lightgbms_predictions(ranker):
    features = _validation_set(seed=1).features
    expected = ranker.booster_.predict(features, num_iteration=ranker.best_rounds_)
    tiebreak = ranker.score(features) - expected
    # What remains is the documented popularity tie-break, a ten-thousandth of trending at most.
    assert np.all(np.abs(tiebreak) <= 1e-4 + 1e-12)
    trending = np.nan_to_num(features[:, SCORE_COLUMN["popularity"]])
    np.testing.assert_allclose(tiebreak, 1e-4 * trending, atol=1e-9)


def test_contributions_add_up_to_the_score_and_credit_the_deciding_source(ranker):
    features = _validation_set(seed=2).features[:200]
    parts = ranker.contributions(features)
    raw = ranker.booster_.predict(features, num_iteration=ranker.best_rounds_)
    bias = ranker.booster_.predict(features, num_iteration=ranker.best_rounds_, pred_contrib=True)[
        :, -1
    ]
    credited = sum(parts.values())
    # Features that speak for no source (price, age, ...) take the rest; here they barely matter.
    assert np.corrcoef(credited, raw - bias)[0, 1] > 0.95
    knn = np.nan_to_num(features[:, SCORE_COLUMN["itemknn"]])
    strong = knn > 0.95
    best = np.array(list(parts))[np.argmax(np.stack(list(parts.values())), axis=0)]
    assert strong.any()
    assert (best[strong] == "itemknn").mean() > 0.9


def test_a_pickled_ranker_rebuilds_its_tables_and_scores_the_same(ranker):
    features = _validation_set(seed=4).features[:50]
    before = ranker.score(features)
    copy = pickle.loads(pickle.dumps(ranker))
    assert "_leaf_tables" not in copy.__dict__
    np.testing.assert_array_equal(copy.score(features), before)
    for name, values in ranker.contributions(features).items():
        np.testing.assert_array_equal(copy.contributions(features)[name], values)
