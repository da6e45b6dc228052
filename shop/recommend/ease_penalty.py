"""EASE's ridge penalty chosen on the fit's own holdouts, before any source is fitted for validation.

EASE's one knob, λ, decides how far the item weights trust co-occurrence over the identity: too small
and a product's weights copy its few buyers' baskets, too large and every list drifts to the best
sellers. The scale that suits a shop depends on its baskets (a penalty of once the mean number of
shoppers per product was the engine's fixed choice), so it is chosen per fit: EASE is fitted on each
holdout's training events (a shopper's future and random gaps in their past, the protocols the guard
judges on) and each penalty is scored by NDCG@10 of the held-out products, relative to the best penalty
of that protocol, averaged over the protocols. The search walks from the default scale in factors of
two while the score improves, so a fit usually inverts the Gram matrix three or four times per holdout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .ease import ease_item_limit
from .tuning import Holdout

K = 10
#: The search's bounds, as multiples of the mean number of shoppers per product.
SMALLEST_SCALE = 1 / 8
LARGEST_SCALE = 16.0
#: Held-out shoppers each penalty is judged on, per holdout.
JUDGED_USERS = 1500
#: The search fits EASE on at most this many of the most used products (an inversion is cubic in
#: them: 2,000 cost 0.8 s on one core where the 6,000 the served model may cover cost 20 s), and
#: carries the chosen penalty over as an absolute λ: products outside the search's set score 0 in
#: it, which costs every penalty alike.
JUDGED_ITEMS = 2000


class _Judge:
    """One holdout's Gram matrix and held-out shoppers, ready to score any penalty."""

    def __init__(self, holdout: Holdout, max_items: int, max_memory_mb: float, seed: int) -> None:
        max_items_served = ease_item_limit(max_items, max_memory_mb)
        max_items = min(max_items, JUDGED_ITEMS)
        train = holdout.train
        shape = (train.n_users, train.n_items)
        matrix = sp.csr_matrix((np.ones(len(train.items)), (train.users, train.items)), shape=shape)
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        support = np.asarray(matrix.getnnz(axis=0))
        covered = np.flatnonzero(support > 0)
        limit = ease_item_limit(max_items, max_memory_mb)
        # The served model's penalty is a scale of its own products' mean support.
        served = covered[np.argsort(-support[covered], kind="stable")[:max_items_served]]
        self.served_support = float(support[served].mean()) if len(served) else 0.0
        if len(covered) > limit:
            covered = np.sort(covered[np.argsort(-support[covered], kind="stable")[:limit]])
        self.items = covered
        x = matrix[:, covered].tocsc()
        self.gram = np.asarray((x.T @ x).todense(), dtype=np.float64)
        users = np.array(sorted(holdout.truth))
        if len(users) > JUDGED_USERS:
            users = np.sort(np.random.default_rng(seed).choice(users, JUDGED_USERS, replace=False))
        self.history = matrix[users][:, covered].astype(np.float32)
        blocked = np.asarray(self.history.todense(), dtype=bool)
        blocked |= ~holdout.existing[covered][None, :]
        self.blocked = blocked
        slot = np.full(train.n_items, -1)
        slot[covered] = np.arange(len(covered))
        self.truth = [np.array([slot[i] for i in holdout.truth[u]]) for u in users.tolist()]
        self.protocol = holdout.protocol

    def ndcg(self, scale: float) -> float:
        """Mean NDCG@10 over the judged shoppers of EASE with the penalty the served model would get at
        this scale (its products' mean support times the scale); products outside the search's set
        count as misses."""
        if not len(self.items) or not len(self.truth):
            return 0.0
        gram = self.gram.astype(np.float32)
        gram[np.diag_indices_from(gram)] += max(scale * self.served_support, 1e-6)
        # One thread: on a busy two-core machine two BLAS threads took 20 s for what one did in 2.5.
        with threadpool_limits(1, "blas"):
            inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = inverse / (-np.diag(inverse))[None, :]
        np.fill_diagonal(weights, 0.0)
        scores = np.asarray(self.history @ weights)
        scores[self.blocked] = -np.inf
        k = min(K, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        discounts = 1.0 / np.log2(np.arange(2, K + 2))
        total = 0.0
        for row, truth in zip(top, self.truth, strict=True):
            hits = np.isin(row, truth)
            ideal = discounts[: min(len(truth), K)].sum()
            total += float(discounts[: len(row)][hits].sum() / ideal)
        return total / len(self.truth)


def choose_ease_scale(
    holdouts: Sequence[Holdout],
    default: float,
    max_items: int,
    max_memory_mb: float,
    seed: int,
) -> tuple[float, dict[str, Any]]:
    """The penalty scale with the best mean relative NDCG@10 over the holdouts' protocols (the latest
    time window and the first random-gap fold), and the figures behind it."""
    judges: list[_Judge] = []
    for protocol in ("time", "random"):
        holdout = next((h for h in holdouts if h.protocol == protocol and h.truth), None)
        if holdout is not None:
            judges.append(_Judge(holdout, max_items, max_memory_mb, seed))
    if not judges:
        return default, {"scale": default, "reason": "no holdout to choose on"}
    found: dict[float, list[float]] = {}

    def score(scale: float) -> float:
        if scale not in found:
            found[scale] = [judge.ndcg(scale) for judge in judges]
        best = [max(values[j] for values in found.values()) for j in range(len(judges))]
        return float(np.mean([found[scale][j] / max(best[j], 1e-12) for j in range(len(judges))]))

    current = default
    score(current)
    for step in (2.0, 0.5):
        while True:
            trial = current * step
            if not SMALLEST_SCALE <= trial <= LARGEST_SCALE:
                break
            score(trial)
            if score(trial) <= score(current) + 1e-9:
                break
            current = trial
        if current != default:
            break  # improved upwards: no need to walk down
    best = max(found, key=score)
    return best, {
        "scale": best,
        "protocols": [judge.protocol for judge in judges],
        "ndcg@10": {f"{s:g}": [round(v, 5) for v in values] for s, values in sorted(found.items())},
    }
