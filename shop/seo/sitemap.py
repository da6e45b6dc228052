"""sitemap.xml: every listed page and when its content last changed, built once per catalogue change.

Building the sitemap reads every listed product and writes a few megabytes of XML (733 ms on a
20,000-product shop), too much to do for every crawler, or every visitor who asks for it in a loop.
So the rendered files, plain and gzipped, are kept per process and keyed by
:func:`catalogue_fingerprint`, one query of index lookups over the products, categories and ratings
whose answer moves whenever a page in the sitemap would change: a product added, edited or hidden (the
admin services set ``updated_at`` on every edit), a category added or renamed, a review written.
Each request asks that query and serves the kept files while it answers the same. The files are also
put in the shop's shared cache (Redis when ``REDIS_URL`` is set, else files on this host), so one
worker builds and the others read; a cache that fails is skipped, never an error.

Past :data:`MAX_URLS` pages (the protocol's limit for one file) ``/sitemap.xml`` becomes a sitemap
index whose ``/sitemap-<n>.xml`` children list at most that many URLs each.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from flask import current_app, url_for
from sqlalchemy import func, select

from shop.extensions import cache, db
from shop.models import Category, Product, Rating
from shop.seo.urls import base_url

log = logging.getLogger(__name__)

# The sitemap protocol's limit for one file; past it /sitemap.xml is an index of smaller files.
MAX_URLS = 50_000
# How long the shared cache keeps a built sitemap (a new fingerprint is a new key anyway).
SHARED_SECONDS = 24 * 3600
_EXTENSION_KEY = "seo_sitemap"
_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


@dataclass(frozen=True)
class SitemapEntry:
    path: str
    lastmod: datetime | None


@dataclass(frozen=True)
class SitemapFile:
    body: bytes
    gzipped: bytes


@dataclass(frozen=True)
class Sitemap:
    """The built files: ``files[0]`` is /sitemap.xml (a urlset, or an index of the others)."""

    key: str  # the catalogue fingerprint's digest: the ETag
    files: tuple[SitemapFile, ...]
    last_modified: datetime | None

    @property
    def is_index(self) -> bool:
        return len(self.files) > 1


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _w3c(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def catalogue_fingerprint() -> tuple:
    """What the sitemap depends on, in one query that indexes answer without reading the tables.

    Products are hidden, never deleted, so the newest id (an addition) and the latest
    ``updated_at`` (any edit, hiding included) say when one changed; a count would be a scan of the
    table. Categories are few, so their count, newest id and slug lengths are read outright;
    ratings move a product's ``lastmod``, so their newest id and latest ``updated_at`` count too.
    """
    row = db.session.execute(select(*catalogue_fingerprint_columns())).one()
    return tuple(str(value) for value in row)


def catalogue_fingerprint_columns() -> list:
    """The fingerprint's scalar subqueries, for a caller that asks them in a query of its own
    (the visitors' page cache, :mod:`shop.page_cache`, adds what its pages also show)."""
    return [
        select(func.max(Product.id)).scalar_subquery(),
        select(func.max(Product.updated_at)).scalar_subquery(),
        select(func.count(Category.id)).scalar_subquery(),
        select(func.max(Category.id)).scalar_subquery(),
        select(func.sum(func.length(Category.slug))).scalar_subquery(),
        select(func.max(Rating.id)).scalar_subquery(),
        select(func.max(Rating.updated_at)).scalar_subquery(),
    ]


def sitemap_entries() -> list[SitemapEntry]:
    """Home, the full listing, each category that holds products, and each product.

    A product page changes when it is added or edited and when a rating or review on it is
    written, so its ``lastmod`` is the latest of the three; a listing's is the latest of its
    products'. Hidden products are left out: their pages are a 404 to anyone but an admin.
    """
    reviewed = (
        select(Rating.product_id, func.max(Rating.updated_at).label("reviewed"))
        .group_by(Rating.product_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Product.id, Product.created_at, Product.updated_at, Category.slug, reviewed.c.reviewed
        )
        .outerjoin(Category, Category.id == Product.category_id)
        .outerjoin(reviewed, reviewed.c.product_id == Product.id)
        .where(Product.listed.is_(True))
        .order_by(Product.id)
    ).all()
    # One url_for for the pattern, not one per product: 20,000 calls would be a third of the build.
    marker = 2_000_000_001
    product_path = url_for("catalog.product_detail", product_id=marker).replace(str(marker), "{}")
    products: list[SitemapEntry] = []
    by_category: dict[str, list[datetime | None]] = {}
    for product_id, created, updated, slug, rated in rows:
        lastmod = _latest([_utc(created), _utc(updated), _utc(rated)])
        products.append(SitemapEntry(product_path.format(product_id), lastmod))
        if slug:
            by_category.setdefault(slug, []).append(lastmod)
    newest = _latest(entry.lastmod for entry in products)
    categories = [
        SitemapEntry(url_for("catalog.products", category=slug), _latest(dates))
        for slug, dates in sorted(by_category.items())
    ]
    return [
        SitemapEntry(url_for("catalog.index"), newest),
        SitemapEntry(url_for("catalog.products"), newest),
        *categories,
        *products,
    ]


def _file(lines: list[str]) -> SitemapFile:
    body = "\n".join(lines).encode("utf-8")
    return SitemapFile(body, gzip.compress(body, compresslevel=6, mtime=0))


def _urlset(base: str, entries: list[SitemapEntry]) -> SitemapFile:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{_NS}">']
    for entry in entries:
        lastmod = f"<lastmod>{_w3c(entry.lastmod)}</lastmod>" if entry.lastmod else ""
        lines.append(f"  <url><loc>{escape(base + entry.path)}</loc>{lastmod}</url>")
    lines.append("</urlset>\n")
    return _file(lines)


def _index(base: str, chunks: list[list[SitemapEntry]]) -> SitemapFile:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<sitemapindex xmlns="{_NS}">']
    for number, chunk in enumerate(chunks, start=1):
        loc = escape(base + url_for("seo.sitemap_page", number=number))
        newest = _latest(entry.lastmod for entry in chunk)
        lastmod = f"<lastmod>{_w3c(newest)}</lastmod>" if newest else ""
        lines.append(f"  <sitemap><loc>{loc}</loc>{lastmod}</sitemap>")
    lines.append("</sitemapindex>\n")
    return _file(lines)


def build_sitemap(key: str, base: str) -> Sitemap:
    """Render the files: one urlset, or an index and urlsets of at most ``MAX_URLS`` URLs."""
    entries = sitemap_entries()
    newest = _latest(entry.lastmod for entry in entries)
    if len(entries) <= MAX_URLS:
        return Sitemap(key, (_urlset(base, entries),), newest)
    chunks = [entries[start : start + MAX_URLS] for start in range(0, len(entries), MAX_URLS)]
    files = (_index(base, chunks), *(_urlset(base, chunk) for chunk in chunks))
    return Sitemap(key, files, newest)


class _Kept:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sitemap: Sitemap | None = None


def _shared_get(key: str) -> Sitemap | None:
    try:
        found = cache.get(f"sitemap:{key}")
    except Exception:  # a cache that is down costs a rebuild, never the page
        log.warning("Could not read the sitemap from the shared cache", exc_info=True)
        return None
    if not found:
        return None
    gzipped, last_modified = found
    files = tuple(SitemapFile(gzip.decompress(data), data) for data in gzipped)
    return Sitemap(key, files, datetime.fromisoformat(last_modified) if last_modified else None)


def _shared_set(sitemap: Sitemap) -> None:
    modified = sitemap.last_modified.isoformat() if sitemap.last_modified else None
    value = ([f.gzipped for f in sitemap.files], modified)
    try:
        cache.set(f"sitemap:{sitemap.key}", value, timeout=SHARED_SECONDS)
    except Exception:
        log.warning("Could not keep the sitemap in the shared cache", exc_info=True)


def current_sitemap() -> Sitemap:
    """The sitemap for the catalogue as it is now: kept, shared, or built (in that order).

    The key is the fingerprint, the base URL and the file limit, so a change to any of them is a
    new sitemap. One thread per process builds while the others wait for it.
    """
    base = base_url() or ""
    raw = repr((catalogue_fingerprint(), base, MAX_URLS)).encode()
    key = hashlib.sha256(raw).hexdigest()[:32]
    kept = current_app.extensions.setdefault(_EXTENSION_KEY, _Kept())
    sitemap = kept.sitemap
    if sitemap is not None and sitemap.key == key:
        return sitemap
    with kept.lock:
        if kept.sitemap is not None and kept.sitemap.key == key:
            return kept.sitemap
        sitemap = _shared_get(key)
        if sitemap is None:
            sitemap = build_sitemap(key, base)
            _shared_set(sitemap)
            urls = sum(f.body.count(b"<url>") for f in sitemap.files)
            log.info("Built the sitemap: %d URLs in %d file(s)", urls, len(sitemap.files))
        kept.sitemap = sitemap
        return sitemap


def forget_sitemap() -> None:
    """Drop this process's kept sitemap (the fingerprint catches changes anyway; tests use this)."""
    current_app.extensions.pop(_EXTENSION_KEY, None)
