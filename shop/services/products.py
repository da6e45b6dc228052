"""Products and categories as the admin area writes them, each write audited, and the admin's list.

Every write sets ``Product.updated_at``, changes stock only through :mod:`shop.services.stock`
(so every change is a ledger row) and adds an audit entry in the same transaction. The functions
flush; the caller commits (or rolls back, and nothing of the product is kept).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.models import Category, Product, StockReason, utcnow
from shop.services import audit, stock
from shop.services.caches import forget_shop_figures

#: The fields the admin form edits and the audit log compares (stock is audited too, though
#: only shop.services.stock writes it).
PRODUCT_FIELDS = (
    "sku",
    "name",
    "description",
    "category_id",
    "brand",
    "price",
    "stock",
    "low_stock_threshold",
    "listed",
)
STOCK_FILTERS = ("low", "out")
LISTED_FILTERS = ("listed", "hidden")


@dataclass(frozen=True)
class ProductData:
    """What a product form (or a catalogue CSV line) says a product should be."""

    sku: str
    name: str
    description: str
    category_id: int | None
    brand: str
    price: Decimal
    stock: int | None
    low_stock_threshold: int | None
    listed: bool


def slugify(name: str) -> str:
    """``"Home & Garden"`` -> ``"home-garden"``; accents folded, at most 80 characters."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug[:80].strip("-") or "category"


