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
    return _partitioned(scores, blocked_mask, wanted, k) if picked is None else picked


def _partitioned(scores: np.ndarray, blocked_mask: np.ndarray, wanted: int, k: int) -> np.ndarray:
    """``_best_unblocked`` by a partition of the whole array (which settles ties its own way)."""
    n = len(scores)
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
    at once (``_shortlisted_rows``).
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
    """``_best_unblocked`` of every row of ``block``, together (the picks of several rows may share
    one array).

    The steps of ``_shortlisted`` run over the whole block at once: each row's cut-off from one
    partition of the sample, the shortlists from one comparison, each row's border from one
    partition of its free scores laid out one row each. A row whose border is tied looks closer
    (``_tied``); a row the shortlist cannot decide is partitioned alone, as before.
    """
    n_rows, n = block.shape
    wanted = min(n, k + n_blocked)
    if n_rows == 0 or wanted <= 0:
        return []
    if wanted * SAMPLE_STEP * 4 > n:
        return [_partitioned(values, blocked_mask, wanted, k) for values in block]
    # Each row's q-th best sampled score, read among positive scores only in ``_shortlisted`` (a
    # row with q positive samples or fewer has no positive cut-off). Partitioned negated: numpy's
    # partition is several times slower with its k-th place near the end.
    q = (2 * wanted) // SAMPLE_STEP + 1
    cutoff = -np.partition(np.negative(block[:, ::SAMPLE_STEP]), q, axis=1)[:, q]
    positive = cutoff > 0
    # ``scores >= cutoff``, or ``scores > 0`` where the cut-off is not positive.
    threshold = np.where(positive, cutoff, np.nextafter(0.0, 1.0))
    flat = np.flatnonzero(block >= threshold[:, None])
    rows = flat // n
    columns = flat - rows * n
    values = block.ravel()[flat]
    free = ~blocked_mask[columns]
    free_rows = rows[free]
    n_free = np.bincount(free_rows, minlength=n_rows)
    # Each row's k-th best free score: its free scores laid out one row each, then partitioned.
    starts = np.cumsum(n_free) - n_free
    width = max(int(n_free.max()), k)
    laid = np.full((n_rows, width), np.inf)
    laid[free_rows, np.arange(len(free_rows)) - starts[free_rows]] = -values[free]
    border = -np.partition(laid, k - 1, axis=1)[:, k - 1]
    # Fewer than k free ones: all of them where the cut-off is zero, a full partition otherwise.
    short = n_free <= k
    border[short] = -np.inf
    tied = ~short & (np.bincount(rows[values == border[rows]], minlength=n_rows) > 1)
    undecided = short & positive
    ends = np.cumsum(np.bincount(rows, minlength=n_rows))
    for row in np.flatnonzero(tied).tolist():
        part = slice(ends[row - 1] if row else 0, ends[row])
        if _tied(values[part], free[part], border[row], wanted, bool(positive[row])):
            undecided[row] = True
    keep = free & ~undecided[rows] & (values >= border[rows])
    picks = [columns[keep]]
    for row in np.flatnonzero(undecided).tolist():
        part = slice(ends[row - 1] if row else 0, ends[row])
        settled = _settled(values[part], free[part], wanted, k, bool(positive[row]))
        if settled is None:
            picks.append(_partitioned(block[row], blocked_mask, wanted, k))
        else:
            picks.append(columns[part][settled])
    return picks


def _settled(
    values: np.ndarray, free: np.ndarray, wanted: int, k: int, positive_cutoff: bool
) -> np.ndarray | None:
    """The shortlist's picks (a mask over it) where ``_partitioned`` has no tie to settle, else None.

    ``_shortlisted`` hands a row to the full partition whenever its border is shared, but the
    partition picks freely only between products tied across one of its two cuts: the best
    ``wanted`` of the row, then the best k of the free positive ones among them. Where neither cut
    falls inside a tie, its picks are fixed and read off the shortlist (all of the row's scores
    above the cut-off) instead: a full partition of a mostly-zero row cost up to a millisecond.
    """
    if len(values) >= wanted:
        best = -np.partition(-values, wanted - 1)
        first = best[wanted - 1]
        if len(values) > wanted and np.max(best[wanted:]) == first:
            return None  # (below the cut-off everything scores less than the shortlist)
        chosen = free & (values >= first)
    elif positive_cutoff:
        return None  # positive scores below the cut-off would be among the best ``wanted``
    else:
        chosen = free.copy()  # every positive score is among the best ``wanted``
    kept = values[chosen]
    if len(kept) > k:
        best = -np.partition(-kept, k - 1)
        if np.max(best[k:]) == best[k - 1]:
            return None
        chosen &= values >= best[k - 1]
    return chosen


def _tied(
    values: np.ndarray, free: np.ndarray, border: float, wanted: int, positive_cutoff: bool
) -> bool:
    """Whether a shortlist whose border score is shared leaves the pick to the full partition (as
    ``_shortlisted`` decides it): shared with another free product, or with blocked ones only where
    the best ``wanted`` could end at that score."""
    if np.count_nonzero(values[free] == border) > 1:
        return True
    if len(values) >= wanted:
        return bool(np.partition(values, len(values) - wanted)[len(values) - wanted] >= border)
    return positive_cutoff
