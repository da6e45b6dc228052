"""Facets on the results page: category, brand and price band, each with its number of matches.

Counts follow the query and the other facets, but not the facet's own choices (the way shop
searches count): with "Kitchen" ticked, the category list still shows how many matches each other
category would add, while the brand and price counts are those within Kitchen. Several values of
one facet widen the results (Kitchen or Garden); different facets narrow them (Kitchen and under
£10). Every combination is a plain query string, so it has its own URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Subquery, case, func, literal, select

from shop.extensions import db
from shop.models import Category, Product

MAX_VALUES = 20  # per facet in one URL; more is not a shopper
MAX_BRANDS_SHOWN = 12


@dataclass(frozen=True)
class PriceBand:
    key: str
    low: Decimal | None  # inclusive
    high: Decimal | None  # exclusive

    def condition(self):
        parts = []
        if self.low is not None:
            parts.append(Product.price >= self.low)
        if self.high is not None:
            parts.append(Product.price < self.high)
        return parts[0] if len(parts) == 1 else parts[0] & parts[1]


PRICE_BANDS = (
    PriceBand("0-10", None, Decimal(10)),
    PriceBand("10-25", Decimal(10), Decimal(25)),
    PriceBand("25-50", Decimal(25), Decimal(50)),
    PriceBand("50-100", Decimal(50), Decimal(100)),
    PriceBand("100-", Decimal(100), None),
)
BAND_BY_KEY = {band.key: band for band in PRICE_BANDS}


@dataclass(frozen=True)
class Filters:
    """What the shopper narrowed the results to; an empty tuple means "any"."""

    category_ids: tuple[int, ...] = ()
    brands: tuple[str, ...] = ()
    bands: tuple[PriceBand, ...] = ()
    price_max: Decimal | None = None

    def conditions(self, leave_out: str | None = None) -> list:
        conditions = []
        if self.category_ids and leave_out != "category":
            conditions.append(Product.category_id.in_(self.category_ids))
        if self.brands and leave_out != "brand":
            conditions.append(Product.brand.in_(self.brands))
        if self.bands and leave_out != "price":
            band_conditions = [band.condition() for band in self.bands]
            condition = band_conditions[0]
            for other in band_conditions[1:]:
                condition = condition | other
            conditions.append(condition)
        if self.price_max is not None:
            conditions.append(Product.price <= self.price_max)
        return conditions

    @property
    def active(self) -> bool:
        return bool(self.category_ids or self.brands or self.bands)


@dataclass(frozen=True)
class FacetCounts:
    categories: list[tuple[Category, int]]
    brands: list[tuple[str, int]]
    bands: list[tuple[PriceBand, int]]


def clean_values(values: list[str], max_length: int = 80) -> list[str]:
    """Query-string values a facet may look up: printable, short, distinct, and not too many."""
    cleaned: list[str] = []
    for value in values[: MAX_VALUES * 2]:
        value = value.strip()
        if value and len(value) <= max_length and value.isprintable() and value not in cleaned:
            cleaned.append(value)
    return cleaned[:MAX_VALUES]


def price_bands(keys: list[str]) -> tuple[PriceBand, ...]:
    return tuple(BAND_BY_KEY[key] for key in dict.fromkeys(keys) if key in BAND_BY_KEY)


def known_brands(values: list[str]) -> tuple[str, ...]:
    """The brands among ``values`` that some product has (exact spelling)."""
    values = clean_values(values)
    if not values:
        return ()
    found = set(db.session.scalars(select(Product.brand).where(Product.brand.in_(values))))
    return tuple(value for value in values if value in found)


def count_facets(matches: Subquery, filters: Filters) -> FacetCounts:
    """How many matching products each facet value holds (see the module docstring)."""

    def grouped(key, leave_out: str):
        return (
            select(key, func.count())
            .select_from(Product)
            .join(matches, matches.c.product_id == Product.id)
            .where(Product.listed.is_(True), *filters.conditions(leave_out=leave_out))
            .group_by(key)
        )

    by_category = dict(db.session.execute(grouped(Product.category_id, "category")).all())
    categories = []
    if by_category:
        known = db.session.scalars(
            select(Category).where(Category.id.in_([i for i in by_category if i is not None]))
        )
        categories = sorted(
            ((category, by_category[category.id]) for category in known),
            key=lambda pair: (-pair[1], pair[0].name),
        )

    brand_counts = [
        (brand, count)
        for brand, count in db.session.execute(grouped(Product.brand, "brand")).all()
        if brand
    ]
    brand_counts.sort(key=lambda pair: (-pair[1], pair[0]))
    shown = brand_counts[:MAX_BRANDS_SHOWN]
    # A ticked brand stays in the list even when it is not among the commonest.
    shown += [pair for pair in brand_counts[MAX_BRANDS_SHOWN:] if pair[0] in filters.brands]

    band_key = case(
        *[(band.condition(), literal(band.key)) for band in PRICE_BANDS], else_=literal("")
    )
    by_band = dict(db.session.execute(grouped(band_key, "price")).all())
    bands = [(band, by_band.get(band.key, 0)) for band in PRICE_BANDS]
    return FacetCounts(categories, shown, bands)
