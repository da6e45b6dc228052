"""An order's life: placed -> paid -> shipped -> delivered, or cancelled from placed or paid.

:func:`move` is the only writer of ``orders.status``. It changes the status with a conditional
``UPDATE ... WHERE status = :from``, so when two admins press "Mark shipped" at once the second
matches no row and is refused as "changed meanwhile"; a cancellation gives the stock back through
:func:`shop.services.stock.give_back`. Each move writes an OrderEvent (the order's timeline) and an
audit entry in the caller's transaction; the caller builds the shopper's mail with
:func:`status_mail`, commits, then sends it with :func:`send_status_mail`, so that no mail server
ever holds the database's write lock.

A payment provider's webhook would call :func:`record_payment` with the order id and its own
reference, exactly as the admin's "Mark paid" button does.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from flask import url_for
from flask_login import current_user
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from shop.extensions import db
from shop.mail import send_later
from shop.models import Order, OrderEvent, OrderLine, OrderStatus, User, utcnow
from shop.services import activity, audit, stock
from shop.services.analytics import ALL_TIME, DateRange

log = logging.getLogger(__name__)

PLACED, PAID, SHIPPED, DELIVERED, CANCELLED = (
    OrderStatus.PLACED,
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.CANCELLED,
)

#: Where each status may go next, in the order the admin page offers the buttons.
NEXT: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    PLACED: (PAID, CANCELLED),
    PAID: (SHIPPED, CANCELLED),
    SHIPPED: (DELIVERED,),
    DELIVERED: (),
    CANCELLED: (),
}
#: The mails a shopper gets: when the order ships and when it is cancelled.
MAILED = (SHIPPED, CANCELLED)
MAX_NOTE = 500


class TransitionRefused(Exception):
    """A move the order's status does not allow (``message`` says why, for the admin)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class ReasonRequired(TransitionRefused):
    """A cancellation without a reason."""


class ChangedMeanwhile(TransitionRefused):
    """Someone else moved the order between reading it and this move."""


def allowed(status: str) -> tuple[OrderStatus, ...]:
    return NEXT[OrderStatus(status)]


def _refusal(order: Order, to: OrderStatus) -> TransitionRefused:
    current = OrderStatus(order.status)
    if current is to or current in (DELIVERED, CANCELLED):
        return TransitionRefused(f"Order #{order.id} is already {current.value}.")
    if to is CANCELLED:
        return TransitionRefused(f"A {current.value} order cannot be cancelled.")
    return TransitionRefused(
        f"Order #{order.id} is {current.value}; it cannot be marked {to.value} now."
    )


