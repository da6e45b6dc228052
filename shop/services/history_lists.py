"""The shopper's own history as page rows: what they touched, viewed lately, and may buy again.

These rows are not recommendations. "Recommended for you" is discovery: products new to the shopper,
which is exactly what ``flask evaluate`` measures (its test positives are products the shopper had
not touched before the cut). So every product a shopper has touched in any way is excluded from that
list (``interactions.touched_product_ids``), and the familiar ones get rows of their own here:

- *Recently viewed*: the latest distinct products the shopper viewed or clicked, newest first.
- *Buy it again*: products the shopper bought before, shown only where the data shows re-buying (the
  shopper bought the product on more than one order, or other buyers of it did), ordered by
  :func:`rebuy_scores`. Hidden and sold-out products, and those already in the cart, are not
  offered (:mod:`shop.services.availability`); the row is filled from the shopper's other re-buys.

Hidden products are left out of *Recently viewed* too (a shopper sees them nowhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import case, distinct, func, select

from shop.extensions import db
from shop.models import Order, OrderLine
from shop.services.availability import cart_product_ids, unsellable
from shop.services.interactions import shopper_history
from shop.services.recommendations import ShownItem, ShownList, products_by_id

#: Products the shopper bought, most recent first, considered for "Buy it again".
REBUY_CANDIDATES = 200
#: A purchase this many days older than the shopper's latest one weighs half as much. Chosen on a
#: development split of the retail log (history before 2011-06-01, re-buys June to August) with
#: ``bench/buy_again_eval.py``: recency matters little there, so the half-life is long.
REBUY_HALF_LIFE_DAYS = 365.0


def recently_viewed(user_id: int, n: int = 10, source: str = "home:recently-viewed") -> ShownList:
    """The shopper's latest distinct viewed or clicked products, newest first.

    Read from the request's one history statement (``interactions.shopper_history``), so among the
    shopper's latest ``HISTORY_EVENT_LIMIT`` events; hidden products are left out.
    """
    hidden = unsellable().hidden
    ids = [i for i in shopper_history(user_id).viewed if i not in hidden][:n]
    by_id = products_by_id(ids)
    return ShownList(source=source, items=[ShownItem(by_id[i], "") for i in ids if i in by_id])


def rebuy_scores(
    orders: Sequence[int],
    days_before_latest: Sequence[float],
    buyers: Sequence[int],
    repeat_buyers: Sequence[int],
    *,
    half_life_days: float = REBUY_HALF_LIFE_DAYS,
) -> np.ndarray:
    """How likely a re-buy is, for each product one shopper bought before (0: no sign of re-buying).

    The evidence is the shopper's own repeats (orders beyond the first) plus the product's re-buy
    rate across the shop (buyers with two or more orders of it, shrunk towards zero while it has few
    buyers), discounted by how long ago the shopper last bought it. A product bought once by a
    shopper and never re-bought by anyone scores 0 and is not offered again.
    """
    orders = np.asarray(orders, dtype=float)
    if orders.size == 0:
        raise ValueError("no purchases to score")
    days = np.asarray(days_before_latest, dtype=float)
    rate = np.asarray(repeat_buyers, dtype=float) / (np.asarray(buyers, dtype=float) + 1.0)
    evidence = np.maximum(orders - 1.0, 0.0) + rate
    return evidence * np.power(0.5, np.maximum(days, 0.0) / half_life_days)


def _rebuy_reason(orders: int, buyers: int, repeat_buyers: int) -> str:
    if orders >= 2:
        return f"You have bought this {orders} times"
    share = round(100 * repeat_buyers / max(buyers, 1))
    return f"{share}% of its buyers buy it again"


def buy_it_again(user_id: int, n: int = 10, source: str = "home:buy-again") -> ShownList:
    """Products the shopper bought before, most likely re-buy first; empty without re-buy evidence."""
    last_bought = func.max(Order.created_at)
    leave_out = unsellable().ids | cart_product_ids(user_id)
    own = list(
        db.session.execute(
            select(OrderLine.product_id, func.count(distinct(Order.id)), last_bought)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.user_id == user_id, OrderLine.product_id.not_in(leave_out))
            .group_by(OrderLine.product_id)
            .order_by(last_bought.desc(), OrderLine.product_id)
            .limit(REBUY_CANDIDATES)
        )
    )
    if not own:
        return ShownList(source=source, items=[])
    ids = [row[0] for row in own]
    shop_wide = _repeat_buyers(ids)
    latest = max(row[2] for row in own)
    buyers = [shop_wide.get(i, (0, 0))[0] for i in ids]
    repeaters = [shop_wide.get(i, (0, 0))[1] for i in ids]
    scores = rebuy_scores(
        [row[1] for row in own],
        [(latest - row[2]).total_seconds() / 86400.0 for row in own],
        buyers,
        repeaters,
    )
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0][:n]
    by_id = products_by_id([ids[i] for i in order])
    items = [
        ShownItem(
            by_id[ids[i]], _rebuy_reason(own[i][1], buyers[i], repeaters[i]), float(scores[i])
        )
        for i in order
        if ids[i] in by_id
    ]
    return ShownList(source=source, items=items)


def _repeat_buyers(product_ids: list[Any]) -> dict[int, tuple[int, int]]:
    """For each product: (shoppers who bought it, shoppers who bought it on two or more orders)."""
    per_buyer = (
        select(
            OrderLine.product_id.label("product_id"),
            func.count(distinct(Order.id)).label("orders"),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.product_id.in_(product_ids))
        .group_by(Order.user_id, OrderLine.product_id)
        .subquery()
    )
    query = select(
        per_buyer.c.product_id,
        func.count(),
        func.sum(case((per_buyer.c.orders >= 2, 1), else_=0)),
    ).group_by(per_buyer.c.product_id)
    return {int(p): (int(b), int(r or 0)) for p, b, r in db.session.execute(query)}
