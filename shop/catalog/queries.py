"""Database reads for the catalog's listing: the sort options, the browse statement, one product.

The listing takes its sort straight from the query string, which anyone can edit, so an unknown sort
falls back to the default (page numbers are parsed by ``shop.web.parse_page``, categories read in
``shop.services.categories``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, Select, case, cast, select
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.models import Category, CategoryPin, Product
from shop.services.availability import is_listed, is_sold_out, sold_out_last


@dataclass(frozen=True)
class SortOption:
    key: str
    label: str


SORT_OPTIONS = (
    SortOption("popular", "Most popular"),
    SortOption("newest", "Newest"),
    SortOption("rating", "Best rated"),
    SortOption("price-asc", "Price: low to high"),
    SortOption("price-desc", "Price: high to low"),
)
SORT_KEYS = {option.key for option in SORT_OPTIONS}
DEFAULT_SORT = "popular"


def parse_sort(raw: str | None) -> str:
    return raw if raw in SORT_KEYS else DEFAULT_SORT


def _rating_average():
    return case(
        (Product.rating_count > 0, cast(Product.rating_sum, Float) / Product.rating_count),
        else_=None,
    )


def _order_by(sort: str) -> list:
    if sort == "price-asc":
        return [Product.price.asc(), Product.id]
    if sort == "price-desc":
        return [Product.price.desc(), Product.id]
    if sort == "rating":
        rated = case((Product.rating_count > 0, 1), else_=0)
        return [rated.desc(), _rating_average().desc(), Product.rating_count.desc(), Product.id]
    if sort == "newest":
        return [Product.created_at.desc(), Product.id.desc()]
    return [
        Product.click_count.desc(),
        Product.purchase_count.desc(),
        Product.view_count.desc(),
        Product.id,
    ]


def category_scope(category: Category | None) -> tuple:
    """The listing's own narrowing, before any filter: one category, or the whole shop."""
    return () if category is None else (Product.category_id == category.id,)


def browse_statement(category: Category | None, sort: str, conditions: tuple | list = ()) -> Select:
    """The products listing: optionally one category, in the chosen order, narrowed by the
    filters' ``conditions`` (shop.services.facets).

    Hidden products are left out; sold-out ones come after those in stock whatever the sort. A
    category sorted by popularity starts with the products an admin pinned there, by position.
    """
    sort = parse_sort(sort)
    statement = (
        select(Product)
        .options(joinedload(Product.category))
        .where(is_listed(), *category_scope(category), *conditions)
    )
    order = [sold_out_last()]
    if category is not None and sort == DEFAULT_SORT:
        # A sold-out pin is skipped: it takes its place among the sold-out products.
        statement = statement.outerjoin(
            CategoryPin,
            (CategoryPin.category_id == category.id)
            & (CategoryPin.product_id == Product.id)
            & ~is_sold_out(),
        )
        order.append(CategoryPin.position.is_(None))
        order.append(CategoryPin.position)
    return statement.order_by(*order, *_order_by(sort))


def pinned_ids(category: Category | None, sort: str) -> set[int]:
    """Products the listing shows as "Featured": pinned, in a category sorted by popularity, and
    shown first (listed, in stock and still in that category; a skipped pin is not featured)."""
    if category is None or parse_sort(sort) != DEFAULT_SORT:
        return set()
    return set(
        db.session.scalars(
            select(CategoryPin.product_id)
            .join(Product, Product.id == CategoryPin.product_id)
            .where(
                CategoryPin.category_id == category.id,
                Product.category_id == category.id,
                is_listed(),
                ~is_sold_out(),
            )
        )
    )


def product_with_category(product_id: int) -> Product | None:
    """The product whatever its listing (the route decides who may see a hidden one)."""
    return db.session.scalar(
        select(Product).options(joinedload(Product.category)).where(Product.id == product_id)
    )
