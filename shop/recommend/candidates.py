"""Stage 3 of the pipeline, candidate selection: the union of every source's best products.

The ranker only looks at products some source vouches for, so a request ranks a few hundred products
instead of the catalogue. Blocked products (the shopper's own, and what the caller excludes) never
become candidates.

A source's best k are its k unblocked products with a positive score, best first and, among equal
scores, the lowest catalogue position first: the order of a stable sort. Ties are common (co-purchase
counts, category-wide steps), and a tie broken by position is the same on every call and in every
process, where a partition's pick among tied products was its own to make.
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


def best_unblocked(scores: np.ndarray, blocked_mask: np.ndarray, k: int) -> np.ndarray:
    """One source's best k unblocked positive-scoring products (sorted positions), from the whole row.

    The definition the shortlists of ``_best_unblocked_rows`` reach without reading every score.
    """
    found = np.flatnonzero((scores > 0) & ~blocked_mask)
    if len(found) <= k:
        return found
    values = scores[found]
    border = -np.partition(-values, k - 1)[k - 1]
    keep = values > border
    tied = np.flatnonzero(values == border)
    keep[tied[: k - int(np.count_nonzero(keep))]] = True
    return found[keep]


def select_candidates(
    scores: Mapping[str, np.ndarray],
    blocked_mask: np.ndarray,
    n_blocked: int,
    popular_order: np.ndarray,
    per_source: int = PER_SOURCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate products (sorted) and how many sources put each in their top ``per_source``.

    ``scores`` by source name, popularity among them (as ``SourceSet.score`` gives them).
    """
    others = [values for name, values in scores.items() if name != "popularity"]
    n = len(blocked_mask)
    block = np.vstack(others) if others else np.zeros((0, n))
    return select_from_rows(
        block,
        blocked_mask,
        n_blocked,
        popular_order if "popularity" in scores else None,
        per_source,
    )


def select_from_rows(
    block: np.ndarray,
    blocked_mask: np.ndarray,
    n_blocked: int,
    popular_order: np.ndarray | None,
    per_source: int = PER_SOURCE,
) -> tuple[np.ndarray, np.ndarray]:
    """``select_candidates`` from the sources' scores as rows of one block (silent rows all zeros),
    popularity apart.

    Popularity's order is fixed per model, so its best unblocked products are read off ``popular_order``
    instead of partitioning the catalogue again. Every other source's best are read off the block
    at once (``_best_unblocked_rows``).
    """
    picks = []
    if popular_order is not None:
        head = popular_order[: per_source + n_blocked]
        picks.append(head[~blocked_mask[head]][:per_source])
    picks += _best_unblocked_rows(block, blocked_mask, n_blocked, per_source)
    every = np.sort(np.concatenate(picks)) if picks else np.zeros(0, dtype=np.int64)
    if not len(every):
        return every, np.zeros(0, dtype=np.intp)
    # ``np.unique(every, return_counts=True)`` by one sort, without its set-up.
    starts = np.flatnonzero(np.concatenate(([True], every[1:] != every[:-1])))
    return every[starts], np.diff(np.append(starts, len(every)))


def _best_unblocked_rows(
    block: np.ndarray, blocked_mask: np.ndarray, n_blocked: int, k: int
) -> list[np.ndarray]:
    """``best_unblocked`` of every row of ``block``, together (the picks of several rows may share
    one array).

    Reading every score of every row was the request's costliest step, so each row's best are read
    off a shortlist: every score at least a cut-off taken from a strided sample, set so that a few
    times ``k`` plus the blocked products pass it. Every unblocked product outside the shortlist
    scores less than every one in it, so where the shortlist holds k unblocked products, the row's
    best k (ties included: a tie at the border lies wholly above the cut-off) are its best k. The
    steps run over the whole block at once: the cut-offs from one partition of the samples, the
    shortlists from one comparison, each row's border from one partition of its unblocked scores
    laid out one row each. A row whose shortlist holds fewer than k unblocked products above a
    positive cut-off is read whole.
    """
    n_rows, n = block.shape
    wanted = min(n, k + n_blocked)
    if n_rows == 0 or wanted <= 0:
        return []
    if wanted * SAMPLE_STEP * 4 > n:
        return [best_unblocked(values, blocked_mask, k) for values in block]
    # Each row's q-th best sampled score; partitioned negated: numpy's partition is several times
    # slower with its k-th place near the end.
    q = (2 * wanted) // SAMPLE_STEP + 1
    cutoff = -np.partition(np.negative(block[:, ::SAMPLE_STEP]), q, axis=1)[:, q]
    positive = cutoff > 0
    # ``scores >= cutoff``, or ``scores > 0`` where the cut-off is not positive.
    threshold = np.where(positive, cutoff, np.nextafter(0.0, 1.0))
    flat = np.flatnonzero(block >= threshold[:, None])
    flat = flat[~blocked_mask[flat % n]]
    rows = flat // n
    columns = flat - rows * n
    values = block.ravel()[flat]
    n_free = np.bincount(rows, minlength=n_rows)
    # Each row's k-th best score: its shortlist laid out one row each, then partitioned.
    starts = np.cumsum(n_free) - n_free
    width = max(int(n_free.max()), k)
    laid = np.full((n_rows, width), np.inf)
    laid[rows, np.arange(len(rows)) - starts[rows]] = -values
    border = -np.partition(laid, k - 1, axis=1)[:, k - 1]
    # k or fewer: all of them, unless some better ones may lie below a positive cut-off.
    short = n_free <= k
    border[short] = -np.inf
    keep = values > border[rows]
    # At the border, the lowest positions until the row has k (the shortlist is in position order).
    tied = np.flatnonzero(values == border[rows])
    if len(tied):
        tied_rows = rows[tied]
        counts = np.bincount(tied_rows, minlength=n_rows)
        rank = np.arange(len(tied)) - (np.cumsum(counts) - counts)[tied_rows]
        room = k - np.bincount(rows[keep], minlength=n_rows)
        keep[tied[rank < room[tied_rows]]] = True
    whole = (n_free < k) & positive
    if whole.any():
        keep &= ~whole[rows]
    picks = [columns[keep]]
    picks += [best_unblocked(block[row], blocked_mask, k) for row in np.flatnonzero(whole).tolist()]
    return picks
