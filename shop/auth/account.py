"""The account page and password reset: the shopper's own name, email, password, sessions, data.

Changing the email, the password or deleting the account asks for the current password, and
wrong answers count towards the same failed sign-in limits as the sign-in form, so a borrowed
session cannot be used to guess the password either.
"""

from __future__ import annotations

import json

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from shop.auth import bp, throttle
from shop.auth.forms import (
    DUPLICATE_EMAIL_MESSAGE,
    ButtonForm,
    DeleteAccountForm,
    DisplayNameForm,
    EmailChangeForm,
    PasswordChangeForm,
    ResetPasswordForm,
    ResetRequestForm,
    normalise_email,
)
from shop.auth.routes import password_matches, sign_in
from shop.errors import error_response
from shop.extensions import db, limiter
from shop.mail import MailError, send_mail
from shop.mail import link as mail_link
from shop.models import User
from shop.services import accounts

WRONG_PASSWORD = "That is not your current password."


def _page(status: int = 200, **forms):
    user = current_user
    forms.setdefault("name_form", DisplayNameForm(formdata=None, display_name=user.display_name))
    forms.setdefault("email_form", EmailChangeForm(formdata=None))
    forms.setdefault("password_form", PasswordChangeForm(formdata=None))
    forms.setdefault("delete_form", DeleteAccountForm(formdata=None))
    forms.setdefault("button_form", ButtonForm(formdata=None))
    return render_template("auth/account.html", **forms), status


def _current_password_ok(form) -> int | None:
    """None when the current password is right; else the status to answer (401, or 429)."""
    email, address = current_user.email, throttle.client_address()
    wait = throttle.reserve(email, address, known_device=True)
    if wait is not None:
        form.current_password.errors.append(
            f"Too many wrong passwords. Please wait {wait} seconds and try again."
        )
        return 429
    if not password_matches(current_user, form.current_password.data):
        throttle.failed(email, address)
        form.current_password.errors.append(WRONG_PASSWORD)
        return 401
    throttle.succeeded(email, address, known_device=True)
    return None


@bp.route("/account")
@login_required
def account():
    return _page()


@bp.route("/account/name", methods=["POST"])
@login_required
def change_name():
    form = DisplayNameForm()
    if not form.validate_on_submit():
        return _page(400, name_form=form)
    current_user.display_name = form.display_name.data
    db.session.commit()
    flash("Your name is saved.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/email", methods=["POST"])
@login_required
def change_email():
    form = EmailChangeForm()
    if not form.validate_on_submit():
        return _page(400, email_form=form)
    if (status := _current_password_ok(form)) is not None:
        return _page(status, email_form=form)
    current_user.email = form.email.data
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        form.email.errors.append(DUPLICATE_EMAIL_MESSAGE)
        return _page(409, email_form=form)
    flash(f"Your email is now {form.email.data}.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _page(400, password_form=form)
    if (status := _current_password_ok(form)) is not None:
        return _page(status, password_form=form)
    user = current_user._get_current_object()
    user.set_password(form.password.data)  # a new session token: every other session ends
    db.session.commit()
    sign_in(user)  # ...and this one goes on with the new token
    flash("Your password is changed. You are signed out everywhere else.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/sign-out-others", methods=["POST"])
@login_required
def sign_out_others():
    ButtonForm().validate_on_submit()  # CSRF is checked globally; nothing else to validate
    user = current_user._get_current_object()
    user.end_sessions()
    db.session.commit()
    sign_in(user)
    flash("You are signed out on every other device and browser.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/data.json")
@login_required
def download_data():
    body = json.dumps(
        accounts.export_data(current_user._get_current_object()), indent=2, ensure_ascii=False
    )
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="my-shop-data.json"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.route("/account/delete", methods=["POST"])
@login_required
def delete_account():
    form = DeleteAccountForm()
    if not form.validate_on_submit():
        return _page(400, delete_form=form)
    if (status := _current_password_ok(form)) is not None:
        return _page(status, delete_form=form)
    user_id = current_user.id
    try:
        accounts.delete_account(current_user._get_current_object())
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("deleting account %s failed", user_id)
        return error_response(
            503,
            "We could not delete your account just now; nothing was changed. Please try again.",
            "Account not deleted",
        )
    logout_user()
    flash("Your account is deleted. Your orders are kept for our books, without your name.", "info")
    return redirect(url_for("catalog.index"))


# --- password reset -------------------------------------------------------------------------

RESET_SENT = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works once, for 30 minutes."
)


def _reset_email_key() -> str:
    return "shop/reset/email/" + normalise_email(request.form.get("email"))[:254]


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SHOP_RESET_LIMIT"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["SHOP_RESET_EMAIL_LIMIT"],
    key_func=_reset_email_key,
    methods=["POST"],
)
def reset_request():
    form = ResetRequestForm()
    if not form.validate_on_submit():
        return render_template("auth/reset_request.html", form=form)
    user = db.session.scalar(select(User).where(User.email == form.email.data))
    if user is not None:
        link = mail_link("auth.reset_password", token=accounts.reset_token(user))
        try:
            send_mail(
                user.email,
                "Choose a new password for the shop",
                f"Hello {user.display_name},\n\nSomeone (we hope you) asked to reset the password "
                f"of your account. Follow this link within 30 minutes to choose a new one:\n\n"
                f"{link}\n\nIf it was not you, ignore this message: your password is unchanged.\n",
            )
        except MailError:
            current_app.logger.exception("password reset mail to user %s failed", user.id)
    # The same answer whether or not the address has an account.
    flash(RESET_SENT, "info")
    return redirect(url_for("auth.login"))


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = accounts.user_for_reset_token(token)
    except accounts.ResetLinkError as exc:
        return error_response(400, str(exc), "Reset link not valid")
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/reset_password.html", form=form, token=token)
    user.set_password(form.password.data)  # the link's fingerprint changes: it works once
    db.session.commit()
    sign_in(user)
    flash(
        "Your new password is set, and you are signed in. Other sessions are signed out.", "success"
    )
    return redirect(url_for("catalog.index"))
