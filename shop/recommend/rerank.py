"""Stage 6 of the pipeline, the re-ranker: business rules and diversity over the ranked candidates.

Exclusions happen before ranking (blocked products never become candidates); here the ranked list is
cut to length with maximal marginal relevance over content similarity, so a list is not ten near-copies
of one product.
"""

from __future__ import annotations

import numpy as np

from .candidates import top_n
from .content import ContentModel


def mmr(
    scores: np.ndarray, n: int, diversity: float, content: ContentModel, items: np.ndarray
) -> np.ndarray:
    """Positions (into ``scores``/``items``) of the n products MMR picks: relevance minus redundancy."""
    if n <= 0 or len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    pool = top_n(scores, min(len(scores), max(3 * n, n + 10)))
    if diversity <= 0 or len(pool) <= 1:
        return pool[:n]
    relevance = scores[pool]
    low = relevance.min()
    span = relevance.max() - low
    relevance = (relevance - low) / span if span > 0 else np.ones(len(pool))
    gain = (1.0 - diversity) * relevance
    similarity = content.pair_similarity(items[pool])
    chosen = [0]
    redundancy = similarity[0].copy()
    # A chosen product gets infinite redundancy, so its MMR is -inf and it is never picked again.
    redundancy[0] = np.inf
    value = np.empty(len(pool))
    for _ in range(min(n, len(pool)) - 1):
        np.multiply(redundancy, diversity, out=value)
        np.subtract(gain, value, out=value)
        best = int(value.argmax())
        chosen.append(best)
        np.maximum(redundancy, similarity[best], out=redundancy)
        redundancy[best] = np.inf
    return pool[chosen]
