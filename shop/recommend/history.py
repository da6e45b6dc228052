"""Stage 1 of the pipeline, history lookup: one shopper's events coded as small arrays over the catalogue.

The request path and the fit-time validation both go through ``code_shopper``, so what the ranker is
trained on is exactly what a request computes. A frame from the shop (``shopper_from_frame``) and coded
event arrays (validation) meet in the same function.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .frames import FINAL_CODES, RATING, kind_codes, to_epoch_days, weights_from_codes
from .neighbours import unique_inverse


class Shopper(NamedTuple):
    """One shopper's history as arrays over catalogue positions."""

    items: np.ndarray  # products with some interest, sorted
    strengths: np.ndarray  # log-damped, recency-weighted interest per product in ``items``
    final: np.ndarray  # bought, rated or liked products, sorted
    rated_items: np.ndarray  # rated products, sorted
    ratings: np.ndarray  # latest stars per product in ``rated_items``
    touched: np.ndarray  # catalogue position of every known event, for explanations
    codes: np.ndarray  # kind code of every known event
    history_items: np.ndarray  # np.unique(touched): every product the shopper has touched
    newest_day: float  # day of the newest event (NaN if no timestamps)

    @classmethod
    def empty(cls) -> Shopper:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, np.zeros(0), none, none, np.zeros(0), none, none, none, float("nan"))

    @property
    def size(self) -> int:
        """Distinct products the shopper has touched."""
        return len(self.history_items)


class CatalogIndex:
    """Product id -> catalogue position, a dict lookup (cheaper than pandas for a history)."""

    def __init__(self, product_ids: pd.Index) -> None:
        self.product_index = product_ids
        self.ids = product_ids.tolist()
        self.index = {product_id: position for position, product_id in enumerate(self.ids)}

    def positions(self, product_ids: Sequence[Hashable]) -> np.ndarray:
        """Catalogue positions of ids (-1 if unknown)."""
        index = self.index
        try:
            return np.fromiter(
                (index.get(p, -1) for p in product_ids), dtype=np.int64, count=len(product_ids)
            )
        except TypeError:  # unhashable ids: let pandas decide what they match
            return self.product_index.get_indexer(list(product_ids))


def code_shopper(
    items: np.ndarray,
    codes: np.ndarray,
    values: np.ndarray,
    days: np.ndarray,
    kind_weights: np.ndarray,
    half_life_days: float | None,
) -> Shopper:
    """A shopper from coded events (catalogue positions, kind codes, values, epoch days).

    Each event weighs its kind's weight (ratings scaled by stars, see ``frames.weights_from_codes``),
    decayed by its age relative to the shopper's newest event; a product's strength is the log of one
    plus its summed weights.
    """
    if len(items) == 0:
        return Shopper.empty()
    weights = weights_from_codes(codes, values, kind_weights)
    finite = np.isfinite(days)
    stamped = bool(finite.any())
    newest = float(days[finite].max()) if stamped else float("nan")
    if half_life_days and stamped:
        age = np.maximum(newest - days, 0.0)  # np.clip's result, without its checks
        weights *= np.where(finite, np.power(0.5, age / half_life_days), 1.0)
    touched, inverse = unique_inverse(items)
    strengths = np.log1p(np.bincount(inverse, weights=weights, minlength=len(touched)))
    nonzero = strengths > 0
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
    return Shopper(
        items=touched[nonzero],
        strengths=strengths[nonzero],
        final=touched[is_final],
        rated_items=rated_items,
        ratings=np.asarray(ratings, dtype=float),
        touched=items,
        codes=codes,
        history_items=touched,
        newest_day=newest,
    )


def shopper_from_frame(
    history: pd.DataFrame | None,
    catalog: CatalogIndex,
    kind_weights: np.ndarray,
    half_life_days: float | None,
) -> Shopper:
    """Code a history frame (the shop's columns); events on unknown products are ignored."""
    if history is None or len(history) == 0:
        return Shopper.empty()
    columns = stored_columns(history, HISTORY_COLUMNS)
    if "product_id" not in columns or "kind" not in columns:
        raise ValueError("a history needs product_id and kind columns")
    items = catalog.positions(columns["product_id"].tolist())
    known = items >= 0
    if not known.any():
        return Shopper.empty()
    kinds = _kind_values(columns["kind"])
    if not known.all():
        kinds = np.asarray(kinds, dtype=object)[known]
    codes = kind_codes(kinds)
    if "value" in columns:
        column = columns["value"]
        if column.dtype.kind not in "fiub":  # strings or objects from a careless caller
            column = pd.to_numeric(column, errors="coerce")
        if isinstance(column, pd.api.extensions.ExtensionArray):
            column = column.to_numpy(dtype=float)
        values = np.asarray(column, dtype=float)[known]  # a copy: safe to fill in place
        values[np.isnan(values)] = 1.0
    else:
        values = np.ones(int(known.sum()))
    days = to_epoch_days(columns.get("timestamp"), len(history))[known]
    return code_shopper(items[known], codes, values, days, kind_weights, half_life_days)


#: The columns of a history frame the engine reads.
HISTORY_COLUMNS: tuple[str, ...] = ("product_id", "kind", "value", "timestamp")


def _kind_values(kinds: Any) -> Any:
    """A kind column as something ``kind_codes`` reads: pyarrow-backed strings (pandas' default)
    as a list of str, the cheapest form to get out of Arrow (a fifth of an object array's cost),
    where no kind is missing; anything else as numpy holds it."""
    if isinstance(kinds, pd.arrays.ArrowExtensionArray):
        arrow = kinds.__arrow_array__()
        if arrow.null_count == 0:
            return arrow.to_pylist()
    if isinstance(kinds, pd.api.extensions.ExtensionArray):
        return kinds.to_numpy()  # an object array: cheaper to build than a list from pyarrow
    return kinds


def stored_columns(frame: pd.DataFrame, names: Sequence[Hashable]) -> dict[Hashable, Any]:
    """The named columns a frame has, as the arrays pandas stores them (numpy or extension arrays).

    ``frame[name]`` builds a Series around the column every time, and a request's four of them cost
    more than coding the shopper's events; the stored arrays hold the same values. Columns are
    found by name in the frame's index (listing the names of a string index costs more than the
    lookups). A frame whose column names repeat is read through pandas as before.
    """
    index = frame.columns
    present = [name for name in names if name in index]
    if not index.is_unique or not hasattr(frame, "_get_column_array"):
        return {name: frame[name].array for name in present}
    return {name: frame._get_column_array(index.get_loc(name)) for name in present}
