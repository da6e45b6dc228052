"""Cart, checkout and order history. Every change is a POST with CSRF, then a redirect (or JSON)."""

from __future__ import annotations

from decimal import Decimal

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict

from shop import kept_forms, payments
from shop.cart import bp
from shop.cart.forms import (
    CHOSEN,
    AddToCartForm,
    CartActionForm,
    CheckoutForm,
    UpdateQuantityForm,
)
from shop.database import MAX_ID
from shop.errors import error_response, wants_json
from shop.experiments.impressions import impression_for
from shop.extensions import db
from shop.forms import AccountFromOrderForm
from shop.mail import link as mail_link
from shop.mail import send_later
from shop.models import Product
from shop.services import carts, checkout, session_cart
from shop.services.stock import NotAvailable
from shop.templating import money
from shop.web import parse_page, safe_next

ORDERS_PER_PAGE = 10


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
    kept: dict[int, str] = {}
    for item in cart.items:  # the quantity typed before the session expired, if any
        if (line := kept_forms.take("update", item.product_id)) is not None:
            quantity = line.get("quantity", "")
            if quantity.isdigit() and len(quantity) <= 2:
                kept[item.product_id] = quantity
    return render_template("cart/cart.html", cart=cart, kept=kept)


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
            # A visitor's first add starts the session and its token: the page had none to send
            # (shop.security.check_csrf), so the script takes this one for the next post.
            csrf_token=generate_csrf(),
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


# --- Checkout: details (GET /checkout) -> review -> place (POST /checkout) -> confirmation -----

CHECKOUT_KEY = "checkout"
GUEST_ORDERS_KEY = "guest_orders"
MAX_GUEST_ORDERS = 20


def _signed_in() -> bool:
    return bool(current_user.is_authenticated)


def _current_cart() -> carts.CartView:
    return carts.cart_for(current_user.id) if _signed_in() else session_cart.view()


def _checkout_form(**kwargs) -> CheckoutForm:
    return CheckoutForm(guest=not _signed_in(), **kwargs)


def _first_visit_choices() -> dict[str, str]:
    """What the details page starts with: the last checkout's address, the first options."""
    choices = checkout.saved_address(current_user if _signed_in() else None)
    countries, options = checkout.countries(), checkout.delivery_options()
    methods = payments.enabled()
    choices.setdefault("country", next(iter(countries), ""))
    choices["country"] = choices["country"] or next(iter(countries), "")
    choices["delivery"] = next(iter(options), "")
    choices["payment"] = next(iter(methods), "")
    return choices


def _kept_choices() -> MultiDict | None:
    raw = session.get(CHECKOUT_KEY)
    if not isinstance(raw, dict):
        return None
    return MultiDict({key: str(raw.get(key) or "") for key in CHOSEN})


def _details_page(form: CheckoutForm, cart: carts.CartView, status: int = 200):
    return (
        render_template(
            "cart/checkout.html",
            form=form,
            cart=cart,
            options=checkout.delivery_options(),
            methods=payments.enabled(),
        ),
        status,
    )


def _cart_not_ready(cart: carts.CartView):
    """A redirect to the cart when it is empty or holds a line that cannot be sold; else None."""
    if not cart.items:
        return _back_to_cart("Your cart is empty: add something before checking out.", "info")
    if cart.blocked:
        return _back_to_cart(cart.blocked, "warning")
    return None


@bp.route("/checkout", methods=["GET"])
def checkout_details():
    cart = _current_cart()
    if (not_ready := _cart_not_ready(cart)) is not None:
        return not_ready
    kept = kept_forms.take("checkout") or _kept_choices()
    if kept is not None:
        form = _checkout_form(formdata=None, data=dict(kept))
    else:
        form = _checkout_form(formdata=None, data=_first_visit_choices())
    return _details_page(form, cart)


@bp.route("/checkout/review", methods=["POST"])
def checkout_review_post():
    cart = _current_cart()
    form = _checkout_form()
    if not form.validate_on_submit():
        return _details_page(form, cart, 400)
    session[CHECKOUT_KEY] = form.choices()
    return redirect(url_for("cart.checkout_review"))


def _priced(cart: carts.CartView, delivery: str) -> tuple[Decimal, Decimal]:
    cost = checkout.delivery_cost(delivery, cart.total)
    return cost, cart.total + cost


def _review_page(form: CheckoutForm, cart: carts.CartView, status: int = 200):
    cost, total = _priced(cart, form.delivery.data)
    form.total.data = f"{total:.2f}"
    return (
        render_template(
            "cart/review.html",
            form=form,
            cart=cart,
            address=form.details(_order_email(form)).address,
            option=checkout.delivery_options()[form.delivery.data],
            method=payments.method(form.payment.data),
            delivery_cost=cost,
            total=total,
        ),
        status,
    )


