"""Filling the database with a synthetic shop: the one entry point the CLI and seed.py call.

:func:`seed_database` checks the schema, draws the shop in memory (:mod:`shop.seeding.generator`),
then writes it in ONE transaction with bulk inserts (events in chunks) and rebuilds the product
counters from what was written. Any failure rolls the whole seed back and removes the pictures it
wrote, so a database is never left half seeded. :func:`settle_shop` then gives the orders their
statuses and histories and the products their stock (:mod:`shop.seeding.lifecycle`): in the same
transaction, or, with the demo experiment, once the experiment's orders are written too.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import numpy as np
from flask import current_app
from sqlalchemy import bindparam, delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import OperationalError
from tqdm import tqdm

from shop.extensions import db
from shop.models import (
    ORDER_STATUSES,
    AuditEntry,
    CartItem,
    Category,
    CategoryBoost,
    CategoryPin,
    Event,
    Experiment,
    ExperimentVariant,
    Impression,
    Like,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    Rating,
    StockMovement,
    TrainingRun,
    User,
)
from shop.seeding import lifecycle
from shop.seeding.generator import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    KINDS,
    SOURCES,
    SeedData,
    SeedOptions,
    generate,
)
from shop.seeding.images import write_product_images
from shop.services.counters import recompute_product_counters

__all__ = ["SeedError", "SeedOptions", "SeedReport", "seed_database", "DEMO_EMAIL", "DEMO_PASSWORD"]

EVENT_CHUNK = 20_000
INDEX_REBUILD_FROM = 20_000
#: Shoppers taking part in the demo experiment at most: each of their visits asks the engine for a
#: list, so on the default demo (2,000 shoppers) this keeps `make run` quick; 300 per variant
#: still separate the two.
DEMO_EXPERIMENT_SHOPPERS = 600
# Children before parents, so that deleting never trips a foreign key.
DELETE_ORDER = (
    Event,
    StockMovement,
    OrderEvent,
    OrderLine,
    Order,
    CartItem,
    Rating,
    Like,
    Impression,
    ExperimentVariant,
    Experiment,
    TrainingRun,
    CategoryPin,
    CategoryBoost,
    AuditEntry,
    Product,
    Category,
    User,
)
REQUIRED_TABLES = {model.__tablename__ for model in DELETE_ORDER} | {"alembic_version"}


class SeedError(Exception):
    """A reason not to seed that the user can fix (the CLI prints it and exits with status 2)."""


@dataclass
class SeedReport:
    skipped: bool = False
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    funnel: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time: honest on a busy, shared machine
    experiment_id: int | None = None  # the demo experiment, when one was asked for
    experiment_name: str = ""
    experiment_seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.counts.get("events", 0) / self.seconds if self.seconds else 0.0


def check_schema() -> None:
    """Refuse to seed a database the migrations have not built."""
    try:
        tables = set(inspect(db.engine).get_table_names())
    except OperationalError as exc:
        raise SeedError(f"Cannot open the database: {exc.orig}") from None
    missing = REQUIRED_TABLES - tables
    if missing:
        raise SeedError(
            "The database has no shop tables yet "
            f"(missing {', '.join(sorted(missing)[:3])}{'...' if len(missing) > 3 else ''}): "
            "run `flask --app shop db upgrade` first."
        )
    current, head = _revisions()
    if head and current != head:
        raise SeedError(
            f"The database schema is at revision {current}, the code expects {head}: "
            "run `flask --app shop db upgrade` first."
        )


def _revisions() -> tuple[str | None, str | None]:
    """The database's Alembic revision and the migrations' head (None when unknown)."""
    migrate = current_app.extensions.get("migrate")
    if migrate is None:
        return None, None
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.migrate.get_config()).get_current_head()
    with db.engine.connect() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return current, head


def seed_database(
    options: SeedOptions,
    *,
    reset: bool = False,
    if_empty: bool = False,
    admin_email: str | None = None,
    admin_password: str | None = None,
    show_progress: bool = False,
    with_experiment: bool = False,
) -> SeedReport:
    """Seed the shop; see the module docstring for the guarantees.

    ``with_experiment`` then simulates a finished demo A/B experiment from the seeded shop's hidden
    world (:mod:`shop.seeding.experiment`), in a second transaction once the seed is committed.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    check_schema()
    existing = db.session.scalar(select(func.count(Product.id))) or 0
    db.session.rollback()  # end the read: the write transaction starts below
    if existing and if_empty:
        return SeedReport(
            skipped=True,
            message=f"The database already has {existing} products; nothing seeded (--if-empty).",
        )
    if existing and not reset:
        raise SeedError(
            f"The database already has {existing} products. Use --reset to delete all shop data "
            "and seed again, or --if-empty to leave it as it is."
        )

    data = generate(options)
    written: list[Path] = []
    try:
        if reset:
            for model in DELETE_ORDER:
                db.session.execute(delete(model))
        counts = _write(data, show_progress)
        _ensure_demo_password()
        if admin_email:
            _ensure_admin(admin_email, admin_password or "")
            counts["users"] = db.session.scalar(select(func.count(User.id)))
        recompute_product_counters()
        written = write_product_images(current_app.static_folder, _image_rows(data))
        if not with_experiment:
            counts.update(settle_shop(data, options.seed))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    report = SeedReport(
        counts=counts,
        funnel=data.stats,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )
    if with_experiment:
        from shop.seeding.experiment import create_demo_experiment

        clock = time.perf_counter()
        try:
            experiment = create_demo_experiment(
                data, rng_seed=options.seed, shoppers=DEMO_EXPERIMENT_SHOPPERS
            )
        except Exception:
            # The shop without its experiment still gets its stock and order histories.
            db.session.rollback()
            settle_shop(data, options.seed)
            db.session.commit()
            raise
        report.experiment_id, report.experiment_name = experiment.id, experiment.name
        report.experiment_seconds = time.perf_counter() - clock
        # The experiment's orders are the shop's too: they take stock and move along like the rest,
        # so the shop's stock and histories are settled once, after it (and counted as seeding).
        clock, cpu_clock = time.perf_counter(), time.process_time()
        counts.update(settle_shop(data, options.seed))
        db.session.commit()
        report.seconds += time.perf_counter() - clock
        report.cpu_seconds += time.process_time() - cpu_clock
    return report


