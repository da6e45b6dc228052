"""Products added since the model was trained: reachable at once, and the home page's "New in" row.

The engine only knows the catalogue it was fitted on. A product added after that is coded from its
text with the fitted TF-IDF vocabulary (``HybridRecommender.unseen_products``) so "Similar products"
can rank it, and show neighbours on its own page, before the next retrain. Coding text is the only
costly part, so it is done once per set of new products: each request compares a fingerprint of the
products table (count, newest id, latest ``updated_at``: one aggregate query) with the one the coded
set was built under, and rebuilds only when the products or the model changed. The cache is per
process; :func:`forget_unseen` drops it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.models import Product
from shop.services.availability import is_listed, is_sold_out
from shop.services.interactions import products_frame

_lock = threading.Lock()
_coded: dict[str, tuple[tuple, Any]] = {}


def products_fingerprint() -> tuple:
    """Changes whenever a product is added, removed or edited (its ``updated_at`` moves)."""
    row = db.session.execute(
        select(func.count(Product.id), func.max(Product.id), func.max(Product.updated_at))
    ).one()
    return tuple(str(value) for value in row)


def unseen_for(engine: Any, version: str | None, fingerprint: tuple | None = None) -> Any:
    """The engine's coding of the products it was not fitted on (an ``UnseenProducts``), cached.

    New products are those with an id above the model's largest or created after its training
    started; the engine drops any it knows after all. ``fingerprint``: the catalogue's
    (:func:`products_fingerprint`), when the caller has just read it.
    """
    key = (version, id(engine), *(fingerprint or products_fingerprint()))
    with _lock:
        hit = _coded.get("unseen")
    if hit is not None and hit[0] == key:
        return hit[1]
    newest_known = int(pd.Series(engine.product_ids_).max())
    trained_at = datetime.fromisoformat(engine.metadata_["trained_at"])
    frame = products_frame(or_(Product.id > newest_known, Product.created_at >= trained_at))
    coded = engine.unseen_products(frame)
    with _lock:
        _coded["unseen"] = (key, coded)
    return coded


def forget_unseen() -> None:
    with _lock:
        _coded.clear()


def new_in(n: int = 8, exclude: Iterable[int] = ()) -> list[Product]:
    """The latest listed products in stock, last added first (the home page's "New in" row),
    leaving out ``exclude`` (what the page shows elsewhere).

    Ordered by id, which grows with every product added, so the primary key answers without a sort
    of the catalogue (seeded and imported products may carry older ``created_at`` dates).
    """
    leave_out = list(exclude)
    return list(
        db.session.scalars(
            select(Product)
            .where(is_listed(), ~is_sold_out(), Product.id.not_in(leave_out))
            .order_by(Product.id.desc())
            .limit(n)
            .options(joinedload(Product.category))
        )
    )
