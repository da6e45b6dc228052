"""Impressions: a list an experiment's variant showed, recorded, and its id signed into links.

A page that shows a list to a shopper in a running experiment records it with
:func:`record_impression`, explicitly in the route (a GET that writes should say so where it is
read). A recommendation link carries ``imp=<token>`` so the click, and a purchase from the product page,
count for the A/B variant that showed the list. A bare row id could be copied, guessed or replayed
by anyone to steer an experiment's figures; the token is an itsdangerous signature over
(impression id, shopper id), and only the same signed-in shopper's request turns it back into an
id. The demo experiment (``shop.seeding.experiment``) writes impression ids into the database
directly and never needs a token.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from shop.database import MAX_ID, begin_write
from shop.extensions import db
from shop.models import Impression, utcnow

if TYPE_CHECKING:
    from shop.services.recommendations import ShownList

MAX_TOKEN_LENGTH = 200


def record_impression(shown: ShownList, user_id: int | None) -> ShownList:
    """Record ``shown`` as an impression of its experiment variant; return it with the id.

    A list outside any experiment (no ``variant_id``), shown to nobody signed in, or empty is
    returned as it is and nothing is written. A shopper shown the same list (variant and place)
    again within ``SHOP_IMPRESSION_WINDOW_SECONDS`` gets the impression already recorded, as views
    and clicks count once per window: reloading a page a hundred times is one list shown, so the
    click-through rate is not for sale by the request. The row is flushed, not committed: the
    caller commits.
    """
    if shown.variant_id is None or user_id is None or not shown.items:
        return shown
    window = current_app.config.get("SHOP_IMPRESSION_WINDOW_SECONDS", 1800)
    if window > 0:
        recent = db.session.scalar(
            select(Impression.id)
            .where(
                Impression.user_id == user_id,
                Impression.variant_id == shown.variant_id,
                Impression.source == shown.source,
                Impression.created_at >= utcnow() - timedelta(seconds=window),
            )
            .order_by(Impression.id.desc())
            .limit(1)
        )
        if recent is not None:
            return replace(shown, impression_id=recent)
    begin_write()
    impression = Impression(
        user_id=user_id,
        variant_id=shown.variant_id,
        source=shown.source,
        product_ids=[item.product.id for item in shown.items],
        model_version=shown.model_version,
    )
    db.session.add(impression)
    db.session.flush()
    return replace(shown, impression_id=impression.id)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="shop-impression")


def impression_token(impression_id: int | None, user_id: int | None) -> str:
    if impression_id is None or user_id is None:
        return ""
    return _serializer().dumps([impression_id, user_id])


def impression_for(token: str | None, user_id: int | None) -> int | None:
    """The impression id in ``token`` when it was issued to ``user_id`` and still exists."""
    if not token or user_id is None or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2 and value[1] == user_id):
        return None
    impression_id = value[0]
    if not isinstance(impression_id, int) or not 1 <= impression_id <= MAX_ID:
        return None
    impression = db.session.get(Impression, impression_id)
    return impression_id if impression is not None and impression.user_id == user_id else None
