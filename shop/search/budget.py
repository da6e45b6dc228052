"""A bound on what one search may cost the database, so a costly query cannot starve other pages.

The whole search (its reading, corrections, results and facet counts) runs under one time budget,
``SHOP_SEARCH_TIMEOUT_MS``. On PostgreSQL each statement gets it as ``SET LOCAL statement_timeout``
(the server cancels the statement); on SQLite a progress handler on the connection, called every
few thousand virtual-machine steps, interrupts the statement once the budget is spent. Either way
the search raises :class:`SearchTooCostly` and the page says so, instead of a 500.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shop.extensions import db

# SQLite calls the handler after this many virtual-machine instructions (a few microseconds' work).
SQLITE_CHECK_EVERY = 5_000
_PG_CANCELED = "57014"  # query_canceled: what statement_timeout raises


class SearchTooCostly(Exception):
    """The search ran past its budget and was stopped; nothing was found or shown."""


def _is_timeout(exc: OperationalError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == _PG_CANCELED or getattr(orig, "pgcode", None) == (
        _PG_CANCELED
    ):
        return True
    return "interrupted" in str(orig)


@contextmanager
def search_budget(timeout_ms: int) -> Iterator[None]:
    """Run the block's queries under ``timeout_ms`` in all; raise SearchTooCostly past it.

    A budget of 0 or less is spent before it starts: every search is refused at once (PostgreSQL
    would read a ``statement_timeout`` of 0 as "no limit"), which also lets an operator switch
    search off under attack.
    """
    if timeout_ms <= 0:
        raise SearchTooCostly
    connection = db.session.connection()
    raw = None
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
    elif connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        deadline = time.monotonic() + timeout_ms / 1000

        def past_deadline() -> int:
            return 1 if time.monotonic() > deadline else 0

        raw.set_progress_handler(past_deadline, SQLITE_CHECK_EVERY)
    try:
        yield
    except OperationalError as exc:
        if raw is not None:  # before the rollback, which the handler would interrupt too
            raw.set_progress_handler(None, 0)
        if not _is_timeout(exc):
            raise
        db.session.rollback()
        raise SearchTooCostly from exc
    else:
        if connection.dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL statement_timeout TO DEFAULT"))
    finally:
        if raw is not None:
            raw.set_progress_handler(None, 0)
