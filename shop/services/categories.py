"""Category reads the catalog and search pages share: every category, one by slug, the home tiles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select

from shop.extensions import db
from shop.images import tone_for
from shop.models import Category, Product


@dataclass(frozen=True)
class CategoryTile:
    category: Category
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


def category_tiles() -> list[CategoryTile]:
    """Every category with how many listed products it holds, for the home page tiles."""
    query = (
        select(Category, func.count(Product.id))
        .outerjoin(Product, and_(Product.category_id == Category.id, Product.listed.is_(True)))
        .group_by(Category.id)
        .order_by(Category.name)
    )
    return [CategoryTile(category, count) for category, count in db.session.execute(query)]
