"""The cart and checkout: what a shopper intends to buy, and the order it becomes.

Views call these functions and commit. :func:`place_order` is the one that must be all or nothing:
order, lines, the stock it takes, its 'placed' history event, purchase events, counters and the
emptied cart are written in the caller's single transaction, so a failure anywhere (a line that
has just sold out included) rolls every part back and leaves the cart as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import joinedload, selectinload

from shop.database import MAX_ID
from shop.extensions import db
from shop.models import (
    CartItem,
    Impression,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Product,
    utcnow,
)
from shop.services import activity, checkout, stock
from shop.services.checkout import CheckoutDetails
from shop.services.events import record_event
from shop.services.stock import NotAvailable

MAX_QUANTITY = 99
CHECKOUT_SOURCE = "checkout"


class EmptyCartError(Exception):
    """Checkout was asked for with nothing in the cart."""


@dataclass(frozen=True)
class LineNote:
    """What the cart says about one line's stock, and whether it stops checkout."""

    label: str
    blocks: bool


@dataclass(frozen=True)
class SessionLine:
    """A line of a visitor's cart (kept in the session), shaped like a CartItem for the page."""

    product: Product
    quantity: int
    impression_id: int | None = None

    @property
    def product_id(self) -> int:
        return self.product.id


@dataclass(frozen=True)
class CartView:
    """The cart as the page shows it: lines with their products, and the total at today's prices.

    ``notes`` maps a product id to its stock note ("Only 3 left", "Out of stock", "No longer on
    sale"); ``blocked`` is why checkout cannot go ahead, or None.
    """

    items: list[CartItem] | list[SessionLine]
    total: Decimal
    notes: dict[int, LineNote]
    blocked: str | None

    @property
    def count(self) -> int:
        return sum(item.quantity for item in self.items)


def check_available(product: Product, quantity: int) -> None:
    """Raise NotAvailable when ``quantity`` units of ``product`` cannot be sold right now."""
    if not product.listed:
        raise NotAvailable(product.id, product.name, 0, quantity, listed=False)
    if product.stock is not None and product.stock < quantity:
        raise NotAvailable(product.id, product.name, int(product.stock), quantity)


def _line_note(item: CartItem | SessionLine) -> LineNote | None:
    product = item.product
    if not product.listed:
        return LineNote("No longer on sale", blocks=True)
    level = stock.level(product)
    if level.sold_out:
        return LineNote("Out of stock", blocks=True)
    if level.counted and level.available < item.quantity:
        return LineNote(f"Only {level.available} left", blocks=True)
    if level.low:
        return LineNote(level.label, blocks=False)
    return None


def cart_for(user_id: int) -> CartView:
    items = list(
        db.session.scalars(
            select(CartItem)
            .where(CartItem.user_id == user_id)
            .options(joinedload(CartItem.product))
            .order_by(CartItem.added_at, CartItem.id)
        )
    )
    return view_of(items)


def view_of(items: list[CartItem] | list[SessionLine]) -> CartView:
    """The page's view of cart lines, an account's or a visitor's: one set of stock rules."""
    total = sum((item.product.price * item.quantity for item in items), Decimal("0.00"))
    notes = {item.product_id: note for item in items if (note := _line_note(item)) is not None}
    blocking = [
        item for item in items if item.product_id in notes and notes[item.product_id].blocks
    ]
    blocked = None
    if blocking:
        names = ", ".join(item.product.name for item in blocking)
        blocked = f"Change or remove what cannot be sold as it is ({names}) to check out."
    return CartView(items=items, total=total, notes=notes, blocked=blocked)


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
    """Add ``quantity`` (or more of it, up to 99 in all) and record the add_to_cart event.

    Raises NotAvailable for a hidden or sold-out product, or when the cart would then hold more
    units than are left.
    """
    impression = known_impression(impression_id)
    item = db.session.scalar(
        select(CartItem).where(CartItem.user_id == user_id, CartItem.product_id == product.id)
    )
    check_available(product, min(MAX_QUANTITY, (item.quantity if item else 0) + quantity))
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
    """Set a line's quantity; 0 removes it. Returns None when the line is (now) gone.

    Raises NotAvailable when more units are asked for than the product has left (or it is off
    sale); lowering a quantity is always allowed.
    """
    item = db.session.scalar(
        select(CartItem).where(CartItem.user_id == user_id, CartItem.product_id == product_id)
    )
    if item is None:
        return None
    if quantity <= 0:
        db.session.delete(item)
        return None
    if quantity > item.quantity:
        check_available(item.product, min(MAX_QUANTITY, quantity))
    item.quantity = min(MAX_QUANTITY, quantity)
    return item


