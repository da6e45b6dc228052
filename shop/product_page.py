"""The product page and the rating and like forms it carries, because two blueprints use them.

The catalog shows it on GET; the feedback blueprint validates what the forms post, and shows the page
again, with status 400 and the shopper's rejected input, when a rating posted without JavaScript does
not validate. Both forms carry the CSRF token; the rating form checks its own values.
"""

from __future__ import annotations

from flask import flash, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from shop import kept_forms
from shop.forms import FirstErrorMixin, OfferedNumberField
from shop.models import Product
from shop.services import feedback, stock
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
    reviews = feedback.latest_reviews(product.id)
    kept_add = kept_forms.take("add", product.id) or {}
    kept_quantity = kept_add.get("quantity", "")
    return render_template(
        "catalog/product.html",
        product=product,
        stock_level=stock.level(product),
        similar=similar_products(product, n=ROW, user_id=user_id),
        bought_together=also_bought(product, n=ROW, user_id=user_id),
        reviews=reviews,
        buyers=feedback.buyers_among(product.id, [r.user_id for r in reviews]),
        breakdown=feedback.rating_breakdown(product.id),
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
