"""What happened to the seeded orders and the shelves after the history: planned in memory.

The generator draws what shoppers browsed and bought; this module gives that shop the life the admin
pages show. Every order moves placed -> paid -> shipped -> delivered at plausible delays, so its
status follows from its age (old orders are delivered, the last hours' are still placed), and a few
are cancelled from placed or paid with a reason. Every product gets a counted stock: what is left is
drawn from its popularity (best sellers are stocked deeper), the initial stock is what was sold plus
what is left, and the ledger runs initial -> one ``order`` movement per order line -> a ``cancel``
movement giving back what a cancelled order took. A few products end low and a few sold out (never
the demo shopper's favourites, but one of the shop's best sellers sells out so the rules show), and
two are taken off sale.

Pure: rows in, rows out, one seeded ``numpy`` generator; the writer in ``shop.seeding`` maps them to
the database. The same rows and seed always give the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np

# Delays between the steps of an order (hours): paid soon after checkout, shipped in a day or three,
# delivered a few days later.
PAY_HOURS = (0.05, 6.0)
SHIP_HOURS = (12.0, 72.0)
DELIVER_HOURS = (24.0, 120.0)
CANCEL_SHARE = 0.04
CANCEL_REASONS = (
    "Customer asked to cancel",
    "Customer ordered the wrong size",
    "Customer found a better delivery date elsewhere",
)
UNPAID_REASON = "Payment did not go through"
HIDE_SUMMARY = "Hidden: discontinued by the supplier"
DEMO_FAVOURITES = 5  # the demo shopper's most bought products keep their stock
LOW_PRODUCTS = 4
SOLD_OUT_PRODUCTS = 3
HIDDEN_PRODUCTS = 2


class OrderRow(NamedTuple):
    id: int
    user_id: int
    created_at: datetime


class LineRow(NamedTuple):
    order_id: int
    product_id: int
    quantity: int


class ProductRow(NamedTuple):
    id: int
    created_at: datetime


@dataclass
class Plan:
    statuses: dict[int, str] = field(default_factory=dict)  # order id -> status
    updated: dict[int, datetime] = field(default_factory=dict)  # order id -> last step
    order_events: list[dict] = field(default_factory=list)  # order_events rows, in time order
    movements: list[dict] = field(default_factory=list)  # stock_movements rows, in time order
    stock: dict[int, int] = field(default_factory=dict)  # product id -> units on hand
    product_updated: dict[int, datetime] = field(default_factory=dict)
    low: list[int] = field(default_factory=list)
    sold_out: list[int] = field(default_factory=list)
    hidden: dict[int, datetime] = field(default_factory=dict)  # product id -> when it was hidden


STEPS = ("placed", "paid", "shipped", "delivered")


def _hours(rng: np.random.Generator, bounds: tuple[float, float]) -> timedelta:
    return timedelta(hours=float(rng.uniform(*bounds)))


def _squeeze(start: datetime, end: datetime, steps: int) -> list[datetime]:
    """``steps`` evenly spaced instants strictly between ``start`` and ``end``."""
    gap = (end - start) / (steps + 1)
    return [start + gap * (i + 1) for i in range(steps)]


def _order_life(
    rng: np.random.Generator, placed: datetime, end: datetime, cancel: bool
) -> list[tuple[str, datetime, str]]:
    """(status, when, note) from placed on, every step before ``end``; the draws do not depend on
    how far the order got, so an order's life is the same whatever the end date."""
    times = [placed]
    for bounds in (PAY_HOURS, SHIP_HOURS, DELIVER_HOURS):
        times.append(times[-1] + _hours(rng, bounds))
    cancel_from = 0 if rng.random() < 0.5 else 1  # from placed or from paid
    cancel_at = times[cancel_from] + _hours(rng, (0.2, 20.0))
    reason = CANCEL_REASONS[int(rng.integers(len(CANCEL_REASONS)))]
    if cancel and cancel_at < end:
        steps = [(STEPS[i], times[i], "") for i in range(cancel_from + 1)]
        note = UNPAID_REASON if cancel_from == 0 and rng.random() < 0.3 else reason
        return [*steps, ("cancelled", cancel_at, note)]
    return [(status, when, "") for status, when in zip(STEPS, times, strict=True) if when < end]


def _forced_life(
    placed: datetime, end: datetime, status: str, note: str
) -> list[tuple[str, datetime, str]]:
    """An order made to reach exactly ``status`` before ``end`` (its steps evenly spaced)."""
    if status == "cancelled":
        (when,) = _squeeze(placed, end, 1)
        return [("placed", placed, ""), ("cancelled", when, note)]
    reached = STEPS.index(status)
    times = [placed, *_squeeze(placed, end, reached)]
    return [(STEPS[i], times[i], "") for i in range(reached + 1)]


