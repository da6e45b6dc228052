"""Implicit-feedback matrix factorisation: `implicit`'s ALS, with the shopper folded in at request time.

Only the item factors are kept after fit; a shopper's vector is solved from their current history on every
request (the same least-squares step ALS itself uses), so a new click changes the list without retraining
and shoppers unseen at fit time are served too.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


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
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float64)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float64)
        self.item_factors32_ = self.item_factors_.astype(np.float32)
        self.gram_ = self.item_factors_.T @ self.item_factors_
        return self

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        """Solve each row's user vector against the fixed item factors (one small k x k system per shopper)."""
        history = history.tocsr()
        k = self.item_factors_.shape[1]
        base = self.gram_ + self.regularization * np.eye(k)
        users = np.zeros((history.shape[0], k))
        for row in range(history.shape[0]):
            start, stop = history.indptr[row], history.indptr[row + 1]
            if start == stop:
                continue
            items = history.indices[start:stop]
            confidence = self.alpha * history.data[start:stop]
            factors = self.item_factors_[items]
            matrix = base + (factors.T * (confidence - 1.0)) @ factors
            users[row] = np.linalg.solve(matrix, factors.T @ confidence)
        return users

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        # float32 halves the memory traffic of the one catalogue-sized product on the request path.
        users = self.fold_in(history).astype(np.float32)
        return (users @ self.item_factors32_.T).astype(np.float64)
