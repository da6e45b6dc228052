"""Pure ranking and rating metrics.

They raise ValueError on empty input instead of returning 0 or NaN: an average silently taken over nobody
is how an evaluation reports a figure that measures nothing. A recommendation list that is empty is valid
input (it scores 0); an empty set of relevant items is not, because recall over it is undefined.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence

import numpy as np


def _check(
    recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int
) -> list[Hashable]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(relevant) == 0:
        raise ValueError(
            "relevant is empty: ranking metrics are undefined for a shopper with no positives"
        )
    return list(recommended)[:k]


def precision_at_k(
    recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10
) -> float:
    """Share of the top k that is relevant; the denominator is k, so short lists are not rewarded."""
    top = _check(recommended, relevant, k)
    relevant = set(relevant)
    return sum(item in relevant for item in top) / k


def recall_at_k(
    recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10
) -> float:
    """Share of the relevant items found in the top k."""
    top = _check(recommended, relevant, k)
    relevant = set(relevant)
    return sum(item in relevant for item in top) / len(relevant)


def ndcg_at_k(
    recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10
) -> float:
    """Binary-gain NDCG: hits near the top count more; 1.0 when the relevant items lead the list."""
    top = _check(recommended, relevant, k)
    relevant = set(relevant)
    gains = np.array([item in relevant for item in top], dtype=float)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(len(relevant), k)].sum()
    return float((gains * discounts[: len(gains)]).sum() / ideal)


def average_precision_at_k(
    recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10
) -> float:
    """AP@k (the per-shopper term of MAP@k), normalised by min(|relevant|, k) so a perfect list scores 1."""
    top = _check(recommended, relevant, k)
    relevant = set(relevant)
    hits, total = 0, 0.0
    for rank, item in enumerate(top, start=1):
        if item in relevant:
            hits += 1
            total += hits / rank
    return total / min(len(relevant), k)


def catalog_coverage(
    recommendation_lists: Iterable[Sequence[Hashable]], catalog_size: int
) -> float:
    """Share of the catalogue that appears in at least one list: a guard against 'everyone gets the top 10'."""
    lists = list(recommendation_lists)
    if not lists:
        raise ValueError("no recommendation lists given")
    if catalog_size <= 0:
        raise ValueError(f"catalog_size must be positive, got {catalog_size}")
    distinct = set().union(*(set(items) for items in lists))
    return len(distinct) / catalog_size


def _pair(y_true: Iterable[float], y_pred: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    true, pred = np.asarray(list(y_true), dtype=float), np.asarray(list(y_pred), dtype=float)
    if true.size == 0:
        raise ValueError("no ratings given")
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {true.size} vs {pred.size}")
    return true, pred


def rmse(y_true: Iterable[float], y_pred: Iterable[float]) -> float:
    """Root mean squared rating error (penalises large misses, the prototype's metric)."""
    true, pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((true - pred) ** 2)))


def mae(y_true: Iterable[float], y_pred: Iterable[float]) -> float:
    """Mean absolute rating error."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(true - pred)))
