"""Stage 5 of the pipeline, the ranker: orders a shopper's candidates from their features.

Three kinds, one interface (``score`` and ``contributions`` over a feature matrix):

* ``LearnedRanker``: LightGBM's LambdaRank, trained at fit time on a time holdout inside the training data;
* ``LinearBlend``: a weighted sum of the sources' [0, 1] scores (the first engine's idea);
* a single source, as a ``LinearBlend`` with one weight.

``choose_ranker`` is the guard: it trains the learned ranker and the blend on one half of the validation
shoppers and keeps whichever of them, or of the single sources, ranks the other half best. With too few
validation shoppers it keeps a fixed blend and says so. The choice and its figures go into the model's
metadata, so the engine is never worse on validation than its best source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .features import FEATURE_SOURCE, FEATURES, MONOTONE, SCORE_COLUMN

K = 10
#: Fewest validation shoppers with a positive among their candidates before anything is learned.
MIN_VALIDATION_USERS = 40
_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
#: The blend used when the data is too small to choose one.
DEFAULT_BLEND: Mapping[str, float] = {
    "popularity": 0.3,
    "taste": 1.0,
    "content": 0.3,
    "itemknn": 1.0,
    "copurchase": 0.25,
    "als": 0.5,
    "ease": 1.0,
    "svd": 0.25,
    "new": 0.5,
}
_TIEBREAK = 1e-4  # popularity orders what the ranker scores equally


@dataclass
class ValidationSet:
    """Candidates' features and labels for many shoppers (one group per shopper)."""

    features: np.ndarray  # rows = candidates of every group, FEATURES columns
    labels: np.ndarray  # 2 for a held-out positive, 1 for weaker interest, 0 otherwise
    groups: np.ndarray  # candidates per group
    positives: np.ndarray  # held-out positives per group (including ones no source proposed)

    @classmethod
    def concat(cls, parts: Sequence[ValidationSet]) -> ValidationSet:
        return cls(
            np.vstack([p.features for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.groups for p in parts]),
            np.concatenate([p.positives for p in parts]),
        )

    def subset(self, groups: np.ndarray) -> ValidationSet:
        starts = np.concatenate([[0], np.cumsum(self.groups)])
        rows = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in groups])
        return ValidationSet(
            self.features[rows], self.labels[rows], self.groups[groups], self.positives[groups]
        )


def ndcg_groups(scores: np.ndarray, data: ValidationSet, k: int = K) -> float:
    """Mean NDCG@k over groups, the ideal counting every held-out positive."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal_of = np.concatenate([[0.0], np.cumsum(discounts)])
    total = 0.0
    start = 0
    for size, positives in zip(data.groups.tolist(), data.positives.tolist(), strict=True):
        stop = start + size
        if positives:
            mine = scores[start:stop]
            top = np.argsort(-mine, kind="stable")[:k]
            gains = data.labels[start:stop][top] == 2.0  # the evaluation counts positives only
            total += float(gains @ discounts[: len(top)]) / ideal_of[min(positives, k)]
        start = stop
    return total / max(len(data.groups), 1)


@dataclass
class LinearBlend:
    """Weighted sum of source scores (NaN = silent = 0), ties broken by trending popularity."""

    weights: dict[str, float]
    kind: str = "blend"

    def score(self, features: np.ndarray) -> np.ndarray:
        total = _TIEBREAK * np.nan_to_num(features[:, SCORE_COLUMN["popularity"]])
        for name, weight in self.weights.items():
            if weight:
                total = total + weight * np.nan_to_num(features[:, SCORE_COLUMN[name]])
        return total

    def contributions(self, features: np.ndarray) -> dict[str, np.ndarray]:
        return {
            name: weight * np.nan_to_num(features[:, SCORE_COLUMN[name]])
            for name, weight in self.weights.items()
            if weight
        }

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "weights": dict(self.weights)}


def single_source(name: str) -> LinearBlend:
    return LinearBlend({name: 1.0}, kind=f"source:{name}")


@dataclass
class LearnedRanker:
    """LightGBM LambdaRank over FEATURES; deterministic for a given seed."""

    seed: int
    n_rounds: int = 400
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
            "num_threads": 1,
            "seed": self.seed,
            "verbose": -1,
            **self.params,
        }

    def fit(self, train: ValidationSet, stop_on: ValidationSet | None = None) -> LearnedRanker:
        import lightgbm

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

    def score(self, features: np.ndarray) -> np.ndarray:
        raw = self.booster_.predict(
            features, num_iteration=self.best_rounds_, num_threads=1, validate_features=False
        )
        return raw + _TIEBREAK * np.nan_to_num(features[:, SCORE_COLUMN["popularity"]])

    def contributions(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Per-source sums of the features' SHAP contributions (LightGBM's ``pred_contrib``)."""
        contrib = self.booster_.predict(
            features, num_iteration=self.best_rounds_, pred_contrib=True, num_threads=1
        )[:, : len(FEATURES)]
        out: dict[str, np.ndarray] = {}
        for column, name in enumerate(FEATURES):
            source = FEATURE_SOURCE.get(name)
            if source is not None:
                out[source] = out.get(source, 0.0) + contrib[:, column]
        return out

    def describe(self) -> dict[str, Any]:
        gains = self.booster_.feature_importance("gain")
        order = np.argsort(-gains)[:8]
        return {
            "kind": self.kind,
            "rounds": self.best_rounds_,
            "top_features": {FEATURES[i]: round(float(gains[i]), 1) for i in order if gains[i] > 0},
        }


