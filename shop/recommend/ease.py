"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): a closed-form item-item model.

The item weights ``B`` minimise ``||X - XB||² + λ||B||²`` with a zero diagonal, which has the closed form
``P = (XᵀX + λI)⁻¹``, ``B = -P / diag(P)``. On basket and rating data it is a hard yardstick for far
bigger models, and a shopper is folded in for free: their scores are their history row times ``B``.

The closed form costs O(n³) time and a dense n x n matrix (a few, while inverting). Above
``max_items`` products, or when the dense matrices would need more than ``max_memory_mb``, EASE is fitted
on the most interacted-with products that fit and gives every other product a score of zero: the
catalogue's long tail then gets its collaborative evidence from item-kNN and ALS, as before.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

#: Dense n x n matrices alive at once while fitting (the float64 Gram matrix, its float32 copy and
#: inverse, B), counted as float64: a bound with room to spare.
_MATRICES_WHILE_FITTING = 3


def ease_item_limit(max_items: int, max_memory_mb: float) -> int:
    """How many products the closed form may cover under both the size and the memory cap."""
    by_memory = int(np.sqrt(max_memory_mb * 2**20 / (8 * _MATRICES_WHILE_FITTING)))
    return max(0, min(max_items, by_memory))


class EASEModel:
    """Closed-form EASE over the user-item strength matrix.

    Parameters
    ----------
    l2:
        Ridge penalty λ. ``None`` scales it to the data: ``l2_scale`` times the mean diagonal of ``XᵀX``
        (the mean number of shoppers per product), so one setting suits small and large shops.
    l2_scale:
        Multiplier used when ``l2`` is None.
    binary:
        Fit on 0/1 interactions (the paper's setting) instead of interaction strengths.
    max_items, max_memory_mb:
        Size and memory caps of the closed form (see the module docstring).
    """

    def __init__(
        self,
        l2: float | None = None,
        l2_scale: float = 1.0,
        binary: bool = True,
        max_items: int = 6000,
        max_memory_mb: float = 1200.0,
    ) -> None:
        self.l2 = l2
        self.l2_scale = l2_scale
        self.binary = binary
        self.max_items = max_items
        self.max_memory_mb = max_memory_mb

    def fit(self, user_items: sp.csr_matrix) -> EASEModel:
        matrix = user_items.tocsc().astype(np.float64)
        if self.binary:
            matrix.data = np.ones_like(matrix.data)
        n_items = matrix.shape[1]
        support = np.diff(matrix.indptr)
        limit = ease_item_limit(self.max_items, self.max_memory_mb)
        candidates = np.flatnonzero(support > 0)
        if len(candidates) > limit:
            order = np.argsort(-support[candidates], kind="stable")[:limit]
            candidates = np.sort(candidates[order])
        self.items_ = candidates.astype(np.int64)
        self.n_items_ = n_items
        self.truncated_ = bool(len(candidates) < int((support > 0).sum()))
        # Catalogue position -> row of B (-1: not covered).
        self.slot_ = np.full(n_items, -1, dtype=np.int64)
        self.slot_[self.items_] = np.arange(len(self.items_))
        if len(self.items_) == 0:
            self.weights_ = np.zeros((0, 0), dtype=np.float32)
            self.l2_ = float(self.l2 or 0.0)
            return self
        x = matrix[:, self.items_]
        gram = np.asarray((x.T @ x).todense(), dtype=np.float64)
        diagonal = np.diag(gram).copy()
        self.l2_ = float(self.l2) if self.l2 is not None else self.l2_scale * float(diagonal.mean())
        gram[np.diag_indices_from(gram)] += max(self.l2_, 1e-6)
        # Inverted in single precision, the precision B is kept in: twice as fast as float64 (6,000
        # products: 3.0 s against 6.5 s on two cores), and B moves by a few parts in a million of its
        # largest weight, which leaves the shoppers' top tens as they were.
        with threadpool_limits(2, "blas"):
            inverse = scipy.linalg.inv(
                gram.astype(np.float32), overwrite_a=True, check_finite=False
            )
        del gram
        weights = inverse / (-np.diag(inverse))[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights_ = np.ascontiguousarray(weights, dtype=np.float32)
        return self

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        """Scores over the whole catalogue for each row of ``history`` (uncovered products score 0)."""
        history = history.tocsc()[:, self.items_] if len(self.items_) else None
        out = np.zeros((0 if history is None else history.shape[0], self.n_items_))
        if history is None or not history.nnz:
            return out
        out[:, self.items_] = np.asarray(history @ self.weights_, dtype=np.float64)
        return out

    def scores_for(self, items: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        """``scores`` for one shopper given as (item, strength) pairs: a weighted sum of a few rows of B.

        The rows are added into one float32 vector in place, one at a time: gathering them first copied
        a (history x covered products) matrix on every request, 720 kB for 30 products of 6,000.
        """
        out = np.zeros(self.n_items_)
        slots = self.slot_[items] if len(items) else items
        covered = slots >= 0
        if not covered.any():
            return out
        weights = self.weights_
        rows = slots[covered].tolist()
        total = weights[rows[0]].copy()
        if self.binary:
            for row in rows[1:]:
                np.add(total, weights[row], out=total)
        else:
            values = strengths[covered].astype(np.float32)
            total *= values[0]
            scratch = np.empty_like(total)
            for row, value in zip(rows[1:], values[1:].tolist(), strict=True):
                np.multiply(weights[row], np.float32(value), out=scratch)
                np.add(total, scratch, out=total)
        out[self.items_] = total
        return out
