"""Small factories that put real rows in the test database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from shop.extensions import db
from shop.models import (
    Category,
    Event,
    Experiment,
    ExperimentVariant,
    Impression,
    Order,
    OrderLine,
    Product,
    User,
)

_seq = itertools.count(1)


def make_user(
    email: str | None = None,
    password: str = "correct-horse",
    name: str = "Test Shopper",
    is_admin: bool = False,
) -> User:
    n = next(_seq)
    user = User(email=email or f"user{n}@example.com", display_name=name, is_admin=is_admin)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def make_category(name: str = "Kitchen") -> Category:
    category = db.session.scalar(db.select(Category).where(Category.name == name))
    if category is None:
        category = Category(name=name, slug=name.lower().replace(" ", "-"))
        db.session.add(category)
        db.session.commit()
    return category


def make_product(
    name: str = "Blue Kettle",
    category: str | Category | None = "Kitchen",
    price: str | Decimal = "19.99",
    description: str = "",
    brand: str = "Acme",
    sku: str | None = None,
) -> Product:
    n = next(_seq)
    if isinstance(category, str):
        category = make_category(category)
    product = Product(
        sku=sku or f"SKU{n:05d}",
        name=name,
        description=description or f"A fine {name.lower()} for every home.",
        category=category,
        brand=brand,
        price=Decimal(str(price)),
    )
    db.session.add(product)
    db.session.commit()
    return product


def make_event(user: User | None, product: Product, kind: str = "click", **extra) -> Event:
    event = Event(user_id=user.id if user else None, product_id=product.id, kind=kind, **extra)
    db.session.add(event)
    db.session.commit()
    return event


def make_experiment(
    name: str = "Home list test",
    variants: tuple[tuple[str, str, int], ...] = (("A", "hybrid", 50), ("B", "popularity", 50)),
) -> Experiment:
    """A running experiment; ``variants`` are (name, algorithm, traffic percent), control first."""
    experiment = Experiment(name=name, started_at=datetime.now(UTC))
    experiment.variants = [
        ExperimentVariant(name=v, algorithm=algorithm, traffic_percent=share)
        for v, algorithm, share in variants
    ]
    db.session.add(experiment)
    db.session.commit()
    return experiment


def show_list(user: User, variant: ExperimentVariant, products: list[Product]) -> Impression:
    """A recommendation list of ``variant`` shown to ``user``."""
    impression = Impression(
        user_id=user.id,
        variant_id=variant.id,
        source="home:for-you",
        product_ids=[p.id for p in products],
    )
    db.session.add(impression)
    db.session.commit()
    return impression


def buy_from_list(user: User, impression: Impression, product: Product, quantity: int = 1) -> Order:
    """A click and a purchase of ``product`` from the list ``impression``, with its order."""
    line = OrderLine(
        product_id=product.id,
        quantity=quantity,
        unit_price=product.price,
        impression_id=impression.id,
    )
    order = Order(user_id=user.id, total=product.price * quantity, lines=[line])
    db.session.add(order)
    for kind in ("click", "purchase"):
        db.session.add(
            Event(
                user_id=user.id,
                product_id=product.id,
                kind=kind,
                quantity=quantity if kind == "purchase" else 1,
                impression_id=impression.id,
            )
        )
    db.session.commit()
    return order


#: A checkout that passes the form: collected, so delivery is free and the total is the cart's.
CHECKOUT = {
    "name": "Sam Shopper",
    "line1": "1 High Street",
    "line2": "",
    "city": "Bristol",
    "postcode": "BS1 4DJ",
    "country": "GB",
    "delivery": "collection",
    "payment": "bank_transfer",
}


def checkout_form(**overrides: str) -> dict[str, str]:
    """The fields POST /checkout takes (add ``email`` for a guest, ``total`` to confirm one)."""
    return {**CHECKOUT, **overrides}


def edit_product(product: Product, **changes) -> None:
    """Change a product the way the admin's product form does (which sets ``updated_at``)."""
    from shop.services.products import ProductData, update_product

    fields = ProductData.__dataclass_fields__
    update_product(product, ProductData(**{**{f: getattr(product, f) for f in fields}, **changes}))
    db.session.commit()
