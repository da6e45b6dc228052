"""Stock: what the shop has on hand, changed only here, and every change written to the ledger.

A product's ``stock`` is NULL when the shop does not count it (then it never runs out), else the
units on hand, which a CHECK keeps at 0 or more. Checkout takes stock with one conditional
``UPDATE ... SET stock = stock - q WHERE stock >= q`` per line, in product-id order, inside the
order's own transaction: on SQLite the write transaction already holds the database's one write lock
(``BEGIN IMMEDIATE``); on PostgreSQL the UPDATE locks the row and re-checks ``stock >= q`` against
the committed value after waiting, and the fixed order means two checkouts never deadlock. Either way
two shoppers can never both take the last unit: the second UPDATE matches no row and checkout raises
:class:`NotAvailable`, which the caller turns into "sold out" after rolling back.

Every function writes a :class:`~shop.models.StockMovement` in the caller's transaction and flushes;
the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import insert, select, update

from shop.extensions import db
from shop.models import Product, StockMovement, StockReason, utcnow


class NotAvailable(Exception):
    """A product cannot be sold in the quantity asked: sold out, too few left, or off sale."""

    def __init__(
        self, product_id: int, name: str, available: int, wanted: int, listed: bool = True
    ):
        self.product_id = product_id
        self.name = name
        self.available = available
        self.wanted = wanted
        self.listed = listed
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if not self.listed:
            return f"{self.name} is no longer on sale."
        if self.available <= 0:
            return f"{self.name} has just sold out."
        return f"Only {self.available} of {self.name} left; you asked for {self.wanted}."


class StockError(ValueError):
    """An adjustment that would take the stock below zero (the message says by how much)."""


@dataclass(frozen=True)
class StockLevel:
    """What the product page and the cart say about a product's stock."""

    counted: bool
    available: int | None  # None: not counted
    low: bool
    sold_out: bool

    @property
    def label(self) -> str:
        if self.sold_out:
            return "Out of stock"
        if self.low:
            return f"Only {self.available} left"
        return "In stock"


def threshold_for(product: Product) -> int:
    """The product's own low-stock threshold, else the shop's (SHOP_LOW_STOCK_THRESHOLD)."""
    if product.low_stock_threshold is not None:
        return product.low_stock_threshold
    return int(current_app.config.get("SHOP_LOW_STOCK_THRESHOLD", 5))


def level(product: Product) -> StockLevel:
    if product.stock is None:
        return StockLevel(counted=False, available=None, low=False, sold_out=False)
    stock = int(product.stock)
    return StockLevel(
        counted=True,
        available=stock,
        low=0 < stock <= threshold_for(product),
        sold_out=stock <= 0,
    )


def _movement(
    product_id: int,
    change: int,
    stock_after: int,
    reason: StockReason,
    *,
    order_id: int | None = None,
    actor_id: int | None = None,
    note: str = "",
) -> StockMovement:
    movement = StockMovement(
        product_id=product_id,
        change=change,
        stock_after=stock_after,
        reason=reason.value,
        order_id=order_id,
        actor_id=actor_id,
        note=note[:255],
    )
    db.session.add(movement)
    return movement


