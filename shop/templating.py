"""Jinja filters and globals: formatting lives here, templates only loop and branch."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from flask import Flask, current_app, request, session, url_for
from flask_login import current_user

from shop.page_frames import mine
from shop.security import csrf_field
from shop.services import session_cart
from shop.services.availability import cart_lines

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥", "INR": "₹"}


def money(value, currency: str | None = None) -> str:
    """``12.5`` -> ``£12.50`` in the shop's currency."""
    if value is None:
        return ""
    currency = currency or current_app.config.get("SHOP_CURRENCY", "GBP")
    amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol:
        sign = "-" if amount < 0 else ""
        return f"{sign}{symbol}{abs(amount):,.2f}"
    return f"{amount:,.2f} {currency}"


def stars(value: float | None) -> str:
    """An average rating as five star glyphs, rounded to the nearest whole star."""
    if value is None:
        return "☆☆☆☆☆"
    full = max(0, min(5, int(round(float(value)))))
    return "★" * full + "☆" * (5 - full)


def rating1(value: float | None) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def decimal(value: float | None, digits: int = 1) -> str:
    """``2.4666 | decimal(1)`` -> ``2.5``; ``–`` when there is no figure (nothing to divide by)."""
    return "–" if value is None else f"{float(value):,.{digits}f}"


def dt(value: datetime | None, fmt: str = "%d %b %Y") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.strftime(fmt)


def dt_long(value: datetime | None) -> str:
    return dt(value, "%d %b %Y, %H:%M UTC")


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * float(value):.{digits}f}%"


def counted(value: int | None, singular: str, plural: str | None = None) -> str:
    """``1 | counted("buyer")`` -> ``1 buyer``, ``1200`` -> ``1,200 buyers``; ``–`` when unknown."""
    if value is None:
        return "–"
    word = singular if value == 1 else (plural or f"{singular}s")
    return f"{value:,} {word}"


def this_page_url(query) -> str:
    """The current page's path with ``query`` (a mapping or pairs) as its query string.

    The query string is encoded here, not handed to ``url_for`` as keywords: a visitor's
    ``?endpoint=`` would clash with its first argument (a 500), and ``?_external=1&_anchor=...``
    would steer the links it builds.
    """
    path = url_for(request.endpoint, **(request.view_args or {}))
    return f"{path}?{urlencode(query, doseq=True)}" if query else path


def url_with_page(page: int) -> str:
    """The current URL with another ``page`` argument, keeping filters and sort."""
    args = request.args.to_dict(flat=False)  # every value of a repeated argument (search facets)
    args["page"] = [page]
    return this_page_url(args)


def product_image_url(product, width: int = 400) -> str:
    """The product's uploaded picture (``width`` 400 for cards, 1000 for its page), else its
    picture file, else an SVG drawn from its name and category."""
    image_hash = getattr(product, "image_hash", None)
    if image_hash:
        size = 1000 if width > 400 else 400
        return url_for("catalog.picture", name=f"{image_hash}-{size}.webp")
    if getattr(product, "image_path", None):
        return url_for("static", filename=product.image_path)
    return url_for("catalog.product_image", product_id=product.id)


def impression_ref(impression_id: int | None) -> str:
    """The signed ``imp`` value a recommendation link carries for the signed-in shopper."""
    from flask_login import current_user

    from shop.experiments.impressions import impression_token

    user_id = current_user.id if current_user.is_authenticated else None
    return impression_token(impression_id, user_id)


def cart_count() -> int:
    """Units in the shopper's cart for the header: the account's, or a visitor's session cart."""
    if current_user.is_authenticated:  # the rows on the page read the same cart (one statement)
        return sum(cart_lines(current_user.id).values())
    return session_cart.count()


def page_needs_token() -> bool:
    """Whether a page renders the CSRF token of forms a visitor may also see (the meta tag, add
    to cart): always for a shopper, for a visitor only once their session has one, so that a
    visitor's page views set no cookie (shop.security.check_csrf)."""
    field = csrf_field()
    return current_user.is_authenticated or field in session


def register(app: Flask) -> None:
    from shop.product_cards import product_card

    app.add_template_global(product_card, "cached_product_card")
    app.add_template_global(cart_count)
    app.add_template_global(mine)
    app.add_template_global(page_needs_token)
    app.add_template_global(product_image_url)
    app.add_template_filter(impression_ref)
    app.add_template_filter(money)
    app.add_template_filter(stars)
    app.add_template_filter(rating1)
    app.add_template_filter(dt)
    app.add_template_filter(decimal)
    app.add_template_filter(dt_long)
    app.add_template_filter(percent)
    app.add_template_filter(counted)
    app.add_template_global(url_with_page)

    @app.context_processor
    def shop_globals():
        code = app.config.get("SHOP_CURRENCY", "GBP")
        return {"currency_symbol": CURRENCY_SYMBOLS.get(code, code), "shop_name": "The Shop"}
