"""How an order is paid: a small provider interface and the methods that need no outside service.

Each method is a :class:`PaymentMethod`. The shop ships three that leave the order *placed*,
awaiting payment, until an admin presses *Mark paid* (``orders.record_payment``): a bank transfer,
an invoice, and paying when the order is collected (offered only with the *collection* delivery
option). ``SHOP_PAYMENT_METHODS`` switches them on and off and sets their order.

A card provider plugs in as one more class: ``start`` returns the provider's payment page for the
order (the checkout redirects there instead of to the confirmation), and a webhook view verifies
the provider's signature and calls ``orders.record_payment(order, reference)`` (see README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import current_app

from shop.models import Order

COLLECTION = "collection"


class PaymentMethod(Protocol):
    code: str
    label: str

    def offered_with(self, delivery: str) -> bool:
        """Whether the method may pay for an order with this delivery option."""

    def start(self, order: Order) -> str | None:
        """A provider's payment page to send the shopper to, or None to wait for payment."""

    def instructions(self, order: Order) -> str:
        """What the shopper must do to pay, for the confirmation page and mail."""


@dataclass(frozen=True)
class BankTransfer:
    code: str = "bank_transfer"
    label: str = "Bank transfer"

    def offered_with(self, delivery: str) -> bool:
        return True

    def start(self, order: Order) -> str | None:
        return None

    def instructions(self, order: Order) -> str:
        details = current_app.config["SHOP_BANK_DETAILS"]
        return (
            f"Please transfer the total to {details}, with the reference ORDER-{order.id}. "
            "We send your order once the payment has arrived."
        )


@dataclass(frozen=True)
class Invoice:
    code: str = "invoice"
    label: str = "Invoice (pay later)"

    def offered_with(self, delivery: str) -> bool:
        return True

    def start(self, order: Order) -> str | None:
        return None

    def instructions(self, order: Order) -> str:
        days = current_app.config["SHOP_INVOICE_DAYS"]
        return (
            f"We send an invoice for ORDER-{order.id} with your order; "
            f"please pay it within {days} days."
        )


@dataclass(frozen=True)
class PayOnCollection:
    code: str = "on_collection"
    label: str = "Pay when you collect"

    def offered_with(self, delivery: str) -> bool:
        return delivery == COLLECTION

    def start(self, order: Order) -> str | None:
        return None

    def instructions(self, order: Order) -> str:
        return f"Pay for ORDER-{order.id} when you collect it from the shop (card or cash)."


BUILT_IN: dict[str, PaymentMethod] = {
    method.code: method for method in (BankTransfer(), Invoice(), PayOnCollection())
}


def enabled() -> dict[str, PaymentMethod]:
    """The methods switched on by SHOP_PAYMENT_METHODS, in its order (unknown names ignored)."""
    names = current_app.config["SHOP_PAYMENT_METHODS"]
    return {name: BUILT_IN[name] for name in names if name in BUILT_IN}


def method(code: str | None) -> PaymentMethod | None:
    return enabled().get(code or "")
