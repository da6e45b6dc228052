"""What the admin dashboard and ``flask report`` show: the shop's behaviour as numbers.

The prototype did this analysis in a notebook over CSV exports. Here every figure is one SQL
aggregate read with ``pandas.read_sql`` on a ``db.engine`` connection and shaped with pandas, so the
page stays fast on a large event log and never loops over ORM rows.

Definitions (the dashboard labels them the same way):

* counts of clicks, views and add-to-carts are numbers of events; "units purchased" is the sum of
  ``quantity`` over purchase events; conversion rates divide event counts by click counts and are
  empty (shown as "–") when a product or category has no clicks.
* a date range is inclusive of both days and applies to the moment the event (like, rating) was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, distinct, func, select

from shop.extensions import cache, db
from shop.models import (
    EVENT_KINDS,
    Category,
    Event,
    Like,
    Order,
    Product,
    Rating,
)

FUNNEL_STEPS = (
    ("view", "Viewed"),
    ("click", "Clicked"),
    ("add_to_cart", "Added to cart"),
    ("purchase", "Purchased"),
)
UNCATEGORISED = "Uncategorised"
HEAT_LEVELS = 5


class DateRangeError(ValueError):
    """A start or end date the dashboard cannot use; the message says why."""


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of days; either end may be open."""

    start: date | None = None
    end: date | None = None

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> DateRange:
        """Read ``YYYY-MM-DD`` strings from a form or the command line, refusing nonsense."""
        parsed = []
        for label, raw in (("start", start), ("end", end)):
            raw = (raw or "").strip()
            if not raw:
                parsed.append(None)
                continue
            try:
                parsed.append(date.fromisoformat(raw))
            except ValueError as exc:
                raise DateRangeError(
                    f"The {label} date {raw[:40]!r} is not a date like 2024-03-31."
                ) from exc
        if parsed[0] and parsed[1] and parsed[0] > parsed[1]:
            raise DateRangeError("The start date is after the end date.")
        return cls(parsed[0], parsed[1])

    @classmethod
    def last_days(cls, days: int, today: date | None = None) -> DateRange:
        """The ``days`` days up to and including today (UTC)."""
        today = today or datetime.now(UTC).date()
        return cls(today - timedelta(days=days - 1), today)

    @property
    def is_open(self) -> bool:
        return self.start is None and self.end is None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """UTC instants: start of the first day, start of the day after the last (exclusive)."""
        lo = datetime.combine(self.start, time.min, tzinfo=UTC) if self.start else None
        hi = (
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)
            if self.end and self.end < date.max
            else None  # open, or the last day there is: nothing comes after it
        )
        return lo, hi

    def apply(self, query: Select, column) -> Select:
        lo, hi = self.bounds()
        if lo is not None:
            query = query.where(column >= lo)
        if hi is not None:
            query = query.where(column < hi)
        return query

    def describe(self) -> str:
        if self.is_open:
            return "all time"
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "today"
        return f"{start} to {end}"


ALL_TIME = DateRange()


