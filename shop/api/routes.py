"""``GET /recommend?user_id=<id>&n=10``: the prototype's endpoint, now answered by the trained engine.

The endpoint is JSON through and through, errors included: it checks the session itself rather than
using ``login_required``, which would redirect a script to an HTML sign-in page.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from flask import current_app, jsonify, request, url_for
from flask_login import current_user

from shop.api import bp
from shop.database import MAX_ID
from shop.errors import error_response
from shop.extensions import db
from shop.models import User
from shop.templating import product_image_url

MAX_N = 100
DEFAULT_N = 10
#: A well-formed id is a positive 64-bit integer; anything longer is malformed, not merely unknown
#: (a well-formed id past MAX_ID is simply no user's: 404).
_ID = re.compile(r"[1-9][0-9]{0,18}")
_MAX_WELL_FORMED = 2**63 - 1


def _positive_int(raw: str | None, upper: int) -> int | None:
    """The parameter as a positive int no larger than ``upper``, or None when malformed."""
    if raw is None or not _ID.fullmatch(raw.strip()):
        return None
    value = int(raw.strip())
    return value if value <= upper else None


def _item(shown, currency: str) -> dict:
    product = shown.product
    return {
        "product_id": product.id,
        "name": product.name,
        "score": None if shown.score is None else round(float(shown.score), 6),
        "reason": shown.reason,
        "price": f"{product.price:.2f}",
        "currency": currency,
        "url": url_for("catalog.product_detail", product_id=product.id, _external=True),
        # url_for builds from SERVER_NAME when it is set (else from a Host TRUSTED_HOSTS allowed).
        "image": urljoin(url_for("catalog.index", _external=True), product_image_url(product)),
    }


@bp.get("/recommend")
def recommend():
    """A shopper's recommendations as JSON: their own when signed in, anyone's for an admin."""
    from shop.experiments.impressions import record_impression
    from shop.services.recommendations import recommended_for

    if not current_user.is_authenticated:
        return error_response(401, "Sign in to read recommendations.")
    raw_id = request.args.get("user_id")
    if raw_id is None:
        return error_response(400, "user_id is required, e.g. /recommend?user_id=42&n=10.")
    user_id = _positive_int(raw_id, _MAX_WELL_FORMED)
    if user_id is None:
        return error_response(400, f"user_id must be a positive whole number, got {raw_id!r}.")
    raw_n = request.args.get("n")
    n = DEFAULT_N if raw_n is None else _positive_int(raw_n, MAX_N)
    if n is None:
        return error_response(400, f"n must be a whole number from 1 to {MAX_N}, got {raw_n!r}.")
    if user_id != current_user.id and not current_user.is_admin:
        return error_response(403, "You may only read your own recommendations.")
    if user_id > MAX_ID or db.session.get(User, user_id) is None:
        return error_response(404, f"There is no user {user_id}.")

    shown = record_impression(recommended_for(user_id, n, source="api"), user_id)
    db.session.commit()
    currency = current_app.config.get("SHOP_CURRENCY", "GBP")
    response = jsonify(
        user_id=user_id,
        model_version=shown.model_version,
        fallback=shown.model_version is None,
        recommendations=[_item(item, currency) for item in shown.items],
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
