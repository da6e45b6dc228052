"""The shop's rules for what may be shown and sold, read from the database at request time.

A product is *hidden* when ``listed`` is False (off sale: no list, search or sitemap shows it) and
*sold out* when its counted stock is 0 (a NULL stock is not counted and never runs out). Neither may
be recommended; hidden products are shown nowhere, sold-out ones may stay in the listing and search,
marked and placed after those in stock.

:func:`unsellable` is the one read the recommendation lists take: the ids not sellable right now, in
one query over ``ix_products_listed_stock``, kept for the rest of the request (tied to the request
object, since an app context, and so ``g``, may outlive one request), so a page with five lists asks
once. Outside a request every call reads afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from flask import g, has_request_context, request
from sqlalchemy import and_, bindparam, case, or_, select

from shop.extensions import db
from shop.models import CartItem, Product

T = TypeVar("T")


@dataclass(frozen=True)
class Unsellable:
    """Products not sellable right now: hidden, and sold out (listed, stock counted and 0)."""

    hidden: frozenset[int]
    sold_out: frozenset[int]

    @property
    def ids(self) -> frozenset[int]:
        return self.hidden | self.sold_out


def is_listed():
    """The condition every shopper-facing read of products carries."""
    return Product.listed.is_(True)


def is_sold_out():
    return and_(Product.stock.is_not(None), Product.stock <= 0)


def sold_out_last():
    """An ORDER BY key that puts sold-out products after those in stock, whatever the sort."""
    return case((is_sold_out(), 1), else_=0)


def per_request(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, read once per request and kept for the rest of it.

    Tied to the request object, since an app context (and so ``g``) may outlive one request; a
    page with five lists then asks once. Outside a request every call reads afresh.
    """
    current = request._get_current_object() if has_request_context() else None
    cached = g.get(key)
    if current is not None and cached is not None and cached[0] is current:
        return cached[1]
    found = compute()
    if current is not None:
        setattr(g, key, (current, found))
    return found


def unsellable() -> Unsellable:
    """Hidden and sold-out products, read once per request.

    The two arms of the OR each start with ``listed``, so both use ``ix_products_listed_stock``
    (a shop where everything is in stock reads no product row at all).
    """
    return per_request("_shop_unsellable", _read_unsellable)


def _read_unsellable() -> Unsellable:
    rows = db.session.execute(
        select(Product.id, Product.listed).where(
            or_(Product.listed.is_(False), and_(Product.listed.is_(True), Product.stock <= 0))
        )
    ).all()
    return Unsellable(
        hidden=frozenset(int(i) for i, listed in rows if not listed),
        sold_out=frozenset(int(i) for i, listed in rows if listed),
    )


def forget() -> None:
    """Drop this request's readings (after a write that hides or sells out a product, or changes
    the cart)."""
    for key in [key for key in g if key.startswith(("_shop_unsellable", "_shop_cart_ids"))]:
        g.pop(key, None)


def cart_lines(user_id: int) -> Mapping[int, int]:
    """The shopper's cart as product id -> units, read once per request: the header's count and
    the rows that leave carted products out ask the same statement."""
    return per_request(
        f"_shop_cart_ids_{user_id}",
        lambda: dict(db.session.execute(_CART_LINES, {"user_id": user_id}).all()),
    )


#: Built once (each page of a signed-in shopper runs it).
_CART_LINES = select(CartItem.product_id, CartItem.quantity).where(
    CartItem.user_id == bindparam("user_id")
)


def cart_product_ids(user_id: int | None) -> frozenset[int]:
    """Products in the shopper's cart (read once per request): recommendation rows leave them out."""
    if user_id is None:
        return frozenset()
    return frozenset(cart_lines(user_id))
