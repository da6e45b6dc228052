"""Implicit-feedback matrix factorisation: `implicit`'s ALS, with the shopper folded in at request time.

Only the item factors are kept after fit; a shopper's vector is solved from their current history on every
request (the same least-squares step ALS itself uses), so a new click changes the list without retraining
and shoppers unseen at fit time are served too.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .linalg import solve_spd


class ALSModel:
    """Weighted ALS (Hu, Koren and Volinsky 2008) over the user-item strength matrix.

    Parameters
    ----------
    factors, regularization, iterations:
        As in ``implicit.als.AlternatingLeastSquares``.
    alpha:
        Confidence scale: confidence = alpha * strength for observed cells (implicit's convention).
    random_state:
        Seed for the factor initialisation, so fits are repeatable.
    num_threads:
        Threads for implicit's own solver (0 = all cores). BLAS itself is pinned to one thread during fit.
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 1.0,
        random_state: int | None = 0,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.random_state = random_state
        self.num_threads = num_threads

    def fit(self, user_items: sp.csr_matrix) -> ALSModel:
        # Imported here so importing the engine stays cheap and free of implicit's start-up checks.
        from implicit.cpu.als import AlternatingLeastSquares

        # implicit warns (RuntimeWarning) when OpenBLAS runs its own threadpool, which also slows ALS 10x.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            model.fit(user_items.tocsr().astype(np.float32), show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float64)
        return self.use_item_factors(model.item_factors)

    def use_item_factors(self, item_factors: np.ndarray) -> ALSModel:
        """Take item factors fitted elsewhere (a Spark cluster) as this model's fitted state.

        Only the item factors are needed to serve: every shopper is folded in at request time
        against them, so a model trained by another ALS implementation answers exactly as one
        fitted here, through the same ``fold_in`` and ``scores_for``.
        """
        item_factors = np.asarray(item_factors, dtype=np.float64)
        if item_factors.ndim != 2 or item_factors.shape[1] != self.factors:
            raise ValueError(
                f"item factors must be (n_items, {self.factors}), got {item_factors.shape}"
            )
        self.__dict__.pop("_base", None)
        self.item_factors_ = np.ascontiguousarray(item_factors)
        self.item_factors32_ = self.item_factors_.astype(np.float32)
        self.gram_ = self.item_factors_.T @ self.item_factors_
        return self

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        """Solve each row's user vector against the fixed item factors (one small k x k system per shopper)."""
        history = history.tocsr()
        users = np.zeros((history.shape[0], self.item_factors_.shape[1]))
        for row in range(history.shape[0]):
            start, stop = history.indptr[row], history.indptr[row + 1]
            if start != stop:
                users[row] = self._solve(history.indices[start:stop], history.data[start:stop])
        return users

    def _solve(self, items: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        """One shopper's least-squares step: the regularised Gram matrix plus their confidence terms."""
        base = self.__dict__.get("_base")
        if base is None:  # cached per process (not pickled: it is derived from the factors)
            k = self.item_factors_.shape[1]
            base = self._base = self.gram_ + self.regularization * np.eye(k)
        confidence = self.alpha * strengths
        factors = self.item_factors_[items]
        matrix = base + (factors.T * (confidence - 1.0)) @ factors
        return solve_spd(matrix, factors.T @ confidence)

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        # float32 halves the memory traffic of the one catalogue-sized product on the request path.
        users = self.fold_in(history).astype(np.float32)
        return (users @ self.item_factors32_.T).astype(np.float64)

    def scores_for(self, items: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        """``scores`` for one shopper given as (item, strength) pairs, without building a sparse row.

        In float32, as the product computes them: the request scales them straight into its float64
        row, where a copy in float64 first would hold the same values.
        """
        if len(items) == 0:
            return np.zeros(len(self.item_factors32_), dtype=np.float32)
        user = self._solve(items, strengths).astype(np.float32)
        return self.item_factors32_ @ user

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_base", None)
        return state
