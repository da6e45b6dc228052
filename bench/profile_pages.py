"""Where a page's time goes: SQL, the recommendation engine, template rendering and the rest.

    .venv/bin/python bench/profile_pages.py                    # 3,000 shoppers, 1,000 products, 150k events
    .venv/bin/python bench/profile_pages.py --quick            # 300 / 200 / 15,000, 60 requests a route
    .venv/bin/python bench/profile_pages.py --workdir DIR --label before

Seeds and trains a shop in a temporary folder (or reuses ``--workdir``, the folder
``bench/load_bench.py`` and ``bench/page_speed.py`` prepare), then drives each page in-process
through Flask's test client, a few hundred requests a route, and splits every request's wall time:

- **SQL**: cursor time, from SQLAlchemy's ``before_cursor_execute``/``after_cursor_execute`` events,
  with the statement count (and, apart, the writes of view and click events);
- **engine**: inside the loaded model's ``recommend``, ``similar`` and ``also_bought``;
- **templates**: between Flask's ``before_render_template`` and ``template_rendered`` signals, less
  the SQL and engine time spent inside (lazy loads, the header's cart count);
- **elsewhere**: the rest (routing, sessions, building ORM rows and frames, the response); of it,
  **(gc)** the garbage collector's pauses and **(visit)** the product page's view and click writes
  whole (first-view check, BEGIN IMMEDIATE, inserts, counters, commit; its statements are in SQL).

The request loop is the same for every route, so the figures compare; they are in-process and carry
no HTTP, so they say where to look, and ``bench/page_speed.py`` says how fast the pages are served.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine  # noqa: E402
from bench.servers import add_size_arguments, chosen_size, ready_shop, shop_env  # noqa: E402

FULL = {"users": 3_000, "products": 1_000, "events": 150_000, "requests": 300}
QUICK = {"users": 300, "products": 200, "events": 15_000, "requests": 60}
ENGINE_METHODS = ("recommend", "similar", "also_bought")
SEARCH_WORDS = ("mug", "lamp", "candle", "tea", "blue", "cotton", "gift", "oil", "knife", "bag")


class Clock:
    """Per-request accumulators, filled by the SQLAlchemy events, the signals and the wrappers."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sql = 0.0
        self.statements = 0
        self.event_writes = 0
        self.event_write_time = 0.0
        self.engine = 0.0
        self.template = 0.0
        self.sql_in_template = 0.0
        self.engine_in_template = 0.0
        self.gc = 0.0
        self.visit = 0.0
        self._gc_started = 0.0
        self._render_depth = 0
        self._render_started = 0.0
        self._sql_at_render = 0.0
        self._engine_at_render = 0.0
        self.shapes: Counter[str] = Counter()


CLOCK = Clock()
_WORDS = re.compile(r"\s+")
_LITERALS = re.compile(r"\b\d+\b|'[^']*'|\?(, \?)+|%\(\w+\)s(, %\(\w+\)s)+")


def _shape(statement: str) -> str:
    """A statement with its literals and IN lists folded, so the same query counts as one shape."""
    return _LITERALS.sub("?", _WORDS.sub(" ", statement))[:160]


