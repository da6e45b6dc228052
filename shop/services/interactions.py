"""Feedback tables as the DataFrames the recommendation engine reads.

The engine knows DataFrames, not the ORM: this module is the only bridge. Each read is one SQL
statement (events, likes and ratings in one UNION ALL; the catalogue in one SELECT), never a
row-by-row ORM loop.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import literal, select, union, union_all

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


def all_interactions() -> pd.DataFrame:
    """Every signed-in shopper's events, likes and ratings."""
    query = union_all(_events().where(Event.user_id.is_not(None)), _likes(), _ratings())
    with db.engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    if frame.empty:
        return _empty()
    frame.columns = COLUMNS
    return _typed(frame)


#: A page folds in at most this many of a shopper's most recent events (likes and ratings always
#: count in full): what someone viewed months and thousands of clicks ago says little about today,
#: and the request must stay fast for the most active shoppers.
HISTORY_EVENT_LIMIT = 500


def user_history(user_id: int, event_limit: int = HISTORY_EVENT_LIMIT) -> pd.DataFrame:
    """One shopper's history, as fresh as the database: the engine folds it in on the spot."""
    recent = (
        _events()
        .where(Event.user_id == user_id)
        .order_by(Event.created_at.desc(), Event.id.desc())
        .limit(event_limit)
        .subquery()
    )
    query = union_all(
        select(recent),
        _likes().where(Like.user_id == user_id),
        _ratings().where(Rating.user_id == user_id),
    )
    rows = db.session.execute(query).all()
    if not rows:
        return _empty()
    # Column lists, not Row objects: pandas builds a frame from rows one cell at a time.
    columns = zip(*rows, strict=True)
    return _typed(pd.DataFrame(dict(zip(COLUMNS, map(list, columns), strict=True))))


def touched_product_ids(user_id: int) -> set[int]:
    """Every product the shopper viewed, clicked, carted, bought, rated or liked, however long ago.

    "Recommended for you" never shows these: the evaluation counts a hit only on a product new to
    the shopper, so a list that re-showed touched products would serve something it never measured.
    """
    query = union(
        select(Event.product_id).where(Event.user_id == user_id),
        select(Like.product_id).where(Like.user_id == user_id),
        select(Rating.product_id).where(Rating.user_id == user_id),
    )
    # Read once per request: the home page's rows all ask (a copy, since callers add to it).
    return set(
        per_request(f"_shop_touched_{user_id}", lambda: frozenset(db.session.scalars(query)))
    )


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
