"""The recommendation lists the pages show: for you, because you liked, similar, bought together.

Each list asks the engine in the model store (:mod:`shop.services.model_store`) and falls back to SQL
(popularity, the same category, co-purchases) when no model is loaded or the model cannot answer.
Reading a list writes nothing: a page that shows an experiment's list records the impression itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from shop.experiments.assignment import variant_for
from shop.extensions import cache, db
from shop.models import Like, OrderLine, Product, Rating
from shop.services.interactions import touched_product_ids, user_history
from shop.services.model_store import current_engine, store

log = logging.getLogger(__name__)


# --- What the pages show ---------------------------------------------------------------------


@dataclass(frozen=True)
class ShownItem:
    product: Any  # shop.models.Product
    reason: str
    score: float | None = None


@dataclass(frozen=True)
class ShownList:
    """One recommendation list ready for a template (and for A/B attribution)."""

    source: str
    items: list[ShownItem]
    personalised: bool = False
    impression_id: int | None = None
    variant: str | None = None
    variant_id: int | None = None
    model_version: str | None = None

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def pairs(self) -> list[tuple[Any, str]]:
        return [(item.product, item.reason) for item in self.items]


def products_by_id(ids: list) -> dict:
    """Products by id in one query, joined to their categories (the cards show the category)."""
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Product).where(Product.id.in_(ids)).options(joinedload(Product.category))
    ).all()
    return {p.id: p for p in rows}


def _shown(recs, source: str, **kwargs) -> ShownList:
    """Engine records -> products from the database, keeping the engine's order."""
    ids = [int(r.product_id) for r in recs]
    by_id = products_by_id(ids)
    items = [
        ShownItem(by_id[int(r.product_id)], r.reason, float(r.score))
        for r in recs
        if int(r.product_id) in by_id
    ]
    return ShownList(source=source, items=items, **kwargs)


#: The counters the popular lists rank by.
POPULAR_COUNTERS = {"click": Product.click_count, "purchase": Product.purchase_count}


@cache.memoize()
def popular_ids(counter: str, limit: int) -> list[int]:
    """Ids ranked by a counter ("click" or "purchase"), cached for SHOP_CACHE_SECONDS.

    Every page shows these lists and they move slowly, so a few seconds of staleness buys a sort
    over the whole catalogue on every request. :func:`clear_popular` forgets them.
    """
    order_column = POPULAR_COUNTERS[counter]
    return list(
        db.session.scalars(
            select(Product.id).order_by(order_column.desc(), Product.id).limit(limit)
        )
    )


def clear_popular() -> None:
    """Forget the cached popular lists (after a retrain, an import or a seeding)."""
    cache.delete_memoized(popular_ids)


def _popular_products(counter: str, n: int, exclude: set[int] | None = None) -> list:
    exclude = exclude or set()
    ids = [i for i in popular_ids(counter, n + len(exclude)) if i not in exclude][:n]
    by_id = products_by_id(ids)
    return [by_id[i] for i in ids if i in by_id]


def top_clicked(n: int = 5) -> list:
    """The prototype's rule-based list: products ranked by how often they were clicked."""

    return _popular_products("click", n)


def best_sellers(n: int = 5) -> list:

    return _popular_products("purchase", n)


def recommended_for(user_id: int | None, n: int = 10, source: str = "home:for-you") -> ShownList:
    """The shopper's personal list of discoveries, from their history as it is right now.

    Discovery means products new to the shopper: everything they ever viewed, clicked, carted,
    bought, rated or liked is left out, exactly as ``flask evaluate`` leaves it out of the list it
    scores (its hits are products the shopper had not touched). What is served is what is measured;
    the familiar products have their own rows (``history_lists``).

    Falls back to popularity (labelled as such) when no model is loaded or the shopper is unknown
    to it. When an A/B experiment is running, the shopper's variant picks the algorithm; this read
    writes nothing, and the route that shows the list records it
    (``shop.experiments.impressions.record_impression``) so clicks and purchases count for it.
    """

    engine = current_engine()
    variant = variant_for(user_id)
    algorithm = variant.algorithm if variant is not None else "hybrid"
    version = store().version if engine is not None else None
    exclude = touched_product_ids(user_id) if user_id is not None else set()
    recs = None
    if engine is not None:
        history = user_history(user_id) if user_id is not None else None
        recs = _ask_engine(
            lambda: engine.recommend(history, n=n, variant=algorithm, exclude=sorted(exclude))
        )
    if recs is not None:
        shown = _shown(
            recs,
            source,
            personalised=user_id is not None,
            variant=variant.name if variant else None,
            variant_id=variant.id if variant else None,
            model_version=version,
        )
    else:
        products = _popular_products("click", n, exclude)
        shown = ShownList(
            source=source,
            items=[ShownItem(p, "Popular with shoppers right now") for p in products],
            variant=variant.name if variant else None,
            variant_id=variant.id if variant else None,
        )
    return shown