def instrument(app) -> None:
    from flask import before_render_template, template_rendered
    from sqlalchemy import event

    from shop.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("_bench_started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        spent = time.perf_counter() - conn.info["_bench_started"].pop()
        CLOCK.sql += spent
        CLOCK.statements += 1
        CLOCK.shapes[_shape(statement)] += 1
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            CLOCK.event_writes += 1
            CLOCK.event_write_time += spent

    def _render_started(sender, template, context, **extra):
        if CLOCK._render_depth == 0:
            CLOCK._render_started = time.perf_counter()
            CLOCK._sql_at_render = CLOCK.sql
            CLOCK._engine_at_render = CLOCK.engine
        CLOCK._render_depth += 1

    def _rendered(sender, template, context, **extra):
        CLOCK._render_depth -= 1
        if CLOCK._render_depth == 0:
            CLOCK.template += time.perf_counter() - CLOCK._render_started
            CLOCK.sql_in_template += CLOCK.sql - CLOCK._sql_at_render
            CLOCK.engine_in_template += CLOCK.engine - CLOCK._engine_at_render

    before_render_template.connect(_render_started, app, weak=False)
    template_rendered.connect(_rendered, app, weak=False)


def time_visit_writes() -> None:
    """Time the product page's view and click writes whole (the first-view check, BEGIN
    IMMEDIATE, the inserts and counters, the commit): the SQL columns see only the statements."""
    from shop.catalog import routes

    original = routes._record_visit

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            CLOCK.visit += time.perf_counter() - started

    routes._record_visit = timed


def time_garbage_collection() -> None:
    """Count the collector's pauses too (they land in whatever allocates, ORM rows mostly)."""

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            CLOCK._gc_started = time.perf_counter()
        else:
            CLOCK.gc += time.perf_counter() - CLOCK._gc_started

    gc.callbacks.append(callback)


def time_engine_methods(engine) -> None:
    """Wrap the loaded model's request-time methods (on its class) so their time is counted."""
    cls = type(engine)
    for name in ENGINE_METHODS:
        original = getattr(cls, name)
        if getattr(original, "_bench_timed", False):
            continue

        def timed(self, *args, _original=original, **kwargs):
            started = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                CLOCK.engine += time.perf_counter() - started

        timed._bench_timed = True
        setattr(cls, name, timed)


def pick_shopper(app) -> tuple[int, str, int]:
    """A seeded shopper with a median-sized history: (id, session id, events)."""
    from sqlalchemy import func, select

    from shop.extensions import db
    from shop.models import Event, User

    with app.app_context():
        counts = db.session.execute(
            select(Event.user_id, func.count())
            .where(Event.user_id.is_not(None))
            .group_by(Event.user_id)
            .order_by(func.count(), Event.user_id)
        ).all()
        user_id, n_events = counts[len(counts) // 2]
        user = db.session.get(User, user_id)
        user.sign_in_nonce = "bench"
        return user.id, user.get_id(), n_events


@contextmanager
def signed_in(client, session_id: str):
    with client.session_transaction() as sess:
        sess["_user_id"] = session_id
        sess["_fresh"] = True
    yield client


def routes(product_ids: list[int], rng: random.Random) -> dict[str, tuple[bool, callable]]:
    """Route name -> (signed in?, a function giving the next URL)."""
    pages = max(1, len(product_ids) // 24)
    return {
        "home, signed in": (True, lambda: "/"),
        "product page, signed in": (True, lambda: f"/products/{rng.choice(product_ids)}?src=bench"),
        "home, visitor": (False, lambda: "/"),
        "listing, visitor": (False, lambda: f"/products?page={rng.randint(1, min(pages, 20))}"),
        "search, visitor": (False, lambda: f"/search?q={rng.choice(SEARCH_WORDS)}"),
    }


def profile(workdir: Path, requests: int, seed: int) -> dict:
    os.environ.update(shop_env(workdir))
    from shop.extensions import db
    from shop.models import Product
    from shop.services.model_store import current_engine
    from wsgi import app  # what gunicorn serves, set up as it is there

    instrument(app)
    time_garbage_collection()
    time_visit_writes()
    with app.app_context():
        engine = current_engine()
        if engine is not None:
            time_engine_methods(engine)
        product_ids = list(db.session.scalars(db.select(Product.id).where(Product.listed)))
    user_id, session_id, n_events = pick_shopper(app)
    rng = random.Random(seed)
    results = {}
    for name, (needs_user, next_url) in routes(product_ids, rng).items():
        client = app.test_client()
        if needs_user:
            with signed_in(client, session_id):
                pass
        for _ in range(max(5, requests // 20)):  # warm the process's caches and the model
            client.get(next_url())
        rows = []
        shapes: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        for _ in range(requests):
            CLOCK.reset()
            started = time.perf_counter()
            response = client.get(next_url())
            total = time.perf_counter() - started
            statuses[response.status_code] += 1
            template = CLOCK.template - CLOCK.sql_in_template - CLOCK.engine_in_template
            rows.append(
                {
                    "total": total,
                    "sql": CLOCK.sql,
                    "engine": CLOCK.engine,
                    "template": template,
                    "elsewhere": total - CLOCK.sql - CLOCK.engine - template,
                    "gc": CLOCK.gc,
                    "visit": CLOCK.visit,
                    "statements": CLOCK.statements,
                    "event_writes": CLOCK.event_writes,
                    "event_write_ms": CLOCK.event_write_time,
                }
            )
            shapes.update(CLOCK.shapes)
        results[name] = summarise(rows, shapes, statuses, requests)
    return {
        "shopper": {"user_id": user_id, "events": n_events},
        "model_loaded": engine is not None,
        "routes": results,
    }


def summarise(rows: list[dict], shapes: Counter, statuses: Counter, requests: int) -> dict:
    def mean_ms(key: str) -> float:
        return 1000 * statistics.fmean(r[key] for r in rows)

    return {
        "requests": len(rows),
        "status": {str(k): v for k, v in statuses.items()},
        "median_ms": 1000 * statistics.median(r["total"] for r in rows),
        "mean_ms": mean_ms("total"),
        "sql_ms": mean_ms("sql"),
        "engine_ms": mean_ms("engine"),
        "template_ms": mean_ms("template"),
        "elsewhere_ms": mean_ms("elsewhere"),
        "gc_ms": mean_ms("gc"),
        "visit_write_ms": mean_ms("visit"),
        "statements": statistics.fmean(r["statements"] for r in rows),
        "statements_max": max(r["statements"] for r in rows),
        "event_writes_per_request": statistics.fmean(r["event_writes"] for r in rows),
        "event_write_ms": mean_ms("event_write_ms"),
        "top_statements": [
            {"per_request": round(n / requests, 2), "sql": sql} for sql, n in shapes.most_common(30)
        ],
    }


def print_table(result: dict, counts: dict) -> None:
    info = result["machine"]
    print(
        f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}; in-process, "
        f"{result['requests_per_route']} requests a route"
    )
    print(
        f"shop: {counts['users']} users, {counts['products']} products, {counts['events']} events; "
        f"signed-in shopper with {result['shopper']['events']} events"
    )
    head = ("route", "mean ms", "SQL", "engine", "templ.", "else", "(gc)", "(visit)", "stmts")
    print(f"{head[0]:26s}" + "".join(f"{h:>9s}" for h in head[1:]))
    for name, r in result["routes"].items():
        print(
            f"{name:26s}{r['mean_ms']:9.2f}{r['sql_ms']:9.2f}{r['engine_ms']:9.2f}"
            f"{r['template_ms']:9.2f}{r['elsewhere_ms']:9.2f}{r['gc_ms']:9.2f}"
            f"{r['visit_write_ms']:9.2f}{r['statements']:9.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_size_arguments(parser, "a small shop and 60 requests a route")
    parser.add_argument("--requests", type=int, help="measured requests per route")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--label", default="latest", help="names the JSON file: profile_LABEL.json")
    parser.add_argument("--out", type=Path, help="default bench/results/profile_pages_LABEL.json")
    args = parser.parse_args(argv)
    size = chosen_size(args, FULL, QUICK)
    workdir, _, _, counts = ready_shop(
        args.workdir, size["users"], size["products"], size["events"], prefix="shop-profile-"
    )
    result = profile(workdir, size["requests"], args.seed)
    result.update({"machine": machine(), "shop": counts, "requests_per_route": size["requests"]})
    print_table(result, counts)
    out = (
        args.out or Path(__file__).resolve().parent / "results" / f"profile_pages_{args.label}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
