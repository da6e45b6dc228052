"""The learned ranker's request path: scores and explanations read from per-leaf tables."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from shop.recommend.features import FEATURES, RANDOM_GAP_COLUMN, SCORE_COLUMN
from shop.recommend.guard import choose_ranker
from shop.recommend.rankers import LearnedRanker, LinearBlend, source_columns
from shop.recommend.validation import ValidationSet, ndcg_groups


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


def _reference_ndcg(scores: np.ndarray, data: ValidationSet, k: int = 10) -> float:
    """NDCG@k group by group, the plain way."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total, start = 0.0, 0
    for size, positives in zip(data.groups.tolist(), data.positives.tolist(), strict=True):
        mine = scores[start : start + size]
        top = np.argsort(-mine, kind="stable")[:k]
        gains = data.labels[start : start + size][top] == 2.0
        if positives:
            total += float(gains @ discounts[: len(top)]) / discounts[: min(positives, k)].sum()
        start += size
    return total / len(data.groups)


def test_ndcg_over_all_groups_at_once_matches_the_group_by_group_definition():
    rng = np.random.default_rng(5)
    sizes = np.array([0, 1, 3, 10, 11, *rng.integers(1, 60, 200).tolist()])
    labels = rng.choice([0.0, 1.0, 2.0], sizes.sum(), p=[0.85, 0.05, 0.1])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # Some positives were proposed by no source: they count in the ideal but not in the list.
    positives = np.array(
        [
            int((labels[s : s + n] == 2).sum()) + int(rng.integers(0, 2))
            for s, n in zip(starts, sizes, strict=True)
        ]
    )
    data = ValidationSet(np.zeros((len(labels), 1)), labels, sizes, positives, np.zeros(len(sizes)))
    scores = rng.random(len(labels))
    assert ndcg_groups(scores, data) == pytest.approx(_reference_ndcg(scores, data), abs=1e-12)


def test_sampled_training_groups_keep_every_labelled_candidate_and_a_few_others():
    data = _validation_set(seed=6, groups=40, size=300)
    data.labels[5] = 1.0  # a weakly interesting candidate
    sampled = data.sampled(50, seed=1)
    assert len(sampled.groups) == len(data.groups)
    np.testing.assert_array_equal(sampled.positives, data.positives)
    labelled = data.labels > 0
    per_group = labelled.reshape(40, 300).sum(axis=1)
    np.testing.assert_array_equal(sampled.groups, per_group + np.minimum(50, 300 - per_group))
    assert (sampled.labels > 0).sum() == labelled.sum()
    again = data.sampled(50, seed=1)
    np.testing.assert_array_equal(again.features, sampled.features)


def _two_protocol_set(seed: int = 0, groups: int = 160, size: int = 30) -> ValidationSet:
    """Half the groups are a shopper's future (item-kNN decides), half random gaps (EASE decides)."""
    data = _validation_set(seed, groups, size)
    rng = np.random.default_rng(seed + 100)
    protocols = np.arange(groups) % 2
    gap = np.repeat(protocols, size).astype(bool)
    features = data.features.copy()
    features[:, RANDOM_GAP_COLUMN] = gap
    ease = np.nan_to_num(features[:, SCORE_COLUMN["ease"]])
    knn = np.nan_to_num(features[:, SCORE_COLUMN["itemknn"]])
    labels = np.where(np.where(gap, ease, knn) + 0.1 * rng.random(len(gap)) > 0.9, 2.0, 0.0)
    positives = labels.reshape(groups, size).astype(bool).sum(axis=1)
    return ValidationSet(features, labels, data.groups, positives, protocols)


def test_future_weight_blends_the_trees_views_of_the_rows_as_future_and_as_gaps():
    future_ranker = LearnedRanker(seed=3, n_rounds=80).fit(_two_protocol_set())
    judge = _two_protocol_set(seed=1).as_served()
    gaps = judge.subset(np.flatnonzero(judge.protocols == 1))
    as_future = future_ranker.score(gaps.features)
    as_gaps = future_ranker.with_future_weight(0.0).score(gaps.features)
    # Served as the future, the trees follow item-kNN; as gaps, EASE: the gap shoppers' own lesson.
    assert ndcg_groups(as_gaps, gaps) > ndcg_groups(as_future, gaps) + 0.1
    half = future_ranker.with_future_weight(0.5)
    np.testing.assert_allclose(
        half.score(gaps.features), 0.5 * (as_future + as_gaps), rtol=1e-5, atol=1e-6
    )
    assert future_ranker.future_weight == 1.0  # the twin is a copy, the trees are shared
    future_parts = future_ranker.contributions(gaps.features)
    gap_parts = future_ranker.with_future_weight(0.0).contributions(gaps.features)
    for source, values in half.contributions(gaps.features).items():
        np.testing.assert_allclose(
            values, 0.5 * (future_parts[source] + gap_parts[source]), rtol=1e-5, atol=1e-6
        )


