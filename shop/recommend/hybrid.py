"""The hybrid engine: popularity, content, item-kNN, ALS and SVD blended with weights tuned at fit time.

How it decides, in one place:

* Each model scores the whole catalogue for the shopper's *current* history (factor models fold the
  shopper in), so a like or rating changes the next list without retraining.
* Scores are min-max normalised per model over the catalogue and summed with weights chosen on a
  time-based validation split of the training data, separately for shoppers with a short history and
  shoppers with a long one (content and item-kNN carry the first, collaborative filtering the second).
  A shopper with no usable history gets popularity/trending.
* Products nobody has interacted with yet borrow their collaborative scores from content similarity,
  so new products can surface.
* Bought, rated and liked products are excluded, and a light MMR re-ranking over content similarity keeps a
  list from being ten near-copies.
* A request works on plain arrays: the history's columns are coded once, each model gathers only the rows
  the history touches, and models with zero weight are not scored. Weight tuning scores many shoppers at
  once with sparse history matrices; tests hold both paths to the same scores.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import persistence
from .content import ContentModel
from .frames import (
    DEFAULT_KIND_WEIGHTS,
    FINAL_CODES,
    KINDS,
    RATING,
    Events,
    check_interactions,
    decay,
    encode_events,
    implicit_weights,
    kind_codes,
    kind_weight_table,
    to_epoch_days,
    weights_from_codes,
)
from .implicit_mf import ALSModel
from .neighbours import ItemKNN, row_positions
from .popularity import POPULAR_KINDS, PopularityModel
from .records import NotFittedError, Recommendation, UnknownProductError
from .svd import SVDModel

#: Blended models; "new" is content similarity restricted to products nobody has interacted with yet.
COMPONENTS: tuple[str, ...] = ("popularity", "content", "itemknn", "als", "svd", "new")
VARIANTS: tuple[str, ...] = ("hybrid", "popularity", "svd", "als", "itemknn", "content")
#: History-size buckets with their own weights: (name, fewest distinct products in the history).
BUCKETS: tuple[tuple[str, int], ...] = (("few", 1), ("many", 5))
DEFAULT_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "few": {"popularity": 0.3, "content": 0.5, "itemknn": 1.0, "als": 0.5, "svd": 0.5, "new": 1.0},
    "many": {"popularity": 0.2, "content": 0.3, "itemknn": 1.0, "als": 1.0, "svd": 0.5, "new": 1.0},
}
_MIN_BUCKET_USERS = 50
_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
_POSITIVE_KINDS = frozenset({"purchase", "add_to_cart", "like"})
_KIND_VERBS = {
    "purchase": "bought",
    "add_to_cart": "added to your cart",
    "like": "liked",
    "rating": "rated",
    "click": "viewed",
    "view": "viewed",
}
_KIND_ORDER = ("view", "click", "rating", "add_to_cart", "like", "purchase")
_KIND_RANK = {kind: rank for rank, kind in enumerate(_KIND_ORDER)}
#: _KIND_RANK by kind code (frames.KINDS order), so a history's kinds are ranked with one take.
_RANK_BY_CODE = np.array([_KIND_RANK[kind] for kind in KINDS])
_POPULAR_REASONS = {
    "click": "Most clicked",
    "purchase": "Best seller",
    "view": "Most viewed",
    "like": "Most liked",
    "add_to_cart": "Often added to carts",
    "rating": "Often rated",
    "trending": "Trending now",
}


def _minmax_rows(scores: np.ndarray) -> np.ndarray:
    """Scale each row to [0, 1]; a flat row (the model has nothing to say) becomes all zeros."""
    low = scores.min(axis=1, keepdims=True)
    span = scores.max(axis=1, keepdims=True) - low
    span[span <= 0] = np.inf  # flat row: (x - low) / inf == 0
    return (scores - low) / span


def _positive_share_rows(scores: np.ndarray) -> np.ndarray:
    """Scale each row by its maximum, negatives to zero: for factor models, whose scores are dot products.

    A dot product below zero is "no evidence", not a degree of dislike worth ranking; min-max would let
    the single most disliked product set the scale of everything else. Measured on a Jun-Aug 2011 dev
    split of the retail data: +3% NDCG@10 for the hybrid over min-max.
    """
    top = scores.max(axis=1, keepdims=True)
    top[top <= 0] = np.inf  # nothing positive: all zeros
    return np.maximum(scores, 0.0) / top


def _minmax(scores: np.ndarray) -> np.ndarray:
    """``_minmax_rows`` for one shopper's scores, in place (the request path owns every such array)."""
    low = scores.min()
    span = scores.max() - low
    if span <= 0:  # flat: the model has nothing to say
        scores[:] = 0.0
        return scores
    scores -= low
    scores /= span
    return scores


