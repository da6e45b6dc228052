"""A shopper's own account: export what the shop holds on them, erase it, reset the password.

A forgotten password is reset by a signed link. The writes flush but do not commit; the view commits (or rolls back) the whole change at once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, union, update

from shop.extensions import db
from shop.models import CartItem, Event, Impression, Like, Order, Product, Rating, User
from shop.services.counters import bump_counters

RESET_MAX_AGE_SECONDS = 30 * 60
DELETED_NAME = "Deleted shopper"


# --- download my data -----------------------------------------------------------------------


def _when(value) -> str | None:
    return value.isoformat() if value else None


def export_data(user: User) -> dict[str, Any]:
    """Everything the shop stores about ``user``, as JSON-ready data (the password hash aside)."""
    names = dict(
        db.session.execute(
            select(Product.id, Product.name).where(
                Product.id.in_(
                    union(
                        select(Rating.product_id).where(Rating.user_id == user.id),
                        select(Like.product_id).where(Like.user_id == user.id),
                        select(Event.product_id).where(Event.user_id == user.id),
                    )
                )
            )
        ).all()
    )  # fmt: skip
    ratings = db.session.scalars(
        select(Rating).where(Rating.user_id == user.id).order_by(Rating.id)
    )
    likes = db.session.scalars(select(Like).where(Like.user_id == user.id).order_by(Like.id))
    orders = db.session.scalars(select(Order).where(Order.user_id == user.id).order_by(Order.id))
    events = db.session.execute(
        select(Event.kind, Event.product_id, Event.quantity, Event.source, Event.created_at)
        .where(Event.user_id == user.id)
        .order_by(Event.id)
    )
    return {
        "profile": {
            "email": user.email,
            "display_name": user.display_name,
            "country": user.country,
            "created_at": _when(user.created_at),
            "is_admin": user.is_admin,
        },
        "ratings": [
            {
                "product_id": r.product_id,
                "product": names.get(r.product_id),
                "stars": r.stars,
                "review": r.review,
                "created_at": _when(r.created_at),
                "updated_at": _when(r.updated_at),
            }
            for r in ratings
        ],
        "likes": [
            {
                "product_id": lk.product_id,
                "product": names.get(lk.product_id),
                "created_at": _when(lk.created_at),
            }
            for lk in likes
        ],
        "orders": [
            {
                "id": o.id,
                "status": o.status,
                "total": f"{o.total:.2f}",
                "created_at": _when(o.created_at),
                "lines": [
                    {
                        "product_id": line.product_id,
                        "product": line.product.name,
                        "quantity": line.quantity,
                        "unit_price": f"{line.unit_price:.2f}",
                    }
                    for line in o.lines
                ],
            }
            for o in orders
        ],
        "events": [
            {
                "kind": kind,
                "product_id": product_id,
                "product": names.get(product_id),
                "quantity": quantity,
                "source": source,
                "created_at": _when(created_at),
            }
            for kind, product_id, quantity, source, created_at in events
        ],
    }


# --- delete my account ----------------------------------------------------------------------


def _take_back_ratings(user_id: int) -> None:
    per_product = db.session.execute(
        select(Rating.product_id, func.count(), func.sum(Rating.stars))
        .where(Rating.user_id == user_id)
        .group_by(Rating.product_id)
    ).all()
    for product_id, count, stars in per_product:
        bump_counters(product_id, rating_count=-count, rating_sum=-int(stars))
    db.session.execute(delete(Rating).where(Rating.user_id == user_id))


def _take_back_likes(user_id: int) -> None:
    for product_id in db.session.scalars(select(Like.product_id).where(Like.user_id == user_id)):
        bump_counters(product_id, like_count=-1)
    db.session.execute(delete(Like).where(Like.user_id == user_id))


def _anonymise_activity(user_id: int) -> None:
    """Views, clicks and purchases stay in the shop's figures, no longer tied to anyone."""
    db.session.execute(update(Event).where(Event.user_id == user_id).values(user_id=None))
    db.session.execute(update(Impression).where(Impression.user_id == user_id).values(user_id=None))
    db.session.execute(delete(CartItem).where(CartItem.user_id == user_id))


def delete_account(user: User) -> None:
    """Erase ``user``'s personal data and keep their orders, anonymised, for the books.

    The row stays as a nameless placeholder the orders point to: no email, no name, no password,
    no external customer number, and a fresh session token so no cookie signs it in. The caller
    commits, so a failure anywhere leaves the account exactly as it was.
    """
    _take_back_ratings(user.id)
    _take_back_likes(user.id)
    _anonymise_activity(user.id)
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.display_name = DELETED_NAME
    user.password_hash = None
    user.external_id = None
    user.country = None
    user.is_admin = False
    user.end_sessions()
    db.session.flush()


# --- password reset links -------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="shop-password-reset")


def _fingerprint(user: User) -> str:
    """Changes when the password or the session token does, which makes a used link useless."""
    material = f"{user.password_hash or ''}|{user.session_token}".encode()
    return hashlib.sha256(material).hexdigest()[:20]


def reset_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "f": _fingerprint(user)})


class ResetLinkError(ValueError):
    """The link is expired, altered or already used; the message says which, for the shopper."""


def _link_data(
    serializer: URLSafeTimedSerializer,
    token: str,
    max_age: int,
    error: type[ValueError],
    expired: str,
    invalid: str,
) -> dict[str, Any]:
    """A signed link's payload (a dict naming a user id ``u``), or ``error`` saying what is wrong."""
    try:
        data = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise error(expired) from exc
    except BadSignature as exc:
        raise error(invalid) from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise error(invalid)
    return data


def user_for_reset_token(token: str) -> User:
    data = _link_data(
        _serializer(),
        token,
        RESET_MAX_AGE_SECONDS,
        ResetLinkError,
        "This link has expired (links last 30 minutes). Ask for a new one.",
        "This link is not valid. Ask for a new one.",
    )
    user = db.session.get(User, data["u"])
    if user is None or data.get("f") != _fingerprint(user):
        raise ResetLinkError("This link has already been used. Ask for a new one if you need it.")
    return user


# --- email change links -----------------------------------------------------------------------

EMAIL_CHANGE_MAX_AGE_SECONDS = 60 * 60


class EmailChangeError(ValueError):
    """The confirmation link is expired, altered, used, or its address was taken meanwhile."""


def _email_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="shop-email-change")


def email_change_token(user: User, new_email: str) -> str:
    """A link for the new address only: bound to the account as it is now (a password change or
    a sign-out everywhere makes it useless) and to the address it was sent to."""
    return _email_serializer().dumps({"u": user.id, "e": new_email, "f": _fingerprint(user)})


def email_taken(address: str, by_other_than: int | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == address.lower())
    if by_other_than is not None:
        query = query.where(User.id != by_other_than)
    return db.session.scalar(query) is not None


def email_change_for_token(token: str) -> tuple[User, str]:
    """The account and the new address a confirmation link names, or EmailChangeError."""
    data = _link_data(
        _email_serializer(),
        token,
        EMAIL_CHANGE_MAX_AGE_SECONDS,
        EmailChangeError,
        "This link has expired (links last an hour). Ask for the change again.",
        "This link is not valid. Ask for the change again.",
    )
    user = db.session.get(User, data["u"])
    new_email = str(data.get("e") or "")
    if user is None or data.get("f") != _fingerprint(user) or user.email == new_email:
        raise EmailChangeError("This link has already been used or no longer applies.")
    if email_taken(new_email, by_other_than=user.id):
        raise EmailChangeError("Another account uses that address now; nothing was changed.")
    return user, new_email
