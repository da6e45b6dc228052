"""Small factories that put real rows in the test database."""

from __future__ import annotations

import itertools
from decimal import Decimal

from shop.extensions import db
from shop.models import Category, Event, Product, User

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
