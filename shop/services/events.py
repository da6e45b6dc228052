"""Recording what shoppers do in the event log, with the product counter each event bumps.

Every feedback write goes through here so that the event log, the per-product counters that the
listing pages sort by, and the A/B attribution (``impression_id``) never disagree.
"""

from __future__ import annotations

from sqlalchemy import update

from shop.extensions import db
from shop.models import EVENT_KINDS, Event, Product
from shop.services.counters import COUNTER_FOR_KIND

MAX_SOURCE_LENGTH = 64


def clean_source(source: str | None) -> str | None:
    """Sources come from query strings: keep them short and printable."""
    if not source:
        return None
    cleaned = "".join(ch for ch in source if ch.isprintable())[:MAX_SOURCE_LENGTH]
    return cleaned or None


def record_event(
    product_id: int,
    kind: str,
    user_id: int | None = None,
    quantity: int = 1,
    source: str | None = None,
    impression_id: int | None = None,
) -> Event:
    """Add an event and bump its product counter in the current transaction (the caller commits)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    if quantity < 1:
        raise ValueError("quantity must be positive")
    event = Event(
        user_id=user_id,
        product_id=product_id,
        kind=kind,
        quantity=quantity,
        source=clean_source(source),
        impression_id=impression_id,
    )
    db.session.add(event)
    column = COUNTER_FOR_KIND[kind]
    db.session.execute(
        update(Product).where(Product.id == product_id).values({column.key: column + 1})
    )
    return event