def _positive_share(scores: np.ndarray) -> np.ndarray:
    """``_positive_share_rows`` for one shopper's scores, in place."""
    top = scores.max()
    if top <= 0:  # nothing positive
        scores[:] = 0.0
        return scores
    np.maximum(scores, 0.0, out=scores)
    scores /= top
    return scores


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n best scores, best first (argpartition, then a sort of only those n)."""
    n = min(n, scores.shape[-1])
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


def _rows_csr(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int], keep: str = "sum"
) -> sp.csr_matrix:
    """CSR matrix from (row, col, value) triples, duplicates summed or the last one kept.

    Built directly from sorted keys: constructing through COO costs several times more, and this runs on
    every request.
    """
    if len(rows) == 0:
        return sp.csr_matrix(shape)
    keys = rows.astype(np.int64) * shape[1] + cols.astype(np.int64)
    if keep == "sum":
        unique, inverse = np.unique(keys, return_inverse=True)
        values = np.bincount(inverse, weights=data, minlength=len(unique))
    else:  # "last": triples arrive in time order, the latest wins
        unique, first = np.unique(keys[::-1], return_index=True)
        values = np.asarray(data, dtype=float)[::-1][first]
    row_of = unique // shape[1]
    indptr = np.searchsorted(row_of, np.arange(shape[0] + 1))
    return sp.csr_matrix((values.astype(float), unique % shape[1], indptr), shape=shape)


class _History:
    """One or many shoppers' histories as sparse matrices over the catalogue (rows = shoppers)."""

    def __init__(
        self,
        strength: sp.csr_matrix,
        final: sp.csr_matrix,
        ratings: sp.csr_matrix,
        kinds: list[dict[int, str]] | None = None,
    ) -> None:
        self.strength = strength  # log-damped, recency-weighted interest per product
        self.final = final  # 1 where the product was bought, rated or liked: not recommended again
        self.ratings = ratings  # latest stars per rated product
        self.kinds = kinds  # strongest kind per product, for explanations (single shopper only)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.strength.indptr)


class _Shopper(NamedTuple):
    """One shopper's history as small arrays over catalogue positions (the request path's _History)."""

    items: np.ndarray  # products with some interest, sorted
    strengths: np.ndarray  # log-damped, recency-weighted interest per product in ``items``
    final: np.ndarray  # bought, rated or liked products, sorted: not recommended again
    rated_items: np.ndarray  # rated products, sorted
    ratings: np.ndarray  # latest stars per product in ``rated_items``
    touched: np.ndarray  # catalogue position of every known event, for explanations
    codes: np.ndarray  # kind code of every known event
    history_items: np.ndarray  # np.unique(touched): the products explanations may name

    @classmethod
    def empty(cls) -> _Shopper:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, np.zeros(0), none, none, np.zeros(0), none, none, none)