def plan(
    orders: list[OrderRow],
    lines: list[LineRow],
    products: list[ProductRow],
    *,
    end: datetime,
    seed: int,
    threshold: int,
    demo_user_id: int | None = None,
    admin_id: int | None = None,
) -> Plan:
    """Statuses, order histories, the stock ledger and the products off sale, for these rows."""
    rng = np.random.default_rng(
        [seed, 23]
    )  # its own stream: the generator's draws stay as they were
    orders = sorted(orders, key=lambda o: (o.created_at, o.id))
    result = Plan()
    lives = _lives(rng, orders, end, demo_user_id)
    by_order: dict[int, list[LineRow]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append(line)
    for order in orders:
        life = lives[order.id]
        result.statuses[order.id] = life[-1][0]
        result.updated[order.id] = life[-1][1]
        previous = None
        for status, when, note in life:
            actor = order.user_id if status == "placed" else admin_id
            if status in ("paid", "delivered"):
                actor = None  # the payment provider, the carrier
            result.order_events.append(
                {
                    "order_id": order.id,
                    "from_status": previous,
                    "to_status": status,
                    "note": note,
                    "actor_id": actor,
                    "created_at": when,
                }
            )
            previous = status
    _stock(rng, result, orders, by_order, products, lives, end, threshold, demo_user_id, admin_id)
    return result


def _lives(rng, orders: list[OrderRow], end: datetime, demo_user_id: int | None) -> dict:
    """Each order's steps: drawn, then a few forced so every status and the demo's pages show."""
    cancel = rng.random(len(orders)) < CANCEL_SHARE
    lives = {
        order.id: _order_life(rng, order.created_at, end, bool(c))
        for order, c in zip(orders, cancel, strict=True)
    }
    forced: set[int] = set()

    def force(order: OrderRow, status: str) -> None:
        note = CANCEL_REASONS[0] if status == "cancelled" else ""
        lives[order.id] = _forced_life(order.created_at, end, status, note)
        forced.add(order.id)

    # The demo shopper's /orders page: her latest order on its way (placed or paid), the one before
    # shipped, so she sees several statuses.
    mine = [o for o in orders if o.user_id == demo_user_id]
    if mine:
        latest = mine[-1]
        if lives[latest.id][-1][0] not in ("placed", "paid"):
            force(latest, "paid")
        forced.add(latest.id)
        earlier = [o for o in mine[:-1] if lives[o.id][-1][0] != "cancelled"]
        if earlier and not any(lives[o.id][-1][0] == "shipped" for o in earlier):
            force(earlier[-1], "shipped")
        forced.update(o.id for o in mine)
    # Every status somewhere in the shop, however small: the newest orders not already forced.
    for status in ("placed", "paid", "shipped", "cancelled", "delivered"):
        if any(life[-1][0] == status for life in lives.values()):
            continue
        spare = [o for o in orders if o.id not in forced]
        if status == "delivered":
            spare = spare[::-1]  # the oldest: delivery takes days
        if spare:
            force(spare[-1], status)
    return lives


def _stock(rng, result, orders, by_order, products, lives, end, threshold, demo, admin) -> None:
    """Pick low, sold-out and hidden products, draw what is left, write the ledger."""
    ids = [p.id for p in sorted(products, key=lambda p: p.id)]
    sold = dict.fromkeys(ids, 0)  # units sold, cancelled orders included: popularity
    mine: dict[int, int] = {}
    touched_by_cancel: set[int] = set()
    last_sale: dict[int, datetime] = {}
    for order in orders:
        cancelled = lives[order.id][-1][0] == "cancelled"
        for line in by_order.get(order.id, []):
            if line.product_id not in sold:
                continue
            sold[line.product_id] += line.quantity
            last_sale[line.product_id] = order.created_at
            if cancelled:
                touched_by_cancel.add(line.product_id)
            if order.user_id == demo:
                mine[line.product_id] = mine.get(line.product_id, 0) + line.quantity
    n = len(ids)
    favourites = set(sorted(mine, key=lambda p: (-mine[p], p))[: min(DEMO_FAVOURITES, n // 6)])
    by_popularity = sorted(ids, key=lambda p: (-sold[p], p))
    # Sold out and low: products that sold, not the demo's favourites, none with a cancelled order
    # (its stock came back later, so "what is left" would not be the least it ever was).
    eligible = [p for p in by_popularity if p not in favourites and p not in touched_by_cancel]
    eligible = [p for p in eligible if sold[p] > 0]
    n_sold_out = min(SOLD_OUT_PRODUCTS, max(1, n // 10), len(eligible))
    n_low = min(LOW_PRODUCTS, max(1, n // 8), len(eligible) - n_sold_out) if threshold > 0 else 0
    sold_out: list[int] = []
    if n_sold_out:
        # One of the best sellers (the top quarter that can), so the demo pages show the rules work.
        top = eligible[: max(1, len(eligible) // 4)]
        sold_out.append(top[int(rng.integers(len(top)))])
    rest = [p for p in eligible if p not in sold_out]
    picks = rng.permutation(len(rest)).tolist()
    more = n_sold_out - len(sold_out)
    sold_out += [rest[i] for i in picks[:more]]
    low = [rest[i] for i in picks[more : more + n_low]]
    # Off sale: two of the slower half, none of the above.
    taken = set(sold_out) | set(low) | favourites
    slow = [p for p in by_popularity[n // 2 :] if p not in taken]
    hidden = [slow[i] for i in sorted(rng.permutation(len(slow))[:HIDDEN_PRODUCTS].tolist())]
    if len(hidden) < HIDDEN_PRODUCTS and n > 2 * HIDDEN_PRODUCTS:
        others = [p for p in by_popularity[::-1] if p not in taken and p not in hidden]
        hidden += others[: HIDDEN_PRODUCTS - len(hidden)]
    result.sold_out, result.low = sorted(sold_out), sorted(low)

    # What is left: drawn from popularity, best sellers deeper; low ones 1..threshold.
    left: dict[int, int] = {}
    for p in ids:
        deep = float(rng.gamma(2.0, 3.0 + 0.25 * sold[p]))
        if p in sold_out:
            left[p] = 0
        elif p in low:
            left[p] = int(rng.integers(1, threshold + 1))
        else:
            left[p] = threshold + 2 + int(deep)
    _ledger(result, orders, by_order, products, lives, left, admin)
    for p in hidden:
        # Taken off sale in the last fortnight, after its last sale.
        hide_at = end - timedelta(hours=float(rng.uniform(6, 14 * 24)))
        if p in last_sale:
            hide_at = max(hide_at, last_sale[p] + timedelta(hours=float(rng.uniform(1, 6))))
        result.hidden[p] = min(hide_at, end - timedelta(minutes=1))
        result.product_updated[p] = max(result.product_updated[p], result.hidden[p])


def _ledger(result, orders, by_order, products, lives, left, admin) -> None:
    """initial, order and cancel movements in time order; the initial stock is sold + left, raised
    where a cancelled order's units were out before they came back, so no count goes below zero."""
    changes: dict[int, list[tuple[datetime, int, str, int | None, str]]] = {}
    for order in orders:
        life = lives[order.id]
        for line in by_order.get(order.id, []):
            if line.product_id not in left:
                continue
            moves = changes.setdefault(line.product_id, [])
            moves.append((order.created_at, -line.quantity, "order", order.id, ""))
            if life[-1][0] == "cancelled":
                when, note = life[-1][1], life[-1][2]
                moves.append((when, line.quantity, "cancel", order.id, note))
    rows = []
    for product in products:
        moves = sorted(changes.get(product.id, []), key=lambda m: (m[0], m[3] or 0, m[1]))
        running, lowest = 0, 0
        for _, change, *_ in moves:
            running += change
            lowest = min(lowest, running)
        # Start from what the moves need, then top up to leave ``left`` at the end.
        initial = max(-lowest, left[product.id] - running)
        created = product.created_at
        if moves and moves[0][0] <= created:
            created = moves[0][0] - timedelta(minutes=1)
        stock = initial
        rows.append(_movement(product.id, initial, stock, "initial", None, None, "", created))
        for when, change, reason, order_id, note in moves:
            stock += change
            actor = admin if reason == "cancel" else None
            rows.append(_movement(product.id, change, stock, reason, order_id, actor, note, when))
        result.stock[product.id] = stock
        result.product_updated[product.id] = rows[-1]["created_at"]
    rows.sort(key=lambda r: (r["created_at"], r["product_id"]))
    result.movements = rows


def _movement(product_id, change, after, reason, order_id, actor_id, note, when) -> dict:
    return {
        "product_id": product_id,
        "change": change,
        "stock_after": after,
        "reason": reason,
        "order_id": order_id,
        "actor_id": actor_id,
        "note": note,
        "created_at": when,
    }