def remove_from_cart(user_id: int, product_id: int) -> bool:
    result = db.session.execute(
        delete(CartItem).where(CartItem.user_id == user_id, CartItem.product_id == product_id)
    )
    if result.rowcount:
        activity.bump(user_id)
    return bool(result.rowcount)


def merge_lines(user_id: int, lines: Mapping[int, int]) -> list[str]:
    """Add a visitor's cart (``{product id: quantity}``) to the account's at sign-in.

    Quantities add, capped at 99 and at the stock left; a product now off sale or sold out is
    left out. Returns what the shopper should be told about lines that did not come over whole.
    Writes in the caller's transaction.
    """
    notes: list[str] = []
    if not lines:
        return notes
    ids = list(lines)
    products = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))}
    existing = {
        item.product_id: item
        for item in db.session.scalars(
            select(CartItem).where(CartItem.user_id == user_id, CartItem.product_id.in_(ids))
        )
    }
    for product_id, quantity in lines.items():
        product = products.get(product_id)
        if product is None:
            continue  # deleted meanwhile: nothing left to name or sell
        level = stock.level(product)
        if not product.listed or level.sold_out:
            why = "no longer on sale" if not product.listed else "sold out"
            notes.append(f"{product.name} is {why}, so it was left out of your cart.")
            continue
        item = existing.get(product_id)
        had = item.quantity if item is not None else 0
        wanted = min(MAX_QUANTITY, had + quantity)
        if level.counted and wanted > level.available:
            wanted = max(level.available, had)  # never lower what the account already held
            notes.append(
                f"Only {level.available} of {product.name} left: your cart holds {wanted}."
            )
        if item is None:
            db.session.add(CartItem(user_id=user_id, product_id=product_id, quantity=wanted))
        else:
            item.quantity = wanted
    db.session.flush()
    return notes


def place_order(user_id: int, details: CheckoutDetails | None = None) -> Order:
    """Turn the shopper's cart into an order at current prices, take its stock, record its
    'placed' event and one purchase event per line, and empty the cart.

    ``details`` (address, delivery, payment) are written on the order and its delivery cost added
    to the total. Everything happens in the caller's transaction; the caller commits, or rolls
    back on error: on NotAvailable (a line sold out or went off sale meanwhile) that rollback also
    returns the stock taken for earlier lines and keeps the cart.
    """
    order = _place(user_id, cart_for(user_id), details, buyer_id=user_id)
    db.session.execute(delete(CartItem).where(CartItem.user_id == user_id))
    activity.bump(user_id)
    db.session.flush()
    return order


def place_guest_order(cart: CartView, details: CheckoutDetails) -> Order:
    """A guest's order from their session cart: owned by the guest-checkout customer, its mails
    going to ``details.email``; events are a visitor's (no user). The caller clears the session
    cart after committing."""
    guest = checkout.guest_customer()
    return _place(guest.id, cart, details, buyer_id=None)


def _place(
    owner_id: int, cart: CartView, details: CheckoutDetails | None, buyer_id: int | None
) -> Order:
    if not cart.items:
        raise EmptyCartError("Your cart is empty.")
    order = Order(user_id=owner_id, total=cart.total, status=OrderStatus.PLACED.value)
    if details is not None:
        checkout.record_on(order, details, cart.total)
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
    db.session.flush()
    stock.take_for_order([(item.product_id, item.quantity) for item in cart.items], order.id)
    db.session.add(
        OrderEvent(order_id=order.id, to_status=OrderStatus.PLACED.value, actor_id=buyer_id)
    )
    for item in cart.items:
        record_event(
            item.product_id,
            "purchase",
            user_id=buyer_id,
            quantity=item.quantity,
            source=CHECKOUT_SOURCE,
            impression_id=item.impression_id,
        )
    db.session.flush()
    return order


def orders_query(user_id: int):
    """The shopper's orders, newest first (for db.paginate)."""
    return (
        select(Order)
        .where(Order.user_id == user_id)
        .options(selectinload(Order.lines), selectinload(Order.events))
        .order_by(Order.created_at.desc(), Order.id.desc())
    )


def order_for(user_id: int, order_id: int) -> Order | None:
    """One of the shopper's own orders; another shopper's order is as good as missing."""
    return db.session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.user_id == user_id)
        .options(
            selectinload(Order.lines).joinedload(OrderLine.product), selectinload(Order.events)
        )
    )


def guest_order(order_id: int) -> Order | None:
    """A guest order (the caller has checked that this browser placed it)."""
    order = db.session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(
            selectinload(Order.lines).joinedload(OrderLine.product), selectinload(Order.events)
        )
    )
    return order if order is not None and order.is_guest else None