def _order_email(form: CheckoutForm) -> str:
    return current_user.email if _signed_in() else form.email.data


@bp.route("/checkout/review", methods=["GET"])
def checkout_review():
    cart = _current_cart()
    if (not_ready := _cart_not_ready(cart)) is not None:
        return not_ready
    kept = _kept_choices()
    if kept is None:
        return redirect(url_for("cart.checkout_details"))
    form = _checkout_form(formdata=kept, meta={"csrf": False})
    if not form.validate():
        # Configuration changed since (an option or method switched off): choose again.
        flash(form.first_error(), "warning")
        return redirect(url_for("cart.checkout_details"))
    return _review_page(form, cart)


@bp.route("/checkout", methods=["POST"], endpoint="checkout")
def place_order():
    form = _checkout_form()
    cart = _current_cart()
    if not form.validate_on_submit():
        return _details_page(form, cart, 400)
    if not cart.items:
        return _back_to_cart("Your cart is empty: add something before checking out.", "info")
    _, total = _priced(cart, form.delivery.data)
    if form.total.data and form.total.data.strip() != f"{total:.2f}":
        flash(
            f"The total is now {money(total)}: prices, stock or delivery changed since you saw it. "
            "Check your order and place it again.",
            "warning",
        )
        return _review_page(form, cart, 409)
    details = form.details(_order_email(form))
    try:
        if _signed_in():
            order = carts.place_order(current_user.id, details)
            checkout.remember_address(current_user, details.address)
        else:
            order = carts.place_guest_order(cart, details)
        order_id, method = order.id, payments.method(details.payment)
        redirect_to = method.start(order) if method is not None else None
        mail = _confirmation_mail(order, details, cart, method)
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
        current_app.logger.exception("checkout failed")
        return error_response(
            503,
            "We could not place your order just now. Nothing was charged and your cart is "
            "unchanged; please try again in a moment.",
            "Order not placed",
        )
    session.pop(CHECKOUT_KEY, None)
    if not _signed_in():
        session_cart.clear()
        placed = [i for i in session.get(GUEST_ORDERS_KEY, []) if isinstance(i, int)]
        session[GUEST_ORDERS_KEY] = (placed + [order_id])[-MAX_GUEST_ORDERS:]
    send_later(*mail)  # after the commit: no mail server holds the write lock
    flash(f"Thank you! Order #{order_id} is placed.", "success")
    return redirect(redirect_to or url_for("cart.confirmation", order_id=order_id))


def _confirmation_mail(order, details, cart, method) -> tuple[str, str, str]:
    """(to, subject, body) of the order's confirmation, built before the commit expires it."""
    lines = "\n".join(
        f"  {item.quantity} × {item.product.name}  {money(item.product.price * item.quantity)}"
        for item in cart.items
    )
    option = checkout.delivery_options()[details.delivery]
    address = "\n".join(f"  {line}" for line in details.address.lines())
    body = (
        f"Hello {details.address.name},\n\nthank you for your order #{order.id}.\n\n{lines}\n"
        f"  Delivery ({option.label}): {money(order.delivery_cost)}\n"
        f"  Total: {money(order.total)}\n\nDelivery address:\n{address}\n\n"
        f"Payment: {method.label if method else details.payment}\n"
        f"{method.instructions(order) if method else ''}\n"
    )
    if _signed_in():
        body += (
            f"\nThe order and its history: {mail_link('cart.order_detail', order_id=order.id)}\n"
        )
    return details.email, f"Your order #{order.id} at the shop", body


def _guest_order_ids() -> list[int]:
    return [i for i in session.get(GUEST_ORDERS_KEY, []) if isinstance(i, int)]


@bp.route("/checkout/confirmation/<id:order_id>")
def confirmation(order_id: int):
    if _signed_in():
        order = carts.order_for(current_user.id, order_id)
    elif order_id in _guest_order_ids():
        order = carts.guest_order(order_id)
    else:
        order = None
    if order is None:
        abort(404)
    method = payments.BUILT_IN.get(order.payment_method or "")
    return render_template(
        "cart/confirmation.html",
        order=order,
        address=checkout.address_of(order),
        option=checkout.delivery_options().get(order.delivery_option or ""),
        instructions=method.instructions(order) if method else "",
        method=method,
        account_form=AccountFromOrderForm(display_name=order.ship_name) if order.is_guest else None,
    )


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
