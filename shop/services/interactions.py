"""Feedback tables as the DataFrames the recommendation engine reads.

The engine knows DataFrames, not the ORM: this module is the only bridge. Each read is one SQL
statement per table (pandas.read_sql), never a row-by-row ORM loop.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import literal, select, union_all

from shop.extensions import db
from shop.models import Category, Event, Like, Product, Rating

COLUMNS = ["user_id", "product_id", "kind", "value", "timestamp"]


def _interaction_query(user_id: int | None = None):
    events = select(
        Event.user_id,
        Event.product_id,
        Event.kind,
        Event.quantity.label("value"),
        Event.created_at.label("timestamp"),
    ).where(Event.user_id.is_not(None))
    likes = select(
        Like.user_id,
        Like.product_id,
        literal("like").label("kind"),
        literal(1).label("value"),
        Like.created_at.label("timestamp"),
    )
    ratings = select(
        Rating.user_id,
        Rating.product_id,
        literal("rating").label("kind"),
        Rating.stars.label("value"),
        Rating.updated_at.label("timestamp"),
    )
    if user_id is not None:
        events = events.where(Event.user_id == user_id)
        likes = likes.where(Like.user_id == user_id)
        ratings = ratings.where(Rating.user_id == user_id)
    return union_all(events, likes, ratings)


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


def _frame(query) -> pd.DataFrame:
    with db.engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    if frame.empty:
        return _empty()
    frame.columns = COLUMNS
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="mixed")
    frame["value"] = frame["value"].astype("float64")
    return frame


def all_interactions() -> pd.DataFrame:
    """Every signed-in shopper's events, likes and ratings."""
    return _frame(_interaction_query())


#: A page folds in at most this many of a shopper's most recent events (likes and ratings always
#: count in full): what someone viewed months and thousands of clicks ago says little about today,
#: and the request must stay fast for the most active shoppers.
HISTORY_EVENT_LIMIT = 500


def user_history(user_id: int, event_limit: int = HISTORY_EVENT_LIMIT) -> pd.DataFrame:
    """One shopper's history, as fresh as the database: the engine folds it in on the spot."""
    recent = (
        select(
            Event.user_id,
            Event.product_id,
            Event.kind,
            Event.quantity.label("value"),
            Event.created_at.label("timestamp"),
        )
        .where(Event.user_id == user_id)
        .order_by(Event.created_at.desc(), Event.id.desc())
        .limit(event_limit)
        .subquery()
    )
    likes = select(
        Like.user_id,
        Like.product_id,
        literal("like").label("kind"),
        literal(1).label("value"),
        Like.created_at.label("timestamp"),
    ).where(Like.user_id == user_id)
    ratings = select(
        Rating.user_id,
        Rating.product_id,
        literal("rating").label("kind"),
        Rating.stars.label("value"),
        Rating.updated_at.label("timestamp"),
    ).where(Rating.user_id == user_id)
    rows = db.session.execute(union_all(select(recent), likes, ratings)).all()
    if not rows:
        return _empty()
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="mixed")
    frame["value"] = frame["value"].astype("float64")
    return frame


def products_frame() -> pd.DataFrame:
    query = select(
        Product.id.label("product_id"),
        Product.name,
        Product.description,
        Category.name.label("category"),
        Product.brand,
        Product.price,
    ).outerjoin(Category, Category.id == Product.category_id)
    with db.engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["category"] = frame["category"].fillna("")
    frame["price"] = frame["price"].astype("float64")
    return frame
