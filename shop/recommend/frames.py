"""Input frames: the column contract with the shop, and the conversion into integer-coded arrays.

Every model works on integer item indices into one catalogue; this module is the single place where ids,
kinds and timestamps from the outside world are checked and translated, so the models never see pandas
quirks (tz-aware vs naive timestamps, string ids, NaN categories).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

INTERACTION_COLUMNS: tuple[str, ...] = ("user_id", "product_id", "kind", "value", "timestamp")
PRODUCT_COLUMNS: tuple[str, ...] = ("product_id", "name", "description", "category", "price")
KINDS: tuple[str, ...] = ("view", "click", "add_to_cart", "like", "purchase", "rating")
#: Kinds after which a product is not recommended to the same shopper again.
FINAL_KINDS: frozenset[str] = frozenset({"purchase", "rating", "like"})

#: How much one event says about a shopper's interest, relative to a view. Ratings are scaled per star
#: (see implicit_weights): even a one-star rating says the shopper tried the product.
DEFAULT_KIND_WEIGHTS: Mapping[str, float] = {
    "view": 1.0,
    "click": 2.0,
    "add_to_cart": 4.0,
    "like": 5.0,
    "purchase": 8.0,
    "rating": 5.0,
}

_UNITS_PER_DAY = {"s": 86_400.0, "ms": 86_400e3, "us": 86_400e6, "ns": 86_400e9}
_KIND_INDEX = pd.Index(KINDS)
_KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}
RATING = KINDS.index("rating")
#: Lookup table: is the kind with this code one of FINAL_KINDS?
FINAL_CODES = np.array([kind in {"purchase", "rating", "like"} for kind in KINDS])


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
        kind_codes(interactions["kind"].to_numpy(dtype=object))


def to_epoch_days(
    timestamps: pd.Series | pd.arrays.DatetimeArray | None, length: int
) -> np.ndarray:
    """Timestamps as float days since the epoch; naive values are taken as UTC, missing ones as NaN."""
    if timestamps is None:
        return np.full(length, np.nan)
    # A Series or a frame's stored datetime array is read as it is: wrapping it in a new Series costs
    # more than the rest of this function.
    if isinstance(timestamps, pd.arrays.DatetimeArray):
        array = timestamps
    else:
        array = (timestamps if isinstance(timestamps, pd.Series) else pd.Series(timestamps)).array
    if not isinstance(array, pd.arrays.DatetimeArray):
        array = pd.to_datetime(
            pd.Series(timestamps), utc=True
        ).array  # strings, objects: parse (slow)
    # Naive and aware datetimes both store instants as integers in their unit (UTC for aware ones), so
    # reading the integers directly avoids pandas conversions on the request path.
    raw = array.asi8
    unit = array.unit if hasattr(array, "unit") else "ns"
    days = raw.astype(np.float64) / _UNITS_PER_DAY[unit]
    days[raw == np.iinfo(np.int64).min] = np.nan  # NaT
    return days


def kind_codes(kinds: np.ndarray | Sequence[Any]) -> np.ndarray:
    """Kinds as integer codes into KINDS (a hash lookup, cheap for big arrays); unknown kinds raise."""
    if len(kinds) < 256:  # a shopper's history: a dict lookup beats pandas' hashing set-up
        found = list(map(_KIND_CODE.get, kinds, repeat(-1, len(kinds))))
        codes = np.array(found, dtype=np.int64)
        unknown = -1 in found
    else:
        codes = _KIND_INDEX.get_indexer(np.asarray(kinds, dtype=object))
        unknown = bool((codes < 0).any())
    if unknown:
        names = sorted({str(k) for k in np.asarray(kinds, dtype=object)[codes < 0]})
        raise ValueError(f"unknown interaction kinds {names}; expected one of {list(KINDS)}")
    return codes


def implicit_weights(
    kinds: np.ndarray, values: np.ndarray, kind_weights: Mapping[str, float]
) -> np.ndarray:
    """Per-event interest weight: the kind's weight, with ratings scaled by their stars."""
    return weights_from_codes(kind_codes(kinds), values, kind_weights)


def kind_weight_table(kind_weights: Mapping[str, float]) -> np.ndarray:
    """Weight per kind code (KINDS order); kinds missing from the mapping weigh nothing."""
    return np.array([float(kind_weights.get(kind, 0.0)) for kind in KINDS])


def weights_from_codes(
    codes: np.ndarray, values: np.ndarray, kind_weights: Mapping[str, float] | np.ndarray
) -> np.ndarray:
    """implicit_weights for already coded kinds (the request path codes them once).

    ``kind_weights`` may be a ``kind_weight_table`` already, as the request path keeps one.
    """
    table = (
        kind_weights if isinstance(kind_weights, np.ndarray) else kind_weight_table(kind_weights)
    )
    weights = table[codes]
    rated = codes == RATING
    if rated.any():
        # A rating is interest as well as taste: the shopper tried the product. 5 stars -> full weight,
        # 3 -> 0.6, 1 -> 0.2; how much they liked it reaches the ranker as features of its own.
        stars = np.clip(np.asarray(values, dtype=float)[rated], 1.0, 5.0)
        weights[rated] *= 0.2 + 0.8 * (stars - 1.0) / 4.0
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
