"""Stage 5 of the pipeline, the ranker: orders a shopper's candidates from their features.

Three kinds, one interface (``score`` and ``contributions`` over a feature matrix):

* ``LearnedRanker``: LightGBM's LambdaRank, trained at fit time on holdouts inside the training data
  (time windows and random gaps, told apart by the ``random_gap`` feature);
* ``LogitRanker``: logistic regression on the features and their logs, for small validation sets;
* ``LinearBlend``: a weighted sum of the sources' [0, 1] scores (the first engine's idea);
* a single source, as a ``LinearBlend`` with one weight.

Which of them a model serves is the guard's choice (``guard.choose_ranker``), on the validation set
(``validation``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .features import (
    EXPLAINED_AS,
    FEATURE_SOURCE,
    FEATURES,
    MONOTONE,
    RANDOM_GAP_COLUMN,
    SCORE_COLUMN,
)
from .tree_routes import TreeRoutes
from .validation import K, ValidationSet

_TIEBREAK = 1e-4  # popularity orders what the ranker scores equally
#: Negatives the logistic ranker keeps per positive (see ``LogitRanker.fit``).
NEGATIVES_PER_POSITIVE = 30
#: Most LightGBM threads a fit trains with (a few hundred thousand rows per fit; ALS uses every core
#: too). The shop's worker retrains at nice 19 (``flask worker``), and OpenMP's threads inherit that,
#: so web requests still come first.
MAX_TRAINING_THREADS = 8


def usable_cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _popularity(features: np.ndarray) -> np.ndarray:
    """The rows' trending column, silent (NaN) as 0: the tie-break every ranker adds. (What
    ``np.nan_to_num`` gives for a column that holds no infinities, as trending never does, without
    its checks: it runs on every request.)"""
    column = features[:, SCORE_COLUMN["popularity"]]
    return np.where(np.isnan(column), column.dtype.type(0), column)


class Scored(NamedTuple):
    """A ranker's scores of a request's rows, and each shown row's per-source contributions."""

    scores: np.ndarray
    #: Row positions -> per-source contributions of those rows (as ``contributions`` gives them).
    explain: Callable[[np.ndarray], dict[str, np.ndarray]]


def scored_by_rows(ranker: LinearBlend | LogitRanker, features: np.ndarray) -> Scored:
    """``Scored`` for rankers whose contributions are cheap to compute from the rows themselves."""
    return Scored(ranker.score(features), lambda rows: ranker.contributions(features[rows]))


@dataclass
class LinearBlend:
    """Weighted sum of source scores (NaN = silent = 0), ties broken by trending popularity."""

    weights: dict[str, float]
    kind: str = "blend"

    def score(self, features: np.ndarray) -> np.ndarray:
        return self.score_columns(source_columns(features, self.weights))

    def score_columns(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The blend from ``source_columns`` of the rows (which may hold more sources than it weighs)."""
        total = _TIEBREAK * columns["popularity"]
        for name, weight in self.weights.items():
            if weight:
                total = total + weight * columns[name]
        return total

    def contributions(self, features: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name, weight in self.weights.items():
            if weight:
                source = EXPLAINED_AS.get(name, name)
                part = weight * np.nan_to_num(features[:, SCORE_COLUMN[name]])
                out[source] = out[source] + part if source in out else part
        return out

    def scored(self, features: np.ndarray) -> Scored:
        """``score`` and ``contributions`` behind one interface with the learned ranker's."""
        return scored_by_rows(self, features)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "weights": dict(self.weights)}


