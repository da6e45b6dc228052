"""What a shopper was typing when their session expired, kept for the page they are sent back to.

A form whose CSRF token is missing or stale (the session ended, or a sign-in elsewhere replaced
it) is not acted on. Instead of an error page, :mod:`shop.errors` keeps the form's few fields
here (in the new session, carried over a sign-in) and sends the shopper back to the page the form
was on, which fills them in again: the stars and review of a rating, the quantity of an add or a
cart line, the checkout's address and choices. Only same-origin posts are kept, so a page
elsewhere cannot pre-fill a shopper's forms.
"""

from __future__ import annotations

from flask import request, session

SESSION_KEY = "kept_form"
MAX_VALUE = 1000

CHECKOUT_FIELDS = (
    "email",
    "name",
    "line1",
    "line2",
    "city",
    "postcode",
    "country",
    "delivery",
    "payment",
)
#: endpoint -> (where it is kept, the fields kept, what the message calls them)
KEPT: dict[str, tuple[str, tuple[str, ...], str]] = {
    "feedback.rate": ("rate", ("stars", "review"), "rating"),
    "cart.add": ("add", ("quantity", "product_id"), "quantity"),
    "cart.update": ("update", ("quantity",), "new quantity"),
    "cart.checkout": ("checkout", CHECKOUT_FIELDS, "address and choices"),
    "cart.checkout_review_post": ("checkout", CHECKOUT_FIELDS, "address and choices"),
}


def same_origin() -> bool:
    """Whether the post came from one of the shop's own pages (browsers say so in headers)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin.rstrip("/") == request.host_url.rstrip("/")


def what(endpoint: str | None) -> str | None:
    """What the message says was kept for this form, or None when it keeps nothing."""
    entry = KEPT.get(endpoint or "")
    return entry[2] if entry else None


def product_id() -> int | None:
    """The product the post was about: from the URL (rate, update) or the form (add)."""
    value = (request.view_args or {}).get("product_id")
    if isinstance(value, int):
        return value
    raw = request.form.get("product_id", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def keep(endpoint: str | None) -> bool:
    """Keep the posted fields of ``endpoint``'s form for the page; returns whether it did."""
    entry = KEPT.get(endpoint or "")
    if entry is None or not same_origin():
        return False
    slot, fields, _ = entry
    key = None if slot == "checkout" else product_id()
    values = {name: request.form.get(name, "")[:MAX_VALUE] for name in fields}
    session[SESSION_KEY] = {"slot": slot, "key": key, "values": values}
    return True


def take(slot: str, key: int | None = None) -> dict[str, str] | None:
    """The values kept for ``slot`` (and ``key``, a product id), removed once taken."""
    kept = session.get(SESSION_KEY)
    if not isinstance(kept, dict) or kept.get("slot") != slot or kept.get("key") != key:
        return None
    session.pop(SESSION_KEY, None)
    values = kept.get("values")
    if not isinstance(values, dict):
        return None
    return {str(k): str(v)[:MAX_VALUE] for k, v in values.items()}


def carried() -> object | None:
    """The kept form, to carry over the session's reset at sign-in."""
    return session.get(SESSION_KEY)


def restore(value: object | None) -> None:
    if value is not None:
        session[SESSION_KEY] = value