def settle_shop(data: SeedData, seed: int) -> dict[str, int]:
    """Give the seeded orders their statuses and histories, and the seeded products their stock.

    Plans with :mod:`shop.seeding.lifecycle` over every order that has no history yet and every
    product the seed made, then writes in bulk: order events, the stock ledger, the orders' and the
    products' new columns, and an audit entry per hidden product when there is an admin to sign it.
    Returns the figures the command prints. The caller commits.
    """
    skus = [row["sku"] for row in data.products]
    products = [
        lifecycle.ProductRow(pid, _aware(created))
        for pid, created in db.session.execute(
            select(Product.id, Product.created_at).where(Product.sku.in_(skus))
        )
    ]
    fresh = ~select(OrderEvent.id).where(OrderEvent.order_id == Order.id).exists()
    orders = [
        lifecycle.OrderRow(oid, uid, _aware(created))
        for oid, uid, created in db.session.execute(
            select(Order.id, Order.user_id, Order.created_at).where(fresh)
        )
    ]
    order_ids = {o.id for o in orders}
    lines = [
        lifecycle.LineRow(*row)
        for row in db.session.execute(
            select(OrderLine.order_id, OrderLine.product_id, OrderLine.quantity).where(
                OrderLine.order_id.in_(select(Order.id).where(fresh))
            )
        )
        if row[0] in order_ids
    ]
    demo_id = db.session.scalar(select(User.id).where(User.email == DEMO_EMAIL))
    admin = db.session.scalar(select(User).where(User.is_admin.is_(True)).order_by(User.id))
    plan = lifecycle.plan(
        orders,
        lines,
        products,
        end=data.end,
        seed=seed,
        threshold=int(current_app.config.get("SHOP_LOW_STOCK_THRESHOLD", 5)),
        demo_user_id=demo_id,
        admin_id=admin.id if admin is not None else None,
    )
    if plan.order_events:
        db.session.execute(insert(OrderEvent.__table__), plan.order_events)
        db.session.execute(
            update(Order.__table__)
            .where(Order.__table__.c.id == bindparam("order_id"))
            .values(status=bindparam("status"), updated_at=bindparam("updated_at")),
            [
                {"order_id": oid, "status": status, "updated_at": plan.updated[oid]}
                for oid, status in plan.statuses.items()
            ],
        )
    if plan.movements:
        db.session.execute(insert(StockMovement.__table__), plan.movements)
    db.session.execute(
        update(Product.__table__)
        .where(Product.__table__.c.id == bindparam("product_id"))
        .values(
            stock=bindparam("stock"), listed=bindparam("listed"), updated_at=bindparam("updated_at")
        ),
        [
            {
                "product_id": pid,
                "stock": stock,
                "listed": pid not in plan.hidden,
                "updated_at": plan.product_updated[pid],
            }
            for pid, stock in plan.stock.items()
        ],
    )
    if admin is not None and plan.hidden:
        db.session.execute(
            insert(AuditEntry.__table__),
            [
                {
                    "actor_id": admin.id,
                    "actor_email": admin.email,
                    "action": "product.update",
                    "target_type": "product",
                    "target_id": pid,
                    "summary": lifecycle.HIDE_SUMMARY,
                    "before": {"listed": True},
                    "after": {"listed": False},
                    "created_at": when,
                }
                for pid, when in sorted(plan.hidden.items())
            ],
        )
    statuses = list(plan.statuses.values())
    return {
        "low": len(plan.low),
        "sold_out": len(plan.sold_out),
        "hidden": len(plan.hidden),
        **{f"orders_{status}": statuses.count(status) for status in ORDER_STATUSES},
    }


