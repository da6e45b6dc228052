"""The hybrid engine, a facade over the pipeline: history -> sources -> candidates -> features -> ranker
-> re-ranker -> explanations (one module per stage).

How it decides, in one place:

* Every source scores the catalogue for the shopper's *current* history (factor models fold the shopper
  in), so a like or rating changes the next list without retraining.
* The best products of every source become candidates; the shopper's own products and the caller's
  exclusions never do. "Recommended for you" is discovery: nothing the shopper touched comes back.
* A ranker orders the candidates from their features. At fit time the guard (``guard.choose_ranker``)
  trains LightGBM's LambdaRank and a linear blend on a time holdout inside the training data and keeps
  whichever of them, or of the single sources, ranks held-out shoppers best; the choice is recorded in
  ``metadata_["ranker"]``.
* MMR over content similarity keeps a list from being ten near-copies, and each card's reason comes from
  the source that contributed most to its score.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from . import persistence
from .candidates import top_n
from .content import ContentModel
from .explain import explain
from .frames import DEFAULT_KIND_WEIGHTS, check_interactions, encode_events, kind_weight_table
from .guard import choose_ranker
from .history import CatalogIndex, Shopper, shopper_from_frame
from .pipeline import candidate_features
from .popularity import POPULAR_KINDS, POPULAR_REASONS
from .products import catalog_from_products, text_values
from .records import NotFittedError, Recommendation, UnknownProductError, UnseenProducts
from .rerank import mmr
from .sources import ItemFactorFitter, LogFactorFitter, SourceParams, SourceSet
from .tuning import random_holdout, time_holdouts, validation_set
from .unseen import merge_unseen, plain_value, similar_to_unseen, unseen_blocked
from .validation import ValidationSet

#: What ``recommend(variant=...)`` accepts: the hybrid, or one source on its own (for A/B tests).
VARIANTS: tuple[str, ...] = ("hybrid", "popularity", "svd", "als", "itemknn", "content", "ease")


class _Serving:
    """Lookups the request path needs, derived once from the fitted state (after fit and after load),
    never saved."""

    def __init__(self, engine: HybridRecommender) -> None:
        self.catalog = CatalogIndex(engine.product_ids_)
        self.ids = self.catalog.ids
        self.n_items = len(self.ids)
        self.kind_weights = kind_weight_table(engine.kind_weights or DEFAULT_KIND_WEIGHTS)
        self.popular_order = np.argsort(-engine.sources_.trending_, kind="stable")


class HybridRecommender:
    """Recommendation engine for the shop; fit on all interactions, then answer per-shopper requests.

    Parameters
    ----------
    als_factors, als_regularization, als_iterations, als_alpha:
        Implicit ALS hyperparameters (confidence = alpha x interaction strength).
    knn_neighbours, knn_shrinkage, knn_weighting, knn_alpha, knn_beta:
        Item-kNN hyperparameters (see ``neighbours.ItemKNN``).
    svd_factors, svd_epochs:
        Surprise SVD hyperparameters for the explicit ratings.
    ease_l2_scale, ease_max_items, ease_max_memory_mb:
        EASE's ridge penalty (times the mean number of shoppers per product) and the caps of its closed
        form (see ``ease``).
    content_neighbours:
        Precomputed neighbours per product for ``similar``.
    kind_weights:
        Interest weight per interaction kind; defaults to ``frames.DEFAULT_KIND_WEIGHTS``.
    recency_half_life_days:
        Half-life of a history event's weight, counted back from the shopper's newest event.
    train_half_life_days:
        Optional decay of training events (counted back from the last event) for the CF models.
    trending_half_life_days:
        Half-life behind ``popular(kind="trending")`` and the popularity source.
    ranker:
        ``"auto"`` (the guard picks the learned ranker, a blend or one source on validation),
        ``"blend"`` (the guard without the learned ranker), or ``"fixed"`` (no validation at all: the
        default blend, for tests and shops too small to hold anything out).
    validation_fraction:
        Share of the training events (the latest) held out to train and judge the ranker.
    max_validation_users:
        Cap on validation shoppers, sampled with ``random_state``, to bound fit time.
    diversity:
        MMR trade-off in [0, 1]: 0 keeps the ranked order, higher values penalise near-duplicates.
    random_state:
        Seed for ALS, SVD, LightGBM and validation sampling; the same seed and data give the same model.
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
        ease_l2_scale: float = 1.0,
        ease_max_items: int = 6000,
        ease_max_memory_mb: float = 1200.0,
        content_neighbours: int = 50,
        kind_weights: Mapping[str, float] | None = None,
        recency_half_life_days: float | None = 30.0,
        train_half_life_days: float | None = None,
        trending_half_life_days: float = 7.0,
        ranker: str = "auto",
        validation_fraction: float = 0.1,
        max_validation_users: int = 2000,
        diversity: float = 0.05,
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
        self.ease_l2_scale = ease_l2_scale
        self.ease_max_items = ease_max_items
        self.ease_max_memory_mb = ease_max_memory_mb
        self.content_neighbours = content_neighbours
        self.kind_weights = kind_weights
        self.recency_half_life_days = recency_half_life_days
        self.train_half_life_days = train_half_life_days
        self.trending_half_life_days = trending_half_life_days
        self.ranker = ranker
        self.validation_fraction = validation_fraction
        self.max_validation_users = max_validation_users
        self.diversity = diversity
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as passed to __init__ (scikit-learn style), e.g. for metadata and clones."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def _source_params(self) -> SourceParams:
        names = SourceParams.__dataclass_fields__
        return SourceParams(**{k: v for k, v in self.get_params().items() if k in names})

    def fit(
        self,
        interactions: pd.DataFrame,
        products: pd.DataFrame,
        *,
        als_fitter: ItemFactorFitter | None = None,
        full_log_als: LogFactorFitter | None = None,
    ) -> HybridRecommender:
        """Fit the sources on a holdout, learn and choose the ranker there, then refit the sources on all.

        ``als_fitter`` fits the ALS source's item factors elsewhere (``shop.training.spark_als``),
        for the validation folds and the final fit alike, so the ranker learns from the same kind
        of ALS scores it will serve; every other source is fitted here. It is not kept.
        ``full_log_als`` fits the served ALS on the whole log when ``interactions`` is only its
        most recent window (the spark backend: the worker holds the window, Spark reads the log);
        its factors must be indexed by :func:`catalogue_ids` of ``products``.
        """
        check_interactions(interactions)
        if "product_id" not in products.columns:
            raise ValueError("products need a product_id column")
        if products.empty:
            raise ValueError("cannot fit on an empty catalogue")
        if self.ranker not in ("auto", "blend", "fixed"):
            raise ValueError(f"ranker must be 'auto', 'blend' or 'fixed', got {self.ranker!r}")
        started = datetime.now(UTC)
        self.__dict__.pop("_serving", None)
        products = _unique_products(products)
        self.product_ids_ = pd.Index(products["product_id"])
        self.catalog_ = catalog_from_products(products, self.product_ids_)
        seeds = np.random.default_rng(self.random_state).integers(0, 2**31 - 1, size=4)
        self._seeds = [int(s) for s in seeds]
        self.timings_: dict[str, float] = {}

        clock = _now()
        self.content_ = ContentModel(n_neighbours=self.content_neighbours).fit(products)
        events = encode_events(interactions, self.product_ids_)
        self._tick("prepare", clock)

        clock = _now()
        source_params = self._source_params()
        seed_pair = (self._seeds[0], self._seeds[1])
        kind_table = kind_weight_table(self.kind_weights or DEFAULT_KIND_WEIGHTS)
        holdouts = []
        if self.ranker != "fixed":
            # The shopper's future (time windows) and random gaps in their past: a ranker that only
            # ever saw one of them learns that protocol's quirks (recency, or co-occurrence).
            holdouts = time_holdouts(events, self.validation_fraction)
            holdout = random_holdout(events, 0.25, self._seeds[2])
            if holdout is not None:
                holdouts.append(holdout)
        parts = []
        for fold, holdout in enumerate(holdouts):
            part = validation_set(
                holdout,
                self.content_,
                self.catalog_,
                source_params,
                seed_pair,
                kind_table,
                self.recency_half_life_days,
                self.max_validation_users,
                self._seeds[2] + fold,
                als_fitter,
            )
            if part is not None:
                parts.append(part)
        data = ValidationSet.concat(parts) if parts else None
        self._tick("validation", clock)
        clock = _now()
        # Single-threaded BLAS, like the validation loop: the logistic ranker's many small products
        # ran three times slower with two threads on a busy two-core machine.
        with threadpool_limits(1, "blas"):
            self.ranker_, report = choose_ranker(data, self._seeds[3], learn=self.ranker == "auto")
        if self.ranker == "fixed":
            report["reason"] = "ranker='fixed': the default blend, no validation"
        report["folds"] = [h.protocol for h in holdouts]
        self._tick("ranker", clock)

        clock = _now()
        self.sources_ = SourceSet(source_params, seed_pair).fit(
            events, self.content_, self.catalog_, als_fitter, full_log_als
        )
        self._tick("sources", clock)
        self.metadata_ = {
            "version": persistence.FORMAT_VERSION,
            "trained_at": started.isoformat(timespec="seconds"),
            "n_users": int(events.n_users),
            "n_products": int(len(self.product_ids_)),
            "n_interactions": int(len(events)),
            "n_ratings": int(self.sources_.svd_.n_ratings_),
            "ranker": report,
            "sources": self.sources_.describe(),
            "params": self.get_params(),
            "fit_seconds": {k: round(v, 3) for k, v in self.timings_.items()},
        }
        self._serving = _Serving(self)
        return self

    def _tick(self, phase: str, start_ns: int) -> None:
        self.timings_[phase] = self.timings_.get(phase, 0.0) + (_now() - start_ns) / 1e9

    # ------------------------------------------------------------------ state

    @property
    def content_model(self) -> ContentModel:
        """The fitted content model (used by ``similar`` and the diversity re-ranking)."""
        self._check_fitted()
        return self.content_

    @property
    def names_(self) -> np.ndarray:
        return self.catalog_.names

    @property
    def categories_(self) -> np.ndarray:
        return self.catalog_.categories

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

    def shopper(self, history: pd.DataFrame | None) -> Shopper:
        """A history frame coded the way every request codes it (for tests and tools)."""
        self._check_fitted()
        serving = self._serving_state()
        return shopper_from_frame(
            history, serving.catalog, serving.kind_weights, self.recency_half_life_days
        )

    def recommend(
        self,
        history: pd.DataFrame | None = None,
        n: int = 10,
        *,
        variant: str = "hybrid",
        exclude: Iterable[Hashable] = (),
    ) -> list[Recommendation]:
        """Top-n products new to the shopper, from their current history (may be empty), best first.

        Nothing in the history is recommended again (discovery). ``variant`` picks a single source for A/B
        tests ("popularity", "svd", "als", "itemknn", "content", "ease"); a single source with nothing to
        say for this shopper falls back to trending popularity. ``exclude`` removes further products
        (e.g. the cart).
        """
        self._check_fitted()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {list(VARIANTS)}")
        if n <= 0:
            return []
        serving = self._serving_state()
        shopper = shopper_from_frame(
            history, serving.catalog, serving.kind_weights, self.recency_half_life_days
        )
        blocked = np.zeros(serving.n_items, dtype=bool)
        blocked[shopper.history_items] = True
        exclude = list(exclude)
        if exclude:
            extra = serving.catalog.positions(exclude)
            blocked[extra[extra >= 0]] = True
        n_blocked = int(np.count_nonzero(blocked))
        n = min(n, serving.n_items - n_blocked)
        if n <= 0:
            return []
        if variant != "hybrid" or not len(shopper.items):
            return self._single_source(shopper, variant, blocked, n)
        picked = candidate_features(
            shopper, self.sources_, self.catalog_, blocked, n_blocked, serving.popular_order
        )
        ranked = self.ranker_.scored(picked.features)
        scores = ranked.scores
        chosen = mmr(scores, n, self.diversity, self.content_, picked.items)
        contributions = ranked.explain(chosen)
        items = picked.items[chosen]
        reasons = explain(
            items,
            contributions,
            shopper,
            self.sources_,
            self.names_,
            self.categories_,
            picked.shares,
        )
        shown = scores[chosen]
        ids = serving.ids
        out = [
            Recommendation(ids[i], float(s), reason)
            for i, s, reason in zip(items.tolist(), shown.tolist(), reasons, strict=True)
        ]
        if len(out) < n:
            # Asked for more than the sources propose (a list as long as a small catalogue): the
            # rest in trending order, after everything the ranker ordered.
            blocked[picked.items] = True
            out += self._single_source(shopper, "popularity", blocked, n - len(out))
        return out

    def _single_source(
        self, shopper: Shopper, variant: str, blocked: np.ndarray, n: int
    ) -> list[Recommendation]:
        """One source's own ranking of the catalogue (popularity when it is silent)."""
        name = "popularity" if variant == "hybrid" else variant
        scores = self.sources_.score(shopper, only=[name]).get(name)
        if scores is None or not scores.any():
            name, scores = "popularity", self.sources_.trending_
        total = scores + 1e-6 * self.sources_.trending_
        total[blocked] = -np.inf
        picked = top_n(total, n)
        picked = picked[np.isfinite(total[picked])]
        reasons = explain(
            picked, {name: total[picked]}, shopper, self.sources_, self.names_, self.categories_
        )
        ids = self._serving_state().ids
        return [
            Recommendation(ids[i], float(total[i]), reason)
            for i, reason in zip(picked.tolist(), reasons, strict=True)
        ]

    def similar(
        self,
        product_id: Hashable,
        n: int = 10,
        *,
        exclude: Iterable[Hashable] = (),
        unseen: UnseenProducts | None = None,
    ) -> list[Recommendation]:
        """Products most like this one by text (name, description, category, brand), then by co-interest.

        ``exclude`` never appears (the shop's hidden and sold-out products, the cart), and the list is
        filled past them. ``unseen`` (from :meth:`unseen_products`) holds products added since the fit:
        they compete by the cosine of their text, and one of them may be ``product_id`` itself, whose
        neighbours are then read from its text against the whole catalogue. Raises UnknownProductError
        for an id in neither.
        """
        self._check_fitted()
        if n <= 0:
            return []
        blocked = self._blocked(exclude)
        new_blocked = unseen_blocked(unseen, exclude)
        index = self.product_ids_.get_indexer([product_id])[0]
        if index < 0:
            return similar_to_unseen(
                self.content_, self._id, product_id, n, blocked, unseen, new_blocked
            )
        item = int(index)
        name = self.names_[item]
        row = self.content_.neighbours_[item]
        keep = ~blocked[row.indices]
        items, scores = row.indices[keep], row.data[keep].astype(np.float64)
        reason = f"Similar to {name}"
        out = merge_unseen(
            self.content_, self._id, items, scores, reason, unseen, new_blocked, item, n
        )
        if len(out) < n:  # products without text: fill with item-kNN neighbours
            knn = self.sources_.itemknn_.similarity_[item]
            fresh = ~blocked[knn.indices] & ~np.isin(knn.indices, row.indices)
            fresh &= knn.indices != item
            reason = f"Shoppers who liked {name} liked this"
            out += [
                Recommendation(self._id(j), float(s), reason)
                for j, s in zip(
                    knn.indices[fresh][: n - len(out)].tolist(),
                    knn.data[fresh][: n - len(out)].tolist(),
                    strict=True,
                )
            ]
        return out

    def unseen_products(self, products: pd.DataFrame) -> UnseenProducts:
        """Code products the fit never saw (columns as for ``fit``) so ``similar`` can rank them.

        Their text goes through the fitted TF-IDF vocabulary; ids the model knows are dropped. Build it
        once per set of new products and reuse it: it is the only part that touches text.
        """
        self._check_fitted()
        if "product_id" not in products.columns:
            raise ValueError("products need a product_id column")
        products = products.drop_duplicates("product_id", keep="last")
        products = products[self.product_ids_.get_indexer(products["product_id"]) < 0]
        products = products.reset_index(drop=True)
        ids = pd.Index(products["product_id"])
        return UnseenProducts(
            ids=ids,
            vectors=self.content_.transform(products),
            names=text_values(products, "name", fallback=ids.astype(str)),
        )

    def _blocked(self, exclude: Iterable[Hashable]) -> np.ndarray:
        serving = self._serving_state()
        blocked = np.zeros(serving.n_items, dtype=bool)
        exclude = list(exclude)
        if exclude:
            extra = serving.catalog.positions(exclude)
            blocked[extra[extra >= 0]] = True
        return blocked

    def also_bought(
        self, product_id: Hashable, n: int = 10, *, exclude: Iterable[Hashable] = ()
    ) -> list[Recommendation]:
        """'Customers who bought this also bought': co-purchase neighbours, filled from co-interest.

        ``exclude`` never appears, and the list is filled past it.
        """
        self._check_fitted()
        item = self._locate(product_id)
        name = self.names_[item]
        blocked = self._blocked(exclude)
        blocked[item] = True
        out: list[Recommendation] = []
        sources = (
            (
                self.sources_.copurchase_.similarity_[item],
                f"Customers who bought {name} also bought this",
            ),
            (
                self.sources_.itemknn_.similarity_[item],
                f"Shoppers interested in {name} also looked at this",
            ),
        )
        for row, reason in sources:
            fresh = ~blocked[row.indices]
            picked = row.indices[fresh][: n - len(out)]
            out += [
                Recommendation(self._id(j), float(s), reason)
                for j, s in zip(
                    picked.tolist(), row.data[fresh][: len(picked)].tolist(), strict=True
                )
            ]
            blocked[picked] = True
            if len(out) >= n:
                break
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
        scores = self.sources_.popularity_.scores(kind).copy()
        if category is not None:
            scores[self.categories_ != category] = -np.inf
        extra = self.product_ids_.get_indexer(list(exclude))
        scores[extra[extra >= 0]] = -np.inf
        picked = top_n(scores, n)
        picked = picked[np.isfinite(scores[picked])]
        reason = f"{POPULAR_REASONS[kind]} in {category}" if category else POPULAR_REASONS[kind]
        ids = self.product_ids_[picked].tolist()
        return [
            Recommendation(pid, float(scores[i]), reason)
            for pid, i in zip(ids, picked, strict=True)
        ]

    def _id(self, index: int) -> Hashable:
        """A catalogue id as a plain Python value (numpy scalars leak into templates and JSON otherwise)."""
        return plain_value(self.product_ids_[index])

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


def _unique_products(products: pd.DataFrame) -> pd.DataFrame:
    return products.drop_duplicates("product_id", keep="last").reset_index(drop=True)


def catalogue_ids(products: pd.DataFrame) -> pd.Index:
    """The product ids in catalogue order, as ``fit`` will index them for these products.

    Whatever codes events outside the engine (the export Spark reads) must use these positions,
    so item factors fitted there line up with the products the engine serves.
    """
    return pd.Index(_unique_products(products)["product_id"])


def _now() -> int:
    return pd.Timestamp.now().value
