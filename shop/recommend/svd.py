"""Explicit-rating matrix factorisation with scikit-surprise, folded in per shopper at request time.

The model is surprise's biased MF (``SVD``), fitted in two steps and tuned inside its fit (``TunedSVD``):
the biases are surprise's ``BaselineOnly`` estimate, and ``SVD`` without biases learns the factors on what
the biases leave, with its factors, regularisation and epochs chosen on a held-out fifth of the training
ratings, where "no factors" (the biases alone) is one of the choices. Plain ``SVD`` learns the biases by
stochastic gradient with the factors' light penalty; on the demo shop's ratings it came out behind
``BaselineOnly`` (RMSE 0.748 against 0.742 on seed 42), which shrinks each bias by how many ratings
support it.

Afterwards ``SVDModel`` keeps only mu, the item biases and item factors as numpy arrays aligned with the
catalogue. A shopper's bias and factors are then solved from their current ratings (ridge regression
against the fixed item factors), so a new rating moves the predictions immediately and the whole
catalogue is scored with one matrix-vector product instead of a ``predict()`` call per product.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
from surprise import SVD as SurpriseSVD
from surprise import AlgoBase, BaselineOnly, PredictionImpossible, Trainset

from .linalg import solve_spd

#: Most ratings the choice is made on (a random sample): the grid refits SVD a dozen times per fold.
TUNING_MAX_RATINGS = 10_000
#: Folds of the sample, each judging a fifth after learning on the rest: all five on a sample of up to
#: a fifth of ``TUNING_MAX_RATINGS``, fewer on bigger ones (whose single fifth is already thousands).
TUNING_FOLDS = 5
#: Penalties the grid tries (surprise's ``reg_all``; its default is 0.02).
TUNING_REGULARISATION: tuple[float, ...] = (0.02, 0.1)


def _trainset(
    template: Trainset, users: np.ndarray, items: np.ndarray, ratings: np.ndarray
) -> Trainset:
    """A surprise trainset over ``template``'s inner ids holding the given (inner user, inner item,
    rating) triples, so parameters learnt on it line up with the template's."""
    ur: defaultdict[int, list[tuple[int, float]]] = defaultdict(list)
    ir: defaultdict[int, list[tuple[int, float]]] = defaultdict(list)
    for u, i, r in zip(users.tolist(), items.tolist(), ratings.tolist(), strict=True):
        ur[u].append((i, r))
        ir[i].append((u, r))
    return Trainset(
        ur,
        ir,
        template.n_users,
        template.n_items,
        len(ratings),
        template.rating_scale,
        template._raw2inner_id_users,
        template._raw2inner_id_items,
    )


