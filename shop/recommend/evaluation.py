"""Offline evaluation: time-based and random per-shopper splits, top-n ranking quality and rating error.

The time split is the shop's main protocol, because the shop recommends tomorrow's purchases from today's
history and a random split leaks the future into training. The random per-shopper holdout is the second
protocol: data whose timestamps carry no order (a batch of star ratings, a log imported in one go) and the
published results it is compared with are measured that way, and an engine that only wins under one
protocol is tuned to its quirks.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .frames import check_interactions
from .hybrid import VARIANTS, HybridRecommender
from .metrics import (
    average_precision_at_k,
    catalog_coverage,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)
from .records import RatingScore, TopNScore

DEFAULT_POSITIVE_KINDS: tuple[str, ...] = ("purchase", "add_to_cart", "like")

#: A scorer maps (user id, that shopper's training history) to a ranked list of product ids.
Scorer = Callable[[Hashable, pd.DataFrame], Sequence[Hashable]]


class Split(NamedTuple):
    """``train`` events and ``test`` (user_id, product_id) positives to find from them.

    ``cut`` is the time split's cut (test positives come after it), or ``None`` for a split with no time
    cut (``random_split``).
    """

    train: pd.DataFrame
    test: pd.DataFrame
    cut: pd.Timestamp | None


def time_split(
    interactions: pd.DataFrame,
    cut: pd.Timestamp | str | None = None,
    *,
    test_fraction: float = 0.2,
    positive_kinds: Iterable[str] = DEFAULT_POSITIVE_KINDS,
    min_rating: float | None = 4.0,
    known_users_only: bool = True,
) -> Split:
    """Train on events before ``cut``; test on each shopper's later positives of products new to them.

    ``cut`` defaults to the time before which ``1 - test_fraction`` of the events fall. Positives are events
    of ``positive_kinds`` plus ratings of at least ``min_rating`` stars; products the shopper interacted
    with in any way before the cut are not test items (recommending them again is not a discovery).
    ``known_users_only`` keeps shoppers who have training history, the ones personalisation can serve.
    """
    check_interactions(interactions)
    if interactions.empty:
        raise ValueError("cannot split an empty interactions frame")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    stamps = pd.to_datetime(interactions["timestamp"], utc=True)
    cut = stamps.quantile(1.0 - test_fraction) if cut is None else pd.Timestamp(cut)
    if cut.tzinfo is None:
        cut = cut.tz_localize("UTC")
    before = (stamps < cut).to_numpy()
    train = interactions.loc[before].reset_index(drop=True)
    later = interactions.loc[~before]
    positive = _positive_mask(later, positive_kinds, min_rating)
    test = later.loc[positive, ["user_id", "product_id"]].drop_duplicates()
    seen = train[["user_id", "product_id"]].drop_duplicates()
    test = test.merge(seen, on=["user_id", "product_id"], how="left", indicator=True)
    test = test.loc[test["_merge"] == "left_only", ["user_id", "product_id"]]
    if known_users_only:
        test = test.loc[test["user_id"].isin(pd.unique(train["user_id"]))]
    return Split(train, test.reset_index(drop=True), cut)


def _positive_mask(
    interactions: pd.DataFrame, positive_kinds: Iterable[str], min_rating: float | None
) -> np.ndarray:
    positive = np.array(interactions["kind"].isin(list(positive_kinds)), dtype=bool)
    if min_rating is not None:
        positive |= (
            (interactions["kind"] == "rating") & (interactions["value"] >= min_rating)
        ).to_numpy()
    return positive


def random_split(
    interactions: pd.DataFrame,
    *,
    test_fraction: float = 0.25,
    min_positives: int = 4,
    positive_kinds: Iterable[str] = DEFAULT_POSITIVE_KINDS,
    min_rating: float | None = 4.0,
    random_state: int | None = 0,
) -> Split:
    """Hold out a random ``test_fraction`` of each shopper's distinct positive products, whatever their time.

    Shoppers with at least ``min_positives`` distinct positive products (events of ``positive_kinds`` or
    ratings of at least ``min_rating`` stars) take part: ``round(test_fraction * n)`` of their ``n``
    positive products, at least one and never all, are drawn at random and become their test items, and
    every event of theirs on those products (the views and clicks before a purchase too) leaves the
    training data, so a test item is always new to the shopper, as in ``time_split``. Everything else is
    training history, including all events of shoppers who do not take part. The draw depends only on
    ``random_state`` and the set of (shopper, product) pairs, not on the row order. ``cut`` is ``None``.
    """
    check_interactions(interactions)
    if interactions.empty:
        raise ValueError("cannot split an empty interactions frame")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if min_positives < 2:
        raise ValueError(
            f"min_positives must be at least 2 (one to train, one to test), got {min_positives}"
        )
    positive = _positive_mask(interactions, positive_kinds, min_rating)
    pairs = (
        interactions.loc[positive, ["user_id", "product_id"]]
        .drop_duplicates()
        .sort_values(["user_id", "product_id"], kind="stable")
        .reset_index(drop=True)
    )
    counts = pairs.groupby("user_id", sort=False)["product_id"].transform("size")
    pairs = pairs.loc[counts >= min_positives].reset_index(drop=True)
    counts = counts.loc[counts >= min_positives].to_numpy()
    # A random order within each shopper: sort by shopper, then by a random key, and number the rows.
    key = np.random.default_rng(random_state).random(len(pairs))
    rank = (
        pairs.assign(_key=key)
        .sort_values(["user_id", "_key"], kind="stable")
        .groupby("user_id", sort=False)
        .cumcount()
        .sort_index()
        .to_numpy()
    )
    n_test = np.clip(np.floor(test_fraction * counts + 0.5), 1, counts - 1)
    test = pairs.loc[rank < n_test].reset_index(drop=True)
    held = pd.MultiIndex.from_frame(test)
    keys = pd.MultiIndex.from_frame(interactions[["user_id", "product_id"]])
    train = interactions.loc[~keys.isin(held)].reset_index(drop=True)
    return Split(train, test, None)


def evaluate_ratings(
    interactions: pd.DataFrame, random_state: int = 0, *, test_size: float = 0.2
) -> list[RatingScore]:
    """RMSE and MAE of the engine's SVD against BaselineOnly and the global mean on held-out explicit ratings.

    The SVD row is ``svd.TunedSVD`` (surprise's SVD tuned on a held-out part of the training ratings), as
    the engine fits it; the held-out ratings here are never seen by that tuning.

        A random split (as the prototype measured) rather than a time split: this answers "how well are stars
        predicted", not "what will be bought next".
    """
    from surprise import BaselineOnly, Dataset, Reader
    from surprise.model_selection import train_test_split

    from .svd import TunedSVD

    check_interactions(interactions)
    ratings = interactions.loc[interactions["kind"] == "rating", ["user_id", "product_id", "value"]]
    ratings = ratings.drop_duplicates(["user_id", "product_id"], keep="last")
    if len(ratings) < 10:
        raise ValueError(f"need at least 10 explicit ratings to evaluate, got {len(ratings)}")
    frame = pd.DataFrame(
        {
            "u": ratings["user_id"].astype(str),
            "i": ratings["product_id"].astype(str),
            "r": ratings["value"],
        }
    )
    scale = (float(min(1.0, frame["r"].min())), float(max(5.0, frame["r"].max())))
    data = Dataset.load_from_df(frame, Reader(rating_scale=scale))
    trainset, testset = train_test_split(data, test_size=test_size, random_state=random_state)
    truth = [r for (_, _, r) in testset]
    out = [
        RatingScore(
            "global_mean", rmse(truth, [trainset.global_mean] * len(truth)), 0.0, len(truth)
        )
    ]
    out[0] = out[0]._replace(mae=mae(truth, [trainset.global_mean] * len(truth)))
    for name, algo in (
        ("baseline_only", BaselineOnly(verbose=False)),
        ("svd", TunedSVD(random_state=random_state)),
    ):
        algo.fit(trainset)
        predicted = [p.est for p in algo.test(testset)]
        out.append(RatingScore(name, rmse(truth, predicted), mae(truth, predicted), len(truth)))
    return out


def _sample_users(users: np.ndarray, max_users: int | None, random_state: int | None) -> np.ndarray:
    if max_users is None or len(users) <= max_users:
        return users
    rng = np.random.default_rng(random_state)
    return users[np.sort(rng.choice(len(users), max_users, replace=False))]


def evaluate_scorers(
    split: Split,
    scorers: Mapping[str, Scorer],
    catalog_size: int,
    *,
    k: int = 10,
    max_users: int | None = 2000,
    random_state: int | None = 0,
) -> list[TopNScore]:
    """Precision, recall, NDCG, MAP at k and catalogue coverage of each scorer on the same test shoppers."""
    relevant = split.test.groupby("user_id", sort=True)["product_id"].agg(set)
    if relevant.empty:
        raise ValueError("the split has no test positives")
    users = _sample_users(relevant.index.to_numpy(), max_users, random_state)
    histories = dict(
        tuple(split.train.loc[split.train["user_id"].isin(users)].groupby("user_id", sort=False))
    )
    empty = split.train.iloc[:0]
    results = []
    for name, scorer in scorers.items():
        sums = np.zeros(4)
        lists = []
        for user in users:
            ranked = list(scorer(user, histories.get(user, empty)))[:k]
            truth = relevant[user]
            lists.append(ranked)
            sums += (
                precision_at_k(ranked, truth, k),
                recall_at_k(ranked, truth, k),
                ndcg_at_k(ranked, truth, k),
                average_precision_at_k(ranked, truth, k),
            )
        means = sums / len(users)
        results.append(
            TopNScore(
                name, *map(float, means), catalog_coverage(lists, catalog_size), n_users=len(users)
            )
        )
    return results


def engine_scorer(engine: HybridRecommender, variant: str = "hybrid", k: int = 10) -> Scorer:
    """Adapt a fitted engine to the Scorer signature (the user id is ignored: the history is what counts)."""

    def score(_user: Hashable, history: pd.DataFrame) -> list[Hashable]:
        # Test positives are products new to the shopper, so nothing already touched may take a slot.
        seen = pd.unique(history["product_id"])
        return [r.product_id for r in engine.recommend(history, n=k, variant=variant, exclude=seen)]

    return score


def evaluate_topn(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    k: int = 10,
    *,
    split: Split | None = None,
    cut: pd.Timestamp | str | None = None,
    test_fraction: float = 0.2,
    positive_kinds: Iterable[str] = DEFAULT_POSITIVE_KINDS,
    variants: Sequence[str] = ("popularity", "content", "svd", "itemknn", "als", "hybrid"),
    engine_params: Mapping[str, Any] | None = None,
    extra_scorers: Mapping[str, Scorer] | None = None,
    max_users: int | None = 2000,
    random_state: int | None = 0,
) -> list[TopNScore]:
    """Fit the engine on a time split's training part and score popularity, each model and the hybrid.

    Every variant is the same fitted engine answering with one model, so the comparison isolates the
    models, not differences in data handling. ``extra_scorers`` adds outside baselines on the same shoppers.
    """
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; expected some of {list(VARIANTS)}")
    if split is None:
        split = time_split(
            interactions, cut, test_fraction=test_fraction, positive_kinds=positive_kinds
        )
    params = {"random_state": random_state, **(engine_params or {})}
    engine = HybridRecommender(**params).fit(split.train, products)
    scorers: dict[str, Scorer] = {v: engine_scorer(engine, v, k) for v in variants}
    scorers.update(extra_scorers or {})
    return evaluate_scorers(
        split,
        scorers,
        len(engine.product_ids_),
        k=k,
        max_users=max_users,
        random_state=random_state,
    )


def render_table(scores: Iterable[TopNScore | RatingScore], k: int = 10) -> str:
    """Plain-text table of evaluation records for terminals, logs and the README."""
    scores = list(scores)
    if not scores:
        raise ValueError("no scores to render")
    if isinstance(scores[0], RatingScore):
        header = f"{'model':<16}{'RMSE':>8}{'MAE':>8}{'n_test':>8}"
        rows = [f"{s.model:<16}{s.rmse:>8.4f}{s.mae:>8.4f}{s.n_test:>8d}" for s in scores]
    else:
        header = f"{'model':<16}{f'P@{k}':>8}{f'R@{k}':>8}{f'NDCG@{k}':>9}{f'MAP@{k}':>8}{'cover':>8}{'users':>7}"
        rows = [
            f"{s.model:<16}{s.precision:>8.4f}{s.recall:>8.4f}{s.ndcg:>9.4f}{s.map:>8.4f}{s.coverage:>8.3f}"
            f"{s.n_users:>7d}"
            for s in scores
        ]
    return "\n".join([header, "-" * len(header), *rows])
