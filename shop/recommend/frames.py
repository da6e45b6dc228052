"""Input frames: the column contract with the shop, and the conversion into integer-coded arrays.

Every model works on integer item indices into one catalogue; this module is the single place where ids,
kinds and timestamps from the outside world are checked and translated, so the models never see pandas
quirks (tz-aware vs naive timestamps, string ids, NaN categories).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

INTERACTION_COLUMNS: tuple[str, ...] = ("user_id", "product_id", "kind", "value", "timestamp")
PRODUCT_COLUMNS: tuple[str, ...] = ("product_id", "name", "description", "category", "price")
KINDS: tuple[str, ...] = ("view", "click", "add_to_cart", "like", "purchase", "rating")
#: Kinds after which a product is not recommended to the same shopper again.
FINAL_KINDS: frozenset[str] = frozenset({"purchase", "rating", "like"})

#: How much one event says about a shopper's interest, relative to a view. Ratings are mapped per star
#: (see implicit_weights), so a one-star rating is not read as interest.
DEFAULT_KIND_WEIGHTS: Mapping[str, float] = {
    "view": 1.0,
    "click": 2.0,
    "add_to_cart": 4.0,
    "like": 5.0,
    "purchase": 8.0,
    "rating": 5.0,
}

_SECONDS_PER_DAY = 86_400.0


def interactions_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Build the interactions frame the engine expects from database rows (dicts or a DataFrame).

    The shop reads its event tables into plain dicts; this helper fills defaults (value 1, user_id None)
    and parses timestamps as UTC so that every caller hands the engine the same shape.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    for column in INTERACTION_COLUMNS:
        if column not in frame.columns:
            frame[column] = 1.0 if column == "value" else None
    frame = frame.loc[:, list(INTERACTION_COLUMNS)]
    frame["kind"] = frame["kind"].astype(str)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").fillna(1.0).astype(float)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.reset_index(drop=True)


def products_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Build the products frame from database rows; missing text columns become empty strings."""
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    for column in (*PRODUCT_COLUMNS, "brand"):
        if column not in frame.columns:
            frame[column] = np.nan if column == "price" else ""
    return frame.reset_index(drop=True)


def check_interactions(interactions: pd.DataFrame, *, need_user: bool = True) -> None:
    """Fail early with a readable message instead of deep inside a sparse matrix constructor."""
    if not isinstance(interactions, pd.DataFrame):
        raise TypeError(
            f"interactions must be a pandas DataFrame, got {type(interactions).__name__}"
        )
    required = [c for c in INTERACTION_COLUMNS if need_user or c != "user_id"]
    missing = [
        c for c in required if c not in interactions.columns and c not in ("value", "timestamp")
    ]
    if missing:
        raise ValueError(
            f"interactions lack columns {missing}; expected {list(INTERACTION_COLUMNS)}"
        )
    if "kind" in interactions.columns and len(interactions):
        unknown = set(pd.unique(interactions["kind"].astype(str))) - set(KINDS)
        if unknown:
            raise ValueError(
                f"unknown interaction kinds {sorted(unknown)}; expected one of {list(KINDS)}"
            )


def to_epoch_days(timestamps: pd.Series | None, length: int) -> np.ndarray:
    """Timestamps as float days since the epoch; naive values are taken as UTC, missing ones as NaN."""
    if timestamps is None:
        return np.full(length, np.nan)
    parsed = pd.to_datetime(pd.Series(timestamps).reset_index(drop=True), utc=True)
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=float, na_value=np.nan) / _SECONDS_PER_DAY


def implicit_weights(
    kinds: np.ndarray, values: np.ndarray, kind_weights: Mapping[str, float]
) -> np.ndarray:
    """Per-event interest weight: the kind's weight, with ratings scaled so only 3+ stars count as interest."""
    weights = np.zeros(len(kinds), dtype=float)
    for kind in KINDS:
        mask = kinds == kind
        if not mask.any():
            continue
        weight = float(kind_weights.get(kind, 0.0))
        if kind == "rating":
            # 5 stars -> full weight, 4 -> 3/4, 3 -> 1/4, 1-2 -> nothing: a poor rating is not interest.
            weights[mask] = weight * np.clip(values[mask] - 2.0, 0.0, 3.0) / 3.0
        else:
            weights[mask] = weight
    return weights


@dataclass(frozen=True)
class Events:
    """Integer-coded events restricted to the catalogue; the common input of every model's fit."""

    users: np.ndarray  # int codes into user_ids
    items: np.ndarray  # int codes into the catalogue
    kinds: np.ndarray  # str kind per event
    values: np.ndarray  # float value per event
    days: np.ndarray  # float days since epoch (NaN if unknown)
    user_ids: pd.Index
    n_items: int

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def __len__(self) -> int:
        return len(self.items)


def encode_events(interactions: pd.DataFrame, product_index: pd.Index) -> Events:
    """Code users and items as integers; events on products outside the catalogue are dropped.

    Dropping (rather than adding unknown products) keeps the engine from recommending products the shop no
    longer lists.
    """
    check_interactions(interactions)
    items = product_index.get_indexer(interactions["product_id"])
    keep = items >= 0
    frame = interactions.loc[keep]
    user_codes, user_ids = pd.factorize(frame["user_id"], sort=False)
    values = (
        pd.to_numeric(frame["value"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
        if "value" in frame.columns
        else np.ones(len(frame))
    )
    days = to_epoch_days(frame["timestamp"] if "timestamp" in frame.columns else None, len(frame))
    return Events(
        users=np.asarray(user_codes, dtype=np.int64),
        items=items[keep].astype(np.int64),
        kinds=frame["kind"].astype(str).to_numpy(dtype=object),
        values=values,
        days=days,
        user_ids=pd.Index(user_ids),
        n_items=len(product_index),
    )


def decay(days: np.ndarray, reference: float, half_life_days: float | None) -> np.ndarray:
    """Exponential time decay so that recent events weigh more; unknown times and no half-life weigh 1."""
    if half_life_days is None or half_life_days <= 0 or not np.isfinite(reference):
        return np.ones(len(days))
    age = np.clip(reference - days, 0.0, None)
    out = np.power(0.5, age / half_life_days)
    out[~np.isfinite(out)] = 1.0
    return out


def strength_matrix(
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    shape: tuple[int, int],
) -> sp.csr_matrix:
    """Sum event weights per (user, item) and damp with log1p, so one heavy user cannot dominate an item."""
    matrix = sp.csr_matrix((weights, (users, items)), shape=shape, dtype=np.float64)
    matrix.sum_duplicates()
    matrix.data = np.log1p(matrix.data)
    matrix.eliminate_zeros()
    return matrix
