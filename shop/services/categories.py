"""Category reads the catalog and search pages share: every category, one by slug, the home tiles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select

from shop.extensions import cache, db
from shop.images import tone_for
from shop.models import Category, Product


@dataclass(frozen=True)
class TileCategory:
    """What a tile shows of its category: kept in the shared cache, so plain values, not a row."""

    id: int
    name: str
    slug: str


@dataclass(frozen=True)
class CategoryTile:
    category: TileCategory
    product_count: int

    @property
    def tone(self) -> int:
        """The category's colour, the same one its drawn product pictures use."""
        return tone_for(self.category.name)


def category_by_slug(slug: str | None) -> Category | None:
    # PostgreSQL refuses NUL bytes in text parameters: such a slug cannot name a category anyway.
    if not slug or not slug.isprintable():
        return None
    return db.session.scalar(select(Category).where(Category.slug == slug[:80]))


def all_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.name)))


@cache.memoize()
def category_tiles() -> list[CategoryTile]:
    """Every category with how many listed products it holds, for the home page tiles.

    A count over the whole catalogue on every home page, for figures that change when a product is
    added, hidden or moved: kept in the shared cache for ``SHOP_CACHE_SECONDS`` and forgotten by
    name (:func:`forget_tiles`) with the other shop figures whenever the admin or an import
    changes a product or a category (``shop.services.caches.forget_shop_figures``).
    """
    query = (
        select(Category.id, Category.name, Category.slug, func.count(Product.id))
        .outerjoin(Product, and_(Product.category_id == Category.id, Product.listed.is_(True)))
        .group_by(Category.id, Category.name, Category.slug)
        .order_by(Category.name)
    )
    return [
        CategoryTile(TileCategory(id_, name, slug), count)
        for id_, name, slug, count in db.session.execute(query)
    ]


def forget_tiles() -> None:
    cache.delete_memoized(category_tiles)
