"""Feedback tables as the DataFrames the recommendation engine reads.

The engine knows DataFrames, not the ORM: this module is the only bridge. Each read is one SQL
statement (events, likes and ratings in one UNION ALL; the catalogue in one SELECT), never a
row-by-row ORM loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import DateTime, Integer, cast, func, literal, null, select, union_all

from shop.extensions import db
from shop.models import Category, Event, Like, Product, Rating
from shop.services.availability import per_request

COLUMNS = ["user_id", "product_id", "kind", "value", "timestamp"]


def _events():
    return select(
        Event.user_id,
        Event.product_id,
        Event.kind,
        Event.quantity.label("value"),
        Event.created_at.label("timestamp"),
    )


def _likes():
    return select(
        Like.user_id,
        Like.product_id,
        literal("like").label("kind"),
        literal(1).label("value"),
        Like.created_at.label("timestamp"),
    )


def _ratings():
    return select(
        Rating.user_id,
        Rating.product_id,
        literal("rating").label("kind"),
        Rating.stars.label("value"),
        Rating.updated_at.label("timestamp"),
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": pd.Series(dtype="int64"),
            "product_id": pd.Series(dtype="int64"),
            "kind": pd.Series(dtype="object"),
            "value": pd.Series(dtype="float64"),
            "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The column types the engine expects, whatever the database driver returned."""
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="mixed")
    frame["value"] = frame["value"].astype("float64")
    return frame


def _interactions():
    """Every signed-in shopper's events, likes and ratings: the log training learns from."""
    return union_all(_events().where(Event.user_id.is_not(None)), _likes(), _ratings())


def all_interactions() -> pd.DataFrame:
    """Every signed-in shopper's events, likes and ratings."""
    with db.engine.connect() as conn:
        frame = pd.read_sql(_interactions(), conn)
    if frame.empty:
        return _empty()
    frame.columns = COLUMNS
    return _typed(frame)


def interaction_count() -> int:
    """How many interactions :func:`all_interactions` would return, without reading them."""
    return int(db.session.scalar(select(func.count()).select_from(_interactions().subquery())))


#: Rows a streamed read hands over at a time: what the reader holds of the log at once.
CHUNK_ROWS = 500_000


def interaction_chunks(
    chunk_rows: int = CHUNK_ROWS, *, newest: int | None = None
) -> Iterator[pd.DataFrame]:
    """The interactions as frames of at most ``chunk_rows`` rows, never the whole log at once.

    The rows come through a server-side cursor (``yield_per``: a named cursor on PostgreSQL, the
    step-by-step cursor SQLite always has), so neither the driver nor this process buffers the
    log. ``newest`` keeps only the most recent that many interactions (one ``ORDER BY ... LIMIT``,
    which the database sorts with a bounded heap), newest first. The connection is closed when
    the generator ends or is closed.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    query = _interactions()
    if newest is not None:
        log = query.subquery()
        # Ties in time are broken by the other columns, so the window is the same on every read.
        query = (
            select(log)
            .order_by(log.c.timestamp.desc(), log.c.user_id, log.c.product_id, log.c.kind)
            .limit(newest)
        )
    with db.engine.connect() as conn:
        result = conn.execution_options(yield_per=chunk_rows).execute(query)
        for rows in result.partitions():
            yield _typed(pd.DataFrame.from_records(rows, columns=COLUMNS))


def recent_interactions(limit: int, chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """The most recent ``limit`` interactions, oldest first, read with one bounded query.

    What a training run holds in memory when ``SHOP_TRAIN_WINDOW_EVENTS`` bounds it: the worker
    fits its sources on this window however long the log has grown.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    parts = list(interaction_chunks(chunk_rows, newest=limit))
    if not parts:
        return _empty()
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    del parts  # the chunks, before the reversed copy: never three copies of the window at once
    return frame.iloc[::-1].reset_index(drop=True)


#: A page folds in at most this many of a shopper's most recent events (likes and ratings always
#: count in full): what someone viewed months and thousands of clicks ago says little about today,
#: and the request must stay fast for the most active shoppers.
HISTORY_EVENT_LIMIT = 500


@dataclass(frozen=True)
class ShopperHistory:
    """One shopper's history as every part of a page needs it, from one statement.

    ``frame``: what the engine folds in (the latest ``HISTORY_EVENT_LIMIT`` events, every like and
    rating). ``touched``: every product viewed, clicked, carted, bought, rated or liked, however long
    ago. ``viewed``: distinct products viewed or clicked, newest first, among those latest events.
    ``liked``: liked products, newest like first, then products rated 4 or 5 stars, newest first.
    """

    frame: pd.DataFrame
    touched: frozenset[int]
    viewed: tuple[int, ...]
    liked: tuple[int, ...]