def _aware(value):
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _image_rows(data: SeedData) -> list[dict]:
    rows = []
    for row in data.products:
        category = data.categories[row["category_index"]]["name"]
        rows.append(
            {
                "image_path": row["image_path"],
                "name": row["name"],
                "category_name": category,
            }
        )
    return rows


def _insert_ids(model, rows: list[dict]) -> list[int]:
    """Bulk insert with ids reserved up front; return the ids in the order of ``rows``.

    ``INSERT ... RETURNING`` in parameter order falls back to one statement per row on SQLite, so
    the ids are taken first: on SQLite from the table's maximum (the seed already holds the write
    lock, nobody else can insert), on PostgreSQL from the table's own sequence (safe even with
    other writers), and then every row goes in through one executemany.
    """
    if not rows:
        return []
    connection = db.session.connection()
    table = model.__table__
    if connection.dialect.name == "postgresql":
        ids = (
            connection.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
                ),
                {"table": table.name, "n": len(rows)},
            )
            .scalars()
            .all()
        )
    else:
        first = (connection.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        ids = list(range(first, first + len(rows)))
    connection.execute(
        table.insert(), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
    )
    return [int(id_) for id_ in ids]


def _without(rows: list[dict], *keys: str) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in keys} for row in rows]


def _write(data: SeedData, show_progress: bool) -> dict[str, int]:
    category_ids = _insert_ids(Category, data.categories)
    product_rows = [
        {**row, "category_id": category_ids[row["category_index"]]} for row in data.products
    ]
    product_ids = np.asarray(
        _insert_ids(Product, _without(product_rows, "category_index", "type_index", "colour"))
    )
    user_ids = np.asarray(_insert_ids(User, data.users))

    _write_events(data, user_ids, product_ids, show_progress)

    order_rows = [
        {
            "user_id": int(user_ids[o["user_index"]]),
            "total": o["total"],
            "created_at": o["created_at"],
        }
        for o in data.orders
    ]
    order_ids = _insert_ids(Order, order_rows)
    line_rows = [
        {
            "order_id": order_ids[line["order_index"]],
            "product_id": int(product_ids[line["product_index"]]),
            "quantity": line["quantity"],
            "unit_price": line["unit_price"],
        }
        for line in data.order_lines
    ]
    table_rows = (
        (OrderLine, line_rows),
        (Rating, [_user_product(r, user_ids, product_ids, updated=True) for r in data.ratings]),
        (Like, [_user_product(r, user_ids, product_ids) for r in data.likes]),
        (CartItem, [_user_product(r, user_ids, product_ids) for r in data.cart_items]),
    )
    for model, rows in table_rows:
        if rows:
            db.session.execute(insert(model.__table__), rows)
    return {
        "categories": len(category_ids),
        "products": len(product_ids),
        "users": len(user_ids),
        "events": data.n_events,
        "orders": len(order_ids),
        "order_lines": len(line_rows),
        "ratings": len(data.ratings),
        "likes": len(data.likes),
        "cart_items": len(data.cart_items),
    }