def test_twins_scored_from_shared_view_sums_score_as_they_would_alone():
    ranker = LearnedRanker(seed=3, n_rounds=40).fit(_two_protocol_set())
    served = _two_protocol_set(seed=2).as_served().features
    # What the guard does: the rows go through the trees once as future and once as gaps.
    sums = ranker.view_sums(served, (0.0, 1.0))
    shared = {None: sums[0.0], **sums}
    for weight in (1.0, 0.75, 0.5, 0.0):
        twin = ranker.with_future_weight(weight)
        np.testing.assert_array_equal(twin.score(served, shared), twin.score(served))
    # The two views really differ, so sharing them is not trivially the same number twice.
    assert not np.allclose(sums[0.0], sums[1.0])


def test_blend_scores_from_precomputed_columns_equal_scores_from_rows():
    data = _validation_set(seed=4)
    blend = LinearBlend({"itemknn": 0.7, "ease": 0.2, "popularity": 0.1})
    columns = source_columns(data.features, ["itemknn", "ease", "taste", "popularity"])
    np.testing.assert_array_equal(blend.score_columns(columns), blend.score(data.features))


def test_the_guard_serves_the_best_mean_among_contenders_no_worse_than_a_source_anywhere():
    data = _validation_set(groups=400)  # item-kNN decides, whichever protocol labelled the group
    protocols = np.arange(len(data.groups)) % 2
    features = data.features.copy()
    features[:, RANDOM_GAP_COLUMN] = np.repeat(protocols, data.groups)
    data = ValidationSet(features, data.labels, data.groups, data.positives, protocols)
    _, report = choose_ranker(data, seed=0)
    worst, score = report["worst_protocol"], report["score"]
    assert set(report["protocols"]) == {"random", "time"}
    safe = [name for name, value in worst.items() if value >= 1.0 - 1e-9]
    assert "source:itemknn" in safe
    assert report["chosen"] in safe
    assert score[report["chosen"]] == max(score[name] for name in safe)
    assert "no worse than that source on any protocol" in report["reason"]


def test_with_no_contender_safe_everywhere_the_guard_serves_the_best_worst_protocol():
    # Item-kNN decides the future and EASE the gaps: no source, blend or single view of the trees
    # matches both; the trees serving half future, half gaps come closest on the worse protocol.
    _, report = choose_ranker(_two_protocol_set(groups=400), seed=0)
    worst = report["worst_protocol"]
    assert max(worst.values()) < 1.0
    assert "best worst protocol" in report["reason"]
    assert worst[report["chosen"]] == max(worst.values())
    assert report["chosen"].startswith("lambdarank:")
    assert worst[report["chosen"]] > max(worst["lambdarank"], worst["lambdarank:0"])


def test_a_blend_explains_event_counted_taste_as_taste():
    features = np.zeros((3, len(FEATURES)), dtype=np.float32)
    features[:, SCORE_COLUMN["taste"]] = [0.2, 0.4, 0.0]
    features[:, SCORE_COLUMN["taste_events"]] = [0.5, 0.0, 1.0]
    parts = LinearBlend({"taste": 1.0, "taste_events": 2.0}).contributions(features)
    assert list(parts) == ["taste"]
    assert np.allclose(parts["taste"], [1.2, 0.4, 2.0])


def test_trees_are_the_same_whatever_the_number_of_training_threads():
    data = _two_protocol_set()
    trees = []
    for threads in (1, 2):
        booster = LearnedRanker(seed=3, n_rounds=30, params={"num_threads": threads}).fit(data)
        text = booster.booster_.model_to_string()
        trees.append(text[text.index("Tree=0") : text.index("end of trees")])
    assert trees[0] == trees[1]
