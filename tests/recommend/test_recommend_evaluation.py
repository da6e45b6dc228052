"""Time splits and the evaluators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import events

from shop.recommend import (
    RatingScore,
    TopNScore,
    evaluate_ratings,
    evaluate_topn,
    random_split,
    render_table,
    time_split,
)


def test_time_split_keeps_the_past_for_training_and_new_later_positives_for_testing():
    interactions = events(
        [
            (1, "a", "view", 1, 0),
            (1, "b", "purchase", 1, 1),
            (1, "b", "purchase", 1, 50),  # repeat purchase of a known product: not a test item
            (1, "c", "purchase", 1, 51),  # new product after the cut: a test item
            (1, "d", "view", 1, 52),  # a view is not a positive
            (1, "e", "rating", 2, 53),  # a poor rating is not a positive
            (1, "f", "rating", 5, 54),  # a good one is
            (2, "c", "purchase", 1, 55),  # shopper without training history
        ]
    )
    split = time_split(interactions, cut=pd.Timestamp("2025-03-02", tz="UTC"))
    assert (pd.to_datetime(split.train["timestamp"]) < split.cut).all()
    assert len(split.train) == 2
    assert set(map(tuple, split.test[["user_id", "product_id"]].to_numpy())) == {(1, "c"), (1, "f")}


def test_time_split_positive_kinds_are_a_parameter_and_naive_cuts_are_utc():
    interactions = events(
        [(1, "a", "view", 1, 0), (1, "b", "click", 1, 48), (1, "c", "purchase", 1, 49)]
    )
    split = time_split(interactions, cut="2025-03-02", positive_kinds=("click",), min_rating=None)
    assert split.test["product_id"].tolist() == ["b"]


def test_time_split_default_cut_holds_out_the_latest_fraction(shop):
    interactions, _ = shop
    split = time_split(interactions, test_fraction=0.25)
    assert len(split.train) == pytest.approx(0.75 * len(interactions), rel=0.02)


def test_time_split_rejects_empty_input():
    with pytest.raises(ValueError):
        time_split(events([]).astype({"timestamp": "datetime64[ns, UTC]"}))


def test_evaluate_topn_scores_every_model_and_the_hybrid_beats_popularity(shop):
    interactions, products = shop
    scores = evaluate_topn(interactions, products, k=10, random_state=0)
    assert [s.model for s in scores] == ["popularity", "content", "svd", "itemknn", "als", "hybrid"]
    assert all(
        isinstance(s, TopNScore) and 0 <= s.recall <= 1 and 0 <= s.coverage <= 1 for s in scores
    )
    by_name = {s.model: s for s in scores}
    assert by_name["hybrid"].ndcg > by_name["popularity"].ndcg
    table = render_table(scores)
    assert "NDCG@10" in table and "hybrid" in table


def test_evaluate_ratings_compares_svd_with_baselines():
    rng = np.random.default_rng(0)
    # Some products are simply better than others: learned biases must beat the global mean.
    rows = [
        (u, i, "rating", float(np.clip(round(1 + i % 5 + rng.normal(0, 0.5)), 1, 5)), u * 30 + i)
        for u in range(60)
        for i in rng.choice(30, 15, replace=False)
    ]
    scores = evaluate_ratings(events(rows), random_state=0)
    assert [s.model for s in scores] == ["global_mean", "baseline_only", "svd"]
    assert all(isinstance(s, RatingScore) and s.rmse > 0 and s.mae > 0 for s in scores)
    assert scores[1].rmse < scores[0].rmse
    assert scores[2].rmse < scores[0].rmse
    assert scores[2].rmse <= scores[1].rmse + 1e-9  # tuned: never behind the biases it starts from
    assert "RMSE" in render_table(scores)


def test_evaluate_ratings_needs_ratings():
    with pytest.raises(ValueError, match="explicit ratings"):
        evaluate_ratings(events([(1, "a", "view")]))


def _pairs(frame: pd.DataFrame) -> set[tuple]:
    return set(map(tuple, frame[["user_id", "product_id"]].to_numpy()))


def test_random_split_holds_out_a_quarter_of_each_shoppers_positive_products():
    rows = [(1, f"p{i}", "purchase", 1, i) for i in range(8)]  # 8 positives: 2 held out
    rows += [
        (1, "p0", "view", 1, 20),
        (1, "v", "view", 1, 21),
    ]  # a view is history, never a test item
    rows += [(2, f"p{i}", "like", 1, 30 + i) for i in range(3)]  # too few positives: training only
    interactions = events(rows)
    split = random_split(interactions, random_state=0)
    assert split.cut is None
    assert len(split.test) == 2 and set(split.test["user_id"]) == {1}
    assert _pairs(split.test) <= {(1, f"p{i}") for i in range(8)}
    # Every event on a held-out product leaves training; all else stays.
    assert not _pairs(split.train) & _pairs(split.test)
    held = interactions.set_index(["user_id", "product_id"]).index.isin(list(_pairs(split.test)))
    assert len(split.train) == len(interactions) - held.sum()
    assert {(2, "p0"), (2, "p1"), (2, "p2"), (1, "v")} <= _pairs(split.train)


def test_random_split_is_seeded_and_ignores_row_order(shop):
    interactions, _ = shop
    first = random_split(interactions, random_state=3)
    again = random_split(interactions.sample(frac=1.0, random_state=9), random_state=3)
    other = random_split(interactions, random_state=4)
    assert _pairs(first.test) == _pairs(again.test)
    assert _pairs(first.test) != _pairs(other.test)


def test_random_split_test_size_follows_the_fraction_and_leaves_training_for_everyone(shop):
    interactions, _ = shop
    split = random_split(interactions, test_fraction=0.25, min_positives=4, random_state=0)
    positives = interactions.loc[
        interactions["kind"].isin(["purchase", "add_to_cart", "like"])
        | ((interactions["kind"] == "rating") & (interactions["value"] >= 4))
    ]
    per_user = positives.drop_duplicates(["user_id", "product_id"]).groupby("user_id").size()
    taking_part = per_user[per_user >= 4]
    expected = np.clip(np.floor(0.25 * taking_part + 0.5), 1, taking_part - 1)
    assert split.test.groupby("user_id").size().sort_index().tolist() == expected.tolist()
    assert set(split.test["user_id"]) <= set(split.train["user_id"])


def test_random_split_ratings_count_as_positive_from_min_rating():
    rows = [(1, f"p{i}", "rating", 5, i) for i in range(4)] + [(1, "low", "rating", 2, 9)]
    split = random_split(events(rows), min_positives=4, random_state=0)
    assert len(split.test) == 1 and split.test["product_id"].iloc[0] != "low"
    assert (1, "low") in _pairs(split.train)


def test_random_split_plugs_into_evaluate_topn(shop):
    interactions, products = shop
    split = random_split(interactions, random_state=0)
    scores = evaluate_topn(
        interactions, products, split=split, variants=("popularity", "hybrid"), random_state=0
    )
    assert [s.model for s in scores] == ["popularity", "hybrid"]
    assert all(s.n_users == split.test["user_id"].nunique() for s in scores)


@pytest.mark.parametrize(
    "kwargs", [{"test_fraction": 0.0}, {"test_fraction": 1.0}, {"min_positives": 1}]
)
def test_random_split_rejects_impossible_settings(shop, kwargs):
    with pytest.raises(ValueError):
        random_split(shop[0], **kwargs)


def test_random_split_rejects_empty_input():
    with pytest.raises(ValueError):
        random_split(events([]).astype({"timestamp": "datetime64[ns, UTC]"}))