class _Serving:
    """Lookups the request path needs, derived once from the fitted state: built after fit and after load,
    never saved (they would only make the file bigger)."""

    def __init__(self, engine: HybridRecommender) -> None:
        self.product_index = engine.product_ids_
        self.ids = engine.product_ids_.tolist()  # plain Python values for Recommendation records
        self.index = {product_id: position for position, product_id in enumerate(self.ids)}
        self.n_items = len(self.ids)
        self.cold = np.flatnonzero(~engine.known_items_)
        self.popularity = _read_only(engine.popularity_norm_)
        self.tiebreak = _read_only(1e-6 * engine.popularity_norm_)
        self.zeros = _read_only(np.zeros(self.n_items))
        self.kind_weights = kind_weight_table(engine.kind_weights or DEFAULT_KIND_WEIGHTS)

    def positions(self, product_ids: list[Any]) -> np.ndarray:
        """Catalogue positions of ids (-1 if unknown): a dict lookup, cheaper than pandas for a history."""
        index = self.index
        try:
            return np.fromiter(
                (index.get(p, -1) for p in product_ids), dtype=np.int64, count=len(product_ids)
            )
        except TypeError:  # unhashable ids: let pandas decide what they match
            return self.product_index.get_indexer(product_ids)


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class HybridRecommender:
    """Recommendation engine for the shop; fit on all interactions, then answer per-shopper requests.

    Parameters
    ----------
    als_factors, als_regularization, als_iterations, als_alpha:
        Implicit ALS hyperparameters (confidence = alpha x interaction strength).
    knn_neighbours, knn_shrinkage, knn_weighting:
        Item-kNN hyperparameters (see ``neighbours.ItemKNN``).
    svd_factors, svd_epochs:
        Surprise SVD hyperparameters for the explicit ratings.
    content_neighbours:
        Precomputed neighbours per product for ``similar``.
    kind_weights:
        Interest weight per interaction kind; defaults to ``frames.DEFAULT_KIND_WEIGHTS``.
    recency_half_life_days:
        Half-life of a history event's weight, counted back from the shopper's newest event.
    train_half_life_days:
        Optional decay of training events (counted back from the last event) for the CF models.
    trending_half_life_days:
        Half-life behind ``popular(kind="trending")`` and the popularity component.
    weights:
        Fixed blend weights per history bucket (``{"few": {...}, "many": {...}}``); when given, no tuning.
    tune_weights:
        Choose blend weights on a time-based validation split of the training data (recommended).
    validation_fraction:
        Share of the training events (by time) in each holdout window of the weight search.
    validation_folds:
        Number of consecutive holdout windows searched together; more folds give steadier weights at the
        price of fitting the models once more per fold.
    max_validation_users:
        Cap on validation shoppers, sampled with ``random_state``, to bound fit time.
    diversity:
        MMR trade-off in [0, 1]: 0 keeps the blended order, higher values penalise near-duplicates.
    random_state:
        Seed for ALS, SVD and validation sampling; the same seed and data give the same model.
    """

    def __init__(
        self,
        *,
        als_factors: int = 64,
        als_regularization: float = 0.05,
        als_iterations: int = 15,
        als_alpha: float = 2.0,
        knn_neighbours: int = 20,
        knn_shrinkage: float = 10.0,
        knn_weighting: str = "bm25",
        knn_alpha: float = 1.0,
        knn_beta: float = 0.5,
        svd_factors: int = 50,
        svd_epochs: int = 20,
        content_neighbours: int = 50,
        kind_weights: Mapping[str, float] | None = None,
        recency_half_life_days: float | None = 30.0,
        train_half_life_days: float | None = None,
        trending_half_life_days: float = 7.0,
        weights: Mapping[str, Mapping[str, float]] | None = None,
        tune_weights: bool = True,
        validation_fraction: float = 0.1,
        validation_folds: int = 1,
        max_validation_users: int = 1000,
        diversity: float = 0.1,
        random_state: int | None = None,
    ) -> None:
        self.als_factors = als_factors
        self.als_regularization = als_regularization
        self.als_iterations = als_iterations
        self.als_alpha = als_alpha
        self.knn_neighbours = knn_neighbours
        self.knn_shrinkage = knn_shrinkage
        self.knn_weighting = knn_weighting
        self.knn_alpha = knn_alpha
        self.knn_beta = knn_beta
        self.svd_factors = svd_factors
        self.svd_epochs = svd_epochs
        self.content_neighbours = content_neighbours
        self.kind_weights = kind_weights
        self.recency_half_life_days = recency_half_life_days
        self.train_half_life_days = train_half_life_days
        self.trending_half_life_days = trending_half_life_days
        self.weights = weights
        self.tune_weights = tune_weights
        self.validation_fraction = validation_fraction
        self.validation_folds = validation_folds
        self.max_validation_users = max_validation_users
        self.diversity = diversity
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as passed to __init__ (scikit-learn style), e.g. for metadata and clones."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def fit(self, interactions: pd.DataFrame, products: pd.DataFrame) -> HybridRecommender:
        """Fit every model on all interactions; with ``tune_weights`` first tune the blend on a holdout."""
        check_interactions(interactions)
        if "product_id" not in products.columns:
            raise ValueError("products need a product_id column")
        if products.empty:
            raise ValueError("cannot fit on an empty catalogue")
        started = datetime.now(UTC)
        self.__dict__.pop("_serving", None)
        products = products.drop_duplicates("product_id", keep="last").reset_index(drop=True)
        self.product_ids_ = pd.Index(products["product_id"])
        self.names_ = self._text_column(products, "name", fallback=self.product_ids_.astype(str))
        self.categories_ = self._text_column(products, "category")
        seeds = np.random.default_rng(self.random_state).integers(0, 2**31 - 1, size=3)
        self._seeds = [int(s) for s in seeds]
        self.timings_: dict[str, float] = {}

        clock = pd.Timestamp.now().value
        self.content_ = ContentModel(n_neighbours=self.content_neighbours).fit(products)
        self._tick("content", clock)
        clock = pd.Timestamp.now().value
        events = encode_events(interactions, self.product_ids_)
        self._tick("encode", clock)

        validation: dict[str, Any] = {}
        if self.weights is not None:
            self.weights_ = {b: dict(w) for b, w in self.weights.items()}
        elif self.tune_weights:
            clock = pd.Timestamp.now().value
            self.weights_, validation = self._tune(events)
            self._tick("tune", clock)
        else:
            self.weights_ = {b: dict(w) for b, w in DEFAULT_WEIGHTS.items()}

        clock = pd.Timestamp.now().value
        self._fit_models(events, self, timings=True)
        self._tick("models", clock)
        self.metadata_ = {
            "version": persistence.FORMAT_VERSION,
            "trained_at": started.isoformat(timespec="seconds"),
            "n_users": int(events.n_users),
            "n_products": int(len(self.product_ids_)),
            "n_interactions": int(len(events)),
            "n_ratings": int(self.svd_.n_ratings_),
            "weights": self.weights_,
            "validation": validation,
            "params": {k: v for k, v in self.get_params().items() if k != "weights"},
            "fit_seconds": dict(self.timings_),
        }
        self._serving = _Serving(self)
        return self

    def _tick(self, phase: str, start_ns: int) -> None:
        self.timings_[phase] = (
            self.timings_.get(phase, 0.0) + (pd.Timestamp.now().value - start_ns) / 1e9
        )

    @staticmethod
    def _text_column(
        products: pd.DataFrame, column: str, fallback: pd.Index | None = None
    ) -> np.ndarray:
        if column not in products.columns:
            values = (
                pd.Series([""] * len(products)) if fallback is None else pd.Series(list(fallback))
            )
        else:
            values = products[column].astype("string").fillna("").astype(str)
            if fallback is not None:
                values = values.where(
                    values.str.len() > 0, pd.Series(list(fallback), index=values.index)
                )
        return values.to_numpy(dtype=object)

    def _event_weights(self, events: Events) -> np.ndarray:
        return implicit_weights(
            events.kinds, events.values, self.kind_weights or DEFAULT_KIND_WEIGHTS
        )

    def _fit_models(self, events: Events, target: Any, *, timings: bool = False) -> None:
        """Fit popularity and the CF models on ``events`` and attach them to ``target`` (self or a holder)."""

        def tick(phase: str, start: int) -> None:
            if timings:
                self._tick(phase, start)

        clock = pd.Timestamp.now().value
        weights = self._event_weights(events)
        finite = events.days[np.isfinite(events.days)]
        reference = float(finite.max()) if len(finite) else float("nan")
        train_weights = weights * decay(events.days, reference, self.train_half_life_days)
        shape = (events.n_users, events.n_items)
        strength = sp.csr_matrix((train_weights, (events.users, events.items)), shape=shape)
        strength.sum_duplicates()
        strength.data = np.log1p(strength.data)
        strength.eliminate_zeros()
        target.popularity_ = PopularityModel(self.trending_half_life_days, self.kind_weights).fit(
            events
        )
        target.popularity_norm_ = _minmax_rows(target.popularity_.scores("trending")[None, :])[0]
        target.known_items_ = np.asarray(strength.getnnz(axis=0) > 0)
        tick("popularity", clock)

        clock = pd.Timestamp.now().value
        target.itemknn_ = ItemKNN(
            self.knn_neighbours,
            self.knn_shrinkage,
            self.knn_weighting,
            rp3_alpha=self.knn_alpha,
            rp3_beta=self.knn_beta,
        ).fit(strength)
        bought = np.isin(events.kinds, ["purchase", "add_to_cart"])
        basket = sp.csr_matrix(
            (np.ones(int(bought.sum())), (events.users[bought], events.items[bought])), shape=shape
        )
        basket.sum_duplicates()
        target.copurchase_ = ItemKNN(
            self.knn_neighbours, shrinkage=5.0, weighting="none", binary=True
        ).fit(basket)
        tick("itemknn", clock)

        clock = pd.Timestamp.now().value
        target.als_ = ALSModel(
            factors=self.als_factors,
            regularization=self.als_regularization,
            iterations=self.als_iterations,
            alpha=self.als_alpha,
            random_state=self._seeds[0],
        ).fit(strength)
        tick("als", clock)

        clock = pd.Timestamp.now().value
        rated = events.kinds == "rating"
        target.svd_ = SVDModel(
            n_factors=self.svd_factors, n_epochs=self.svd_epochs, random_state=self._seeds[1]
        ).fit(events.users[rated], events.items[rated], events.values[rated], events.n_items)
        tick("svd", clock)

    # ------------------------------------------------------------------ weight tuning

    def _tune(self, events: Events) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
        """Choose blend weights per history bucket by coordinate search on time-based holdouts.

        Each fold holds out one window of ``validation_fraction`` of the training events (the latest, then
        the one before it, ...): models are fitted on everything before the window, each shopper's earlier
        events are their history, and their positive interactions inside the window with products new to
        them are what a good list should contain. Shoppers of all folds are searched together, so the
        weights do not hinge on one period's quirks (a sale, a season's launches).
        """
        defaults = {b: dict(w) for b, w in DEFAULT_WEIGHTS.items()}
        finite = np.isfinite(events.days)
        if finite.sum() < 20:
            return defaults, {"skipped": "too few timestamped events"}
        folds = []
        cuts = []
        for fold in range(max(1, self.validation_folds)):
            start = np.quantile(events.days[finite], 1.0 - self.validation_fraction * (fold + 1))
            stop = np.quantile(events.days[finite], 1.0 - self.validation_fraction * fold)
            prepared = self._validation_fold(events, float(start), float(stop) + (fold == 0), fold)
            if prepared is not None:
                folds.append(prepared)
                cuts.append(pd.Timestamp(float(start) * 86_400, unit="s", tz="UTC").isoformat())
        if not folds:
            return defaults, {"skipped": "no validation shoppers with positives"}
        components = {
            name: np.vstack([f[0][name] for f in folds if name in f[0]])
            for name in folds[0][0]
            if all(name in f[0] for f in folds)
        }
        blocked = np.vstack([f[1] for f in folds])
        truth = np.vstack([f[2] for f in folds])
        sizes = np.concatenate([f[3] for f in folds])

        chosen: dict[str, dict[str, float]] = {}
        report: dict[str, Any] = {"cuts": cuts}
        for index, (bucket, low) in enumerate(BUCKETS):
            high = BUCKETS[index + 1][1] if index + 1 < len(BUCKETS) else np.inf
            mask = (sizes >= low) & (sizes < high)
            if mask.sum() < _MIN_BUCKET_USERS:  # too few shoppers to trust a search: keep defaults
                chosen[bucket] = dict(defaults[bucket])
                report[bucket] = {"n_users": int(mask.sum()), "tuned": False}
                continue
            parts = {name: matrix[mask] for name, matrix in components.items()}
            exclude, positives = blocked[mask], truth[mask]
            weights, score = self._coordinate_search(parts, exclude, positives, defaults[bucket])
            baseline = self._objective(parts, exclude, positives, {"popularity": 1.0})
            chosen[bucket] = weights
            report[bucket] = {
                "n_users": int(mask.sum()),
                "tuned": True,
                "ndcg@10": round(score, 5),
                "popularity_ndcg@10": round(baseline, 5),
            }
        return chosen, report

    def _validation_fold(
        self, events: Events, start: float, stop: float, fold: int
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray] | None:
        """Component scores, blocked products, positives and history sizes for one holdout window."""
        early = events.days < start
        window = ~early & (events.days < stop)
        if early.sum() == 0 or window.sum() == 0:
            return None
        train = Events(
            users=events.users[early],
            items=events.items[early],
            kinds=events.kinds[early],
            values=events.values[early],
            days=events.days[early],
            user_ids=events.user_ids,
            n_items=events.n_items,
        )
        late = window & np.isin(events.kinds, list(_POSITIVE_KINDS))
        late |= window & (events.kinds == "rating") & (events.values >= 4)
        seen = set(zip(train.users.tolist(), train.items.tolist(), strict=True))
        has_history = np.zeros(events.n_users, dtype=bool)
        has_history[train.users] = True
        pairs = {
            (u, i)
            for u, i in zip(events.users[late].tolist(), events.items[late].tolist(), strict=True)
            if has_history[u] and (u, i) not in seen
        }
        if not pairs:
            return None
        users = np.array(sorted({u for u, _ in pairs}))
        rng = np.random.default_rng(self._seeds[2] + fold)
        if len(users) > self.max_validation_users:
            users = np.sort(rng.choice(users, self.max_validation_users, replace=False))
        row_of = {u: r for r, u in enumerate(users.tolist())}
        truth = np.zeros((len(users), events.n_items), dtype=bool)
        for u, i in pairs:
            if u in row_of:
                truth[row_of[u], i] = True

        holder = _Holder()
        holder.content_ = self.content_
        self._fit_models(train, holder)
        keep = np.isin(train.users, users)
        rows = np.searchsorted(users, train.users[keep])
        history = self._histories(
            rows,
            train.items[keep],
            train.kinds[keep],
            train.values[keep],
            train.days[keep],
            len(users),
        )
        components = self._component_scores(history, holder)
        # The protocol scores discoveries only, so everything in the history is excluded. Products nobody
        # touched before the window closed are left out too: the holdout cannot tell a product added
        # after it from one that nobody wants, and counting them as misses would teach the search that new
        # products never sell.
        blocked = (history.final + history.strength).toarray() > 0
        existing = np.bincount(events.items[events.days < stop], minlength=events.n_items) > 0
        blocked[:, ~existing] = True
        return components, blocked, truth, history.sizes

    def _coordinate_search(
        self,
        parts: dict[str, np.ndarray],
        exclude: np.ndarray,
        positives: np.ndarray,
        start: Mapping[str, float],
    ) -> tuple[dict[str, float], float]:
        weights = {name: float(start.get(name, 0.0)) for name in COMPONENTS}
        available = [name for name in COMPONENTS if name in parts and parts[name].any()]
        best = self._objective(parts, exclude, positives, weights)
        for _ in range(2):
            improved = False
            for name in available:
                for value in _WEIGHT_GRID:
                    if value == weights[name]:
                        continue
                    trial = {**weights, name: value}
                    if not any(trial[c] > 0 for c in available):
                        continue
                    score = self._objective(parts, exclude, positives, trial)
                    if score > best + 1e-9:
                        best, weights, improved = score, trial, True
            if not improved:
                break
        return weights, best

    @staticmethod
    def _objective(
        parts: dict[str, np.ndarray],
        exclude: np.ndarray,
        positives: np.ndarray,
        weights: Mapping[str, float],
    ) -> float:
        """Mean NDCG@10 of the blended lists (vectorised over all validation shoppers)."""
        total = np.zeros_like(next(iter(parts.values())))
        for name, matrix in parts.items():
            if weights.get(name, 0.0):
                total += weights[name] * matrix
        total[exclude] = -np.inf
        k = 10
        top = np.argpartition(-total, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(total, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        hits = np.take_along_axis(positives, top, axis=1).astype(float)
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        ideal = np.cumsum(discounts)[np.minimum(positives.sum(axis=1), k) - 1]
        return float(((hits * discounts).sum(axis=1) / ideal).mean())

    # ------------------------------------------------------------------ scoring

    def _histories(
        self,
        rows: np.ndarray,
        items: np.ndarray,
        kinds: np.ndarray,
        values: np.ndarray,
        days: np.ndarray,
        n_rows: int,
    ) -> _History:
        """Turn coded events into history matrices, weighting each shopper's recent events more."""
        shape = (n_rows, len(self.product_ids_))
        codes = kind_codes(kinds)
        weights = weights_from_codes(codes, values, self.kind_weights or DEFAULT_KIND_WEIGHTS)
        finite = np.isfinite(days)
        if self.recency_half_life_days and finite.any():
            newest = np.full(n_rows, -np.inf)
            np.maximum.at(newest, rows[finite], days[finite])
            age = np.clip(newest[rows] - days, 0.0, None)
            decayed = np.power(0.5, age / self.recency_half_life_days)
            weights = weights * np.where(finite, decayed, 1.0)
        strength = _rows_csr(rows, items, weights, shape)
        strength.data = np.log1p(strength.data)
        # A product touched with zero weight (a 1-star rating) is no interest, but is still excluded below.
        strength.eliminate_zeros()
        is_final = FINAL_CODES[codes]
        final = _rows_csr(rows[is_final], items[is_final], np.ones(int(is_final.sum())), shape)
        rated = np.flatnonzero(codes == RATING)
        rated = rated[np.argsort(np.nan_to_num(days[rated], nan=-np.inf), kind="stable")]
        ratings = _rows_csr(rows[rated], items[rated], values[rated], shape, keep="last")
        return _History(strength, final, ratings)

    def _shopper(self, history: pd.DataFrame | None, serving: _Serving) -> _Shopper:
        """Code one shopper's history straight from the frame's columns; unknown products are ignored.

        The same arithmetic as ``_histories`` for one row, on plain arrays: a sparse matrix per request costs
        more in scipy's checks than the few dozen events it would hold.
        """
        if history is None or len(history) == 0:
            return _Shopper.empty()
        columns = history.columns
        if "product_id" not in columns or "kind" not in columns:
            raise ValueError("a history needs product_id and kind columns")
        items = serving.positions(history["product_id"].tolist())
        known = items >= 0
        if not known.any():
            return _Shopper.empty()
        everything_known = bool(known.all())
        if not everything_known:
            items = items[known]
        kinds = history["kind"].tolist()
        if not everything_known:
            kinds = [kind for kind, keep in zip(kinds, known.tolist(), strict=True) if keep]
        codes = kind_codes(kinds)
        if "value" in columns:
            column = history["value"]
            if column.dtype.kind not in "fiub":  # strings or objects from a careless caller
                column = pd.to_numeric(column, errors="coerce")
            values = column.to_numpy(dtype=float)[known]  # a copy: safe to fill in place
            values[np.isnan(values)] = 1.0
        else:
            values = np.ones(len(items))
        stamps = history["timestamp"] if "timestamp" in columns else None
        days = to_epoch_days(stamps, len(history))
        if not everything_known:
            days = days[known]

        weights = weights_from_codes(codes, values, serving.kind_weights)
        finite = np.isfinite(days)
        if self.recency_half_life_days and finite.any():
            age = np.clip(days[finite].max() - days, 0.0, None)
            decayed = np.power(0.5, age / self.recency_half_life_days)
            weights *= np.where(finite, decayed, 1.0)
        touched, inverse = np.unique(items, return_inverse=True)
        strengths = np.log1p(np.bincount(inverse, weights=weights, minlength=len(touched)))
        nonzero = strengths != 0  # a 1-star rating is no interest, but still blocks the product
        is_final = np.zeros(len(touched), dtype=bool)
        is_final[inverse[FINAL_CODES[codes]]] = True
        rated = np.flatnonzero(codes == RATING)
        if len(rated) > 1:
            when = days[rated]
            rated = rated[np.argsort(np.where(np.isnan(when), -np.inf, when), kind="stable")]
            # The latest rating of each product wins.
            rated_items, last = np.unique(items[rated][::-1], return_index=True)
            ratings = values[rated][::-1][last]
        else:
            rated_items, ratings = items[rated], values[rated]
        return _Shopper(
            items=touched[nonzero] if not nonzero.all() else touched,
            strengths=strengths[nonzero] if not nonzero.all() else strengths,
            final=touched[is_final],
            rated_items=rated_items,
            ratings=ratings,
            touched=items,
            codes=codes,
            history_items=touched,
        )

    def _shopper_scores(
        self, shopper: _Shopper, serving: _Serving, only: Iterable[str]
    ) -> dict[str, np.ndarray]:
        """``_component_scores`` for one shopper: normalised [0, 1] scores over the catalogue per model.

        Each model gathers only the rows its history touches; models outside ``only`` (weight zero) are not
        scored at all.
        """
        only = set(only)
        out = {"popularity": serving.popularity}
        items, strengths = shopper.items, shopper.strengths
        if not len(items):
            return out
        if only & {"content", "new"}:
            content = _minmax(self.content_.profile_scores_for(items, strengths))
            out["content"] = content
            # New products: only content can vouch for them (see _component_scores).
            if len(serving.cold):
                new = np.zeros(serving.n_items)
                new[serving.cold] = content[serving.cold]
                out["new"] = new
            else:
                out["new"] = serving.zeros
        if "itemknn" in only:
            knn = _minmax(self.itemknn_.scores_for(items, strengths))
            knn[serving.cold] = 0.0  # no interactions, no collaborative evidence either way
            out["itemknn"] = knn
        if "als" in only:
            als = _positive_share(self.als_.scores_for(items, strengths))
            als[serving.cold] = 0.0
            out["als"] = als
        if "svd" in only and self.svd_.n_ratings_ and len(shopper.rated_items):
            out["svd"] = _minmax(self.svd_.predict_all(shopper.rated_items, shopper.ratings))
        return out

    def _component_scores(
        self, history: _History, models: Any, only: Iterable[str] = COMPONENTS
    ) -> dict[str, np.ndarray]:
        """Normalised [0, 1] score matrices (shoppers x catalogue) of the requested component models."""
        only = set(only)
        n_rows = history.strength.shape[0]
        out = {
            "popularity": np.broadcast_to(
                models.popularity_norm_, (n_rows, len(models.popularity_norm_))
            )
        }
        cold = ~models.known_items_
        if only & {"content", "new"}:
            content = _minmax_rows(models.content_.profile_scores(history.strength))
            out["content"] = content
            # New products: only content can vouch for them, with a weight of their own (tuned like
            # the others), so a catalogue's new arrivals are neither buried nor pushed on everyone.
            out["new"] = np.where(cold, content, 0.0)
        for name, model in (("itemknn", models.itemknn_), ("als", models.als_)):
            if name not in only:
                continue
            raw = model.scores(history.strength)
            scores = _positive_share_rows(raw) if name == "als" else _minmax_rows(raw)
            scores[:, cold] = 0.0  # no interactions, no collaborative evidence either way
            out[name] = scores
        if "svd" in only and models.svd_.n_ratings_ and history.ratings.nnz:
            svd = np.zeros((n_rows, history.strength.shape[1]))
            for row in range(n_rows):
                start, stop = history.ratings.indptr[row], history.ratings.indptr[row + 1]
                if start == stop:
                    continue
                items = history.ratings.indices[start:stop]
                svd[row] = models.svd_.predict_all(items, history.ratings.data[start:stop])
            out["svd"] = _minmax_rows(svd)
        return out

    @property
    def content_model(self) -> ContentModel:
        """The fitted content model (used by ``similar`` and the diversity re-ranking)."""
        self._check_fitted()
        return self.content_

    def _serving_state(self) -> _Serving:
        serving = self.__dict__.get("_serving")
        if serving is None:  # loaded from a file: rebuilt once per process
            serving = self._serving = _Serving(self)
        return serving

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_serving", None)
        return state

    def _check_fitted(self) -> None:
        if not hasattr(self, "metadata_"):
            raise NotFittedError(
                "this HybridRecommender is not fitted yet; call fit(interactions, products)"
            )

    # ------------------------------------------------------------------ public API

    def recommend(
        self,
        history: pd.DataFrame | None = None,
        n: int = 10,
        *,
        variant: str = "hybrid",
        exclude: Iterable[Hashable] = (),
    ) -> list[Recommendation]:
        """Top-n products for one shopper from their current history (may be empty), best first.

        ``variant`` picks a single model for A/B tests ("popularity", "svd", "als", "itemknn", "content");
        a single model that has nothing to say for this shopper falls back to trending popularity.
        ``exclude`` removes further products (e.g. the cart) on top of bought, rated and liked ones.
        """
        self._check_fitted()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {list(VARIANTS)}")
        if n <= 0:
            return []
        serving = self._serving_state()
        shopper = self._shopper(history, serving)
        weights = self._weights_for(len(shopper.items)) if variant == "hybrid" else {variant: 1.0}
        # Only the models that will be blended are scored: each costs a pass over the catalogue.
        components = self._shopper_scores(shopper, serving, [k for k, w in weights.items() if w])
        # Each model's weighted scores, kept for the explanations; every array but popularity's is this
        # request's own, so it is weighted in place.
        used: dict[str, np.ndarray] = {}
        for name, weight in weights.items():
            scores = components.get(name)
            if weight and scores is not None and scores.any():
                if scores.flags.writeable:
                    used[name] = np.multiply(scores, weight, out=scores)
                else:
                    used[name] = weight * scores
        if not used:  # nothing known about the shopper, or the model is silent: trending popularity
            used = {"popularity": serving.popularity}
        total = None
        for scores in used.values():
            total = scores.copy() if total is None else np.add(total, scores, out=total)
        # Popularity breaks ties and fills lists when the other models only score a few products.
        total += serving.tiebreak
        blocked = shopper.final
        exclude = list(exclude)
        if exclude:
            extra = serving.positions(exclude)
            blocked = np.union1d(blocked, extra[extra >= 0])
        total[blocked] = -np.inf
        available = serving.n_items - len(blocked)
        # Diversity is part of the hybrid's product decision; single-model variants stay pure for A/B tests.
        diversity = self.diversity if variant == "hybrid" else 0.0
        picked = self._rerank(total, min(n, available), diversity)
        reasons = self._reasons(picked, used, shopper)
        ids = serving.ids
        return [
            Recommendation(ids[i], float(total[i]), reason)
            for i, reason in zip(picked.tolist(), reasons, strict=True)
        ]

    def _weights_for(self, size: int) -> dict[str, float]:
        if size == 0:
            return {"popularity": 1.0}
        bucket = BUCKETS[0][0]
        for name, low in BUCKETS:
            if size >= low:
                bucket = name
        return self.weights_[bucket]

    def _rerank(self, total: np.ndarray, n: int, diversity: float) -> np.ndarray:
        """MMR over content similarity on a small candidate pool: relevance minus redundancy."""
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        pool = _top_n(total, min(len(total), max(3 * n, n + 10)))
        pool = pool[np.isfinite(total[pool])]
        if diversity <= 0 or len(pool) <= 1:
            return pool[:n]
        relevance = total[pool]
        low = relevance.min()
        span = relevance.max() - low
        relevance = (relevance - low) / span if span > 0 else np.ones(len(pool))
        gain = (1.0 - diversity) * relevance
        similarity = self.content_.pair_similarity(pool)
        chosen = [0]
        redundancy = similarity[0].copy()
        # A chosen product gets infinite redundancy, so its MMR is -inf and it is never picked again.
        redundancy[0] = np.inf
        mmr = np.empty(len(pool))
        for _ in range(min(n, len(pool)) - 1):
            np.multiply(redundancy, diversity, out=mmr)
            np.subtract(gain, mmr, out=mmr)
            best = int(mmr.argmax())
            chosen.append(best)
            np.maximum(redundancy, similarity[best], out=redundancy)
            redundancy[best] = np.inf
        return pool[chosen]

    def _reasons(
        self, picked: np.ndarray, used: dict[str, np.ndarray], shopper: _Shopper
    ) -> list[str]:
        """Short explanations, each from the model that contributed most to that product's score.

        Content and item-kNN reasons name the history product the recommendation is closest to; the
        anchors for the whole list come from one small similarity block, not a lookup per product.
        """
        names = list(used)
        contribution = np.stack([scores[picked] for scores in used.values()])
        best = np.argmax(contribution, axis=0).tolist()
        scored = (contribution.max(axis=0) > 0).tolist()
        # Nothing scored it: a popularity filler.
        sources = [names[j] if s else "popularity" for j, s in zip(best, scored, strict=True)]
        history_items = shopper.history_items
        anchors: dict[int, tuple[int, float]] = {}
        for source in ("content", "itemknn", "new"):
            rows = [r for r, s in enumerate(sources) if s == source]
            if not rows or not len(history_items):
                continue
            if source in ("content", "new"):
                block = self.content_.pair_similarity(picked[rows], history_items)
            else:
                block = self._knn_block(picked[rows], history_items)
            positions = np.argmax(block, axis=1).tolist()
            values = block[np.arange(len(rows)), positions].tolist()
            for r, b, value in zip(rows, positions, values, strict=True):
                anchors[r] = (b, value)
        strongest: list[int] = []
        if anchors:
            strongest = np.zeros(len(history_items), dtype=np.int64).tolist()
            ranks = _RANK_BY_CODE[shopper.codes].tolist()
            slots = np.searchsorted(history_items, shopper.touched).tolist()
            for slot, rank in zip(slots, ranks, strict=True):
                strongest[slot] = max(strongest[slot], rank)
        out = []
        for r, (item, source) in enumerate(zip(picked.tolist(), sources, strict=True)):
            category = self.categories_[item]
            if source == "popularity" or not len(history_items):
                out.append(f"Popular in {category}" if category else "Trending now")
            elif source == "svd":
                out.append("Matches how you rate products")
            elif source == "als":
                out.append("Popular with shoppers like you")
            elif r in anchors and anchors[r][1] > 0:
                position = anchors[r][0]
                name = self.names_[history_items[position]]
                kind = _KIND_ORDER[strongest[position]]
                if source == "new":
                    out.append(f"New, and similar to {name}")
                elif source == "itemknn" and kind in ("purchase", "add_to_cart"):
                    out.append(f"Customers who bought {name} also bought this")
                elif kind in ("click", "view"):
                    out.append(f"Similar to {name}, which you viewed")
                else:
                    out.append(f"Because you {_KIND_VERBS[kind]} {name}")
            else:
                out.append("Similar to items you viewed")
        return out

    def _knn_block(self, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """Item-kNN similarity from each history item (columns) to each target (rows), dense and small.

        Gathered from the sources' neighbour rows: scipy's two-axis fancy indexing costs far more.
        """
        matrix = self.itemknn_.similarity_
        positions, lengths = row_positions(matrix.indptr, sources)
        columns = matrix.indices[positions]
        order = np.argsort(targets)
        ordered = targets[order]
        slot = np.minimum(np.searchsorted(ordered, columns), len(ordered) - 1)
        hit = ordered[slot] == columns
        block = np.zeros((len(targets), len(sources)), dtype=matrix.dtype)
        source_of = np.repeat(np.arange(len(sources)), lengths)
        block[order[slot[hit]], source_of[hit]] = matrix.data[positions][hit]
        return block

    def similar(self, product_id: Hashable, n: int = 10) -> list[Recommendation]:
        """Products most like this one by text (name, description, category, brand), then by co-interest."""
        self._check_fitted()
        item = self._locate(product_id)
        row = self.content_.neighbours_[item]
        order = list(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        name = self.names_[item]
        out = [Recommendation(self._id(j), float(s), f"Similar to {name}") for j, s in order[:n]]
        if len(out) < n:  # products without text: fill with item-kNN neighbours
            seen = {item, *(j for j, _ in order)}
            knn = self.itemknn_.similarity_[item]
            for j, s in zip(knn.indices.tolist(), knn.data.tolist(), strict=True):
                if len(out) >= n:
                    break
                if j not in seen:
                    seen.add(j)
                    out.append(
                        Recommendation(
                            self._id(j), float(s), f"Shoppers who liked {name} liked this"
                        )
                    )
        return out

    def also_bought(self, product_id: Hashable, n: int = 10) -> list[Recommendation]:
        """'Customers who bought this also bought': co-purchase neighbours, filled from co-interest."""
        self._check_fitted()
        item = self._locate(product_id)
        name = self.names_[item]
        out: list[Recommendation] = []
        seen = {item}
        sources = (
            (self.copurchase_.similarity_[item], f"Customers who bought {name} also bought this"),
            (self.itemknn_.similarity_[item], f"Shoppers interested in {name} also looked at this"),
        )
        for row, reason in sources:
            for j, s in zip(row.indices.tolist(), row.data.tolist(), strict=True):
                if len(out) >= n:
                    return out
                if j not in seen:
                    seen.add(j)
                    out.append(Recommendation(self._id(j), float(s), reason))
        return out

    def popular(
        self,
        n: int = 5,
        kind: str = "click",
        *,
        category: str | None = None,
        exclude: Iterable[Hashable] = (),
    ) -> list[Recommendation]:
        """Top-n products by event count of one kind (or time-decayed 'trending'), optionally per category."""
        self._check_fitted()
        if kind not in POPULAR_KINDS:
            raise ValueError(
                f"unknown popularity kind {kind!r}; expected one of {list(POPULAR_KINDS)}"
            )
        scores = self.popularity_.scores(kind).copy()
        if category is not None:
            scores[self.categories_ != category] = -np.inf
        extra = self.product_ids_.get_indexer(list(exclude))
        scores[extra[extra >= 0]] = -np.inf
        picked = _top_n(scores, n)
        picked = picked[np.isfinite(scores[picked])]
        reason = f"{_POPULAR_REASONS[kind]} in {category}" if category else _POPULAR_REASONS[kind]
        ids = self.product_ids_[picked].tolist()
        return [
            Recommendation(pid, float(scores[i]), reason)
            for pid, i in zip(ids, picked, strict=True)
        ]

    def _id(self, index: int) -> Hashable:
        """A catalogue id as a plain Python value (numpy scalars leak into templates and JSON otherwise)."""
        value = self.product_ids_[index]
        return value.item() if isinstance(value, np.generic) else value

    def _locate(self, product_id: Hashable) -> int:
        index = self.product_ids_.get_indexer([product_id])[0]
        if index < 0:
            raise UnknownProductError(f"product {product_id!r} is not in the fitted catalogue")
        return int(index)

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted engine atomically (readers never see a half-written file)."""
        self._check_fitted()
        persistence.dump(self, path, kind="HybridRecommender")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HybridRecommender:
        """Read an engine written by ``save``; raises ModelLoadError if missing, truncated or incompatible."""
        engine = persistence.load(path, kind="HybridRecommender")
        if not isinstance(engine, cls):
            raise persistence.ModelLoadError(f"{path} does not hold a {cls.__name__}")
        return engine


class _Holder:
    """Attribute bag for the validation-time models, so they never overwrite the engine's own."""