def move(order: Order, to: str, *, note: str = "", actor: User | None = None) -> OrderEvent:
    """Move ``order`` to status ``to`` or raise TransitionRefused; the caller commits."""
    try:
        target = OrderStatus(to)
    except ValueError:
        raise TransitionRefused(f"“{to}” is not an order status.") from None
    note = (note or "").strip()[:MAX_NOTE]
    source = OrderStatus(order.status)
    if target not in NEXT[source]:
        raise _refusal(order, target)
    if target is CANCELLED and not note:
        raise ReasonRequired("Give a reason for cancelling the order.")
    now = utcnow()
    moved = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == source.value)
        .values(status=target.value, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        db.session.expire(order, ["status"])
        raise ChangedMeanwhile(
            f"Order #{order.id} was changed meanwhile (it is now {order.status}); "
            "nothing was done. Look at it again before you try."
        )
    activity.bump(order.user_id)  # "Buy it again" and the shopper's order list
    if target is CANCELLED:
        stock.give_back(
            [(line.product_id, line.quantity) for line in order.lines],
            order.id,
            note=f"Order #{order.id} cancelled: {note}",
        )
    actor_id = actor.id if actor is not None else _signed_in_id()
    event = OrderEvent(
        order_id=order.id,
        from_status=source.value,
        to_status=target.value,
        note=note,
        actor_id=actor_id,
    )
    db.session.add(event)
    audit.record(
        f"order.{target.value}",
        "order",
        order.id,
        f"Order #{order.id} {source.value} -> {target.value}" + (f": {note}" if note else ""),
        before={"status": source.value},
        after={"status": target.value, **({"note": note} if note else {})},
        actor=actor,
    )
    db.session.flush()
    db.session.expire(order, ["status", "updated_at", "events"])
    return event


def record_payment(order: Order, reference: str = "", *, actor: User | None = None) -> OrderEvent:
    """The order is paid: what the admin's "Mark paid" button and a payment provider's webhook
    both call (``reference`` is the provider's payment id, kept on the order's timeline)."""
    note = f"Payment {reference}" if reference else ""
    return move(order, PAID.value, note=note, actor=actor)


def _signed_in_id() -> int | None:
    return current_user.id if current_user and current_user.is_authenticated else None


# --- After the commit: the shopper's mail ---------------------------------------------------


def status_mail(order: Order, event: OrderEvent) -> tuple[str, str, str] | None:
    """(to, subject, body) of the mail this move sends the shopper, or None."""
    target = OrderStatus(event.to_status)
    if target not in MAILED:
        return None
    name = order.contact_name
    if target is SHIPPED:
        subject = f"Your order #{order.id} is on its way"
        body = f"Hello {name},\n\nyour order #{order.id} has shipped."
    else:
        subject = f"Your order #{order.id} is cancelled"
        body = (
            f"Hello {name},\n\nwe have cancelled your order #{order.id}.\n"
            f"Reason: {event.note}\nNothing will be charged for it."
        )
    if event.note and target is SHIPPED:
        body += f"\n{event.note}"
    if not order.is_guest:  # a guest's order has no page they could sign in to see
        link = url_for("cart.order_detail", order_id=order.id, _external=True)
        body += f"\n\nThe order and its history: {link}"
    return order.contact_email, subject, body + "\n"


def send_status_mail(mail: tuple[str, str, str] | None) -> bool:
    """Queue a mail made by :func:`status_mail` before the commit; call it after the commit.

    The job queue's worker sends it, trying again when the mail server fails, so a slow or dead
    relay never holds the admin's request (nor, on SQLite, the write lock). A mail that cannot be
    sent is logged and the move stands. Returns whether a mail was handed over.
    """
    if mail is None:
        return False
    send_later(*mail)
    return True


# --- Reads for the admin pages ---------------------------------------------------------------


def admin_query(
    status: str | None = None,
    days: DateRange = ALL_TIME,
    customer: str | None = None,
) -> Select:
    """Orders filtered by status, the days they were placed (both ends included) and a
    customer's email or name (a substring, any case)."""
    query = select(Order).join(Order.user)
    if status:
        query = query.where(Order.status == status)
    query = days.apply(query, Order.created_at)
    if customer:
        pattern = f"%{like_escape(customer.lower())}%"
        query = query.where(
            or_(
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
                func.lower(Order.email).like(pattern, escape="\\"),
            )
        )
    return query


def listing(query: Select) -> Select:
    return query.options(joinedload(Order.user), selectinload(Order.lines)).order_by(
        Order.created_at.desc(), Order.id.desc()
    )


def totals(query: Select) -> tuple[int, Decimal]:
    """How many orders the filter finds and what they add up to."""
    sub = query.with_only_columns(Order.id, Order.total).subquery()
    count, amount = db.session.execute(
        select(func.count(sub.c.id), func.coalesce(func.sum(sub.c.total), 0))
    ).one()
    return int(count), Decimal(str(amount))


def order_for_admin(order_id: int) -> Order | None:
    return db.session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(
            joinedload(Order.user),
            selectinload(Order.lines).joinedload(OrderLine.product),
            selectinload(Order.events).joinedload(OrderEvent.actor),
        )
    )


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
