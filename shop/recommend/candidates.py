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


#: Catalogue positions sampled per request to guess a source's cut-off (every ``SAMPLE_STEP``-th one).
SAMPLE_STEP = 8


def _best_unblocked(
    scores: np.ndarray, blocked_mask: np.ndarray, n_blocked: int, k: int
) -> np.ndarray:
    """Up to k positive-scoring unblocked products of one source (in no particular order).

    The best ``k + n_blocked`` (enough to survive the blocked ones), then the positive, unblocked ones
    among them, cut to the best k. ``_shortlisted`` finds them among the few products above a
    cut-off guessed from a sample; only where that cannot decide (too few above the cut-off, or a
    tie at the border, whose winner is argpartition's to pick) is the whole array partitioned.
    """
    n = len(scores)
    wanted = min(n, k + n_blocked)
    if wanted <= 0:
        return np.zeros(0, dtype=np.int64)
    picked = _shortlisted(scores, blocked_mask, wanted, k)
    if picked is not None:
        return picked
    picked = np.argpartition(scores, n - wanted)[n - wanted :] if wanted < n else np.arange(n)
    values = scores[picked]
    keep = (values > 0) & ~blocked_mask[picked]
    picked, values = picked[keep], values[keep]
    if len(picked) > k:
        picked = picked[np.argpartition(-values, k - 1)[:k]]
    return picked


def _shortlisted(
    scores: np.ndarray, blocked_mask: np.ndarray, wanted: int, k: int
) -> np.ndarray | None:
    """``_best_unblocked``'s products read off a shortlist, or None where only the full partition can
    say which products it would pick.

    A partition of the whole catalogue per source was the request's costliest step. Without ties,
    ``_best_unblocked`` picks the positive ones among the k best unblocked products: the best
    ``wanted`` hold at least k unblocked ones, and every unblocked product outside them scores
    less. The shortlist holds every product scoring at least a cut-off taken from a strided sample,
    set so that a few times ``wanted`` products pass it (or every positive one, where the cut-off
    is not positive). Where the k-th best unblocked score is shared with another product, which of
    them the partitions keep can be theirs to decide: None.
    """
    n = len(scores)
    if wanted * SAMPLE_STEP * 4 > n:
        return None
    # The sample's r-th best score, read among its positive scores only: a sparse source's zeros
    # slow the partition down and could only make the cut-off zero.
    sample = scores[::SAMPLE_STEP]
    sample = sample[sample > 0]
    rank = len(sample) - (2 * wanted) // SAMPLE_STEP - 2
    cutoff = np.partition(sample, rank)[rank] if rank >= 0 else 0.0
    shortlist = np.flatnonzero(scores >= cutoff if cutoff > 0 else scores > 0)
    values = scores[shortlist]
    free = ~blocked_mask[shortlist]
    n_free = int(np.count_nonzero(free))
    if n_free <= k:
        # Every positive unblocked product when the shortlist holds them all; otherwise some better
        # ones may lie below the cut-off.
        return shortlist[free] if cutoff <= 0 else None
    free_values = values[free]
    border = np.partition(free_values, n_free - k)[n_free - k]
    if np.count_nonzero(values == border) > 1:
        # Shared with another unblocked product: the partitions choose. Shared with blocked ones
        # only: it matters if the best ``wanted`` end at that score, where they could crowd it out.
        if np.count_nonzero(free_values == border) > 1:
            return None
        if len(values) >= wanted:
            if np.partition(values, len(values) - wanted)[len(values) - wanted] >= border:
                return None
        elif cutoff > 0:
            return None
    return shortlist[free][free_values >= border]


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