def source_columns(features: np.ndarray, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Each named source's score column (and popularity's, the tie-break), silent (NaN) as 0."""
    wanted = dict.fromkeys(["popularity", *names])
    return {name: np.nan_to_num(features[:, SCORE_COLUMN[name]]) for name in wanted}


def single_source(name: str) -> LinearBlend:
    return LinearBlend({name: 1.0}, kind=f"source:{name}")


#: The sources features speak for, in the column order of ``_LeafTables.parts``.
CONTRIBUTING_SOURCES: tuple[str, ...] = tuple(dict.fromkeys(FEATURE_SOURCE.values()))
_SOURCE_OF_FEATURE = np.array(
    [
        CONTRIBUTING_SOURCES.index(FEATURE_SOURCE[name]) if name in FEATURE_SOURCE else -1
        for name in FEATURES
    ]
)


class _LeafTables(NamedTuple):
    """Every tree's leaves as arrays: the leaf's output, and its path contributions per source.

    A product's path through a tree changes the expected output at every split; that change is credited
    to the split's feature (the "Saabas" attribution that treeinterpreter popularised), so a row's
    contributions over all trees add up to its score minus the trees' mean. It is a per-leaf table read
    at the leaves the rows were routed to once (``_routes``), where LightGBM's exact SHAP values (``pred_contrib``) cost about 0.06 ms a
    row on the request path; both credit the same features in most rows, and only the biggest source
    is used, to pick the card's reason.
    """

    values: np.ndarray  # (trees, leaves): output of each leaf
    parts: np.ndarray  # (trees, leaves, CONTRIBUTING_SOURCES): path contribution of each source
    trees: np.ndarray  # (1, trees): row index for fancy indexing ``values[trees, leaves]``

    def leaf_sums(self, leaves: np.ndarray) -> np.ndarray:
        """``values[trees, leaves].sum(axis=1)``: each row's leaf outputs summed over the trees, read
        from the flat table (a plain ``take`` costs half the two-axis fancy indexing)."""
        offsets = self.trees[0] * self.values.shape[1]
        return self.values.ravel().take(leaves + offsets).sum(axis=1)

    @classmethod
    def from_booster(cls, booster: Any, n_trees: int) -> _LeafTables:
        info = booster.dump_model(num_iteration=n_trees)["tree_info"][:n_trees]
        width = max(int(tree["num_leaves"]) for tree in info) if info else 1
        values = np.zeros((len(info), width))
        parts = np.zeros((len(info), width, len(CONTRIBUTING_SOURCES)))
        for t, tree in enumerate(info):
            # Depth-first over (node, the contributions on the way to it).
            stack = [(tree["tree_structure"], np.zeros(len(CONTRIBUTING_SOURCES)))]
            while stack:
                node, path = stack.pop()
                if "leaf_value" in node:
                    leaf = int(node.get("leaf_index", 0))
                    values[t, leaf] = node["leaf_value"]
                    parts[t, leaf] = path
                    continue
                source = _SOURCE_OF_FEATURE[int(node["split_feature"])]
                for child in (node["left_child"], node["right_child"]):
                    step = path.copy()
                    if source >= 0:
                        expected = child.get("leaf_value", child.get("internal_value", 0.0))
                        step[source] += expected - node["internal_value"]
                    stack.append((child, step))
        return cls(values, parts, np.arange(len(info))[None, :])


@dataclass
class LearnedRanker:
    """LightGBM LambdaRank over FEATURES; deterministic for a given seed."""

    seed: int
    n_rounds: int = 400
    #: Below 1, requests are ranked by ``future_weight`` x the score of the rows as a shopper's future
    #: plus the rest x their score as gaps in the past (``random_gap`` 0 and 1); the guard chooses it.
    future_weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "lambdarank"

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [K],
            "learning_rate": 0.05,
            "num_leaves": 15,
            "min_data_in_leaf": 30,
            "feature_fraction": 0.8,
            "lambdarank_truncation_level": 20,
            "lambda_l2": 1.0,
            "monotone_constraints": list(MONOTONE),
            "monotone_constraints_method": "advanced",
            "deterministic": True,
            "force_row_wise": True,
            # Training only (a request's leaves are read single-threaded): with ``deterministic`` the
            # trees are the same for any number of threads (checked for 1, 2 and 3 on a million-event
            # validation set), and on two cores the guard took 24 s instead of 38 s.
            "num_threads": min(MAX_TRAINING_THREADS, usable_cores()),
            "seed": self.seed,
            "verbose": -1,
            **self.params,
        }

    def fit(self, train: ValidationSet, stop_on: ValidationSet | None = None) -> LearnedRanker:
        import lightgbm

        # Tables derived from the trees of an earlier fit would route and score by the wrong trees.
        self.__dict__.pop("_leaf_tables", None)
        self.__dict__.pop("_numpy_routes", None)
        params = self._params()
        dataset = lightgbm.Dataset(
            train.features,
            train.labels,
            group=train.groups,
            feature_name=list(FEATURES),
            free_raw_data=True,
        )
        callbacks = []
        valid_sets = []
        if stop_on is not None:
            valid_sets = [
                lightgbm.Dataset(
                    stop_on.features, stop_on.labels, group=stop_on.groups, reference=dataset
                )
            ]
            callbacks = [lightgbm.early_stopping(40, verbose=False)]
        booster = lightgbm.train(
            params,
            dataset,
            num_boost_round=self.n_rounds,
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        self.best_rounds_ = int(booster.best_iteration or booster.current_iteration())
        self.booster_ = booster
        return self

    def _tables(self) -> _LeafTables:
        tables = self.__dict__.get("_leaf_tables")
        if tables is None:  # after fit, or once per process after a load
            tables = self._leaf_tables = _LeafTables.from_booster(self.booster_, self.best_rounds_)
        return tables

    def _leaves(self, features: np.ndarray) -> np.ndarray:
        return self.booster_.predict(
            features,
            num_iteration=self.best_rounds_,
            pred_leaf=True,
            num_threads=1,
            validate_features=False,
        ).astype(np.intp, copy=False)

    def with_future_weight(self, weight: float) -> LearnedRanker:
        """The same trees, serving with another ``future_weight``."""
        twin = copy.copy(self)
        twin.future_weight = weight
        return twin

    def _views(self) -> list[tuple[float | None, float]]:
        """How a row goes through the trees: (``random_gap`` flag, weight). At ``future_weight`` 1, as it
        is (flag None); below, as a shopper's future and as a gap in their past, weighted
        ``future_weight`` and the rest."""
        if self.future_weight >= 1.0:
            return [(None, 1.0)]
        pairs = ((0.0, self.future_weight), (1.0, 1.0 - self.future_weight))
        return [(flag, weight) for flag, weight in pairs if weight > 0]

    def view_sums(
        self,
        features: np.ndarray,
        flags: Sequence[float | None],
        table: np.ndarray | None = None,
    ) -> dict[float | None, np.ndarray]:
        """``table``'s entries (the leaves' outputs by default) at each row's leaves, summed over the trees,
        with ``random_gap`` set to each of ``flags`` (None: as the rows have it), in one pass (``_routes``).
        Twins from ``with_future_weight`` can share them."""
        leaves = self._routes(features, flags)
        tables = self._tables()
        table = tables.values if table is None else table
        return {flag: table[tables.trees, leaves[i]].sum(axis=1) for i, flag in enumerate(flags)}

    def _tree_routes(self) -> TreeRoutes | None:
        """The trees as numpy routes (``tree_routes``), built once per process; None where LightGBM
        has to walk them."""
        if "_numpy_routes" not in self.__dict__:
            routes = TreeRoutes.from_booster(self.booster_, self.best_rounds_)
            self.__dict__["_numpy_routes"] = routes  # None is kept too: asked once
        return self.__dict__["_numpy_routes"]

    def _routes(self, features: np.ndarray, flags: Sequence[float | None]) -> np.ndarray:
        """Each row's leaf in every tree, with ``random_gap`` set to each of ``flags``:
        (flags, rows, trees), walked with numpy where the trees allow it (a request's rows), else
        from one LightGBM call (the same leaves; see ``tree_routes``)."""
        routes = self._tree_routes()
        if routes is not None:
            leaves = routes.leaves(features, flags, RANDOM_GAP_COLUMN)
            if leaves is not None:
                return leaves
        if list(flags) == [None]:
            rows = features
        elif len(flags) == 1:  # one view: a copy with the flag set, no tiling
            rows = features.copy()
            rows[:, RANDOM_GAP_COLUMN] = flags[0]
        else:
            rows = np.tile(features, (len(flags), 1))
            for i, flag in enumerate(flags):
                if flag is not None:
                    rows[i * len(features) : (i + 1) * len(features), RANDOM_GAP_COLUMN] = flag
        return self._leaves(rows).reshape(len(flags), len(features), -1)

    def scored(self, features: np.ndarray) -> Scored:
        """``score`` of the rows, and their ``contributions`` read from the same leaves: a request
        routes its candidates through LightGBM once, not again for the products it shows."""
        views = self._views()
        flags = [flag for flag, _ in views]
        leaves = self._routes(features, flags)
        tables = self._tables()
        sums = {flag: tables.leaf_sums(leaves[i]) for i, flag in enumerate(flags)}

        def explain(rows: np.ndarray) -> dict[str, np.ndarray]:
            parts = {
                flag: tables.parts[tables.trees, leaves[i][rows]].sum(axis=1)
                for i, flag in enumerate(flags)
            }
            total = sum(weight * parts[flag] for flag, weight in views)
            return {source: total[:, j] for j, source in enumerate(CONTRIBUTING_SOURCES)}

        return Scored(self.score(features, sums), explain)

    def _summed(
        self,
        table: np.ndarray,
        features: np.ndarray,
        sums: Mapping[float | None, np.ndarray] | None = None,
    ) -> np.ndarray:
        views = self._views()
        if sums is None:
            sums = self.view_sums(features, [flag for flag, _ in views], table)
        return sum(weight * sums[flag] for flag, weight in views)

    def score(
        self, features: np.ndarray, sums: Mapping[float | None, np.ndarray] | None = None
    ) -> np.ndarray:
        """LightGBM's prediction, summed from each tree's leaf (``_routes``: NaNs routed as LightGBM does).
        ``sums``: this booster's ``view_sums`` of the leaf values for these rows, when already known."""
        raw = self._summed(self._tables().values, features, sums)
        return raw + _TIEBREAK * _popularity(features)

    def contributions(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Per-source sums of the features' path contributions (see ``_LeafTables``)."""
        parts = self._summed(self._tables().parts, features)
        return {source: parts[:, j] for j, source in enumerate(CONTRIBUTING_SOURCES)}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_leaf_tables", None)
        state.pop("_numpy_routes", None)
        return state

    def describe(self) -> dict[str, Any]:
        gains = self.booster_.feature_importance("gain")
        order = np.argsort(-gains)[:8]
        return {
            "kind": self.kind,
            "rounds": self.best_rounds_,
            "future_weight": self.future_weight,
            "top_features": {FEATURES[i]: round(float(gains[i]), 1) for i in order if gains[i] > 0},
        }


#: Features whose logarithm the logistic ranker also sees: sources' scores and shares are products of
#: probabilities, so their logs add up the way a choice model's utilities do.
_LOGGED = tuple(
    i
    for i, name in enumerate(FEATURES)
    if name.endswith("_score")
    or name in ("trending", "category_share", "share_in_category", "brand_share")
)


@dataclass
class LogitRanker:
    """Logistic regression on the features and their logs: a conditional-logit-like choice model.

    Where the validation data is small (a few thousand positives), a linear utility over log scores
    ("taste x popularity" becomes log taste + log popularity) generalises better than trees; the guard
    decides between the two on held-out shoppers.
    """

    C: float = 0.3
    seed: int = 0
    kind: str = "logit"

    def _design(self, features: np.ndarray) -> np.ndarray:
        values = features.astype(np.float64)
        missing = np.isnan(values)
        values[missing] = 0.0
        logs = np.log(values[:, _LOGGED] + 1e-3)
        return np.hstack([values, logs, missing[:, self.missing_columns_]])

    def fit(self, train: ValidationSet) -> LogitRanker:
        from sklearn.linear_model import LogisticRegression

        positive = train.labels == 2.0
        # Case-control sampling: every positive and at most NEGATIVES_PER_POSITIVE negatives each, drawn
        # at random. Sampling on the outcome moves only the intercept of a logistic model, which no
        # ranking sees, and cuts the rows (and the fit) several-fold.
        rows = np.flatnonzero(positive)
        negatives = np.flatnonzero(~positive)
        n_negatives = NEGATIVES_PER_POSITIVE * max(len(rows), 1)
        if len(negatives) > n_negatives:
            rng = np.random.default_rng(self.seed)
            negatives = np.sort(rng.choice(negatives, n_negatives, replace=False))
        rows = np.sort(np.concatenate([rows, negatives]))
        features = train.features[rows]
        self.missing_columns_ = np.flatnonzero(np.isnan(features).any(axis=0))
        design = self._design(features)
        self.mean_ = design.mean(axis=0)
        scale = design.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        model = LogisticRegression(C=self.C, max_iter=1000)
        model.fit((design - self.mean_) / self.scale_, positive[rows])
        self.coef_ = model.coef_[0] / self.scale_
        # Which source each design column speaks for (plain, logged, missing flags).
        columns = [*range(len(FEATURES)), *_LOGGED, *self.missing_columns_.tolist()]
        self.column_source_ = [FEATURE_SOURCE.get(FEATURES[c]) for c in columns]
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        raw = self._design(features) @ self.coef_
        return raw + _TIEBREAK * _popularity(features)

    def contributions(self, features: np.ndarray) -> dict[str, np.ndarray]:
        parts = (self._design(features) - self.mean_) * self.coef_
        out: dict[str, np.ndarray] = {}
        for column, source in enumerate(self.column_source_):
            if source is not None:
                out[source] = out.get(source, 0.0) + parts[:, column]
        return out

    def scored(self, features: np.ndarray) -> Scored:
        """``score`` and ``contributions`` behind one interface with the learned ranker's."""
        return scored_by_rows(self, features)

    def describe(self) -> dict[str, Any]:
        strength = np.abs(self.coef_ * self.scale_)
        names = [
            *FEATURES,
            *(f"log_{FEATURES[c]}" for c in _LOGGED),
            *(f"missing_{FEATURES[c]}" for c in self.missing_columns_),
        ]
        order = np.argsort(-strength)[:8]
        return {
            "kind": self.kind,
            "C": self.C,
            "top_features": {
                names[i]: round(float(self.coef_[i] * self.scale_[i]), 3) for i in order
            },
        }


Ranker = LearnedRanker | LogitRanker | LinearBlend
