"""The guard: which ranker a model serves, chosen on held-out validation shoppers.

``choose_ranker`` trains the learned ranker and the blend on one half of the validation shoppers and
keeps whichever of them, or of the single sources, ranks the other half best on both holdout protocols
(see its comments for how "best" weighs the two). With too few validation shoppers it keeps a fixed
blend and says so. The choice and its figures go into the model's metadata, so wherever some contender
can be, the engine is no worse on validation than its best source on either protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .features import SCORE_COLUMN
from .rankers import (
    LearnedRanker,
    LinearBlend,
    LogitRanker,
    Ranker,
    single_source,
    source_columns,
)
from .validation import PROTOCOLS, SAMPLED_NEGATIVES, ValidationSet, ndcg_groups

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
#: Weights of a shopper's future, against the gaps in their past, the guard tries LambdaRank with
#: (``LearnedRanker.future_weight``; 1, the plain "lambdarank", is what a request asks for).
FUTURE_WEIGHTS: tuple[float, ...] = (0.75, 0.5, 0.25, 0.0)


def _coordinate_search(data: ValidationSet, available: Sequence[str]) -> LinearBlend:
    weights = {name: float(DEFAULT_BLEND.get(name, 0.0)) for name in available}
    columns = source_columns(data.features, available)  # once: the search scores hundreds of blends
    best = ndcg_groups(LinearBlend(weights).score_columns(columns), data)
    for _ in range(2):
        improved = False
        for name in available:
            for value in _WEIGHT_GRID:
                if value == weights[name]:
                    continue
                trial = {**weights, name: value}
                if not any(trial.values()):
                    continue
                score = ndcg_groups(LinearBlend(trial).score_columns(columns), data)
                if score > best + 1e-9:
                    best, weights, improved = score, trial, True
        if not improved:
            break
    return LinearBlend(weights)


def _learned(fit_part: ValidationSet, seed: int) -> dict[str, Ranker]:
    """The learned rankers, trained on ``fit_part``; early stopping and the logistic penalty are chosen
    on a fifth of its shoppers, so the judging half stays unseen."""
    inner = np.random.default_rng(seed + 1).permutation(len(fit_part.groups))
    cut = max(1, len(inner) // 5)
    inner_fit = fit_part.subset(np.sort(inner[cut:]))
    inner_judge = fit_part.subset(np.sort(inner[:cut]))
    learned = LearnedRanker(seed).fit(inner_fit.sampled(SAMPLED_NEGATIVES, seed), inner_judge)
    penalty = max(
        (0.03, 0.3, 3.0),
        key=lambda c: ndcg_groups(
            LogitRanker(c, seed).fit(inner_fit).score(inner_judge.features), inner_judge
        ),
    )
    return {"lambdarank": learned, "logit": LogitRanker(penalty, seed).fit(fit_part)}


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
    present = [
        name
        for name, column in SCORE_COLUMN.items()
        if np.nan_to_num(data.features[:, column]).any()
    ]
    # Two-fold cross-fitting: every contender is trained on one half of the shoppers and judged on the
    # other, both ways round, so each is judged on every validation shopper without seeing them.
    order = np.random.default_rng(seed).permutation(len(data.groups))
    halves = (np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2 :]))
    totals: dict[tuple[str, str], float] = {}
    trained: dict[str, list[Ranker]] = {}
    for side, (fit_groups, judge_groups) in enumerate((halves, halves[::-1])):
        fit_part, judge_part = data.subset(fit_groups), data.subset(judge_groups)
        contenders: dict[str, Ranker] = {f"source:{name}": single_source(name) for name in present}
        contenders["blend"] = _coordinate_search(fit_part, present)
        if learn:
            contenders.update(_learned(fit_part, seed + side))
        learned = contenders.get("lambdarank")
        if isinstance(learned, LearnedRanker) and len(np.unique(data.protocols)) > 1:
            for weight in FUTURE_WEIGHTS:
                contenders[f"lambdarank:{weight:g}"] = learned.with_future_weight(weight)
        by_protocol = {
            PROTOCOLS[p]: (
                judge_part.subset(np.flatnonzero(judge_part.protocols == p)).as_served(),
                float((judge_part.protocols == p).sum() / (data.protocols == p).sum()),
            )
            for p in np.unique(judge_part.protocols).tolist()
        }
        # LambdaRank's twins differ only in how they weigh the two ways through the same trees: each
        # protocol's rows go through them once. Served rows rank the future: as they are = flag 0.
        shared: dict[str, dict[float | None, np.ndarray]] = {}
        if isinstance(learned, LearnedRanker):
            for protocol, (part, _) in by_protocol.items():
                sums = learned.view_sums(part.features, (0.0, 1.0))
                shared[protocol] = {None: sums[0.0], **sums}
        booster = getattr(learned, "booster_", None)
        for name, ranker in contenders.items():
            twin = isinstance(ranker, LearnedRanker) and ranker.booster_ is booster
            for protocol, (part, share) in by_protocol.items():
                key = (name, protocol)
                features = part.features
                scores = (
                    ranker.score(features, shared[protocol]) if twin else ranker.score(features)
                )
                totals[key] = totals.get(key, 0.0) + share * ndcg_groups(scores, part)
            trained.setdefault(name, []).append(ranker)
    # Each protocol's NDCG relative to its best single source. The chosen ranker must do well on a
    # shopper's future and on the gaps in their past alike, whatever the shop is judged on later: of the
    # contenders at least as good as the best source on every protocol, the best mean is served; when
    # none is, the one whose worst protocol is best.
    protocols = sorted({protocol for _, protocol in totals})
    best_source = {
        p: max(v for (n, q), v in totals.items() if q == p and n.startswith("source:"))
        for p in protocols
    }
    relative = {
        name: [totals[(name, p)] / max(best_source[p], 1e-12) for p in protocols]
        for name in trained
    }
    scores = {name: float(np.mean(values)) for name, values in relative.items()}
    worst = {name: float(min(values)) for name, values in relative.items()}
    safe = [name for name in trained if worst[name] >= 1.0 - 1e-9]
    learned_kind = ("lambdarank", "logit")
    if safe:
        chosen = max(safe, key=lambda name: (scores[name], name.startswith(learned_kind)))
    else:
        chosen = max(trained, key=lambda name: (worst[name], name.startswith(learned_kind)))
    winner = trained[chosen][0]
    # Refit the winner on every validation shopper (the blend's weights and the ranker's trees).
    if isinstance(winner, LearnedRanker):
        rounds = [r.best_rounds_ for r in trained[chosen]]
        n_rounds = max(10, int(round(np.mean(rounds) * 1.2)))
        winner = LearnedRanker(seed, n_rounds=n_rounds, future_weight=winner.future_weight).fit(
            data.sampled(SAMPLED_NEGATIVES, seed)
        )
    elif isinstance(winner, LogitRanker):
        penalties = [r.C for r in trained[chosen]]
        winner = LogitRanker(float(np.exp(np.mean(np.log(penalties)))), seed).fit(data)
    elif chosen == "blend":
        winner = _coordinate_search(data, present)
    report = {
        "chosen": chosen,
        "reason": "best NDCG@10 relative to the best single source on held-out validation shoppers, "
        "averaged over the holdout protocols, among the contenders no worse than that source on any "
        "protocol (two-fold cross-fitting)"
        if safe
        else "no contender matched the best single source on every protocol: the best worst protocol",
        "n_users": useful,
        "protocols": protocols,
        "score": {name: round(value, 4) for name, value in sorted(scores.items())},
        "worst_protocol": {name: round(value, 4) for name, value in sorted(worst.items())},
        "ndcg@10": {
            p: {n: round(float(v), 5) for (n, q), v in sorted(totals.items()) if q == p}
            for p in protocols
        },
        "ranker": winner.describe(),
    }
    return winner, report