def _history_statement(user_id: int, event_limit: int):
    """Recent events, the ids of all products in older ones, likes and ratings: one UNION ALL.

    Each row carries its table's id so that ties in time keep the order the tables were written in.
    """
    recent = (
        _events()
        .add_columns(Event.id.label("row_id"))
        .where(Event.user_id == user_id)
        .order_by(Event.created_at.desc(), Event.id.desc())
        .limit(event_limit)
        .subquery()
    )
    every_event = select(
        literal(user_id).label("user_id"),
        Event.product_id,
        literal("touched").label("kind"),
        # Typed: PostgreSQL reads a bare NULL in a DISTINCT arm as text, which no UNION matches.
        cast(null(), Integer).label("value"),
        cast(null(), DateTime(timezone=True)).label("timestamp"),
        cast(null(), Integer).label("row_id"),
    ).where(Event.user_id == user_id)
    return union_all(
        select(recent),
        every_event.distinct(),
        _likes().add_columns(Like.id.label("row_id")).where(Like.user_id == user_id),
        _ratings().add_columns(Rating.id.label("row_id")).where(Rating.user_id == user_id),
    )


def _read_history(user_id: int, event_limit: int) -> ShopperHistory:
    rows = db.session.execute(_history_statement(user_id, event_limit)).all()
    touched = frozenset(int(row[1]) for row in rows)
    kept = [row for row in rows if row[2] != "touched"]
    if kept:
        # Column lists, not Row objects: pandas builds a frame from rows one cell at a time.
        columns = list(zip(*kept, strict=True))[: len(COLUMNS)]
        frame = _typed(pd.DataFrame(dict(zip(COLUMNS, map(list, columns), strict=True))))
    else:
        frame = _empty()

    def newest_first(found: list) -> list:
        return sorted(found, key=lambda row: (_aware(row[4]), row[5]), reverse=True)

    viewed = tuple(
        dict.fromkeys(int(r[1]) for r in newest_first([r for r in kept if r[2] in VIEWS]))
    )
    likes = newest_first([r for r in kept if r[2] == "like"])
    high = newest_first([r for r in kept if r[2] == "rating" and r[3] >= LIKED_STARS])
    liked = tuple(dict.fromkeys(int(r[1]) for r in likes + high))
    return ShopperHistory(frame=frame, touched=touched, viewed=viewed, liked=liked)


def _aware(value: datetime | str) -> datetime:
    """A timestamp as an aware datetime (drivers hand them back naive, aware or as text)."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


#: Events that mean the shopper looked at a product ("Recently viewed").
VIEWS = ("view", "click")
#: A rating from this many stars counts as liking the product ("Because you liked ...").
LIKED_STARS = 4


def shopper_history(user_id: int, event_limit: int = HISTORY_EVENT_LIMIT) -> ShopperHistory:
    """The shopper's history, read once per request in one statement and shared by every row."""
    return per_request(
        f"_shop_history_{user_id}_{event_limit}", lambda: _read_history(user_id, event_limit)
    )


def user_history(user_id: int, event_limit: int = HISTORY_EVENT_LIMIT) -> pd.DataFrame:
    """One shopper's history, as fresh as the database: the engine folds it in on the spot."""
    return shopper_history(user_id, event_limit).frame


def touched_product_ids(user_id: int) -> set[int]:
    """Every product the shopper viewed, clicked, carted, bought, rated or liked, however long ago.

    "Recommended for you" never shows these: the evaluation counts a hit only on a product new to
    the shopper, so a list that re-showed touched products would serve something it never measured.
    """
    return set(shopper_history(user_id).touched)  # a copy, since callers add to it


def products_frame(*conditions) -> pd.DataFrame:
    """The engine's product frame: every product, or those matching ``conditions``."""
    query = select(
        Product.id.label("product_id"),
        Product.name,
        Product.description,
        Category.name.label("category"),
        Product.brand,
        Product.price,
    ).outerjoin(Category, Category.id == Product.category_id)
    if conditions:
        query = query.where(*conditions)
    with db.engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["category"] = frame["category"].fillna("")
    frame["price"] = frame["price"].astype("float64")
    return frame
