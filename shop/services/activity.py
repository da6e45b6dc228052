"""A shopper's activity version: one number that moves with everything the shopper does.

A signed-in shopper's home and product pages are kept whole for a while in each process
(:mod:`shop.page_cache`), keyed by ``users.activity_version``. Each view, click, cart change,
rating, like, purchase and order status change of the shopper adds one to it in the same
transaction as the change, so every process builds the next page afresh; nothing has to be told
to forget anything, and the number arrives for free with the user row that Flask-Login loads on
every request.

Views and clicks also add one to ``users.view_version``. Only the home page shows what a view
changes ("Recently viewed", the picks); a product, listing or reviews page shows the shopper's
rating, like and cart but nothing viewed, so those pages are keyed by the difference
(:func:`version_without_views`), and browsing from product to product does not throw away the
product pages the shopper already has.

Two ways in, so that no write can forget it:

- **ORM rows**, added, changed or deleted through the session: :func:`_after_flush` bumps the
  owners of every :data:`TRACKED` row in the flush. New code that writes such rows is covered.
- **Bulk statements** (``delete(CartItem).where(...)``, ``update(Order)``, the importer's inserts)
  never pass through a flush, so their callers call :func:`bump` with the shoppers they touched
  (:func:`bump_viewers` for the batches of views and clicks of :mod:`shop.services.visits`).

``tests/test_shopper_pages.py`` walks every shopper action through the site and checks that the
version moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from shop.extensions import db
from shop.models import CartItem, Event, EventKind, Like, Order, Rating, User

#: Rows whose changes show on their shopper's pages (their ``user_id`` names the shopper).
TRACKED = (Event, Rating, Like, CartItem, Order)
#: Event kinds that show on the home page alone.
VIEWING = frozenset({EventKind.VIEW.value, EventKind.CLICK.value})
#: Shoppers per UPDATE statement (SQLite caps the parameters of one statement).
CHUNK = 1000


def version_without_views(user: User) -> int:
    """What the pages without "Recently viewed" are keyed by: moved by everything but views."""
    return user.activity_version - user.view_version


def _statement(user_ids: Iterable[int], viewing: bool = False) -> Any:
    users = User.__table__
    values = {"activity_version": users.c.activity_version + 1}
    if viewing:
        values["view_version"] = users.c.view_version + 1
    return update(users).where(users.c.id.in_(sorted(user_ids))).values(**values)


def bump(user_ids: int | Iterable[int | None] | None) -> None:
    """Move the version of these shoppers (in the caller's transaction; the caller commits).

    For what a bulk statement wrote; none of those are views."""
    if user_ids is None:
        return
    ids = {user_ids} if isinstance(user_ids, int) else {i for i in user_ids if i is not None}
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):  # an import may touch thousands of shoppers
        db.session.execute(_statement(ordered[start : start + CHUNK]))


def bump_viewers(user_ids: Iterable[int | None]) -> None:
    """Move the versions of shoppers whose views or clicks a batch wrote with a bulk insert
    (:mod:`shop.services.visits`), in the caller's transaction."""
    ordered = sorted({i for i in user_ids if i is not None})
    for start in range(0, len(ordered), CHUNK):
        db.session.execute(_statement(ordered[start : start + CHUNK], viewing=True))


def _after_flush(session: Session, _context: Any) -> None:
    """Bump the owners of the tracked rows this flush wrote, in the flush's own transaction."""
    owners: set[int] = set()
    viewers: set[int] = set()
    changed = [*session.new, *session.deleted]
    changed += [
        obj
        for obj in session.dirty
        if isinstance(obj, TRACKED) and session.is_modified(obj, include_collections=False)
    ]
    for obj in changed:
        if not isinstance(obj, TRACKED) or obj.user_id is None:
            continue
        if isinstance(obj, Event) and obj.kind in VIEWING:
            viewers.add(obj.user_id)
        else:
            owners.add(obj.user_id)
    viewers -= owners  # a flush with a view and a rating moves the version once, as a rating
    if owners:
        session.connection().execute(_statement(owners))
    if viewers:
        session.connection().execute(_statement(viewers, viewing=True))


def register() -> None:
    """Listen to every flush of the shop's sessions (once per process)."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)