def read_frame(query, columns: list[str] | None = None) -> pd.DataFrame:
    """One SQL statement -> DataFrame, on a connection of its own (no ORM identity map)."""
    with db.engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    if columns is not None:
        frame.columns = columns
    return frame


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NaN (shown as "–") where the denominator is zero."""
    den = denominator.astype("float64")
    return (numerator.astype("float64") / den.where(den > 0)).astype("float64")


def _product_columns():
    return (
        Product.id.label("product_id"),
        Product.name.label("name"),
        func.coalesce(Category.name, UNCATEGORISED).label("category"),
    )


# --- Rankings ----------------------------------------------------------------------------------


def _event_ranking(kind: str, value, n: int, rng: DateRange) -> pd.DataFrame:
    query = (
        select(*_product_columns(), value.label("value"))
        .join(Event, Event.product_id == Product.id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Event.kind == kind)
        .group_by(Product.id, Product.name, Category.name)
        .order_by(value.desc(), Product.id)
        .limit(n)
    )
    return read_frame(rng.apply(query, Event.created_at))


def most_clicked(n: int = 5, rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """Products by number of click events (ties: lower id first)."""
    return _event_ranking("click", func.count(Event.id), n, rng)


def best_sellers(n: int = 5, rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """Products by units purchased (sum of purchase quantities)."""
    return _event_ranking("purchase", func.sum(Event.quantity), n, rng)


def most_liked(n: int = 5, rng: DateRange = ALL_TIME) -> pd.DataFrame:
    value = func.count(Like.id)
    query = (
        select(*_product_columns(), value.label("value"))
        .join(Like, Like.product_id == Product.id)
        .outerjoin(Category, Category.id == Product.category_id)
        .group_by(Product.id, Product.name, Category.name)
        .order_by(value.desc(), Product.id)
        .limit(n)
    )
    return read_frame(rng.apply(query, Like.created_at))


def highest_rated(n: int = 5, min_count: int = 3, rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """Products by average stars among those with at least ``min_count`` ratings.

    The minimum keeps a single five-star rating from topping the list.
    """
    avg = func.avg(Rating.stars)
    count = func.count(Rating.id)
    query = (
        select(*_product_columns(), avg.label("value"), count.label("ratings"))
        .join(Rating, Rating.product_id == Product.id)
        .outerjoin(Category, Category.id == Product.category_id)
        .group_by(Product.id, Product.name, Category.name)
        .having(count >= min_count)
        .order_by(avg.desc(), count.desc(), Product.id)
        .limit(n)
    )
    frame = read_frame(rng.apply(query, Rating.created_at))
    frame["value"] = frame["value"].astype("float64")
    return frame


# --- Conversion and funnel -------------------------------------------------------------------


def _kind_pivot(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Long (keys..., kind, n) counts -> one row per key with a column per event kind."""
    if frame.empty:
        wide = pd.DataFrame(columns=[*keys, *EVENT_KINDS])
    else:
        wide = frame.pivot_table(
            index=keys, columns="kind", values="n", aggfunc="sum", fill_value=0
        )
        wide = wide.reindex(columns=list(EVENT_KINDS), fill_value=0).reset_index()
        wide.columns.name = None
    for kind in EVENT_KINDS:
        wide[kind] = wide[kind].astype("int64")
    wide["purchase_rate"] = _rate(wide["purchase"], wide["click"])
    wide["cart_rate"] = _rate(wide["add_to_cart"], wide["click"])
    return wide


