"""The product page and the rating and like forms it carries, because two blueprints use them.

The catalog shows it on GET; the feedback blueprint validates what the forms post, and shows the page
again, with status 400 and the shopper's rejected input, when a rating posted without JavaScript does
not validate. Both forms carry the CSRF token; the rating form checks its own values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import current_app, flash, g, render_template, request, session
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from shop import kept_forms, page_cache, page_frames
from shop.extensions import cache, local_cache
from shop.forms import FirstErrorMixin, OfferedNumberField
from shop.models import Product
from shop.security import csrf_field
from shop.services import feedback, stock
from shop.services.availability import cart_lines, cart_product_ids
from shop.services.events import clean_source
from shop.services.feedback import MAX_REVIEW_LENGTH, tidy_review
from shop.services.recommendations import also_bought, similar_products

STARS_MESSAGE = "Choose a rating from 1 to 5 whole stars."
#: Cards in each of the page's rows ("Similar products", "Customers who bought this also bought").
ROW = 5


class RatingForm(FirstErrorMixin, FlaskForm):
    fallback_error = "Please check your rating."

    stars = OfferedNumberField(
        "Your rating",
        offered=range(1, 6),
        message=STARS_MESSAGE,
        validators=[
            InputRequired(message=STARS_MESSAGE),
            NumberRange(min=1, max=5, message=STARS_MESSAGE),
        ],
    )
    review = TextAreaField(
        "Short review (optional)",
        filters=[tidy_review],
        validators=[
            Length(
                max=MAX_REVIEW_LENGTH,
                message=f"Keep your review to {MAX_REVIEW_LENGTH} characters or fewer.",
            )
        ],
    )


class LikeForm(FlaskForm):
    """No fields of its own: liking is a button, and the form only carries the CSRF token."""


#: Between the two parts of ``catalog/_product_shared.html``.
SHARED_MARK = "<!--shared-half-->"


@dataclass(frozen=True)
class SharedHalf:
    """The reviews column and the two rows: what every shopper without those products in the
    cart sees on a product's page, kept per product and shop state."""

    reviews: Markup
    rows: Markup
    shown: frozenset[int]  # the products in the rows
    everyone: bool = True  # False: built for a cart (rows without its products), this page only


def _build_shared_half(product: Product, user_id: int | None) -> SharedHalf:
    similar = similar_products(product, n=ROW, user_id=user_id)
    bought_together = also_bought(product, n=ROW, user_id=user_id)
    reviews = feedback.latest_reviews(product.id)
    html = render_template(
        "catalog/_product_shared.html",
        product=product,
        similar=similar,
        bought_together=bought_together,
        reviews=reviews,
        buyers=feedback.buyers_among(product.id, [r.user_id for r in reviews]),
        breakdown=feedback.rating_breakdown(product.id),
    )
    top, _, bottom = html.partition(SHARED_MARK)
    shown = {item.product.id for item in (*similar.items, *bought_together.items)}
    return SharedHalf(Markup(top), Markup(bottom), frozenset(shown))


def shared_half(product: Product, user_id: int | None) -> SharedHalf:
    """The page's reviews and rows, built once per product and shop state for every shopper.

    The key is the product and :func:`shop.page_cache.page_state` (every product edit, price and
    stock change, rating and review, category, pin, boost and experiment, the model version, the
    day and the currency). The rows leave out the shopper's cart: a copy built for an empty cart
    is right for any cart that holds none of the products it shows (each row is the first few of
    a fixed order, less what is left out), and is built afresh for one that does. Kept for
    ``SHOP_PAGE_FRAME_SECONDS`` (10 minutes): everything it shows is in the key but the popular
    products a row short of engine picks is topped up with, which may be that much older.

    Kept twice: in this process (a read costs nothing) and in the shop's shared cache (Redis, or
    files every process of the host reads), so a half is built once per shop rather than once per
    worker: building one costs several milliseconds, reading it from the shared cache a fraction
    of one.
    """
    key = f"product-shared:{product.id}:{page_cache.page_state()}"
    cart = cart_product_ids(user_id)
    kept = _kept(key)
    if kept is not None and not (kept.shown & cart):
        return kept
    half = _build_shared_half(product, user_id)
    if cart:
        return replace(half, everyone=False)
    _keep(key, half)
    return half


def _kept(key: str) -> Any:
    """A kept part: from this process, else from the shared cache (and then kept here too)."""
    kept = local_cache.get(key)
    if kept is None:
        kept = cache.get(key)
        if kept is not None:
            local_cache.set(key, kept, timeout=current_app.config["SHOP_PAGE_FRAME_SECONDS"])
    return kept


