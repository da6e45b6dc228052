"""A visitor's cart, kept in the signed session cookie until sign-in merges it into the account's.

Sign-in and sign-up hand the lines to :func:`shop.services.carts.merge_lines`. The cookie holds only ``{product id: quantity}``; names, prices and stock are read afresh for every
page, so the same stock rules and labels apply as to an account's cart. The number of lines is
capped so that the cookie stays well under the browsers' 4 KB limit.
"""

from __future__ import annotations

from flask import session
from sqlalchemy import select

from shop.database import MAX_ID
from shop.extensions import db
from shop.models import Product
from shop.services.carts import MAX_QUANTITY, CartView, SessionLine, check_available, view_of
from shop.services.events import record_event
from shop.services.stock import NotAvailable

SESSION_KEY = "cart"
MAX_LINES = 50


class CartFull(Exception):
    """The visitor's cart already has MAX_LINES different products."""

    message = f"Your cart holds {MAX_LINES} different products, the most it can before you sign in."


def lines() -> dict[int, int]:
    """The visitor's lines, in the order they were added; anything malformed is ignored."""
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, dict):
        return {}
    kept: dict[int, int] = {}
    for key, quantity in raw.items():
        good_key = isinstance(key, str) and key.isdigit() and len(key) < 11
        good_quantity = isinstance(quantity, int) and 1 <= quantity <= MAX_QUANTITY
        if good_key and good_quantity and 1 <= int(key) <= MAX_ID:
            kept[int(key)] = quantity
    return kept


def _save(new_lines: dict[int, int]) -> None:
    if new_lines:
        session[SESSION_KEY] = {str(k): v for k, v in new_lines.items()}
    else:
        session.pop(SESSION_KEY, None)


def count() -> int:
    """Units in the cart, counting only products that still exist (as the cart page does)."""
    return view().count if SESSION_KEY in session else 0


def add(product: Product, quantity: int, source: str | None = None) -> int:
    """Add ``quantity`` (up to 99 in all) and record a visitor's add_to_cart event; returns the
    line's new quantity. Raises NotAvailable or CartFull, and then changes nothing."""
    current = lines()
    if product.id not in current and len(current) >= MAX_LINES:
        raise CartFull()
    new_quantity = min(MAX_QUANTITY, current.get(product.id, 0) + quantity)
    check_available(product, new_quantity)
    current[product.id] = new_quantity
    record_event(product.id, "add_to_cart", quantity=quantity, source=source or "product")
    db.session.flush()
    _save(current)
    return new_quantity


def set_quantity(product_id: int, quantity: int) -> int | None:
    """Set a line's quantity (0 removes it); None when the line is (now) gone. Raising the
    quantity past what is left raises NotAvailable, lowering it is always allowed."""
    current = lines()
    if product_id not in current:
        return None
    if quantity <= 0:
        del current[product_id]
        _save(current)
        return None
    if quantity > current[product_id]:
        product = db.session.get(Product, product_id)
        if product is None:
            raise NotAvailable(product_id, "This product", 0, quantity, listed=False)
        check_available(product, min(MAX_QUANTITY, quantity))
    current[product_id] = min(MAX_QUANTITY, quantity)
    _save(current)
    return current[product_id]


def remove(product_id: int) -> bool:
    current = lines()
    removed = current.pop(product_id, None) is not None
    _save(current)
    return removed


def view() -> CartView:
    """The visitor's cart for the page; products deleted since they were added are left out."""
    current = lines()
    if not current:
        return view_of([])
    products = {
        p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(list(current))))
    }
    return view_of(
        [SessionLine(products[pid], qty) for pid, qty in current.items() if pid in products]
    )


def take() -> dict[int, int]:
    """The visitor's lines, removed from the session (sign-in merges them into the account)."""
    taken = lines()
    session.pop(SESSION_KEY, None)
    return taken


def clear() -> None:
    session.pop(SESSION_KEY, None)
