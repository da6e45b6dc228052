"""Database engine settings that SQLAlchemy cannot express in a URL.

SQLite is the default store and several gunicorn workers write to it at once. Every connection turns
on WAL (readers never block the writer), a busy timeout (a writer waits for the lock instead of failing
with "database is locked") and foreign keys (off by default in SQLite).

One trap remains: a transaction that reads and then writes must upgrade its lock, and in WAL mode that
upgrade fails at once, busy timeout or not, when another writer committed in between. So we take over
SQLite's BEGIN (the recipe in SQLAlchemy's pysqlite notes) and start write transactions with
``BEGIN IMMEDIATE``: every POST, and any GET that called :func:`begin_write` (recording a view).

That makes a house rule: **no slow work inside a write transaction.** From its first query a POST
holds the database's one write lock until it commits, so a password hash (scrypt, ~100 ms) or a mail
server that takes its time would stall every other write in the shop. Code about to do slow work
calls :func:`end_transaction` first (``shop.auth.passwords`` hashes and verifies only after it;
``shop.mail.send_later`` hands mail to the job queue only after it), and the next query starts a new,
short transaction. ``tests/test_write_lock.py`` holds the rule with a mail server that never answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, g, has_request_context, request
from sqlalchemy import event

#: The largest id a row can have: primary keys are 32-bit INTEGER on PostgreSQL. A larger number
#: from a URL or a form names no row, and past 2**63 SQLite cannot even bind it (OverflowError).
MAX_ID = 2**31 - 1


def configure_engine_events(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    busy_ms = int(app.config.get("SHOP_SQLITE_BUSY_TIMEOUT_MS", 15000))

    with app.app_context():
        from shop.extensions import db

        engine = db.engine

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" hook below decide how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write() else "BEGIN")


#: Set by :func:`write_intent` for work outside a request (the visit writer's thread).
_WRITING: ContextVar[bool] = ContextVar("shop_write_intent", default=False)


@contextmanager
def write_intent() -> Iterator[None]:
    """Start the transactions opened inside with ``BEGIN IMMEDIATE``, outside a request too: for
    a batch that reads (which rows still exist) before it writes."""
    token = _WRITING.set(True)
    try:
        yield
    finally:
        _WRITING.reset(token)


def _wants_write() -> bool:
    if _WRITING.get():
        return True
    if not has_request_context():
        return False
    return request.method not in ("GET", "HEAD", "OPTIONS") or g.get("_write_intent", False)


def begin_write() -> None:
    """Mark the rest of this request as writing and end the read snapshot taken so far.

    Call it in a GET handler before it writes (a view event), after its reads are done.
    """
    from shop.extensions import db

    if not g.get("_write_intent", False):
        g._write_intent = True
        db.session.commit()


def end_transaction() -> None:
    """Commit what this request has done so far and let go of the write lock before slow work.

    Objects read so far are expired (the session's usual commit), so values needed afterwards
    should be read first.
    """
    from shop.extensions import db

    db.session.commit()


def commit_keeping_loaded() -> None:
    """Commit, keeping the objects already read as they are (no expiry).

    A GET that records something (an impression) and then renders what it read must not have every
    product on the page reloaded, one query per card, because the commit expired them. Nothing
    this request changed is re-read from them afterwards, so their loaded state is still right.
    """
    from shop.extensions import db

    session = db.session()
    if not session.in_transaction():
        return
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep
