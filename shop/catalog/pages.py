"""The product page as one function, because two blueprints render it.

The catalog shows it on GET; the feedback blueprint shows it again, with status 400 and the
shopper's rejected input, when a rating posted without JavaScript does not validate.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from shop.feedback.forms import LikeForm, RatingForm
from shop.models import Product
from shop.services import feedback
from shop.services.events import clean_source
from shop.services.recommendations import also_bought, similar_products


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
    if rating_form is None:
        rating_form = RatingForm(
            formdata=None,
            stars=my_rating.stars if my_rating else None,
            review=my_rating.review if my_rating else "",
        )
    return render_template(
        "catalog/product.html",
        product=product,
        similar=similar_products(product, n=5),
        bought_together=also_bought(product, n=5),
        reviews=feedback.latest_reviews(product.id),
        my_rating=my_rating,
        liked=liked,
        rating_form=rating_form,
        like_form=LikeForm(),
        impression_id=impression_id,
        source=clean_source(source) or "product:page",
    )
