"""Explicit-rating matrix factorisation with scikit-surprise's SVD, folded in per shopper at request time.

Surprise fits the biased MF model; afterwards we keep only mu, the item biases and item factors as numpy
arrays aligned with the catalogue. A shopper's bias and factors are then solved from their current ratings
(ridge regression against the fixed item factors), so a new rating moves the predictions immediately and the
whole catalogue is scored with one matrix-vector product instead of a ``predict()`` call per product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .linalg import solve_spd


class SVDModel:
    """Biased matrix factorisation (Funk SVD as in surprise) on explicit ratings.

    Parameters
    ----------
    n_factors, n_epochs, lr_all, reg_all:
        Passed to ``surprise.SVD``.
    fold_in_reg:
        Ridge penalty when solving a shopper's bias and factors; larger keeps a shopper with one rating
        close to the item-bias baseline.
    random_state:
        Seed for surprise's factor initialisation.
    """

    def __init__(
        self,
        n_factors: int = 50,
        n_epochs: int = 20,
        lr_all: float = 0.005,
        reg_all: float = 0.02,
        fold_in_reg: float = 0.5,
        random_state: int | None = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr_all = lr_all
        self.reg_all = reg_all
        self.fold_in_reg = fold_in_reg
        self.random_state = random_state

    def fit(
        self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_items: int
    ) -> SVDModel:
        """Fit on (user code, item index, stars) triples; with no ratings the model stays empty."""
        from surprise import SVD, Dataset, Reader

        self.n_ratings_ = len(ratings)
        self.item_bias_ = np.zeros(n_items)
        self.item_factors_ = np.zeros((n_items, self.n_factors))
        self.known_items_ = np.zeros(n_items, dtype=bool)
        if len(ratings) == 0:
            self.global_mean_ = 0.0
            self.rating_scale_ = (1.0, 5.0)
            self._prepare()
            return self
        low, high = float(np.min(ratings)), float(np.max(ratings))
        self.rating_scale_ = (min(low, 1.0), max(high, 5.0))
        frame = pd.DataFrame(
            {"u": users.astype(np.int64), "i": items.astype(np.int64), "r": ratings}
        )
        # The last rating of a user for an item wins, as it would in the shop's rating table.
        frame = frame.drop_duplicates(["u", "i"], keep="last")
        data = Dataset.load_from_df(frame[["u", "i", "r"]], Reader(rating_scale=self.rating_scale_))
        trainset = data.build_full_trainset()
        algo = SVD(
            n_factors=self.n_factors,
            n_epochs=self.n_epochs,
            lr_all=self.lr_all,
            reg_all=self.reg_all,
            random_state=self.random_state,
        )
        algo.fit(trainset)
        inner = np.arange(trainset.n_items)
        raw = np.array([trainset.to_raw_iid(i) for i in inner], dtype=np.int64)
        self.global_mean_ = float(trainset.global_mean)
        self.item_bias_[raw] = algo.bi
        self.item_factors_[raw] = algo.qi
        self.known_items_[raw] = True
        self._prepare()
        return self

    def _prepare(self) -> None:
        self.item_factors32_ = self.item_factors_.astype(np.float32)
        self.base_scores_ = self.global_mean_ + self.item_bias_

    def fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """Ridge solve of (user bias, user factors) from the shopper's ratings against fixed item parameters."""
        if len(items) == 0 or self.n_ratings_ == 0:
            return 0.0, np.zeros(self.n_factors)
        residual = ratings - self.global_mean_ - self.item_bias_[items]
        design = np.hstack([np.ones((len(items), 1)), self.item_factors_[items]])
        gram = design.T @ design + self.fold_in_reg * np.eye(design.shape[1])
        solution = solve_spd(gram, design.T @ residual)
        return float(solution[0]), solution[1:]

    def predict_all(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Predicted stars for every catalogue product, clipped to the rating scale like surprise does."""
        bias, factors = self.fold_in(items, ratings)
        # float32 for the one catalogue-sized product on the request path: half the memory traffic.
        product = self.item_factors32_ @ factors.astype(np.float32)
        # (base + bias) + product, then clipped, without a temporary array per step.
        raw = np.add(self.base_scores_, bias)
        raw += product
        return np.clip(raw, *self.rating_scale_, out=raw)
