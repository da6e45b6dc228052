"""The recommendation lists the pages show: for you, because you liked, similar, bought together.

Each list asks the engine in the model store (:mod:`shop.services.model_store`) and falls back to SQL
(popularity, the same category, co-purchases) when no model is loaded or the model cannot answer.
Reading a list writes nothing: a page that shows an experiment's list records the impression itself.

The shop's rules hold in every list, read from the database on each request
(:mod:`shop.services.availability`): hidden and sold-out products are never recommended, nor is
anything already in the shopper's cart. They go to the engine as exclusions, so each list is filled
past them and keeps its length. Merchandising (:mod:`shop.services.merchandising`) puts pinned
products first in a category's popular lists and reweights boosted or buried categories.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from shop.experiments.assignment import variant_for
from shop.extensions import cache, db, local_cache
from shop.models import OrderLine, Product
from shop.services import merchandising
from shop.services.availability import cart_product_ids, is_listed, is_sold_out, unsellable
from shop.services.interactions import shopper_history, touched_product_ids, user_history
from shop.services.model_store import current_engine, store
from shop.services.new_products import products_fingerprint, unseen_for

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


def _popular_products(counter: str, n: int, exclude: set[int] | frozenset[int] = frozenset()):
    """The n most popular sellable products by a counter, boosted or buried categories reweighted.

    The cached ranking is read deep enough to fill the list past the excluded products (and twice
    as deep while a boost runs, so that a boosted category has candidates to lift).
    """
    exclude = set(exclude) | unsellable().ids
    boosts = merchandising.active_boosts()
    depth = 2 * n if boosts else n
    ids = [i for i in popular_ids(counter, depth + len(exclude)) if i not in exclude][:depth]
    by_id = products_by_id(ids)
    products = [by_id[i] for i in ids if i in by_id]
    column = POPULAR_COUNTERS[counter].key
    return merchandising.reweight(
        products,
        [getattr(p, column) for p in products],
        [p.category_id for p in products],
        boosts,
        n,
    )


def top_clicked(n: int = 5, user_id: int | None = None, exclude: Iterable[int] = ()) -> list:
    """The prototype's rule-based list: products ranked by how often they were clicked.

    Only sellable products, none already in the shopper's cart, none in ``exclude`` (what the page
    shows elsewhere); the list is filled from further down the ranking.
    """
    return _popular_products("click", n, cart_product_ids(user_id) | set(exclude))


def best_sellers(n: int = 5, user_id: int | None = None, exclude: Iterable[int] = ()) -> list:
    """Products ranked by how often they were bought, under the same rules as :func:`top_clicked`."""
    return _popular_products("purchase", n, cart_product_ids(user_id) | set(exclude))


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
    touched = touched_product_ids(user_id) if user_id is not None else set()
    exclude = touched | unsellable().ids | cart_product_ids(user_id)
    boosts = merchandising.active_boosts()
    # While a boost or bury runs, twice the candidates are asked for, reweighted, then cut to n.
    depth = 2 * n if boosts else n
    recs = None
    if engine is not None:
        history = user_history(user_id) if user_id is not None else None
        recs = _ask_engine(
            lambda: engine.recommend(history, n=depth, variant=algorithm, exclude=sorted(exclude))
        )
    if recs is not None:
        shown = _shown(
            recs,
            source,
            personalised=bool(touched),  # a list for someone with no history is not "theirs"
            variant=variant.name if variant else None,
            variant_id=variant.id if variant else None,
            model_version=version,
        )
        items = merchandising.reweight(
            shown.items,
            [i.score for i in shown.items],
            [i.product.category_id for i in shown.items],
            boosts,
            n,
        )
        shown = replace(shown, items=items)
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
    """Items like the shopper's most recent like (or 4-5 star rating) of a listed product, if any,
    and new to them.

    ``shown_already`` holds products another list on the same page shows, so a shopper does not
    see one product twice.
    """

    # A hidden product is never named to a shopper, not even as the reason for a list.
    hidden = unsellable().hidden
    liked = next((i for i in shopper_history(user_id).liked if i not in hidden), None)
    if liked is None:
        return None
    anchor = db.session.get(Product, liked)
    exclude = touched_product_ids(user_id) | set(shown_already)
    shown = similar_products(
        anchor, n=n, source="home:because-liked", exclude=exclude, user_id=user_id
    )
    # A pinned product keeps its honest reason: an admin put it there, not the shopper's like.
    items = [
        i
        if i.reason == merchandising.FEATURED
        else ShownItem(i.product, f"Because you liked {anchor.name}", i.score)
        for i in shown.items
    ]
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


#: How far past n a product row's cached engine answer reaches, so that it still fills n once the
#: request's hidden, sold-out and carted products are taken out.
ROW_SLACK = 10


def _row_for_product(
    kind: str,
    product_id: int,
    n: int,
    blocked: set[int],
    ask: Callable[[int, list[int]], list],
    *extra_key: Any,
) -> list:
    """The engine's row for a product page ("similar", "also bought"), cached per model version.

    The engine fills these rows by walking a fixed neighbour order and skipping what is excluded,
    so the first n of a deeper answer asked without exclusions, filtered by this request's
    exclusions, is the same list. That deeper answer is kept in the process's cache under the model
    version (and ``extra_key``, the catalogue's fingerprint for "similar", which also ranks
    products added since the fit); hiding a product, selling it out or carting it still takes it
    out of the very next page, because the filter is applied on every request. When too few are
    left after the filter, the engine is asked with the exclusions, as before.
    """
    depth = n + ROW_SLACK
    key = f"row:{kind}:{store().version}:{product_id}:{depth}:{':'.join(map(str, extra_key))}"
    deep = local_cache.get(key)
    if deep is None:
        deep = ask(depth, [product_id])
        local_cache.set(key, deep)
    kept = [r for r in deep if int(r.product_id) not in blocked][:n]
    if len(kept) < n and len(deep) >= depth:
        return ask(n, sorted(blocked))
    return kept


def _blocked(product, exclude: Iterable[int], user_id: int | None) -> set[int]:
    """What a product page's list must leave out: the product, the caller's exclusions, the shop's
    unsellable products and the shopper's cart."""
    return {product.id, *exclude} | unsellable().ids | cart_product_ids(user_id)


