"""The job queue: one Huey instance, its storage (a SQLite file, or Redis when REDIS_URL is set).

Long work (a retrain takes tens of seconds) must not run in a web worker: the web process enqueues a
task and returns, a separate worker process (``flask --app shop worker``) runs it, and the database
row the task writes says how it went. The SQLite storage keeps ``make run`` free of servers; several
hosts share a Redis instead. Task modules decorate their functions with ``huey`` at import, so the
instance exists unbound and :func:`init_app` gives it its storage, the way Flask extensions are bound
in the factory. With ``SHOP_JOBS_IMMEDIATE`` (the tests) a task runs at once in the caller.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import BlackHoleStorage, RedisStorage, SqliteStorage

QUEUE_NAME = "shop"

# utc=False: periodic tasks read the schedule in the machine's local time ("nightly at 03:00").
# results=False: callers read the database, never a task's return value.
huey = Huey(QUEUE_NAME, results=False, utc=False, storage_class=BlackHoleStorage)

_worker_app: Flask | None = None


def init_app(app: Flask) -> None:
    """Point the queue at the storage the app's config names."""
    immediate = bool(app.config.get("SHOP_JOBS_IMMEDIATE"))
    huey.immediate = immediate
    if immediate:
        return  # Huey keeps its own in-memory storage in immediate mode
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        huey.storage = RedisStorage(QUEUE_NAME, url=redis_url)
    else:
        path = Path(app.config["SHOP_JOBS_DB"])
        path.parent.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no instance/ yet
        huey.storage = SqliteStorage(QUEUE_NAME, filename=str(path), timeout=15)
    app.extensions["jobs"] = huey


def describe(app: Flask) -> str:
    """Where the queue lives, for the worker's start-up line (never the Redis password)."""
    if app.config.get("SHOP_JOBS_IMMEDIATE"):
        return "immediate (tasks run in the caller)"
    if app.config.get("REDIS_URL"):
        return "Redis (REDIS_URL)"
    return f"SQLite file {app.config['SHOP_JOBS_DB']}"


def bind_worker_app(app: Flask) -> None:
    """The app the worker's task threads use (they start with no app context of their own)."""
    global _worker_app
    _worker_app = app


def task_app() -> Flask:
    """The app a task runs in: the caller's in immediate mode, else the worker's (made on demand)."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from shop import create_app

        _worker_app = create_app()
    return _worker_app
