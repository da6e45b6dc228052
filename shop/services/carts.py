"""The cart and checkout: what a shopper intends to buy, and the order it becomes.

Views call these functions and commit. :func:`place_order` is the one that must be all or nothing:
order, lines, purchase events, counters and the emptied cart are written in the caller's single
transaction, so a failure anywhere rolls every part back.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import joinedload, selectinload

from shop.database import MAX_ID
from shop.extensions import db
from shop.models import CartItem, Impression, Order, OrderLine, Product, utcnow
from shop.services.events import record_event

MAX_QUANTITY = 99
CHECKOUT_SOURCE = "checkout"


class EmptyCartError(Exception):
    """Checkout was asked for with nothing in the cart."""


@dataclass(frozen=True)
class CartView:
    """The cart as the page shows it: lines with their products, and the total at today's prices."""

    items: list[CartItem]
    total: Decimal

    @property
    def count(self) -> int:
        return sum(item.quantity for item in self.items)


def cart_for(user_id: int) -> CartView:
    items = list(
        db.session.scalars(
            select(CartItem)
            .where(CartItem.user_id == user_id)
            .options(joinedload(CartItem.product))
            .order_by(CartItem.added_at, CartItem.id)
        )
    )
    total = sum((item.product.price * item.quantity for item in items), Decimal("0.00"))
    return CartView(items=items, total=total)


def cart_count(user_id: int) -> int:
    """How many units are in the cart (for a badge or a JSON answer)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(CartItem.quantity), 0)).where(CartItem.user_id == user_id)
        )
    )


def known_impression(impression_id: int | None) -> Impression | None:
    """The recommendation list a cart add came from, if the id names one (else it is ignored)."""
    if not impression_id or not 1 <= impression_id <= MAX_ID:
        return None
    return db.session.get(Impression, impression_id)


def add_to_cart(
    user_id: int,
    product: Product,
    quantity: int,
    source: str | None = None,
    impression_id: int | None = None,
) -> CartItem:
    """Add ``quantity`` (or more of it, up to 99 in all) and record the add_to_cart event."""
    impression = known_impression(impression_id)
    item = db.session.scalar(
        select(CartItem).where(CartItem.user_id == user_id, CartItem.product_id == product.id)
    )
    if item is None:
        item = CartItem(user_id=user_id, product_id=product.id, quantity=0)
        db.session.add(item)
    item.quantity = min(MAX_QUANTITY, item.quantity + quantity)
    if impression is not None:
        # the latest list that led here gets the credit at checkout
        item.impression_id = impression.id
    item.added_at = item.added_at or utcnow()
    if source is None and impression is not None:
        source = impression.source
    record_event(
        product.id,
        "add_to_cart",
        user_id=user_id,
        quantity=quantity,
        source=source or "product",
        impression_id=impression.id if impression else None,
    )
    db.session.flush()
    return item


def set_quantity(user_id: int, product_id: int, quantity: int) -> CartItem | None:
    """Set a line's quantity; 0 removes it. Returns None when the line is (now) gone."""
    item = db.session.scalar(
        select(CartItem).where(CartItem.user_id == user_id, CartItem.product_id == product_id)
    )
    if item is None:
        return None
    if quantity <= 0:
        db.session.delete(item)
        return None
    item.quantity = min(MAX_QUANTITY, quantity)
    return item


def remove_from_cart(user_id: int, product_id: int) -> bool:
    result = db.session.execute(
        delete(CartItem).where(CartItem.user_id == user_id, CartItem.product_id == product_id)
    )
    return bool(result.rowcount)


def place_order(user_id: int) -> Order:
    """Turn the cart into an order at current prices, one purchase event per line, and empty it.

    Everything happens in the caller's transaction; the caller commits (or rolls back on error).
    """
    cart = cart_for(user_id)
    if not cart.items:
        raise EmptyCartError("Your cart is empty.")
    order = Order(user_id=user_id, total=cart.total, status="placed")
    db.session.add(order)
    for item in cart.items:
        order.lines.append(
            OrderLine(
                product_id=item.product_id,
                quantity=item.quantity,
                unit_price=item.product.price,
                impression_id=item.impression_id,
            )
        )
        record_event(
            item.product_id,
            "purchase",
            user_id=user_id,
            quantity=item.quantity,
            source=CHECKOUT_SOURCE,
            impression_id=item.impression_id,
        )
    db.session.execute(delete(CartItem).where(CartItem.user_id == user_id))
    db.session.flush()
    return order


def orders_query(user_id: int):
    """The shopper's orders, newest first (for db.paginate)."""
    return (
        select(Order)
        .where(Order.user_id == user_id)
        .options(selectinload(Order.lines))
        .order_by(Order.created_at.desc(), Order.id.desc())
    )


def order_for(user_id: int, order_id: int) -> Order | None:
    """One of the shopper's own orders; another shopper's order is as good as missing."""
    return db.session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.user_id == user_id)
        .options(selectinload(Order.lines).joinedload(OrderLine.product))
    )
