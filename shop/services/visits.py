"""Views and clicks written in batches, off the request that caused them.

A product page's first view by a shopper used to be a write transaction of its own inside the
request: ``BEGIN IMMEDIATE``, the event, the product's counter, the shopper's activity version and a
commit, about 2.4 ms of a page that otherwise costs a few (``bench/profile_pages.py``, "(visit)"),
and with several workers each waiting its turn for SQLite's one write lock. Every first view of a
product is such a write, so a shopper browsing the catalogue paid it on nearly every page.

With ``SHOP_VISIT_FLUSH_SECONDS`` above 0 (the default, 1 s) the request only appends the view or
click to this process's buffer and the page goes out. A thread of the process writes what is
waiting in one transaction: every event with the time it happened, one counter update per product
and kind, and one activity-version update for the shoppers whose views it holds. It writes at the
latest every ``SHOP_VISIT_FLUSH_SECONDS``, sooner when ``SHOP_VISIT_BATCH`` events wait.

What this keeps:

- **No view is lost when a worker stops normally.** gunicorn's SIGTERM ends the worker's loop, and
  the interpreter's exit writes what is waiting (:func:`atexit`); ``tests/test_visit_buffer.py``
  stops a real gunicorn with SIGTERM and counts the events. A worker killed outright (SIGKILL, the
  machine losing power) loses at most the last second's views, the same as a request cut off
  before its commit.
- **A view shows on the next page.** The home page is the one page that shows views ("Recently
  viewed", the picks); before it is served, this process writes what it holds, so a shopper who
  goes from a product to the home page on the same worker sees it at once. On another worker the
  page follows within ``SHOP_VISIT_FLUSH_SECONDS``.
- **Nothing half-written.** A batch is one transaction. Events whose product or shopper was deleted
  meanwhile are dropped (a deleted account's history stays deleted) and an experiment list that was
  cleaned up leaves the click without it, as the foreign keys would. When the database is busy past
  its timeout the batch waits for the next round; past ``SHOP_VISIT_BUFFER_MAX`` waiting events the
  oldest are dropped with a warning, so a database that stays down cannot exhaust the memory.

``SHOP_VISIT_FLUSH_SECONDS=0`` writes each visit inside its request, as before (the tests' setting,
so a view is in the database when the response arrives).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime

from flask import Flask
from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from shop.database import write_intent
from shop.extensions import db
from shop.models import Event, Impression, Product, User, utcnow
from shop.services import activity
from shop.services.counters import COUNTER_FOR_KIND
from shop.services.events import clean_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visit:
    """A view or a click as the request saw it; written later with its own time."""

    product_id: int
    kind: str
    user_id: int | None
    source: str | None = None
    impression_id: int | None = None
    at: datetime | None = None


class VisitBuffer:
    """One app's waiting visits in this process, and the thread that writes them.

    A forked worker starts with an empty buffer and a thread of its own (what the parent held is
    the parent's to write).
    """

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stopped = False
        self._pending: list[Visit] = []
        self._wake = threading.Event()
        self._write_lock = threading.Lock()  # one batch at a time, from the thread or a request
        self._thread: threading.Thread | None = None

    def add(self, visit: Visit) -> None:
        """Queue a visit; the writer thread starts with the process's first one."""
        config = self._app.config
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            self._pending.append(visit)
            waiting = len(self._pending)
            limit = config["SHOP_VISIT_BUFFER_MAX"]
            if waiting > limit:
                dropped = waiting - limit
                del self._pending[:dropped]
                log.warning("Visit buffer full: dropped the %d oldest waiting views", dropped)
        if waiting >= config["SHOP_VISIT_BATCH"]:
            self._wake.set()

    def waiting(self) -> int:
        with self._lock:
            return len(self._pending) if self._pid == os.getpid() else 0

    def _start(self) -> None:
        """(under the lock) Take over the buffer in this process and start its writer."""
        self._pid = os.getpid()
        self._stopped = False
        self._pending = []
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="visit-writer", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def _run(self) -> None:
        pid = self._pid
        while self._pid == pid and not self._stopped:
            self._wake.wait(timeout=max(self._app.config["SHOP_VISIT_FLUSH_SECONDS"], 0.05))
            self._wake.clear()
            self.flush()

    def stop(self) -> None:
        """Write what waits and end the writer (at the process's exit; a test's end)."""
        if self._pid != os.getpid():
            return
        self._stopped = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.flush()

    def flush(self) -> int:
        """Write every waiting visit in one transaction; the number written.

        On a database error the visits go back to the front of the queue for the next round.
        """
        if self._pid != os.getpid():
            return 0
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                with self._app.app_context():
                    return _write(batch)
            except SQLAlchemyError:
                log.warning("Could not write %d views yet; trying again", len(batch), exc_info=True)
                with self._lock:
                    self._pending[:0] = batch
                return 0


def _existing(column, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(db.session.scalars(select(column).where(column.in_(sorted(ids)))))


def _write(batch: list[Visit]) -> int:
    """One transaction: the events, the products' counters, the viewers' activity versions."""
    try:
        with write_intent():
            products = _existing(Product.id, {v.product_id for v in batch})
            users = _existing(User.id, {v.user_id for v in batch if v.user_id is not None})
            impressions = _existing(
                Impression.id, {v.impression_id for v in batch if v.impression_id is not None}
            )
            kept = [
                v
                for v in batch
                if v.product_id in products and (v.user_id is None or v.user_id in users)
            ]
            if kept:
                db.session.execute(
                    insert(Event.__table__),
                    [
                        {
                            "user_id": v.user_id,
                            "product_id": v.product_id,
                            "kind": v.kind,
                            "quantity": 1,
                            "source": clean_source(v.source),
                            "impression_id": v.impression_id
                            if v.impression_id in impressions
                            else None,
                            "created_at": v.at,
                        }
                        for v in kept
                    ],
                )
                counts = Counter((v.product_id, v.kind) for v in kept)
                for (product_id, kind), n in sorted(counts.items()):
                    column = COUNTER_FOR_KIND[kind]
                    db.session.execute(
                        update(Product)
                        .where(Product.id == product_id)
                        .values({column.key: column + n})
                    )
                activity.bump_viewers(v.user_id for v in kept)
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if len(kept) < len(batch):
        log.info("Dropped %d views of deleted products or shoppers", len(batch) - len(kept))
    return len(kept)


class SeenMarks:
    """This process's marks that a visitor has seen a product, each for a window.

    Used when the rate limiter counts in this process's memory anyway (``memory://``): limits'
    ``MemoryStorage`` starts a thread to sweep its expiries 10 ms after a count, and waiting for
    that thread to start took about 0.8 ms of every product page (cProfile). With Redis the marks
    stay there, shared by every worker.
    """

    def __init__(self, most: int = 100_000) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._most = most

    def first(self, key: str, seconds: float) -> bool:
        """True, and mark it, when ``key`` has no live mark."""
        now = time.monotonic()
        with self._lock:
            until = self._until.get(key)
            if until is not None and until > now:
                return False
            if len(self._until) >= self._most:
                self._prune(now)
            self._until[key] = now + seconds
            return True

    def _prune(self, now: float) -> None:
        live = {key: until for key, until in self._until.items() if until > now}
        if len(live) >= self._most:  # all live: forget the half that ends soonest
            ordered = sorted(live.items(), key=lambda item: item[1])
            live = dict(ordered[len(ordered) // 2 :])
        self._until = live


def seen_marks(app: Flask) -> SeenMarks:
    """The app's marks in this process (made on first use)."""
    found = app.extensions.get("shop_seen_marks")
    if found is None:
        found = app.extensions["shop_seen_marks"] = SeenMarks()
    return found


def buffer_for(app: Flask) -> VisitBuffer:
    """The app's buffer in this process (made on first use)."""
    found = app.extensions.get("shop_visits")
    if found is None:
        found = app.extensions["shop_visits"] = VisitBuffer(app)
    return found


def batching(app: Flask) -> bool:
    return app.config["SHOP_VISIT_FLUSH_SECONDS"] > 0


def record(app: Flask, visits: list[Visit]) -> None:
    """Queue the visits, stamped with the time they happened (``SHOP_VISIT_FLUSH_SECONDS`` > 0)."""
    queue = buffer_for(app)
    now = utcnow()
    for visit in visits:
        queue.add(replace(visit, at=visit.at or now))