def conversion_by_product(rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """Per product: event counts and purchases/clicks, add_to_cart/clicks, most clicked first."""
    query = (
        select(*_product_columns(), Event.kind, func.count(Event.id).label("n"))
        .join(Event, Event.product_id == Product.id)
        .outerjoin(Category, Category.id == Product.category_id)
        .group_by(Product.id, Product.name, Category.name, Event.kind)
    )
    wide = _kind_pivot(
        read_frame(rng.apply(query, Event.created_at)), ["product_id", "name", "category"]
    )
    return wide.sort_values(["click", "product_id"], ascending=[False, True], ignore_index=True)


def conversion_by_category(rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """Per category: event counts and conversion rates (every category listed, even without events)."""
    category = func.coalesce(Category.name, UNCATEGORISED)
    query = (
        select(category.label("category"), Event.kind, func.count(Event.id).label("n"))
        .select_from(Event)
        .join(Product, Product.id == Event.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .group_by(category, Event.kind)
    )
    wide = _kind_pivot(read_frame(rng.apply(query, Event.created_at)), ["category"])
    names = read_frame(select(Category.name).order_by(Category.name), ["category"])
    wide = names.merge(wide, on="category", how="outer")
    for kind in EVENT_KINDS:
        wide[kind] = wide[kind].fillna(0).astype("int64")
    return wide.sort_values("category", ignore_index=True)


def event_counts(rng: DateRange = ALL_TIME) -> dict[str, int]:
    query = select(Event.kind, func.count(Event.id)).group_by(Event.kind)
    frame = read_frame(rng.apply(query, Event.created_at), ["kind", "n"])
    counts = dict(zip(frame["kind"], frame["n"].astype(int), strict=True))
    return {kind: int(counts.get(kind, 0)) for kind in EVENT_KINDS}


def funnel(rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """view -> click -> add to cart -> purchase for the whole shop.

    ``step_rate`` is each step over the one before it; ``overall_rate`` is each step over views.
    """
    counts = event_counts(rng)
    frame = pd.DataFrame(
        {
            "step": [label for _, label in FUNNEL_STEPS],
            "kind": [kind for kind, _ in FUNNEL_STEPS],
            "events": [counts[kind] for kind, _ in FUNNEL_STEPS],
        }
    )
    frame["step_rate"] = _rate(frame["events"], frame["events"].shift(1).fillna(0))
    frame["overall_rate"] = _rate(frame["events"], pd.Series([counts["view"]] * len(frame)))
    frame.loc[0, "step_rate"] = np.nan
    return frame


# --- Shopper patterns ------------------------------------------------------------------------


def rating_distribution(rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """How many ratings gave 1, 2, 3, 4 and 5 stars (every level listed)."""
    query = rng.apply(
        select(Rating.stars, func.count(Rating.id)).group_by(Rating.stars), Rating.created_at
    )
    frame = read_frame(query, ["stars", "ratings"]).set_index("stars")
    frame = frame.reindex(range(1, 6), fill_value=0).rename_axis("stars").reset_index()
    frame["ratings"] = frame["ratings"].astype("int64")
    total = int(frame["ratings"].sum())
    frame["share"] = frame["ratings"] / total if total else np.nan
    return frame


def activity_by_day(rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """Events per day, one column per kind, days without events filled with zeros."""
    day = func.date(Event.created_at)
    query = rng.apply(
        select(day.label("day"), Event.kind, func.count(Event.id).label("n")).group_by(
            day, Event.kind
        ),
        Event.created_at,
    )
    frame = read_frame(query)
    if frame.empty:
        return pd.DataFrame(columns=["day", *EVENT_KINDS])
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    wide = frame.pivot_table(index="day", columns="kind", values="n", aggfunc="sum", fill_value=0)
    days = pd.date_range(min(wide.index), max(wide.index), freq="D").date
    wide = wide.reindex(index=days, columns=list(EVENT_KINDS), fill_value=0).astype("int64")
    wide.index.name = "day"
    wide.columns.name = None
    return wide.reset_index()


def new_vs_returning(rng: DateRange = ALL_TIME, freq: str | None = None) -> pd.DataFrame:
    """Active signed-in shoppers per period, split by whether their first event ever was in it.

    ``freq`` is ``"D"`` or ``"W"`` (weeks start on Monday); by default days for ranges up to two
    months and weeks beyond.
    """
    day = func.date(Event.created_at)
    active = read_frame(
        rng.apply(
            select(Event.user_id, day.label("day"))
            .where(Event.user_id.is_not(None))
            .group_by(Event.user_id, day),
            Event.created_at,
        ),
        ["user_id", "day"],
    )
    columns = ["period", "new", "returning"]
    if active.empty:
        return pd.DataFrame(columns=columns)
    first = read_frame(
        select(Event.user_id, func.min(day))
        .where(Event.user_id.is_not(None))
        .group_by(Event.user_id),
        ["user_id", "first_day"],
    )
    active["day"] = pd.to_datetime(active["day"])
    first["first_day"] = pd.to_datetime(first["first_day"])
    if freq is None:
        span = (active["day"].max() - active["day"].min()).days
        freq = "D" if span <= 62 else "W"
    if freq not in ("D", "W"):
        raise ValueError("freq must be 'D' or 'W'")

    def period(days: pd.Series) -> pd.Series:
        if freq == "D":
            return days.dt.normalize()
        return (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).dt.normalize()

    active["period"] = period(active["day"])
    active = active.drop_duplicates(["user_id", "period"]).merge(first, on="user_id")
    active["is_new"] = period(active["first_day"]) == active["period"]
    table = (
        active.groupby(["period", "is_new"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=[True, False], fill_value=0)
    )
    table.columns = ["new", "returning"]
    table = table.reset_index()
    table["period"] = table["period"].dt.date
    table[["new", "returning"]] = table[["new", "returning"]].astype("int64")
    return table[columns]


@dataclass(frozen=True)
class SegmentHeatmap:
    """Rows: shopper segments; columns: categories; cells: share of the segment's interactions."""

    shares: pd.DataFrame  # index segment label, columns categories, values 0..1
    sizes: pd.Series  # shoppers per segment
    levels: pd.DataFrame  # heat level 0..5 per cell, for the heat-N CSS classes

    @property
    def empty(self) -> bool:
        return self.shares.empty

    def rows(self) -> list[dict[str, Any]]:
        """Ready for the template: label, size and (share, level) per category."""
        return [
            {
                "segment": label,
                "shoppers": int(self.sizes[label]),
                "cells": [
                    (float(self.shares.at[label, c]), int(self.levels.at[label, c]))
                    for c in self.shares.columns
                ],
            }
            for label in self.shares.index
        ]

    def long(self) -> pd.DataFrame:
        frame = self.shares.stack().rename("share").reset_index()
        frame.columns = ["segment", "category", "share"]
        frame["shoppers"] = frame["segment"].map(self.sizes).astype("int64")
        return frame


def segment_affinity(
    rng: DateRange = ALL_TIME, n_segments: int = 4, random_state: int = 0
) -> SegmentHeatmap:
    """Group shoppers by what they look at, and show which categories each group favours.

    Each signed-in shopper becomes a vector of category shares of their events; k-means (fixed
    ``random_state``, so the page is stable between reloads) groups similar vectors. A segment is
    named after its strongest category.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    category = func.coalesce(Category.name, UNCATEGORISED)
    query = rng.apply(
        select(Event.user_id, category.label("category"), func.count(Event.id).label("n"))
        .join(Product, Product.id == Event.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Event.user_id.is_not(None))
        .group_by(Event.user_id, category),
        Event.created_at,
    )
    frame = read_frame(query, ["user_id", "category", "n"])
    if frame.empty:
        empty = pd.DataFrame()
        return SegmentHeatmap(empty, pd.Series(dtype="int64"), empty)
    counts = frame.pivot_table(
        index="user_id", columns="category", values="n", aggfunc="sum", fill_value=0
    ).sort_index(axis=1)
    shares = counts.div(counts.sum(axis=1), axis=0)
    distinct_rows = len(np.unique(shares.to_numpy().round(12), axis=0))
    k = max(1, min(n_segments, distinct_rows))
    if k == 1:
        labels = np.zeros(len(shares), dtype=int)
    else:
        model = KMeans(n_clusters=k, random_state=random_state, n_init=10)
        # A few hundred short vectors: thread pools cost more than they save inside a web worker.
        with threadpool_limits(limits=1):
            labels = model.fit_predict(shares.to_numpy())
    # The segment's share is over its pooled interactions, so heavy shoppers weigh more.
    pooled = counts.groupby(labels).sum()
    seg_shares = pooled.div(pooled.sum(axis=1), axis=0)
    sizes = pd.Series(labels).value_counts().sort_index()
    order = sizes.sort_values(ascending=False, kind="stable").index
    names = []
    for rank, seg in enumerate(order, start=1):
        top = seg_shares.loc[seg].idxmax()
        names.append(f"Segment {rank}: mostly {top}")
    seg_shares = seg_shares.loc[order]
    seg_shares.index = names
    seg_sizes = pd.Series(sizes.loc[order].to_numpy(), index=names, dtype="int64")
    peak = float(seg_shares.to_numpy().max()) or 1.0
    levels = np.ceil(seg_shares / peak * HEAT_LEVELS).clip(0, HEAT_LEVELS).astype(int)
    seg_shares.columns.name = None
    levels.columns.name = None
    return SegmentHeatmap(seg_shares, seg_sizes, levels)


# --- Sales ------------------------------------------------------------------------------------

#: Orders that never brought money in; revenue, order counts and average order value leave them out.
NOT_REVENUE = ("cancelled",)


@dataclass(frozen=True)
class Sales:
    """Revenue, orders and average order value over a date range, cancelled orders excluded."""

    revenue: float
    orders: int
    cancelled: int
    cancelled_value: float

    @property
    def average_order_value(self) -> float | None:
        return self.revenue / self.orders if self.orders else None


def sales(rng: DateRange = ALL_TIME) -> Sales:
    """Order totals by the day the order was placed; a cancelled order counts apart, not as revenue."""
    cancelled = Order.status.in_(NOT_REVENUE)
    query = select(
        func.coalesce(func.sum(Order.total).filter(~cancelled), 0),
        func.count(Order.id).filter(~cancelled),
        func.count(Order.id).filter(cancelled),
        func.coalesce(func.sum(Order.total).filter(cancelled), 0),
    )
    revenue, orders, n_cancelled, cancelled_value = read_frame(
        rng.apply(query, Order.created_at)
    ).iloc[0]
    return Sales(float(revenue), int(orders), int(n_cancelled), float(cancelled_value))


def revenue_by_day(rng: DateRange = ALL_TIME) -> pd.DataFrame:
    """Revenue and orders per day (cancelled orders excluded), days without orders filled with zeros."""
    day = func.date(Order.created_at)
    query = rng.apply(
        select(day.label("day"), func.sum(Order.total), func.count(Order.id))
        .where(Order.status.not_in(NOT_REVENUE))
        .group_by(day),
        Order.created_at,
    )
    frame = read_frame(query, ["day", "revenue", "orders"])
    if frame.empty:
        return pd.DataFrame(columns=["day", "revenue", "orders"])
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame = frame.set_index("day")
    days = pd.date_range(min(frame.index), max(frame.index), freq="D").date
    frame = frame.reindex(days, fill_value=0)
    frame.index.name = "day"
    frame["revenue"] = frame["revenue"].astype("float64").round(2)
    frame["orders"] = frame["orders"].astype("int64")
    return frame.reset_index()


# --- Everything for one page -----------------------------------------------------------------


def totals(rng: DateRange = ALL_TIME) -> dict[str, int]:
    """Headline counts for the dashboard cards."""
    shoppers = read_frame(
        rng.apply(
            select(func.count(distinct(Event.user_id))).where(Event.user_id.is_not(None)),
            Event.created_at,
        )
    ).iat[0, 0]
    counts = event_counts(rng)
    return {"shoppers": int(shoppers or 0), **counts}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts with NaN turned into None (templates print "–" for None)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return clean.to_dict("records")


def dashboard(rng: DateRange = ALL_TIME, min_ratings: int = 3) -> dict[str, Any]:
    """Every table on the dashboard, plus the numbers its charts draw."""
    top20 = most_clicked(20, rng)
    sellers = best_sellers(10, rng)
    liked = most_liked(10, rng)
    rated = highest_rated(10, min_ratings, rng)
    categories = conversion_by_category(rng)
    products = conversion_by_product(rng).head(20)
    steps = funnel(rng)
    ratings = rating_distribution(rng)
    activity = activity_by_day(rng)
    shoppers = new_vs_returning(rng)
    heatmap = segment_affinity(rng)
    daily_revenue = revenue_by_day(rng)
    charts = {
        "revenue": {
            "labels": [d.isoformat() for d in daily_revenue["day"]],
            "values": daily_revenue["revenue"].astype(float).tolist(),
        },
        "topClicked": {
            "labels": top20["name"].head(5).tolist(),
            "values": top20["value"].head(5).astype(int).tolist(),
        },
        "funnel": {
            "labels": steps["step"].tolist(),
            "values": steps["events"].astype(int).tolist(),
        },
        "categories": {
            "labels": categories["category"].tolist(),
            "purchaseRate": [
                None if pd.isna(v) else round(100 * v, 2) for v in categories["purchase_rate"]
            ],
            "cartRate": [
                None if pd.isna(v) else round(100 * v, 2) for v in categories["cart_rate"]
            ],
        },
        "ratings": {
            "labels": [f"{s}★" for s in ratings["stars"]],
            "values": ratings["ratings"].astype(int).tolist(),
        },
        "activity": {
            "labels": [d.isoformat() for d in activity["day"]],
            "series": {kind: activity[kind].astype(int).tolist() for kind in EVENT_KINDS},
        },
        "shoppers": {
            "labels": [d.isoformat() for d in shoppers["period"]],
            "new": shoppers["new"].astype(int).tolist(),
            "returning": shoppers["returning"].astype(int).tolist(),
        },
    }
    return {
        "totals": totals(rng),
        "sales": sales(rng),
        "revenue_days": _records(daily_revenue),
        "top5": _records(top20.head(5)),
        "top20": _records(top20),
        "best_sellers": _records(sellers),
        "most_liked": _records(liked),
        "highest_rated": _records(rated),
        "min_ratings": min_ratings,
        "funnel": _records(steps),
        "categories": _records(categories),
        "products": _records(products),
        "ratings": _records(ratings),
        "activity_days": len(activity),
        "shoppers": _records(shoppers),
        "heatmap": heatmap,
        "charts": charts,
    }


@cache.memoize()
def cached_dashboard(rng: DateRange = ALL_TIME, min_ratings: int = 3) -> dict[str, Any]:
    """:func:`dashboard`, kept for SHOP_CACHE_SECONDS per date range (about 13 queries and a k-means
    fit per load otherwise); ``computed_at`` says how old the figures are. :func:`clear_dashboard`
    forgets them."""
    return {**dashboard(rng, min_ratings), "computed_at": datetime.now(UTC)}


def clear_dashboard() -> None:
    """Forget every cached dashboard (after a retrain, an import or a seeding)."""
    cache.delete_memoized(cached_dashboard)


# --- CSV downloads ---------------------------------------------------------------------------

CSV_TABLES = {
    "most-clicked": lambda rng: most_clicked(1_000_000, rng),
    "best-sellers": lambda rng: best_sellers(1_000_000, rng),
    "most-liked": lambda rng: most_liked(1_000_000, rng),
    "highest-rated": lambda rng: highest_rated(1_000_000, 1, rng),
    "funnel": funnel,
    "revenue": revenue_by_day,
    "conversion-by-category": conversion_by_category,
    "conversion-by-product": conversion_by_product,
    "ratings": rating_distribution,
    "activity": activity_by_day,
    "new-vs-returning": new_vs_returning,
    "segments": lambda rng: segment_affinity(rng).long(),
}


#: A spreadsheet reads a cell that starts with one of these as a formula (OWASP's CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe; numbers are untouched.

    Product, brand and category names come from imports and admins' forms, so a name such as
    ``=HYPERLINK(...)`` must arrive in the admin's spreadsheet as text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_table(name: str, rng: DateRange = ALL_TIME) -> str:
    """The numbers behind one dashboard chart or table, as CSV text. KeyError for unknown names."""
    frame = CSV_TABLES[name](rng)
    # RFC 4180 line ends, so a name holding a carriage return is quoted like one holding a newline.
    return frame.map(neutralise_cell).to_csv(
        index=False, float_format="%.6g", lineterminator="\r\n"
    )
