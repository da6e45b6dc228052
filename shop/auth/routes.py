from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.auth import bp
from shop.auth.forms import (
    DUPLICATE_EMAIL_MESSAGE,
    LoginForm,
    LogoutForm,
    RegistrationForm,
    normalise_email,
)
from shop.extensions import db, limiter, login_manager
from shop.models import User


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


def safe_next(target: str | None) -> str | None:
    """Only local paths are followed after sign-in: ``//evil.example`` and ``https://...`` are not."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def _login_failed(response) -> bool:
    # Only failed attempts count towards the limits: a successful sign-in redirects.
    return request.method == "POST" and response.status_code != 302


def _account_key() -> str:
    return "login-account:" + normalise_email(request.form.get("email"))[:254]


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("catalog.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        user = User(email=form.email.data, display_name=form.display_name.data)
        user.set_password(form.password.data)
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:
            # Two sign-ups with one email at the same instant: the unique index decides, and the
            # loser sees the same message validate_email gives.
            db.session.rollback()
            form.email.errors.append(DUPLICATE_EMAIL_MESSAGE)
            return render_template("auth/register.html", form=form), 409
        login_user(user)
        flash(f"Welcome, {user.display_name}! Your account is ready.", "success")
        return redirect(url_for("catalog.index"))
    return render_template("auth/register.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["SHOP_LOGIN_IP_LIMIT"],
    methods=["POST"],
    deduct_when=_login_failed,
)
@limiter.limit(
    lambda: current_app.config["SHOP_LOGIN_LIMIT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("catalog.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.email == form.email.data))
        if user is not None and user.check_password(form.password.data):
            login_user(user, remember=form.remember.data)
            flash(f"Signed in as {user.display_name}.", "success")
            return redirect(safe_next(form.next.data) or url_for("catalog.index"))
        form.password.errors.append("That email and password do not match an account.")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("catalog.index"))