def _sellable(query, blocked: set[int]):
    return query.where(is_listed(), ~is_sold_out(), Product.id.not_in(blocked))


def popular_in_category(category, n: int, blocked: set[int]) -> list[ShownItem]:
    """A category's popular products: its pinned ones first ("Featured"), then by clicks."""
    if n <= 0:
        return []
    category_id = category.id if category is not None else None
    pinned = [i for i in merchandising.pinned_ids(category_id) if i not in blocked]
    by_id = products_by_id(pinned)
    items = [
        ShownItem(by_id[i], merchandising.FEATURED)
        for i in pinned
        if i in by_id
        and by_id[i].listed
        and not by_id[i].sold_out
        and by_id[i].category_id == category_id
    ][:n]
    query = _sellable(
        select(Product)
        .where(Product.category_id == category_id)
        .order_by(Product.click_count.desc(), Product.id)
        .limit(n - len(items))
        .options(joinedload(Product.category)),
        blocked | {item.product.id for item in items},
    )
    name = category.name if category is not None else "this range"
    return items + [ShownItem(p, f"Popular in {name}") for p in db.session.scalars(query)]


def similar_products(
    product,
    n: int = 6,
    source: str = "product:similar",
    *,
    exclude: Iterable[int] = (),
    user_id: int | None = None,
) -> ShownList:
    """Products like this one (content similarity, new products included); topped up from the
    category's popular products when the engine has fewer than n, or no model is loaded."""
    blocked = _blocked(product, exclude, user_id)

    def ask(engine):
        fingerprint = products_fingerprint()
        return _row_for_product(
            "similar",
            product.id,
            n,
            blocked,
            lambda depth, leave_out: engine.similar(
                product.id,
                n=depth,
                exclude=leave_out,
                unseen=unseen_for(engine, store().version, fingerprint),
            ),
            fingerprint,
        )

    shown = _from_engine(ask, source)
    items = [] if shown is None else shown.items
    if len(items) < n:
        taken = blocked | {item.product.id for item in items}
        items = items + popular_in_category(product.category, n - len(items), taken)
    return ShownList(source=source, items=items)


def also_bought(
    product, n: int = 6, source: str = "product:also-bought", *, user_id: int | None = None
) -> ShownList:
    """Customers who bought this also bought: co-purchases, from the model or straight from orders."""
    blocked = _blocked(product, (), user_id)
    shown = _from_engine(
        lambda engine: _row_for_product(
            "also-bought",
            product.id,
            n,
            blocked,
            lambda depth, leave_out: engine.also_bought(product.id, n=depth, exclude=leave_out),
        ),
        source,
    )
    items = [] if shown is None else shown.items
    if len(items) >= n:
        return shown
    taken = blocked | {item.product.id for item in items}
    orders_with_it = select(OrderLine.order_id).where(OrderLine.product_id == product.id)
    query = _sellable(
        select(Product, func.count(OrderLine.id).label("together"))
        .join(OrderLine, OrderLine.product_id == Product.id)
        .where(OrderLine.order_id.in_(orders_with_it))
        .group_by(Product.id)
        .order_by(func.count(OrderLine.id).desc(), Product.id)
        .limit(n - len(items))
        .options(joinedload(Product.category)),
        taken,
    )
    items = items + [
        ShownItem(p, f"Bought together with {product.name}", float(together))
        for p, together in db.session.execute(query)
    ]
    return ShownList(source=source, items=items)