def _user_product(row: dict, user_ids, product_ids, updated: bool = False) -> dict:
    out = {k: v for k, v in row.items() if k not in ("user_index", "product_index")}
    out["user_id"] = int(user_ids[row["user_index"]])
    out["product_id"] = int(product_ids[row["product_index"]])
    if updated:
        out["updated_at"] = row["created_at"]
    return out


def _write_events(data: SeedData, user_ids, product_ids, show_progress: bool) -> None:
    """Events in chunks through one executemany each: the seeder's hot path.

    On SQLite the rows go straight to the driver as tuples with the timestamps already in
    SQLAlchemy's storage format, and the events table's indexes are dropped for the load and rebuilt
    once after it (inside the same transaction, so a failure restores them): keeping four b-trees in
    step row by row is several times slower than building them once.
    """
    connection = db.session.connection()
    sqlite = connection.dialect.name == "sqlite"
    kinds = np.asarray(KINDS, dtype=object)
    sources = np.asarray((*SOURCES, "checkout"), dtype=object)  # index -1 is checkout
    total = data.n_events
    bar = tqdm(
        total=total, unit="events", unit_scale=True, disable=not show_progress, file=sys.stderr
    )
    rebuild = _drop_event_indexes(connection) if sqlite and total >= INDEX_REBUILD_FROM else []
    with bar:
        for start in range(0, total, EVENT_CHUNK):
            stop = min(start + EVENT_CHUNK, total)
            users = data.event_user[start:stop]
            user_col = np.where(users >= 0, user_ids[np.maximum(users, 0)], 0).tolist()
            columns = (
                [None if u < 0 else uid for u, uid in zip(users.tolist(), user_col, strict=True)],
                product_ids[data.event_product[start:stop]].tolist(),
                kinds[data.event_kind[start:stop]].tolist(),
                data.event_quantity[start:stop].tolist(),
                sources[data.event_source[start:stop]].tolist(),
            )
            times = data.event_time[start:stop]
            if sqlite:
                stamps = np.char.replace(np.datetime_as_string(times, unit="us"), "T", " ")
                connection.exec_driver_sql(
                    "INSERT INTO events (user_id, product_id, kind, quantity, source, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    list(zip(*columns, stamps.tolist(), strict=True)),
                )
            else:
                stamps = [t.replace(tzinfo=UTC) for t in times.tolist()]
                keys = ("user_id", "product_id", "kind", "quantity", "source", "created_at")
                rows = [
                    dict(zip(keys, row, strict=True)) for row in zip(*columns, stamps, strict=True)
                ]
                connection.execute(Event.__table__.insert(), rows)
            bar.update(stop - start)
    for statement in rebuild:
        connection.exec_driver_sql(statement)


def _drop_event_indexes(connection) -> list[str]:
    """Drop the events table's indexes; return the statements that recreate them as they were."""
    found = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
    ).all()
    for name, _ in found:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in found]


def _ensure_demo_password() -> None:
    user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is not None:
        user.set_password(DEMO_PASSWORD)
        db.session.flush()


def _ensure_admin(email: str, password: str) -> User:
    """Create the admin account, or promote and re-password the user who has that email."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None:
        user = User(email=email.lower(), display_name="Shop Admin")
        db.session.add(user)
    user.is_admin = True
    user.set_password(password)
    db.session.flush()
    return user


def promote_admin(email: str, password: str | None) -> tuple[User, bool]:
    """``create-admin``: make ``email`` an admin, creating the account when it does not exist.

    Returns the user and whether it was created. An existing user keeps their password unless a new
    one is given; a new user needs one.
    """
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    created = user is None
    if created:
        if not password:
            raise SeedError("A new admin account needs a password (--password).")
        user = User(email=email.lower(), display_name=email.split("@", 1)[0][:80] or "Admin")
        db.session.add(user)
    user.is_admin = True
    if password:
        user.set_password(password)
    db.session.flush()
    return user, created