def sku_taken(sku: str, exclude_id: int | None = None) -> bool:
    query = select(Product.id).where(func.lower(Product.sku) == sku.lower())
    if exclude_id is not None:
        query = query.where(Product.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def category_name_taken(name: str, exclude_id: int | None = None) -> bool:
    """A category of that name (any case) or slug exists already."""
    query = select(Category.id).where(
        or_(func.lower(Category.name) == name.lower(), Category.slug == slugify(name))
    )
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def _product_changed() -> None:
    """What other pages cache about the catalogue (popular lists, dashboard figures) is dropped.

    The search vocabulary notices on its own (its fingerprint of the products table is compared
    at most every 10 s); the full-text index follows through its triggers.
    """
    forget_shop_figures()


def create_product(data: ProductData, *, actor_id: int | None = None) -> Product:
    product = Product(
        sku=data.sku,
        name=data.name,
        description=data.description,
        category_id=data.category_id,
        brand=data.brand,
        price=data.price,
        low_stock_threshold=data.low_stock_threshold,
        listed=data.listed,
        updated_at=utcnow(),
    )
    db.session.add(product)
    db.session.flush()
    if data.stock is not None:
        stock.set_count(product, data.stock, StockReason.INITIAL, actor_id=actor_id)
    audit.record(
        "product.create",
        "product",
        product.id,
        f"Created {product.name} ({product.sku})",
        after=audit.snapshot(product, PRODUCT_FIELDS),
    )
    db.session.flush()
    _product_changed()
    return product


def update_product(
    product: Product, data: ProductData, *, actor_id: int | None = None
) -> dict[str, object]:
    """Apply ``data``; returns the changed fields (empty: nothing changed, nothing audited)."""
    before = audit.snapshot(product, PRODUCT_FIELDS)
    for name in PRODUCT_FIELDS:
        if name != "stock":
            setattr(product, name, getattr(data, name))
    if data.stock != product.stock:
        stock.set_count(product, data.stock, StockReason.ADJUST, actor_id=actor_id)
    after = audit.snapshot(product, PRODUCT_FIELDS)
    changes = audit.changed(before, after)
    if not changes:
        return {}
    product.updated_at = utcnow()
    audit.record(
        "product.update",
        "product",
        product.id,
        f"Edited {product.name}: {', '.join(changes)}",
        before={key: before[key] for key in changes},
        after=changes,
    )
    db.session.flush()
    _product_changed()
    return changes


def adjust_stock(
    product: Product, change: int, note: str = "", *, actor_id: int | None = None
) -> None:
    """Goods received (+n) or removed (-n); raises stock.StockError when it would go below 0."""
    before = product.stock
    stock.adjust(product, change, actor_id=actor_id, note=note)
    audit.record(
        "stock.adjust",
        "product",
        product.id,
        f"{product.name}: {change:+d} ({note})" if note else f"{product.name}: {change:+d}",
        before={"stock": before},
        after={"stock": product.stock, "note": note},
    )
    db.session.flush()
    _product_changed()


def set_picture(product: Product, image_hash: str | None) -> None:
    """Record the product's uploaded picture (None: back to the drawn one)."""
    before = product.image_hash
    if before == image_hash:
        return
    product.image_hash = image_hash
    product.updated_at = utcnow()
    audit.record(
        "product.picture",
        "product",
        product.id,
        f"{'New picture for' if image_hash else 'Picture removed from'} {product.name}",
        before={"image_hash": before},
        after={"image_hash": image_hash},
    )
    db.session.flush()


def create_category(name: str) -> Category:
    category = Category(name=name, slug=slugify(name))
    db.session.add(category)
    db.session.flush()
    audit.record(
        "category.create",
        "category",
        category.id,
        f"Created category {name}",
        after={"name": category.name, "slug": category.slug},
    )
    _product_changed()
    return category


def rename_category(category: Category, name: str) -> None:
    """A new name and slug; its products stay in it (the search index follows by trigger)."""
    before = {"name": category.name, "slug": category.slug}
    category.name = name
    category.slug = slugify(name)
    after = {"name": category.name, "slug": category.slug}
    if before == after:
        return
    audit.record(
        "category.rename",
        "category",
        category.id,
        f"Renamed category {before['name']} to {name}",
        before=before,
        after=after,
    )
    db.session.flush()
    _product_changed()


def categories_with_counts() -> list[tuple[Category, int]]:
    query = (
        select(Category, func.count(Product.id))
        .outerjoin(Product, Product.category_id == Category.id)
        .group_by(Category.id)
        .order_by(Category.name)
    )
    return [(category, count) for category, count in db.session.execute(query)]


def _threshold():
    """Each product's own low-stock threshold, else the shop's, as a SQL expression."""
    default = int(current_app.config.get("SHOP_LOW_STOCK_THRESHOLD", 5))
    return func.coalesce(Product.low_stock_threshold, default)


def admin_product_query(
    q: str = "",
    category_id: int | None = None,
    listed: str | None = None,
    stock_filter: str | None = None,
) -> Select:
    """Products for the admin list (for db.paginate): search, filters, newest edits first.

    ``q`` matches a substring of the name, SKU or brand (any case); ``listed`` is ``listed`` or
    ``hidden``; ``stock_filter`` is ``low`` (0 < stock <= threshold) or ``out`` (stock = 0).
    """
    query = select(Product).options(joinedload(Product.category))
    if q:
        like = [
            func.lower(column).like(_escape_like(q.lower()), escape="\\")
            for column in (Product.name, Product.sku, Product.brand)
        ]
        query = query.where(or_(*like))
    if category_id is not None:
        query = query.where(Product.category_id == category_id)
    if listed == "listed":
        query = query.where(Product.listed.is_(True))
    elif listed == "hidden":
        query = query.where(Product.listed.is_(False))
    if stock_filter == "low":
        query = query.where(Product.stock > 0, Product.stock <= _threshold())
    elif stock_filter == "out":
        query = query.where(Product.stock == 0)
    return query.order_by(Product.updated_at.desc(), Product.id.desc())


def _escape_like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def low_stock_count() -> int:
    """How many products are at or under their low-stock threshold but not sold out."""
    return db.session.scalar(
        select(func.count(Product.id)).where(Product.stock > 0, Product.stock <= _threshold())
    )


MAX_PRICE = Decimal("1000000")
MAX_UNITS = 1_000_000


def parse_price(text: str | None) -> Decimal:
    """``"12.5"`` -> ``Decimal("12.50")``; ValueError with the reason (the form and CSV say it)."""
    raw = (text or "").strip().replace(",", "")
    if not raw:
        raise ValueError("Give a price.")
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", raw, re.ASCII):
        raise ValueError("Enter the price as a number, such as 12.50.")
    value = Decimal(raw)
    if value < 0:
        raise ValueError("The price cannot be negative.")
    if value.as_tuple().exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValueError("Give the price in pounds and pence: at most 2 decimal places.")
    if value >= MAX_PRICE:
        raise ValueError("The price must be under 1,000,000.")
    return value.quantize(Decimal("0.01"))


def parse_stock(text: str | None) -> int | None:
    """Empty: not counted; else a whole number from 0 to MAX_UNITS (ValueError otherwise)."""
    raw = (text or "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", raw):
        raise ValueError("Stock must be a whole number (or empty: not counted).")
    value = int(raw)
    if value < 0:
        raise ValueError("Stock cannot be negative.")
    if value > MAX_UNITS:
        raise ValueError(f"Stock must be at most {MAX_UNITS:,}.")
    return value
