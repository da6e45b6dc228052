"""What a fit measures: the engine's offline quality on this shop's data, as a JSON-ready dict.

The training run stores it in ``run.metrics``; :mod:`shop.training.report` turns it into the tables
the model page and ``flask evaluate`` show.

``run.metrics`` has this shape (every section may instead hold ``{"skipped": "<why>"}``)::

    {"k": 10,
     "topn": {"split": {"protocol": "time", "cut": iso-time, "end": iso-time (the last event),
                        "n_train": int, "n_test_users": int, "n_test_pairs": int},
              "models": {"popularity": {"precision": f, "recall": f, "ndcg": f, "map": f,
                                        "coverage": f, "n_users": int}, "svd": {...}, ...,
                         "ease": {...}, "hybrid": {...}}},
     "topn_random": {"split": {"protocol": "random", "test_fraction": 0.25, "seed": int, ...},
                     "models": {...}},
     "ratings": {"models": {"global_mean": {"rmse": f, "mae": f, "n_test": int},
                            "baseline_only": {...}, "svd": {...}}},
     "seconds": {"read": f, "fit": f, "evaluate": f, "save": f, "total": f},
     "training_log": {"window_limit": int or None, "window_events": int, "log_events": int,
                      "als_events": int}}

``training_log`` says how much of the log the fit saw: the engine and this evaluation the most
recent ``window_events`` (at most ``window_limit``, None for the whole log) of ``log_events``,
the served ALS ``als_events`` (the whole log's, on products of the catalogue, on the spark backend).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

TOPN_VARIANTS = ("popularity", "content", "itemknn", "als", "svd", "hybrid")
#: How top-n lists are evaluated: "time" trains on the past and tests on each shopper's later
#: positives; "random" holds out a seeded random quarter of each shopper's products.
PROTOCOLS = ("time", "random")
RANDOM_TEST_FRACTION = 0.25


def _topn_section(scores) -> dict[str, dict[str, float]]:
    return {
        s.model: {
            "precision": s.precision,
            "recall": s.recall,
            "ndcg": s.ndcg,
            "map": s.map,
            "coverage": s.coverage,
            "n_users": s.n_users,
        }
        for s in scores
    }


def topn_variants() -> tuple[str, ...]:
    """The models the top-n tables score: the usual ones the engine offers, and EASE when it has it.

    Read from the engine at run time, so a build that adds or drops a variant changes the tables
    without touching this module. Popularity and EASE are the yardsticks the hybrid is judged by.
    """
    from shop.recommend import VARIANTS

    usual = [v for v in TOPN_VARIANTS if v in VARIANTS and v != "hybrid"]
    if "ease" in VARIANTS and "ease" not in usual:
        usual.append("ease")
    return (*usual, "hybrid") if "hybrid" in VARIANTS else tuple(usual)


def topn_key(protocol: str) -> str:
    """The metrics section a protocol's table lives in ("topn" for the time split, as before)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {list(PROTOCOLS)}")
    return "topn" if protocol == "time" else f"topn_{protocol}"


def _protocol_split(interactions: pd.DataFrame, protocol: str, random_state: int):
    """The split a protocol evaluates on, and how it was made (for the tables' captions)."""
    from shop.recommend import random_split, time_split

    if protocol == "time":
        split = time_split(interactions)
        end = pd.to_datetime(interactions["timestamp"], utc=True).max()
        return split, {"protocol": "time", "cut": split.cut.isoformat(), "end": end.isoformat()}
    split = random_split(
        interactions, test_fraction=RANDOM_TEST_FRACTION, random_state=random_state
    )
    return split, {
        "protocol": "random",
        "test_fraction": RANDOM_TEST_FRACTION,
        "seed": random_state,
    }


def _topn_protocol(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    protocol: str,
    *,
    k: int,
    max_users: int | None,
    random_state: int,
) -> dict[str, Any]:
    from shop.recommend import evaluate_topn

    try:
        split, described = _protocol_split(interactions, protocol, random_state)
        if split.train.empty or split.test.empty:
            raise ValueError(f"the {protocol} split left no training events or no test positives")
        scores = evaluate_topn(
            interactions,
            products,
            k=k,
            split=split,
            variants=topn_variants(),
            max_users=max_users,
            random_state=random_state,
        )
    except ValueError as exc:
        return {"skipped": str(exc)}
    return {
        "split": {
            **described,
            "n_train": len(split.train),
            "n_test_users": int(split.test["user_id"].nunique()),
            "n_test_pairs": len(split.test),
        },
        "models": _topn_section(scores),
    }


def evaluate_shop(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    *,
    k: int = 10,
    max_users: int | None = 2000,
    random_state: int = 0,
    protocols: tuple[str, ...] = ("time",),
) -> dict[str, Any]:
    """Offline quality of every model on this shop's data, as a JSON-ready dict (see module doc).

    Top-n metrics come from each protocol in ``protocols``: the time split (train on the past, test
    on each shopper's later positives of products new to them) and the random per-user holdout
    (a seeded quarter of each shopper's products held out). Rating error comes from a random split
    of the explicit ratings, as the prototype measured it. A part that the data cannot support (too
    few ratings, nothing after the cut) is reported as skipped with the reason instead of failing
    the whole evaluation.
    """
    from shop.recommend import evaluate_ratings

    out: dict[str, Any] = {"k": k}
    for protocol in protocols:
        out[topn_key(protocol)] = _topn_protocol(
            interactions,
            products,
            protocol,
            k=k,
            max_users=max_users,
            random_state=random_state,
        )
    try:
        rating_scores = evaluate_ratings(interactions, random_state=random_state)
        out["ratings"] = {
            "models": {
                s.model: {"rmse": s.rmse, "mae": s.mae, "n_test": s.n_test} for s in rating_scores
            }
        }
    except ValueError as exc:
        out["ratings"] = {"skipped": str(exc)}
    return out
