from __future__ import annotations

import secrets

from flask import (
    after_this_request,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import kept_forms
from shop.auth import bp, passwords, throttle
from shop.auth.forms import (
    DUPLICATE_EMAIL_MESSAGE,
    LoginForm,
    LogoutForm,
    RegistrationForm,
)
from shop.errors import error_response
from shop.extensions import db, limiter, login_manager
from shop.forms import AccountFromOrderForm
from shop.models import User
from shop.services import carts, checkout, session_cart
from shop.web import safe_next


@login_manager.user_loader
def load_user(alternative_id: str) -> User | None:
    """The session or remember cookie names ``<session token>.<sign-in nonce>``."""
    token, _, nonce = (alternative_id or "").partition(".")
    if not token or len(token) > 64:
        return None
    user = db.session.scalar(select(User).where(User.session_token == token))
    if user is not None:
        user.sign_in_nonce = nonce
    return user


def sign_in(user: User, remember: bool = False) -> None:
    """Start a fresh session for ``user``: the old session (and its CSRF token) is dropped, and
    the sign-in gets its own nonce, so its remember cookie differs from every other one.

    A visitor's cart is the one thing carried over: it is merged into the account's cart (and
    committed), and the shopper is told about any line that could not come over whole.
    """
    visitor_cart, kept_form = session_cart.take(), kept_forms.carried()
    session.clear()
    kept_forms.restore(kept_form)  # what an expired form held, for the page next= returns to
    g.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)  # Flask-WTF's per-request copy
    user.sign_in_nonce = secrets.token_urlsafe(12)
    login_user(user, remember=remember)
    user_id = user.id
    after_this_request(lambda response: throttle.remember_device(response, user_id))
    if visitor_cart:
        notes = carts.merge_lines(user_id, visitor_cart)
        db.session.commit()
        for note in notes:
            flash(note, "warning")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SHOP_REGISTER_LIMIT"], methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("catalog.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        email, name = form.email.data, form.display_name.data
        password_hash = passwords.new_hash(form.password.data)  # outside the write transaction
        user = User(email=email, display_name=name)
        user.set_password_hash(password_hash)
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:
            # Two sign-ups with one email at the same instant: the unique index decides, and the
            # loser sees the same message validate_email gives.
            db.session.rollback()
            form.email.errors.append(DUPLICATE_EMAIL_MESSAGE)
            return render_template("auth/register.html", form=form), 409
        sign_in(user)
        flash(f"Welcome, {user.display_name}! Your account is ready.", "success")
        return redirect(url_for("catalog.index"))
    return render_template("auth/register.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("catalog.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    email, address = form.email.data[:254], throttle.client_address()
    user = db.session.scalar(select(User).where(User.email == email))
    known_device = user is not None and user.id in throttle.known_accounts()
    wait = throttle.reserve(email, address, known_device)
    if wait is not None:
        form.password.errors.append(
            f"Too many failed sign-ins. Please wait {wait} second{'s' if wait != 1 else ''} "
            "and try again, or reset your password."
        )
        return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}
    if not passwords.matches(user, form.password.data):
        throttle.failed(email, address)
        form.password.errors.append("That email and password do not match an account.")
        return render_template("auth/login.html", form=form), 401
    throttle.succeeded(email, address, known_device)
    sign_in(user, remember=form.remember.data)
    flash(f"Signed in as {user.display_name}.", "success")
    return redirect(safe_next(form.next.data) or url_for("catalog.index"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        # Signing out ends the account's sessions: a copy of this session or remember cookie
        # (taken from a shared computer, say) must not still be signed in afterwards.
        current_user.end_sessions()
        db.session.commit()
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("catalog.index"))


@bp.route("/register/from-order/<id:order_id>", methods=["POST"])
@limiter.limit(lambda: current_app.config["SHOP_REGISTER_LIMIT"], methods=["POST"])
def account_from_order(order_id: int):
    """A guest's account made from the confirmation page: the order's email, a name and a
    password; the guest orders this browser placed with that email move into it."""
    placed = [i for i in session.get("guest_orders", []) if isinstance(i, int)]
    order = carts.guest_order(order_id) if order_id in placed else None
    if order is None or not order.email:
        return error_response(404, "We could not find that order in this browser.", "Not found")
    back = url_for("cart.confirmation", order_id=order_id)
    form = AccountFromOrderForm()
    if not form.validate_on_submit():
        flash(form.first_error(), "warning")
        return redirect(back)
    email, name = order.email, form.display_name.data
    address = checkout.address_of(order)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        flash(f"{DUPLICATE_EMAIL_MESSAGE} ({email})", "warning")
        return redirect(url_for("auth.login", next=back))
    password_hash = passwords.new_hash(form.password.data)  # outside the write transaction
    user = User(email=email, display_name=name)
    user.set_password_hash(password_hash)
    db.session.add(user)
    try:
        db.session.flush()
        moved = checkout.claim_guest_orders(user, placed, email)
        if address is not None:
            checkout.remember_address(user, address)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        flash(DUPLICATE_EMAIL_MESSAGE, "warning")
        return redirect(url_for("auth.login", next=back))
    sign_in(user)
    flash(
        f"Welcome, {name}! Your account is ready"
        + (f" and holds your order{'s' if moved > 1 else ''}." if moved else "."),
        "success",
    )
    return redirect(url_for("cart.order_detail", order_id=order_id))