def because_you_liked(
    user_id: int, n: int = 5, shown_already: Iterable[int] = ()
) -> tuple[Any, ShownList] | None:
    """Items like the shopper's most recent like (or 4-5 star rating), if any, and new to them.

    ``shown_already`` holds products another list on the same page shows, so a shopper does not
    see one product twice.
    """

    liked = db.session.scalar(
        select(Like.product_id)
        .where(Like.user_id == user_id)
        .order_by(Like.created_at.desc(), Like.id.desc())
        .limit(1)
    ) or db.session.scalar(
        select(Rating.product_id)
        .where(Rating.user_id == user_id, Rating.stars >= 4)
        .order_by(Rating.updated_at.desc())
        .limit(1)
    )
    if liked is None:
        return None
    anchor = db.session.get(Product, liked)
    exclude = touched_product_ids(user_id) | set(shown_already)
    shown = similar_products(anchor, n=n + len(exclude), source="home:because-liked")
    items = [
        ShownItem(i.product, f"Because you liked {anchor.name}", i.score)
        for i in shown.items
        if i.product.id not in exclude
    ][:n]
    if not items:
        return None
    return anchor, ShownList(source="home:because-liked", items=items)


def _from_engine(ask: Callable[[Any], list], source: str) -> ShownList | None:
    """The loaded engine's list for a product page, or None when no model is loaded or the model
    has never seen the product (the caller then answers from SQL)."""
    from shop.recommend import UnknownProductError

    engine = current_engine()
    if engine is None:
        return None
    try:
        recs = _ask_engine(lambda: ask(engine))
    except UnknownProductError:
        return None
    return None if recs is None else _shown(recs, source)


def _ask_engine(ask: Callable[[], list]) -> list | None:
    """The engine's answer, or None (the caller falls back to SQL) if the loaded model breaks.

    A model that loaded but fails on use (a file from another engine build, a bug) must cost the
    shopper a personalised list, never the page. UnknownProductError is an answer, not a failure.
    """
    from shop.recommend import UnknownProductError

    try:
        return ask()
    except UnknownProductError:
        raise
    except Exception:
        log.exception("The recommendation model failed; serving the popularity fallback")
        return None


def similar_products(product, n: int = 6, source: str = "product:similar") -> ShownList:
    """Products like this one (content similarity); same category by popularity without a model."""
    shown = _from_engine(lambda engine: engine.similar(product.id, n=n), source)
    if shown is not None:
        return shown
    query = (
        select(Product)
        .where(Product.category_id == product.category_id, Product.id != product.id)
        .order_by(Product.click_count.desc(), Product.id)
        .limit(n)
        .options(joinedload(Product.category))
    )
    category = product.category.name if product.category else "this range"
    return ShownList(
        source=source,
        items=[ShownItem(p, f"Popular in {category}") for p in db.session.scalars(query)],
    )


def also_bought(product, n: int = 6, source: str = "product:also-bought") -> ShownList:
    """Customers who bought this also bought: co-purchases, from the model or straight from orders."""
    shown = _from_engine(lambda engine: engine.also_bought(product.id, n=n), source)
    if shown is not None:
        return shown
    orders_with_it = select(OrderLine.order_id).where(OrderLine.product_id == product.id)
    query = (
        select(Product, func.count(OrderLine.id).label("together"))
        .join(OrderLine, OrderLine.product_id == Product.id)
        .where(OrderLine.order_id.in_(orders_with_it), Product.id != product.id)
        .group_by(Product.id)
        .order_by(func.count(OrderLine.id).desc(), Product.id)
        .limit(n)
        .options(joinedload(Product.category))
    )
    items = [
        ShownItem(p, f"Bought together with {product.name}", float(together))
        for p, together in db.session.execute(query)
    ]
    return ShownList(source=source, items=items)
