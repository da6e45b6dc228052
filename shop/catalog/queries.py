"""Database reads for the shop window: categories, the browse listing and query-string parsing.

The listing pages take their filters straight from the query string, which anyone can edit, so the
parsers here turn any value into something safe: an unknown sort falls back to the default, a page
that is not a positive whole number becomes page 1, and an absurd page number is capped before it
reaches SQL (SQLite cannot bind integers past 2**63).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, Select, case, cast, func, select
from sqlalchemy.orm import joinedload

from shop.catalog.images import tone_for
from shop.extensions import db
from shop.models import Category, Product

MAX_PAGE = 100_000


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


@dataclass(frozen=True)
class CategoryTile:
    category: Category
    product_count: int

    @property
    def tone(self) -> int:
        """The category's colour, the same one its drawn product pictures use."""
        return tone_for(self.category.name)


def parse_page(raw: str | None) -> int:
    """A page number from the query string; anything that is not a positive integer means page 1."""
    try:
        page = int(str(raw).strip())
    except (TypeError, ValueError):
        return 1
    if page < 1:
        return 1
    return min(page, MAX_PAGE)


def parse_sort(raw: str | None) -> str:
    return raw if raw in SORT_KEYS else DEFAULT_SORT


def category_by_slug(slug: str | None) -> Category | None:
    # PostgreSQL refuses NUL bytes in text parameters: such a slug cannot name a category anyway.
    if not slug or not slug.isprintable():
        return None
    return db.session.scalar(select(Category).where(Category.slug == slug[:80]))


def all_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.name)))


def category_tiles() -> list[CategoryTile]:
    """Every category with how many products it holds, for the home page tiles."""
    query = (
        select(Category, func.count(Product.id))
        .outerjoin(Product, Product.category_id == Category.id)
        .group_by(Category.id)
        .order_by(Category.name)
    )
    return [CategoryTile(category, count) for category, count in db.session.execute(query)]


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


def browse_statement(category: Category | None, sort: str) -> Select:
    """The products listing: optionally one category, in the chosen order."""
    statement = select(Product).options(joinedload(Product.category))
    if category is not None:
        statement = statement.where(Product.category_id == category.id)
    return statement.order_by(*_order_by(parse_sort(sort)))


def product_with_category(product_id: int) -> Product | None:
    return db.session.scalar(
        select(Product).options(joinedload(Product.category)).where(Product.id == product_id)
    )
