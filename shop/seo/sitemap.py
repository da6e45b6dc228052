"""The reads behind sitemap.xml: every listed page and when its content last changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import url_for
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import Category, Product, Rating

log = logging.getLogger(__name__)

# The sitemap protocol's limit for one file; a larger catalogue needs a sitemap index.
MAX_URLS = 50_000


@dataclass(frozen=True)
class SitemapEntry:
    path: str
    lastmod: datetime | None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _latest(values) -> datetime | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def sitemap_entries() -> list[SitemapEntry]:
    """Home, the full listing, each category that holds products, and each product.

    A product page changes when it is added and when a rating or review on it is written, so its
    ``lastmod`` is the later of the two; a listing's is the latest of its products'. Hidden
    products are left out: their pages are a 404 to anyone but an admin.
    """
    reviewed = (
        select(Rating.product_id, func.max(Rating.updated_at).label("reviewed"))
        .group_by(Rating.product_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Product.id, Product.created_at, Category.slug, reviewed.c.reviewed)
        .outerjoin(Category, Category.id == Product.category_id)
        .outerjoin(reviewed, reviewed.c.product_id == Product.id)
        .where(Product.listed.is_(True))
        .order_by(Product.id)
    ).all()
    products: list[SitemapEntry] = []
    by_category: dict[str, list[datetime | None]] = {}
    for product_id, created, slug, rated in rows:
        lastmod = _latest([_utc(created), _utc(rated)])
        products.append(
            SitemapEntry(url_for("catalog.product_detail", product_id=product_id), lastmod)
        )
        if slug:
            by_category.setdefault(slug, []).append(lastmod)
    newest = _latest(entry.lastmod for entry in products)
    categories = [
        SitemapEntry(url_for("catalog.products", category=slug), _latest(dates))
        for slug, dates in sorted(by_category.items())
    ]
    entries = [
        SitemapEntry(url_for("catalog.index"), newest),
        SitemapEntry(url_for("catalog.products"), newest),
        *categories,
        *products,
    ]
    if len(entries) > MAX_URLS:
        log.warning("sitemap.xml lists the first %d of %d pages", MAX_URLS, len(entries))
    return entries[:MAX_URLS]
