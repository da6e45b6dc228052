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
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from shop.database import MAX_ID
from shop.extensions import db
from shop.models import Category, CategoryBoost, CategoryPin, Product
from shop.services import audit
from shop.services.availability import per_request

MAX_PINS = 3
FEATURED = "Featured"
BOOST_WEIGHT = 1.5
BURY_WEIGHT = 0.5
MAX_NOTE = 200

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


def boost_status(boost: CategoryBoost, on: date | None = None) -> str:
    """The word the admin page shows for a boost on ``on`` (today): running, scheduled or ended."""
    day = on or today()
    if boost.ends_on < day:
        return "ended"
    if boost.starts_on > day:
        return "scheduled"
    return "running"


def find_product(reference: str) -> Product | None:
    """The product an admin names by its id or its SKU (SKUs are unique whatever their case)."""
    reference = reference.strip()
    if not reference:
        return None
    if reference.isascii() and reference.isdigit() and 0 < int(reference) <= MAX_ID:
        product = db.session.get(Product, int(reference))
        if product is not None:
            return product
    return db.session.scalar(
        select(Product).where(func.lower(Product.sku) == reference.lower()).limit(1)
    )


def pin_candidates(category_id: int, limit: int = 100) -> list[Product]:
    """A category's listed products, most popular first: the suggestions of its pin form."""
    return list(
        db.session.scalars(
            select(Product)
            .where(Product.category_id == category_id, Product.listed.is_(True))
            .order_by(Product.click_count.desc(), Product.id)
            .limit(limit)
        )
    )


def pin_note(pin: CategoryPin) -> str | None:
    """Why a pin is not shown right now (hidden, sold out, moved), or None when it is."""
    product = pin.product
    if not product.listed:
        return "hidden: skipped until listed again"
    if product.sold_out:
        return "sold out: skipped until restocked"
    if product.category_id != pin.category_id:
        return "moved to another category: skipped"
    return None


def active_boosts(on: date | None = None) -> dict[int, float]:
    """Weight per category for boosts running on ``on`` (today); overlapping ones multiply.

    Read once per request (the home page's lists all ask).
    """
    if on is not None:
        return _read_boosts(on)
    return per_request("_shop_boosts", lambda: _read_boosts(today()))


def _read_boosts(day: date) -> dict[int, float]:
    weights: dict[int, float] = {}
    rows = db.session.execute(
        select(CategoryBoost.category_id, CategoryBoost.weight).where(
            CategoryBoost.starts_on <= day, CategoryBoost.ends_on >= day
        )
    )
    for category_id, weight in rows:
        weights[category_id] = weights.get(category_id, 1.0) * float(weight)
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
    """A pin or boost the rules do not allow; the message says why, ``field`` where it belongs."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def check_pin(category: Category, product: Product, position: int) -> None:
    """Refuse a pin the rules do not allow: at most MAX_PINS per category, a free position in
    1..MAX_PINS, a listed product of that category not already pinned there."""
    rows = db.session.scalars(
        select(CategoryPin)
        .options(joinedload(CategoryPin.product))
        .where(CategoryPin.category_id == category.id)
    )
    pins = {pin.position: pin for pin in rows}
    if product.category_id != category.id:
        where = product.category.name if product.category is not None else "no category"
        raise MerchandisingRefused(
            f"{product.name} is in {where}, not {category.name}; only a category's own products "
            "can be pinned there.",
            "product",
        )
    if not product.listed:
        raise MerchandisingRefused(
            f"{product.name} is hidden from shoppers; list it again before pinning it.", "product"
        )
    for pin in pins.values():
        if pin.product_id == product.id:
            raise MerchandisingRefused(
                f"{product.name} is already pinned in {category.name} at position {pin.position}.",
                "product",
            )
    if len(pins) >= MAX_PINS:
        raise MerchandisingRefused(
            f"{category.name} already has {MAX_PINS} pinned products; remove one first.", "product"
        )
    if not 1 <= position <= MAX_PINS:
        raise MerchandisingRefused(f"Choose a position from 1 to {MAX_PINS}.", "position")
    if position in pins:
        raise MerchandisingRefused(
            f"Position {position} is taken by {pins[position].product.name}; choose another "
            "or remove that pin first.",
            "position",
        )


def add_pin(category: Category, product: Product, position: int) -> CategoryPin:
    """Pin ``product`` at ``position``; raises MerchandisingRefused (nothing stored) if not allowed.

    The flush runs in a savepoint: a pin stored meanwhile by another admin (PostgreSQL lets two
    requests check at once) trips the unique constraints and is reported, not a 500.
    """
    check_pin(category, product, position)
    pin = CategoryPin(category_id=category.id, product_id=product.id, position=position)
    try:
        with db.session.begin_nested():
            db.session.add(pin)
    except IntegrityError as exc:
        raise MerchandisingRefused(
            "Another pin was stored meanwhile; reload the page and try again.", "position"
        ) from exc
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


def check_boost(weight: float, starts_on: date, ends_on: date, note: str = "") -> None:
    if not (weight > 0 and weight != 1):
        raise MerchandisingRefused("A weight must be above 1 (boost) or below 1 (bury).", "kind")
    if ends_on < starts_on:
        raise MerchandisingRefused("The end date must be on or after the start date.", "ends_on")
    if len(note) > MAX_NOTE:
        raise MerchandisingRefused(f"Keep the note to {MAX_NOTE} characters.", "note")


def add_boost(
    category: Category, weight: float, starts_on: date, ends_on: date, note: str = ""
) -> CategoryBoost:
    """Boost (weight > 1) or bury (< 1) a category from ``starts_on`` to ``ends_on`` inclusive."""
    check_boost(weight, starts_on, ends_on, note)
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
