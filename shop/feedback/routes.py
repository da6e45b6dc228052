"""Rating and liking products: POST only, signed-in shoppers only, CSRF-checked.

Each view answers JSON to the page's fetch() calls (static/js/shop.js updates the page in place) and
redirects back to the product page for a plain form post, so both work with JavaScript off.
"""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from shop import product_page
from shop.errors import error_response, wants_json
from shop.extensions import db
from shop.feedback import bp
from shop.models import Product
from shop.services import feedback
from shop.templating import rating1, stars
from shop.web import parse_page, signin_required

SIGN_IN_MESSAGE = "Please sign in to rate or like products."


def _product_url(product_id: int, anchor: str = "") -> str:
    return url_for("catalog.product_detail", product_id=product_id) + anchor


@bp.post("/rate/<id:product_id>")
@signin_required(SIGN_IN_MESSAGE, back=_product_url)
def rate(product_id: int):
    product = db.get_or_404(Product, product_id)
    form = product_page.RatingForm()
    if not form.validate():
        message = form.first_error()
        if wants_json():
            return error_response(400, message, "Rating not saved")
        return product_page.render_product_page(product, rating_form=form), 400
    outcome = feedback.rate_product(current_user.id, product.id, form.stars.data, form.review.data)
    db.session.commit()
    product = feedback.product_counters(product_id)
    message = (
        "Thanks! Your rating is saved."
        if outcome.created
        else f"Your rating is updated to {form.stars.data} stars."
    )
    if wants_json():
        return jsonify(
            stars=form.stars.data,
            rating_avg=product.rating_avg,
            rating_avg_text=rating1(product.rating_avg),
            rating_count=product.rating_count,
            rating_stars=stars(product.rating_avg),
            message=message,
        )
    flash(message, "success")
    return redirect(_product_url(product_id, "#rate"))


@bp.post("/like/<id:product_id>")
@signin_required(SIGN_IN_MESSAGE, back=_product_url)
def like(product_id: int):
    db.get_or_404(Product, product_id)
    outcome = feedback.toggle_like(current_user.id, product_id)
    db.session.commit()
    product = feedback.product_counters(product_id)
    message = "Added to the products you like." if outcome.liked else "Like removed."
    if wants_json():
        return jsonify(liked=outcome.liked, like_count=product.like_count, message=message)
    flash(message, "success")
    return redirect(_product_url(product_id, "#like"))


@bp.get("/saved")
@login_required
def saved():
    """The products the shopper likes: the "Saved" list (a like is the shop's save button)."""
    pager = db.paginate(
        feedback.saved_query(current_user.id),
        page=parse_page(request.args.get("page")),
        per_page=current_app.config["SHOP_PAGE_SIZE"],
        error_out=False,
    )
    return render_template("feedback/saved.html", pager=pager)