def _triples(trainset: Trainset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    users, items, ratings = (
        zip(*trainset.all_ratings(), strict=True) if trainset.n_ratings else ((), (), ())
    )
    return (
        np.asarray(users, dtype=np.int64),
        np.asarray(items, dtype=np.int64),
        np.asarray(ratings, dtype=np.float64),
    )


class _Fitted:
    """mu, biases and factors learnt on one set of triples (the two-step fit of ``TunedSVD``)."""

    def __init__(
        self,
        template: Trainset,
        triples: tuple[np.ndarray, np.ndarray, np.ndarray],
        factors: int,
        reg: float,
        epochs: int,
        random_state: int | None,
    ) -> None:
        users, items, ratings = triples
        trainset = _trainset(template, users, items, ratings)
        baseline = BaselineOnly(verbose=False)
        baseline.fit(trainset)
        self.mu = float(trainset.global_mean)
        self.bu, self.bi = baseline.bu, baseline.bi
        self.pu = np.zeros((template.n_users, factors))
        self.qi = np.zeros((template.n_items, factors))
        if factors:
            residual = ratings - self.mu - self.bu[users] - self.bi[items]
            algo = SurpriseSVD(
                n_factors=factors,
                n_epochs=epochs,
                reg_all=reg,
                biased=False,
                random_state=random_state,
            )
            algo.fit(_trainset(template, users, items, residual))
            # Only ids with ratings here have learnt factors; the others keep their random start.
            seen_users = np.bincount(users, minlength=template.n_users) > 0
            seen_items = np.bincount(items, minlength=template.n_items) > 0
            self.pu[seen_users] = algo.pu[seen_users]
            self.qi[seen_items] = algo.qi[seen_items]

    def predict(
        self, users: np.ndarray, items: np.ndarray, scale: tuple[float, float]
    ) -> np.ndarray:
        raw = (
            self.mu
            + self.bu[users]
            + self.bi[items]
            + np.einsum("ij,ij->i", self.pu[users], self.qi[items])
        )
        return np.clip(raw, *scale)


class TunedSVD(AlgoBase):
    """Surprise's biased MF whose factors, regularisation and epochs are chosen inside ``fit``.

    The grid: no factors (the biases alone), or ``n_factors`` of 10 and the given number, each with the
    penalties ``TUNING_REGULARISATION`` and half and all of ``n_epochs`` epochs; each is fitted on
    four fifths of (a sample of) the training ratings and judged by RMSE on the rest, over up to five
    folds (``TUNING_FOLDS``); the simplest setting within one standard error of the best RMSE is
    refitted on every training rating. A surprise algorithm, so the rating evaluation scores it like
    ``BaselineOnly``; ``chosen_`` says what the grid picked.
    """

    def __init__(
        self, n_factors: int = 50, n_epochs: int = 20, random_state: int | None = 0
    ) -> None:
        AlgoBase.__init__(self)
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.random_state = random_state

    def grid(self) -> list[tuple[int, float, int]]:
        """(factors, regularisation, epochs) the fit chooses from."""
        factors = sorted({min(10, self.n_factors), self.n_factors} - {0})
        epochs = sorted({max(1, self.n_epochs // 2), self.n_epochs})
        return [(0, 0.0, 0), *product(factors, TUNING_REGULARISATION, epochs)]

    def fit(self, trainset: Trainset) -> TunedSVD:
        AlgoBase.fit(self, trainset)
        triples = _triples(trainset)
        rng = np.random.default_rng(self.random_state)
        sample = rng.permutation(len(triples[2]))[:TUNING_MAX_RATINGS]
        # Every fold judges a different fifth: on a small shop one fifth is a few hundred ratings, and
        # the grid's near-ties would be decided by which ones.
        folds = int(np.clip(TUNING_MAX_RATINGS // max(len(sample), 1), 1, TUNING_FOLDS))
        parts = np.array_split(sample, TUNING_FOLDS)[:folds] if len(sample) >= TUNING_FOLDS else []
        squared: dict[tuple[int, float, int], list[np.ndarray]] = {}
        for judge in parts:
            learn = np.setdiff1d(sample, judge)
            subset = tuple(a[learn] for a in triples)
            truth = triples[2][judge]
            for params in self.grid():
                fitted = _Fitted(trainset, subset, *params, self.random_state)
                predicted = fitted.predict(
                    triples[0][judge], triples[1][judge], trainset.rating_scale
                )
                squared.setdefault(params, []).append((predicted - truth) ** 2)
        scores = {params: float(np.sqrt(np.concatenate(e).mean())) for params, e in squared.items()}
        best = (0, 0.0, 0)
        if scores:
            # The one-standard-error rule: the simplest setting (fewest factors, then epochs) within
            # one standard error of the best RMSE. Factors that win by a hair on a few hundred ratings
            # are noise, and on the demo shop they lost to the biases alone on the test ratings.
            top = min(scores, key=scores.__getitem__)
            errors = np.concatenate(squared[top])
            margin = float(errors.std() / np.sqrt(len(errors)) / (2 * max(scores[top], 1e-12)))
            simplest = sorted(scores, key=lambda p: (p[0], p[2], -p[1]))
            best = next(p for p in simplest if scores[p] <= scores[top] + margin)
        self.fitted_ = _Fitted(trainset, triples, *best, self.random_state)
        factors, reg, epochs = best
        self.chosen_: dict[str, Any] = {
            "factors": factors,
            "regularisation": reg,
            "epochs": epochs,
            "validation_rmse": round(scores[best], 4) if scores else None,
            "biases_alone_rmse": round(scores[(0, 0.0, 0)], 4) if scores else None,
        }
        return self

    def estimate(self, u: Any, i: Any) -> float:
        known_user = self.trainset.knows_user(u)
        known_item = self.trainset.knows_item(i)
        if not (known_user or known_item):
            raise PredictionImpossible("user and item are unknown")
        fitted = self.fitted_
        estimate = fitted.mu
        if known_user:
            estimate += fitted.bu[u]
        if known_item:
            estimate += fitted.bi[i]
        if known_user and known_item:
            estimate += float(fitted.pu[u] @ fitted.qi[i])
        return estimate


class SVDModel:
    """Biased matrix factorisation (Funk SVD as in surprise) on explicit ratings.

    Parameters
    ----------
    n_factors, n_epochs:
        The largest factors and the middle epochs of ``TunedSVD``'s grid.
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
        fold_in_reg: float = 0.5,
        random_state: int | None = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.fold_in_reg = fold_in_reg
        self.random_state = random_state

    def fit(
        self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_items: int
    ) -> SVDModel:
        """Fit on (user code, item index, stars) triples; with no ratings the model stays empty."""
        from surprise import Dataset, Reader

        self.n_ratings_ = len(ratings)
        self.item_bias_ = np.zeros(n_items)
        self.item_factors_ = np.zeros((n_items, 0))
        self.known_items_ = np.zeros(n_items, dtype=bool)
        self.chosen_: dict[str, Any] = {}
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
        algo = TunedSVD(self.n_factors, self.n_epochs, self.random_state).fit(trainset)
        fitted = algo.fitted_
        inner = np.arange(trainset.n_items)
        raw = np.array([trainset.to_raw_iid(i) for i in inner], dtype=np.int64)
        self.global_mean_ = fitted.mu
        self.item_bias_[raw] = fitted.bi
        self.item_factors_ = np.zeros((n_items, fitted.qi.shape[1]))
        self.item_factors_[raw] = fitted.qi
        self.known_items_[raw] = True
        self.chosen_ = algo.chosen_
        self._prepare()
        return self

    def _prepare(self) -> None:
        self.item_factors32_ = self.item_factors_.astype(np.float32)
        self.base_scores_ = self.global_mean_ + self.item_bias_

    def fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """Ridge solve of (user bias, user factors) from the shopper's ratings against fixed item parameters."""
        if len(items) == 0 or self.n_ratings_ == 0:
            return 0.0, np.zeros(self.item_factors_.shape[1])
        residual = ratings - self.global_mean_ - self.item_bias_[items]
        design = np.hstack([np.ones((len(items), 1)), self.item_factors_[items]])
        gram = design.T @ design + self.fold_in_reg * np.eye(design.shape[1])
        solution = solve_spd(gram, design.T @ residual)
        return float(solution[0]), solution[1:]

    def predict_all(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Predicted stars for every catalogue product, clipped to the rating scale like surprise does."""
        bias, factors = self.fold_in(items, ratings)
        # (base + bias) + product, then clipped, without a temporary array per step.
        raw = np.add(self.base_scores_, bias)
        if len(
            factors
        ):  # biases alone where the tuning found no use for factors: adding 0 is a no-op
            # float32 for the one catalogue-sized product on the request path: half the memory traffic.
            raw += self.item_factors32_ @ factors.astype(np.float32)
        return np.clip(raw, *self.rating_scale_, out=raw)