def _keep(key: str, value: Any) -> None:
    """Keep a part in this process and in the shared cache for ``SHOP_PAGE_FRAME_SECONDS``."""
    seconds = current_app.config["SHOP_PAGE_FRAME_SECONDS"]
    local_cache.set(key, value, timeout=seconds)
    cache.set(key, value, timeout=seconds)


#: Query arguments a frame leaves to its holes: the list a shopper came from rides on the form.
_FRAME_HOLE_ARGS = frozenset({"src"})


def _frame_key() -> str:
    return "product-frame:" + page_cache.page_key(_FRAME_HOLE_ARGS)


def _page_source(source: str | None) -> str:
    return clean_source(source) or "product:page"


def _framed() -> bool:
    """Whether this request's page may come from, or make, the shared frame: a shopper's plain
    GET (not an admin's page, which shows hidden products; no experiment list in the address, whose
    signed reference belongs to one shopper; nothing in the session the page shows once)."""
    return (
        current_app.config["SHOP_PAGE_FRAMES"]
        and request.method == "GET"
        and current_user.is_authenticated
        and not current_user.is_admin
        and "imp" not in request.args
        and "_flashes" not in session
        and kept_forms.SESSION_KEY not in session
    )


def framed_page(product_id: int) -> str | None:
    """The product page filled into the frame another shopper's visit built, or None when there
    is none for this address and shop state (or the shopper's cart holds a product it lists).

    The frame exists only for a listed product in this shop state, so no product row is read: the
    shopper's own parts take one statement, and the cart one more."""
    if not _framed():
        return None
    frame = _kept(_frame_key())
    user_id = current_user.id
    if frame is None or frame.shown & cart_product_ids(user_id):
        return None
    own = feedback.own_feedback(user_id, product_id)
    if own is None:
        return None
    g.page_frame = "filled"
    parts = current_app.jinja_env.get_template("_mine.html").module
    return frame.fill(
        {
            "cart": lambda: parts.cart_badge(sum(cart_lines(user_id).values())),
            "name": lambda: escape(current_user.display_name),
            "like": lambda: parts.like_button(own.liked, own.like_count),
            "rating": lambda: parts.rating_card(
                product_id,
                own.stars is not None,
                RatingForm(formdata=None, stars=own.stars, review=own.review or ""),
            ),
            "source": lambda: escape(_page_source(request.args.get("src"))),
            page_frames.TOKEN: generate_csrf,
        }
    )


def render_product_page(
    product: Product,
    *,
    rating_form: RatingForm | None = None,
    impression_id: int | None = None,
    source: str | None = None,
) -> str:
    """The product page; ``source`` and ``impression_id`` (the list the shopper came from) ride
    along on the add-to-cart form so the cart can attribute the purchase.

    A shopper's plain GET also makes the page's shared frame (:func:`framed_page`) when none is
    kept; a page showing a rating the shopper posted and must correct never does.
    """
    user_id = current_user.id if current_user.is_authenticated else None
    # Before kept_forms.take below empties the session of what _framed looks for.
    framing = rating_form is None and impression_id is None and _framed()
    own = feedback.own_feedback(user_id, product.id) if user_id is not None else None
    # A visitor's page shows neither form: building one would put a CSRF token in the session,
    # and a visitor's page views set no cookie (shop.security.check_csrf).
    no_token = {} if user_id is not None else {"meta": {"csrf": False}}
    kept_rating = kept_forms.take("rate", product.id) if rating_form is None else None
    if kept_rating is not None:  # typed before the session expired: fill it in again
        flash("Your rating from before is filled in below: check it and send it again.", "info")
        stars = kept_rating.get("stars", "")
        rating_form = RatingForm(
            formdata=None,
            **no_token,
            stars=int(stars) if stars in ("1", "2", "3", "4", "5") else None,
            review=kept_rating.get("review", ""),
        )
    elif rating_form is None:
        rating_form = RatingForm(
            formdata=None,
            **no_token,
            stars=own.stars if own else None,
            review=(own.review or "") if own else "",
        )
    kept_add = kept_forms.take("add", product.id) or {}
    kept_quantity = kept_add.get("quantity", "")
    shared = shared_half(product, user_id)
    with page_frames.marking(framing):
        html = render_template(
            "catalog/product.html",
            product=product,
            stock_level=stock.level(product),
            shared=shared,
            rated=own is not None and own.stars is not None,
            liked=own is not None and own.liked,
            rating_form=rating_form,
            like_form=LikeForm(**no_token),
            kept_quantity=int(kept_quantity)
            if kept_quantity.isdigit() and len(kept_quantity) < 3
            else None,
            impression_id=impression_id,
            source=_page_source(source),
        )
    if not framing:
        return html
    frame, html = page_frames.cut(html, g.get(csrf_field()), shared.shown)
    if shared.everyone:
        _keep(_frame_key(), frame)
        g.page_frame = "built"
    return html