def _coordinate_search(data: ValidationSet, available: Sequence[str]) -> LinearBlend:
    weights = {name: float(DEFAULT_BLEND.get(name, 0.0)) for name in available}
    best = ndcg_groups(LinearBlend(weights).score(data.features), data)
    for _ in range(2):
        improved = False
        for name in available:
            for value in _WEIGHT_GRID:
                if value == weights[name]:
                    continue
                trial = {**weights, name: value}
                if not any(trial.values()):
                    continue
                score = ndcg_groups(LinearBlend(trial).score(data.features), data)
                if score > best + 1e-9:
                    best, weights, improved = score, trial, True
        if not improved:
            break
    return LinearBlend(weights)


Ranker = LearnedRanker | LinearBlend


def choose_ranker(
    data: ValidationSet | None, seed: int, *, learn: bool = True
) -> tuple[Ranker, dict[str, Any]]:
    """The guard: the best of the learned ranker, a tuned blend and each single source on held-out shoppers."""
    useful = 0 if data is None else int((data.positives > 0).sum())
    if data is None or useful < MIN_VALIDATION_USERS:
        blend = LinearBlend(dict(DEFAULT_BLEND))
        return blend, {
            "chosen": "blend",
            "reason": f"too little validation data ({useful} shoppers with held-out positives; "
            f"at least {MIN_VALIDATION_USERS} needed): a fixed blend",
            "n_users": useful,
        }
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.groups))
    half = len(order) // 2
    fit_part, judge_part = data.subset(np.sort(order[:half])), data.subset(np.sort(order[half:]))
    present = [
        name
        for name, column in SCORE_COLUMN.items()
        if np.nan_to_num(data.features[:, column]).any()
    ]
    scores: dict[str, float] = {}
    contenders: dict[str, Ranker] = {}
    for name in present:
        ranker = single_source(name)
        contenders[ranker.kind] = ranker
        scores[ranker.kind] = ndcg_groups(ranker.score(judge_part.features), judge_part)
    blend = _coordinate_search(fit_part, present)
    contenders["blend"] = blend
    scores["blend"] = ndcg_groups(blend.score(judge_part.features), judge_part)
    if learn:
        # Early stopping on a slice of the fitting half keeps the judging half unseen.
        inner = np.random.default_rng(seed + 1).permutation(len(fit_part.groups))
        cut = max(1, len(inner) // 5)
        learned = LearnedRanker(seed).fit(
            fit_part.subset(np.sort(inner[cut:])), fit_part.subset(np.sort(inner[:cut]))
        )
        contenders["lambdarank"] = learned
        scores["lambdarank"] = ndcg_groups(learned.score(judge_part.features), judge_part)
    chosen = max(scores, key=lambda name: (scores[name], name == "lambdarank"))
    winner = contenders[chosen]
    # Refit the winner on every validation shopper (the blend's weights and the ranker's trees).
    if isinstance(winner, LearnedRanker):
        rounds = max(10, int(round(winner.best_rounds_ * 1.2)))
        winner = LearnedRanker(seed, n_rounds=rounds).fit(data)
    elif chosen == "blend":
        winner = _coordinate_search(data, present)
    report = {
        "chosen": chosen,
        "reason": "best NDCG@10 on held-out validation shoppers",
        "n_users": useful,
        "ndcg@10": {name: round(float(value), 5) for name, value in sorted(scores.items())},
        "ranker": winner.describe(),
    }
    return winner, report
