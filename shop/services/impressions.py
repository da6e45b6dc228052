"""Impression ids in links, signed and bound to the shopper they were shown to.

A recommendation link carries ``imp=<token>`` so the click, and a purchase from the product page,
count for the A/B variant that showed the list. A bare row id could be copied, guessed or replayed
by anyone to steer an experiment's figures; the token is an itsdangerous signature over
(impression id, shopper id), and only the same signed-in shopper's request turns it back into an
id. The demo experiment (``shop.seeding.experiment``) writes impression ids into the database
directly and never needs a token.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from shop.database import MAX_ID
from shop.extensions import db
from shop.models import Impression

MAX_TOKEN_LENGTH = 200


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