def take_for_order(lines: Iterable[tuple[int, int]], order_id: int | None) -> None:
    """Take ``(product_id, quantity)`` units for an order, all or nothing, or raise NotAvailable.

    Products whose stock is not counted are only checked for being on sale. On NotAvailable the
    caller must roll back: units taken for earlier lines are part of the same transaction.
    """
    wanted: dict[int, int] = {}
    for product_id, quantity in lines:
        wanted[product_id] = wanted.get(product_id, 0) + int(quantity)
    for product_id in sorted(wanted):
        quantity = wanted[product_id]
        taken = db.session.execute(
            update(Product)
            .where(
                Product.id == product_id,
                Product.listed.is_(True),
                Product.stock.is_not(None),
                Product.stock >= quantity,
            )
            .values(stock=Product.stock - quantity, updated_at=utcnow())
            .returning(Product.stock)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if taken is not None:
            _movement(product_id, -quantity, int(taken), StockReason.ORDER, order_id=order_id)
            continue
        # No row matched: not counted (fine, if on sale), or too few left, or hidden.
        row = db.session.execute(
            select(Product.name, Product.stock, Product.listed).where(Product.id == product_id)
        ).one_or_none()
        if row is None:
            raise NotAvailable(product_id, "This product", 0, quantity, listed=False)
        name, stock, listed = row
        if not listed:
            raise NotAvailable(product_id, name, 0, quantity, listed=False)
        if stock is not None:
            raise NotAvailable(product_id, name, int(stock), quantity)
    db.session.flush()


def give_back(lines: Iterable[tuple[int, int]], order_id: int | None, note: str = "") -> None:
    """Return a cancelled order's units to the shelf (counted products only), one movement each."""
    back: dict[int, int] = {}
    for product_id, quantity in lines:
        back[product_id] = back.get(product_id, 0) + int(quantity)
    for product_id in sorted(back):
        after = db.session.execute(
            update(Product)
            .where(Product.id == product_id, Product.stock.is_not(None))
            .values(stock=Product.stock + back[product_id], updated_at=utcnow())
            .returning(Product.stock)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if after is not None:
            _movement(
                product_id,
                back[product_id],
                int(after),
                StockReason.CANCEL,
                order_id=order_id,
                note=note,
            )
    db.session.flush()


def adjust(
    product: Product, change: int, *, actor_id: int | None = None, note: str = ""
) -> StockMovement:
    """Add (goods received) or remove (damaged, a recount) units of a counted product."""
    if product.stock is None:
        raise StockError(f"{product.name}'s stock is not counted; set a count first.")
    after = db.session.execute(
        update(Product)
        .where(Product.id == product.id, Product.stock + change >= 0)
        .values(stock=Product.stock + change, updated_at=utcnow())
        .returning(Product.stock)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if after is None:
        raise StockError(
            f"Only {product.stock} of {product.name} in stock; cannot remove {-change}."
        )
    db.session.refresh(product, ["stock", "updated_at"])
    movement = _movement(
        product.id, change, int(after), StockReason.ADJUST, actor_id=actor_id, note=note
    )
    db.session.flush()
    return movement


def set_count(
    product: Product,
    count: int | None,
    reason: StockReason = StockReason.ADJUST,
    *,
    actor_id: int | None = None,
    note: str = "",
) -> StockMovement | None:
    """Set the units on hand to ``count`` (None: stop counting), recording the difference.

    A new product's first count is an ``initial`` movement whatever ``reason`` says. Stopping the
    count writes no movement (there is no number to record); the audit log has it.
    """
    if count is not None and count < 0:
        raise StockError("Stock cannot be negative.")
    if product.id is None:
        db.session.flush()
    else:
        # A recount must not miss a checkout in flight (PostgreSQL; SQLite's write lock is held).
        db.session.refresh(product, ["stock"], with_for_update=True)
    before = product.stock
    if count == before:
        return None
    product.stock = count
    product.updated_at = utcnow()
    db.session.flush()
    if count is None:
        return None
    change = count - (before or 0)
    if before is None and reason is StockReason.ADJUST:
        reason = StockReason.INITIAL
    movement = _movement(product.id, change, count, reason, actor_id=actor_id, note=note)
    db.session.flush()
    return movement


def import_counts(
    counts: Iterable[tuple[int, int | None, int | None]],
    *,
    actor_id: int | None = None,
    note: str = "",
) -> int:
    """Set many products' counts at once (a catalogue import): ``(product_id, before, after)``.

    One executemany UPDATE and one INSERT of ``import`` movements instead of a flush per product;
    the caller read ``before`` in this write transaction. Returns how many counts changed.
    """
    now = utcnow()
    changes = [(pid, before, after) for pid, before, after in counts if before != after]
    if not changes:
        return 0
    if any(after is not None and after < 0 for _, _, after in changes):
        raise StockError("Stock cannot be negative.")
    db.session.execute(
        update(Product),
        [{"id": pid, "stock": after, "updated_at": now} for pid, _, after in changes],
    )
    movements = [
        {
            "product_id": pid,
            "change": after - (before or 0),
            "stock_after": after,
            "reason": StockReason.IMPORT.value,
            "actor_id": actor_id,
            "note": note[:255],
            "created_at": now,
        }
        for pid, before, after in changes
        if after is not None
    ]
    if movements:
        db.session.execute(insert(StockMovement), movements)
    return len(changes)


def ledger_query(product_id: int | None = None):
    """Movements newest first, for one product or the whole shop (for db.paginate)."""
    query = select(StockMovement)
    if product_id is not None:
        query = query.where(StockMovement.product_id == product_id)
    return query.order_by(StockMovement.created_at.desc(), StockMovement.id.desc())
