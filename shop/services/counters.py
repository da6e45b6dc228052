"""The product counters the listing pages sort by: bumped by live writes, rebuilt in bulk.

Live requests bump the counters one event, like or rating at a time (:func:`bump_counters`, and
``shop.services.events.record_event`` through :data:`COUNTER_FOR_KIND`). Bulk writers — the seeder,
the retail importer — skip that and call :func:`recompute_product_counters` once at the end, which
also repairs any drift. Each counter is a correlated subquery over an indexed column, so the whole
rebuild is one UPDATE that gives exactly what a direct COUNT over the source table gives.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from shop.extensions import db
from shop.models import Event, Like, Product, Rating

COUNTER_FOR_KIND = {
    "view": Product.view_count,
    "click": Product.click_count,
    "add_to_cart": Product.cart_count,
    "purchase": Product.purchase_count,
}


def bump_counters(product_id: int, **deltas: int) -> None:
    """Add to named counters (``like_count=1``, ``rating_sum=4, rating_count=1``) atomically."""
    values = {name: getattr(Product, name) + delta for name, delta in deltas.items() if delta}
    if values:
        db.session.execute(update(Product).where(Product.id == product_id).values(values))


def _count_events(kind: str):
    return (
        select(func.count(Event.id))
        .where(Event.product_id == Product.id, Event.kind == kind)
        .scalar_subquery()
    )


def recompute_product_counters() -> None:
    """Set every product's counters from events, likes and ratings (the caller commits)."""
    # The same kind-to-counter map the live requests bump, so the two can never disagree.
    values = {column.key: _count_events(kind) for kind, column in COUNTER_FOR_KIND.items()}
    values["like_count"] = (
        select(func.count(Like.id)).where(Like.product_id == Product.id).scalar_subquery()
    )
    values["rating_count"] = (
        select(func.count(Rating.id)).where(Rating.product_id == Product.id).scalar_subquery()
    )
    values["rating_sum"] = (
        select(func.coalesce(func.sum(Rating.stars), 0))
        .where(Rating.product_id == Product.id)
        .scalar_subquery()
    )
    db.session.execute(update(Product).values(values))
