"""Merchandising: products an admin pins at the top of a category, categories boosted or buried.

Pins (positions 1-3 per category) go first in the category's listing sorted by popularity and in its
"Popular in ..." lists, with the honest reason "Featured". A boost (weight above 1) or a bury (below
1) multiplies the scores of the category's products in "Recommended for you" and the popular lists
while today (UTC) is inside its dates: the caller asks the engine for more candidates than it shows,
:func:`reweight` reorders them, and the list is cut; a buried category still appears, lower.

The writes flush and add their audit entry in the caller's transaction; the view commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import numpy as np
from flask import g, has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.models import Category, CategoryBoost, CategoryPin, Product
from shop.services import audit

MAX_PINS = 3
FEATURED = "Featured"
BOOST_WEIGHT = 1.5
BURY_WEIGHT = 0.5

T = TypeVar("T")


def today() -> date:
    return datetime.now(UTC).date()


# --- Reads -------------------------------------------------------------------------------------


def pinned_ids(category_id: int | None) -> list[int]:
    """A category's pinned products, position 1 first."""
    if category_id is None:
        return []
    return list(
        db.session.scalars(
            select(CategoryPin.product_id)
            .where(CategoryPin.category_id == category_id)
            .order_by(CategoryPin.position)
        )
    )


def pins_by_category() -> dict[int, list[CategoryPin]]:
    pins = db.session.scalars(
        select(CategoryPin)
        .options(joinedload(CategoryPin.product))
        .order_by(CategoryPin.category_id, CategoryPin.position)
    )
    grouped: dict[int, list[CategoryPin]] = {}
    for pin in pins:
        grouped.setdefault(pin.category_id, []).append(pin)
    return grouped


def all_boosts() -> list[CategoryBoost]:
    return list(
        db.session.scalars(
            select(CategoryBoost)
            .options(joinedload(CategoryBoost.category))
            .order_by(CategoryBoost.starts_on.desc(), CategoryBoost.id.desc())
        )
    )


def active_boosts(on: date | None = None) -> dict[int, float]:
    """Weight per category for boosts running on ``on`` (today); overlapping ones multiply.

    Read once per request (the home page's lists all ask).
    """
    current = request._get_current_object() if has_request_context() and on is None else None
    cached = g.get("_shop_boosts")
    if current is not None and cached is not None and cached[0] is current:
        return cached[1]
    day = on or today()
    weights: dict[int, float] = {}
    rows = db.session.execute(
        select(CategoryBoost.category_id, CategoryBoost.weight).where(
            CategoryBoost.starts_on <= day, CategoryBoost.ends_on >= day
        )
    )
    for category_id, weight in rows:
        weights[category_id] = weights.get(category_id, 1.0) * float(weight)
    if current is not None:
        g._shop_boosts = (current, weights)
    return weights


def reweight(
    items: Sequence[T],
    scores: Sequence[float | None],
    category_ids: Sequence[int | None],
    weights: dict[int, float],
    n: int,
) -> list[T]:
    """``items`` (best first) reordered by score x their category's weight, cut to ``n``.

    Scores are brought into [0.1, 1] first (a ranker's scores may be negative, where multiplying
    by 1.5 would lower them); without scores the rank stands in. Without weights: the first n.
    """
    if not weights or not items:
        return list(items)[:n]
    if any(s is None for s in scores):
        raw = -np.arange(len(items), dtype=float)
    else:
        raw = np.asarray(scores, dtype=float)
    low, high = float(raw.min()), float(raw.max())
    base = 0.1 + 0.9 * (raw - low) / (high - low) if high > low else np.ones(len(items))
    factor = np.array([weights.get(c, 1.0) if c is not None else 1.0 for c in category_ids])
    order = np.argsort(-(base * factor), kind="stable")[:n]
    return [items[i] for i in order.tolist()]


# --- Writes (flush; the view commits) ----------------------------------------------------------


class MerchandisingRefused(ValueError):
    """A pin or boost the rules do not allow; the message says why."""


def add_pin(category: Category, product: Product, position: int) -> CategoryPin:
    pin = CategoryPin(category_id=category.id, product_id=product.id, position=position)
    db.session.add(pin)
    db.session.flush()
    audit.record(
        "merch.pin",
        "category",
        category.id,
        f"Pinned {product.name} at position {position} in {category.name}",
        after={"product_id": product.id, "position": position},
    )
    return pin


def remove_pin(pin: CategoryPin) -> None:
    audit.record(
        "merch.unpin",
        "category",
        pin.category_id,
        f"Unpinned {pin.product.name} from {pin.category.name}",
        before={"product_id": pin.product_id, "position": pin.position},
    )
    db.session.delete(pin)
    db.session.flush()


def add_boost(
    category: Category, weight: float, starts_on: date, ends_on: date, note: str = ""
) -> CategoryBoost:
    boost = CategoryBoost(
        category_id=category.id, weight=weight, starts_on=starts_on, ends_on=ends_on, note=note
    )
    db.session.add(boost)
    db.session.flush()
    verb = "Boosted" if weight > 1 else "Buried"
    audit.record(
        "merch.boost",
        "category",
        category.id,
        f"{verb} {category.name} ({weight:g}x) from {starts_on} to {ends_on}",
        after=_boost_fields(boost),
    )
    return boost


def remove_boost(boost: CategoryBoost) -> None:
    audit.record(
        "merch.unboost",
        "category",
        boost.category_id,
        f"Ended the {boost.weight:g}x weight on {boost.category.name}",
        before=_boost_fields(boost),
    )
    db.session.delete(boost)
    db.session.flush()


def _boost_fields(boost: CategoryBoost) -> dict[str, Any]:
    return audit.snapshot(boost, ("weight", "starts_on", "ends_on", "note"))
