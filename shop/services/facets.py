"""Facets beside the search results and the category listing, each option with its count.

The facets are category, brand, price band and rating. Counts follow the query (or the listing's
category) and the other facets, but not the facet's own choices (the way shop searches count): with
"Kitchen" ticked, the category list still shows how many matches each other category would add,
while the brand and price counts are those within Kitchen. Several values of one facet widen the results (Kitchen or Garden); different facets narrow
them (Kitchen and under £10). A rating is a minimum, so one is chosen at a time. Every combination
is a plain query string, so it has its own URL; hidden products are never counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import CTE, and_, case, func, literal, select
from werkzeug.datastructures import MultiDict

from shop.extensions import db
from shop.models import Category, Product
from shop.templating import money

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
RATING_STEPS = (4, 3, 2)  # "4 stars and up", ...


def rated_at_least(stars: int):
    """An average rating of ``stars`` or more, in whole numbers (no division in SQL)."""
    return and_(Product.rating_count > 0, Product.rating_sum >= stars * Product.rating_count)


@dataclass(frozen=True)
class Filters:
    """What the shopper narrowed the results to; an empty tuple means "any"."""

    category_ids: tuple[int, ...] = ()
    brands: tuple[str, ...] = ()
    bands: tuple[PriceBand, ...] = ()
    price_max: Decimal | None = None
    rating: int | None = None  # at least this many stars on average

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
        if self.rating is not None and leave_out != "rating":
            conditions.append(rated_at_least(self.rating))
        return conditions

    @property
    def active(self) -> bool:
        return bool(self.category_ids or self.brands or self.bands or self.rating)


@dataclass(frozen=True)
class FacetCounts:
    categories: list[tuple[Category, int]]
    brands: list[tuple[str, int]]
    bands: list[tuple[PriceBand, int]]
    ratings: list[tuple[int, int]]  # (stars, products rated that or more)


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


def rating_step(values: list[str]) -> int | None:
    """The first ``rating`` value that is one of the steps offered."""
    for value in values[:MAX_VALUES]:
        if value.strip().isdigit() and int(value) in RATING_STEPS:
            return int(value)
    return None


def filters_from_args(args: MultiDict, **others) -> Filters:
    """The brand, price band and rating a query string asks for (unknown values left out)."""
    return Filters(
        brands=known_brands(args.getlist("brand")),
        bands=price_bands(args.getlist("price")[:MAX_VALUES]),
        rating=rating_step(args.getlist("rating")),
        **others,
    )


def count_facets(
    matches: CTE | None, filters: Filters, scope: tuple = (), with_categories: bool = True
) -> FacetCounts:
    """How many products each facet value holds (see the module docstring): those ``matches``
    (a search's) or, without it, those within ``scope`` (a listing's conditions)."""

    def counted(*columns):
        statement = select(*columns).select_from(Product)
        if matches is not None:
            statement = statement.join(matches, matches.c.product_id == Product.id)
        return statement.where(Product.listed.is_(True), *scope)

    def grouped(key, leave_out: str):
        return (
            counted(key, func.count()).where(*filters.conditions(leave_out=leave_out)).group_by(key)
        )

    by_category = {}
    if with_categories:
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

    rating_counts = db.session.execute(
        counted(*[func.count(case((rated_at_least(stars), 1))) for stars in RATING_STEPS]).where(
            *filters.conditions(leave_out="rating")
        )
    ).one()
    ratings = list(zip(RATING_STEPS, rating_counts, strict=True))
    return FacetCounts(categories, shown, bands, ratings)


# The panel beside the results: each facet as a list of options that link to the page with that
# option ticked or unticked. ``page_url`` turns query arguments into a URL of the page at hand.
PageUrl = Callable[[list[tuple[str, str]]], str]


@dataclass(frozen=True)
class FacetOption:
    label: str
    count: int
    selected: bool
    url: str | None  # None when choosing it would show nothing (no dead ends)


@dataclass(frozen=True)
class FacetGroup:
    name: str
    title: str
    options: list[FacetOption]


def band_label(band: PriceBand) -> str:
    if band.low is None:
        return f"Under {money(band.high)}"
    if band.high is None:
        return f"{money(band.low)} and over"
    return f"{money(band.low)} to {money(band.high)}"


def facet_groups(
    counts: FacetCounts, chosen: Filters, args: list[tuple[str, str]], page_url: PageUrl
) -> list[FacetGroup]:
    """The facets with options worth showing; ``args`` are the page's current query arguments."""

    def option(name: str, value: str, label: str, count: int, selected: bool) -> FacetOption:
        if not (count or selected):
            return FacetOption(label, count, selected, None)
        # A rating is a minimum: choosing another replaces it. Any change goes back to page 1.
        kept = [
            (k, v)
            for k, v in args
            if k != "page" and not (k == name and (v == value or name == "rating"))
        ]
        if not selected:
            kept.append((name, value))
        return FacetOption(label, count, selected, page_url(kept))

    category_slugs = {category.id: category.slug for category, _ in counts.categories}
    groups = [
        FacetGroup(
            "category",
            "Category",
            [
                option("category", category_slugs[c.id], c.name, n, c.id in chosen.category_ids)
                for c, n in counts.categories
            ],
        ),
        FacetGroup(
            "brand",
            "Brand",
            [option("brand", b, b, n, b in chosen.brands) for b, n in counts.brands],
        ),
        FacetGroup(
            "price",
            "Price",
            [
                option("price", band.key, band_label(band), n, band in chosen.bands)
                for band, n in counts.bands
            ],
        ),
        FacetGroup(
            "rating",
            "Rating",
            [
                option("rating", str(stars), f"{stars} stars and up", n, stars == chosen.rating)
                for stars, n in counts.ratings
            ],
        ),
    ]
    return [group for group in groups if any(option.count for option in group.options)]
