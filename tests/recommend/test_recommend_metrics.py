"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from shop.recommend import (
    average_precision_at_k,
    catalog_coverage,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)


def test_precision_and_recall_count_hits_in_the_top_k():
    recommended = ["a", "b", "c", "d"]
    relevant = {"b", "d", "z"}
    assert precision_at_k(recommended, relevant, 4) == pytest.approx(2 / 4)
    assert recall_at_k(recommended, relevant, 4) == pytest.approx(2 / 3)
    assert precision_at_k(recommended, relevant, 2) == pytest.approx(1 / 2)
    assert recall_at_k(recommended, relevant, 2) == pytest.approx(1 / 3)


def test_precision_divides_by_k_so_short_lists_are_not_rewarded():
    assert precision_at_k(["a"], {"a"}, 10) == pytest.approx(0.1)


def test_ndcg_matches_hand_computed_discounts():
    # Hits at ranks 2 and 4; two relevant items, so the ideal puts them at ranks 1 and 2.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(["x", "a", "y", "b"], {"a", "b"}, 4) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "b", "x"], {"a", "b"}, 3) == pytest.approx(1.0)


def test_average_precision_averages_precision_at_each_hit():
    # Hits at ranks 1 and 3: (1/1 + 2/3) / min(3 relevant, k=4)
    assert average_precision_at_k(["a", "x", "b", "y"], {"a", "b", "c"}, 4) == pytest.approx(
        (1 + 2 / 3) / 3
    )


def test_empty_recommendation_list_scores_zero():
    assert precision_at_k([], {"a"}, 5) == 0.0
    assert ndcg_at_k([], {"a"}, 5) == 0.0


@pytest.mark.parametrize("metric", [precision_at_k, recall_at_k, ndcg_at_k, average_precision_at_k])
def test_ranking_metrics_raise_on_empty_relevant_set(metric):
    with pytest.raises(ValueError, match="relevant is empty"):
        metric(["a"], set(), 10)


@pytest.mark.parametrize("metric", [precision_at_k, recall_at_k, ndcg_at_k, average_precision_at_k])
def test_ranking_metrics_reject_non_positive_k(metric):
    with pytest.raises(ValueError):
        metric(["a"], {"a"}, 0)


def test_catalog_coverage_counts_distinct_products_over_all_lists():
    assert catalog_coverage([["a", "b"], ["b", "c"]], 10) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        catalog_coverage([], 10)
    with pytest.raises(ValueError):
        catalog_coverage([["a"]], 0)


def test_rating_errors_on_a_hand_example():
    assert rmse([1, 3, 5], [2, 3, 3]) == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert mae([1, 3, 5], [2, 3, 3]) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", [rmse, mae])
def test_rating_errors_raise_on_empty_or_mismatched_input(metric):
    with pytest.raises(ValueError):
        metric([], [])
    with pytest.raises(ValueError):
        metric([1, 2], [1])
