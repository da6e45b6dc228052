"""Checkout's reads and writes: delivery options and their cost, the guest customer, the record.

The address, delivery option and payment method are validated by the checkout form; this module
turns them into an order's columns and prices delivery from ``SHOP_DELIVERY_OPTIONS``. Totals are
always computed here, from the cart at today's prices, never taken from a form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.models import GUEST_EMAIL, Order, User

GUEST_NAME = "Guest checkout"
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postcode", "country")


@dataclass(frozen=True)
class DeliveryOption:
    code: str
    label: str
    price: Decimal
    free_over: Decimal | None

    def cost(self, subtotal: Decimal) -> Decimal:
        if self.free_over is not None and subtotal >= self.free_over:
            return Decimal("0.00")
        return self.price


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    line2: str
    city: str
    postcode: str
    country: str

    def lines(self) -> list[str]:
        country = current_app.config["SHOP_COUNTRIES"].get(self.country, self.country)
        return [
            p for p in (self.name, self.line1, self.line2, self.city, self.postcode, country) if p
        ]


@dataclass(frozen=True)
class CheckoutDetails:
    """What the shopper chose at checkout (validated by the form)."""

    email: str
    address: Address
    delivery: str
    payment: str


def delivery_options() -> dict[str, DeliveryOption]:
    options = {}
    for code, spec in current_app.config["SHOP_DELIVERY_OPTIONS"].items():
        free_over = spec.get("free_over")
        options[code] = DeliveryOption(
            code=code,
            label=spec["label"],
            price=Decimal(str(spec["price"])),
            free_over=Decimal(str(free_over)) if free_over is not None else None,
        )
    return options


def countries() -> dict[str, str]:
    return dict(current_app.config["SHOP_COUNTRIES"])


def delivery_cost(code: str, subtotal: Decimal) -> Decimal:
    """The delivery price of option ``code`` for this subtotal (KeyError for an unknown one)."""
    return delivery_options()[code].cost(subtotal)


def record_on(order: Order, details: CheckoutDetails, subtotal: Decimal) -> None:
    """Write the checkout's choices on the order and set its total (lines plus delivery)."""
    address = details.address
    cost = delivery_cost(details.delivery, subtotal)
    order.email = details.email
    order.ship_name, order.ship_line1, order.ship_line2 = address.name, address.line1, address.line2
    order.ship_city, order.ship_postcode = address.city, address.postcode
    order.ship_country = address.country
    order.delivery_option, order.delivery_cost = details.delivery, cost
    order.payment_method = details.payment
    order.total = subtotal + cost


def address_of(order: Order) -> Address | None:
    if not order.ship_line1:
        return None
    return Address(
        order.ship_name or "",
        order.ship_line1 or "",
        order.ship_line2 or "",
        order.ship_city or "",
        order.ship_postcode or "",
        order.ship_country or "",
    )


def remember_address(user: User, address: Address) -> None:
    user.saved_address = asdict(address)


def saved_address(user: User | None) -> dict[str, str]:
    raw = user.saved_address if user is not None else None
    if not isinstance(raw, dict):
        return {}
    return {key: str(raw.get(key) or "") for key in ADDRESS_FIELDS}


def guest_customer() -> User:
    """The one customer row that owns guest orders, made on the first guest checkout."""
    guest = db.session.scalar(select(User).where(User.email == GUEST_EMAIL))
    if guest is not None:
        return guest
    try:
        with db.session.begin_nested():
            guest = User(email=GUEST_EMAIL, display_name=GUEST_NAME, password_hash=None)
            db.session.add(guest)
    except IntegrityError:  # another first guest checkout made it meanwhile (PostgreSQL)
        guest = db.session.scalar(select(User).where(User.email == GUEST_EMAIL))
    return guest


def claim_guest_orders(user: User, order_ids: list[int], email: str) -> int:
    """Move the guest orders ``order_ids`` placed with ``email`` to ``user``; returns how many."""
    guest = db.session.scalar(select(User).where(User.email == GUEST_EMAIL))
    if guest is None or not order_ids:
        return 0
    orders = db.session.scalars(
        select(Order).where(
            Order.id.in_(order_ids), Order.user_id == guest.id, Order.email == email
        )
    ).all()
    for order in orders:
        order.user_id = user.id
    db.session.flush()
    return len(orders)
