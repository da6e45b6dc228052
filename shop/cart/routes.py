"""Cart, checkout and order history. Every change is a POST with CSRF, then a redirect (or JSON)."""

from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from shop.cart import bp
from shop.cart.forms import AddToCartForm, CartActionForm, UpdateQuantityForm
from shop.database import MAX_ID
from shop.errors import error_response, wants_json
from shop.experiments.impressions import impression_for
from shop.extensions import db
from shop.models import Product
from shop.services import carts, session_cart
from shop.services.stock import NotAvailable
from shop.web import parse_page, safe_next, signin_required

ORDERS_PER_PAGE = 10
SIGN_IN_MESSAGE = "Please sign in to use your cart."


def _page_before_sign_in(**_view_args) -> str:
    """Where a signed-out cart post returns after sign-in: the product it adds, else the cart."""
    product_id = request.form.get("product_id", "")
    if request.endpoint == "cart.add" and product_id.isdigit() and len(product_id) < 10:
        return url_for("catalog.product_detail", product_id=int(product_id))
    return url_for("cart.view_cart")


signin_required_for_post = signin_required(SIGN_IN_MESSAGE, back=_page_before_sign_in)


def _existing_id(value: int) -> int:
    """A product id from the form, or a 404 when no row could ever have it (URL ids are checked
    by the ``<id:...>`` converter)."""
    if not 1 <= value <= MAX_ID:
        abort(404)
    return value


def _back_to_cart(message: str | None = None, category: str = "success"):
    if message:
        flash(message, category)
    return redirect(url_for("cart.view_cart"))


def _count() -> int:
    if current_user.is_authenticated:
        return carts.cart_count(current_user.id)
    return session_cart.count()


@bp.route("/cart")
def view_cart():
    signed_in = current_user.is_authenticated
    cart = carts.cart_for(current_user.id) if signed_in else session_cart.view()
    return render_template("cart/cart.html", cart=cart)


def _add_for_visitor(form: AddToCartForm, product: Product, quantity: int):
    """A visitor's add: the line goes into the session cart (the cookie starts here)."""
    try:
        in_cart = session_cart.add(product, quantity, source=form.src.data or None)
    except (NotAvailable, session_cart.CartFull) as exc:
        db.session.rollback()
        if wants_json():
            return error_response(409, exc.message, "Not added to your cart")
        flash(exc.message, "warning")
        return redirect(
            safe_next(form.next.data) or url_for("catalog.product_detail", product_id=product.id)
        )
    name, product_id = product.name, product.id
    db.session.commit()
    return _added(quantity, in_cart, name, product_id, form)


def _added(quantity: int, in_cart: int, name: str, product_id: int, form: AddToCartForm):
    message = f"Added {quantity} × {name} to your cart."
    if in_cart == carts.MAX_QUANTITY:
        message += f" (at most {carts.MAX_QUANTITY} of one item)"
    if wants_json():
        return jsonify(
            message=message,
            product_id=product_id,
            quantity=in_cart,
            cart_count=_count(),
            cart_url=url_for("cart.view_cart"),
        )
    flash(message, "success")
    target = safe_next(form.next.data) or url_for("catalog.product_detail", product_id=product_id)
    return redirect(target)


@bp.route("/cart/add", methods=["POST"])
def add():
    form = AddToCartForm()
    if not form.validate_on_submit():
        return error_response(400, form.first_error(), "Could not add to cart")
    product = db.get_or_404(Product, _existing_id(form.product_id.data))
    quantity = form.quantity.data or 1
    if not current_user.is_authenticated:
        return _add_for_visitor(form, product, quantity)
    try:
        item = carts.add_to_cart(
            current_user.id,
            product,
            quantity,
            source=form.src.data or None,
            impression_id=impression_for(form.imp.data, current_user.id),
        )
    except NotAvailable as exc:
        db.session.rollback()
        if wants_json():
            return error_response(409, exc.message, "Not added to your cart")
        flash(exc.message, "warning")
        return redirect(
            safe_next(form.next.data) or url_for("catalog.product_detail", product_id=product.id)
        )
    # Read what the answer needs before committing: after it the rows are expired, and a remove
    # committed meanwhile by another request would turn the saved add into an error page.
    in_cart, name, product_id = item.quantity, product.name, product.id
    db.session.commit()
    return _added(quantity, in_cart, name, product_id, form)


@bp.route("/cart/update/<id:product_id>", methods=["POST"])
def update(product_id: int):
    form = UpdateQuantityForm()
    if not form.validate_on_submit():
        return error_response(400, form.first_error(), "Could not update the cart")
    try:
        if current_user.is_authenticated:
            item = carts.set_quantity(current_user.id, product_id, form.quantity.data)
            new_quantity = item.quantity if item is not None else None  # before the commit
        else:
            new_quantity = session_cart.set_quantity(product_id, form.quantity.data)
    except NotAvailable as exc:
        db.session.rollback()
        if wants_json():
            return error_response(409, exc.message, "Quantity not changed")
        return _back_to_cart(f"{exc.message} The quantity was not changed.", "warning")
    db.session.commit()
    if new_quantity is None:
        return _back_to_cart("Removed from your cart.", "info")
    return _back_to_cart(f"Quantity updated to {new_quantity}.")


@bp.route("/cart/remove/<id:product_id>", methods=["POST"])
def remove(product_id: int):
    CartActionForm().validate_on_submit()  # CSRF is checked globally; nothing else to validate
    if current_user.is_authenticated:
        removed = carts.remove_from_cart(current_user.id, product_id)
        db.session.commit()
    else:
        removed = session_cart.remove(product_id)
    return _back_to_cart("Removed from your cart." if removed else None, "info")


@bp.route("/checkout", methods=["POST"])
@signin_required_for_post
def checkout():
    try:
        order = carts.place_order(current_user.id)
        db.session.commit()
    except carts.EmptyCartError:
        db.session.rollback()
        return _back_to_cart("Your cart is empty: add something before checking out.", "info")
    except NotAvailable as exc:
        # Sold out (or taken off sale) since the cart was filled: nothing was written, the cart
        # stays as it was and says which line to change.
        db.session.rollback()
        if wants_json():
            return error_response(409, exc.message, "Order not placed")
        return _back_to_cart(f"{exc.message} Your order was not placed.", "warning")
    except SQLAlchemyError:
        # One transaction: the order, its lines, the purchase events and the emptied cart are all
        # undone together, so the shopper can simply try again.
        db.session.rollback()
        current_app.logger.exception("checkout failed for user %s", current_user.id)
        return error_response(
            503,
            "We could not place your order just now. Nothing was charged and your cart is "
            "unchanged; please try again in a moment.",
            "Order not placed",
        )
    flash(f"Thank you! Order #{order.id} is placed.", "success")
    return redirect(url_for("cart.order_detail", order_id=order.id))


@bp.route("/orders")
@login_required
def orders():
    pager = db.paginate(
        carts.orders_query(current_user.id),
        page=parse_page(request.args.get("page")),
        per_page=ORDERS_PER_PAGE,
        error_out=False,
    )
    return render_template("cart/orders.html", pager=pager)


@bp.route("/orders/<id:order_id>")
@login_required
def order_detail(order_id: int):
    order = carts.order_for(current_user.id, order_id)
    if order is None:
        abort(404)
    return render_template("cart/order.html", order=order)
