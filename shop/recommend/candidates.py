"""Stage 3 of the pipeline, candidate selection: the union of every source's best products.

The ranker only looks at products some source vouches for, so a request ranks a few hundred products
instead of the catalogue. Blocked products (the shopper's own, and what the caller excludes) never
become candidates.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: Products taken from each source.
PER_SOURCE = 40


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n best scores, best first (argpartition, then a sort of only those n)."""
    n = min(n, scores.shape[-1])
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


def _best_unblocked(
    scores: np.ndarray, blocked_mask: np.ndarray, n_blocked: int, k: int
) -> np.ndarray:
    """Up to k positive-scoring unblocked products of one source.

    One partition of the source's own array for its best ``k + n_blocked`` (enough to survive the
    blocked ones), then the positive, unblocked ones among them: no copy of the catalogue's positive
    scores first, which every dense source used to make on every request.
    """
    n = len(scores)
    wanted = min(n, k + n_blocked)
    if wanted <= 0:
        return np.zeros(0, dtype=np.int64)
    picked = np.argpartition(scores, n - wanted)[n - wanted :] if wanted < n else np.arange(n)
    values = scores[picked]
    keep = (values > 0) & ~blocked_mask[picked]
    picked, values = picked[keep], values[keep]
    if len(picked) > k:
        picked = picked[np.argpartition(-values, k - 1)[:k]]
    return picked


def select_candidates(
    scores: Mapping[str, np.ndarray],
    blocked_mask: np.ndarray,
    n_blocked: int,
    popular_order: np.ndarray,
    per_source: int = PER_SOURCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate products (sorted) and how many sources put each in their top ``per_source``.

    Popularity's order is fixed per model, so its best unblocked products are read off ``popular_order``
    instead of partitioning the catalogue again.
    """
    picks = []
    for name, values in scores.items():
        if name == "popularity":
            head = popular_order[: per_source + n_blocked]
            picks.append(head[~blocked_mask[head]][:per_source])
        else:
            picks.append(_best_unblocked(values, blocked_mask, n_blocked, per_source))
    every = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    candidates, votes = np.unique(every, return_counts=True)
    return candidates, votes
