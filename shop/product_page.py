"""The product page and the rating and like forms it carries, because two blueprints use them.

The catalog shows it on GET; the feedback blueprint validates what the forms post, and shows the page
again, with status 400 and the shopper's rejected input, when a rating posted without JavaScript does
not validate. Both forms carry the CSRF token; the rating form checks its own values.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, flash, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from shop import kept_forms, page_cache
from shop.extensions import local_cache
from shop.forms import FirstErrorMixin, OfferedNumberField
from shop.models import Product
from shop.services import feedback, stock
from shop.services.availability import cart_product_ids
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
    ``SHOP_CACHE_SECONDS`` (``CACHE_DEFAULT_TIMEOUT``), as the popular lists a row may be topped
    up from.
    """
    key = f"product-shared:{product.id}:{page_cache.page_state()}"
    kept = local_cache.get(key)
    cart = cart_product_ids(user_id)
    if kept is not None and not (kept.shown & cart):
        return kept
    half = _build_shared_half(product, user_id)
    if not cart:
        local_cache.set(key, half, timeout=current_app.config["CACHE_DEFAULT_TIMEOUT"])
    return half


def render_product_page(
    product: Product,
    *,
    rating_form: RatingForm | None = None,
    impression_id: int | None = None,
    source: str | None = None,
) -> str:
    """The product page; ``source`` and ``impression_id`` (the list the shopper came from) ride
    along on the add-to-cart form so the cart can attribute the purchase."""
    user_id = current_user.id if current_user.is_authenticated else None
    my_rating, liked = feedback.user_feedback(user_id, product.id)
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
            stars=my_rating.stars if my_rating else None,
            review=my_rating.review if my_rating else "",
        )
    kept_add = kept_forms.take("add", product.id) or {}
    kept_quantity = kept_add.get("quantity", "")
    return render_template(
        "catalog/product.html",
        product=product,
        stock_level=stock.level(product),
        shared=shared_half(product, user_id),
        my_rating=my_rating,
        liked=liked,
        rating_form=rating_form,
        like_form=LikeForm(**no_token),
        kept_quantity=int(kept_quantity)
        if kept_quantity.isdigit() and len(kept_quantity) < 3
        else None,
        impression_id=impression_id,
        source=clean_source(source) or "product:page",
    )
