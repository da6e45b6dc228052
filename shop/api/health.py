"""Health checks for a load balancer and for load tests.

- ``GET /healthz``: the trivial route load tests compare the real pages against. It touches
  neither the database nor the engine, so its throughput is the ceiling of the server itself.
- ``GET /healthz/live``: the process answers (restart it when this fails).
- ``GET /healthz/ready``: the parts a request needs answer: the database, Redis where the shop is
  configured to use it (rate limits, job queue). 503 naming what is down, so a load balancer sends
  shoppers elsewhere. The model store is reported under ``degraded``, not as down: without a
  readable model the shop still serves every page, with popular products in the personal rows.
"""

from __future__ import annotations

from flask import current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shop.api import bp
from shop.extensions import db, limiter


@bp.route("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.route("/healthz/live")
def live():
    return jsonify(status="ok")


def _database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        return f"database: {type(exc).__name__}"
    finally:
        db.session.commit()
    return None


def _rate_limit_store() -> str | None:
    storage = limiter.storage
    if getattr(storage, "degraded", None) is None:  # memory: nothing to reach
        return None
    return None if storage.check() else "redis (rate limits): not answering"


def _job_queue() -> str | None:
    url = current_app.config.get("REDIS_URL")
    if not url or current_app.config.get("SHOP_JOBS_IMMEDIATE"):
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except redis.RedisError:
        return "redis (job queue): not answering"
    return None


def _model_store() -> str | None:
    store = current_app.extensions["recommender_store"]
    status = store.status()
    if not status.loaded:
        return f"model store: {status.error or 'no model'}; serving popularity"
    if store.shared_error:
        return f"model store: {store.shared_error}; serving this host's copy"
    return None


@bp.route("/healthz/ready")
def ready():
    down = [problem for problem in (_database(), _rate_limit_store(), _job_queue()) if problem]
    degraded = [problem for problem in (_model_store(),) if problem]
    if down:
        return jsonify(status="unavailable", down=down, degraded=degraded), 503
    return jsonify(status="ok", down=[], degraded=degraded)
