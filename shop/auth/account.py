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

from shop.auth import bp, passwords, throttle
from shop.auth.forms import (
    ButtonForm,
    DeleteAccountForm,
    DisplayNameForm,
    EmailChangeForm,
    PasswordChangeForm,
    ResetPasswordForm,
    ResetRequestForm,
    normalise_email,
)
from shop.auth.routes import sign_in
from shop.errors import error_response
from shop.extensions import db, limiter
from shop.mail import link as mail_link
from shop.mail import send_later
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
    if not passwords.matches(current_user, form.current_password.data):
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


EMAIL_CHANGE_SENT = (
    "We have sent a link to {email}. Your email changes when you follow it (within an hour)."
)


def _email_change_key() -> str:
    who = current_user.id if current_user.is_authenticated else request.remote_addr
    return f"shop/email-change/{who}"


@bp.route("/account/email", methods=["POST"])
@login_required
@limiter.limit(
    lambda: current_app.config["SHOP_EMAIL_CHANGE_LIMIT"],
    key_func=_email_change_key,
    methods=["POST"],
)
def change_email():
    """Ask for a new address; it takes effect from a link mailed to it.

    Whether the address belongs to another account is never said here (a signed-in stranger could
    otherwise test addresses one by one): the answer is the same, and only the mailbox learns.
    Every request counts towards SHOP_EMAIL_CHANGE_LIMIT, wrong passwords also towards the sign-in
    limits; the mail goes out after the transaction has ended.
    """
    form = EmailChangeForm()
    if not form.validate_on_submit():
        return _page(400, email_form=form)
    if (status := _current_password_ok(form)) is not None:
        return _page(status, email_form=form)
    user = current_user._get_current_object()
    new_email = form.email.data
    if new_email == user.email:
        form.email.errors.append("That is already your email.")
        return _page(400, email_form=form)
    taken = accounts.email_taken(new_email, by_other_than=user.id)
    token = None if taken else accounts.email_change_token(user, new_email)
    name = user.display_name
    _send_email_change_mail(name, new_email, token)
    flash(EMAIL_CHANGE_SENT.format(email=new_email), "info")
    return redirect(url_for("auth.account"))


def _send_email_change_mail(name: str, new_email: str, token: str | None) -> None:
    if token is not None:
        subject = "Confirm your new email for the shop"
        body = (
            f"Hello {name},\n\nFollow this link within an hour to make this your account's "
            f"email:\n\n{mail_link('auth.confirm_email', token=token)}\n\nIf you did not ask "
            "for it, ignore this message: nothing changes.\n"
        )
    else:
        subject = "Someone tried to use your email at the shop"
        body = (
            "Hello,\n\nSomeone signed in to the shop asked to change their account's email to "
            "this address. It already belongs to your account, so nothing changed. If it was you, "
            "you are already signed up with this address.\n"
        )
    send_later(new_email, subject, body)


@bp.route("/account/email/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    """The link from the mail: a page with a button (a GET changes nothing), then the change."""
    try:
        user, new_email = accounts.email_change_for_token(token)
    except accounts.EmailChangeError as exc:
        return error_response(400, str(exc), "Email not changed")
    form = ButtonForm()
    if not form.validate_on_submit():
        return render_template("auth/email_confirm.html", form=form, token=token, email=new_email)
    old_email, name = user.email, user.display_name
    user.email = new_email
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return error_response(409, "Another account uses that address now.", "Email not changed")
    send_later(
        old_email,
        "Your email at the shop has changed",
        f"Hello {name},\n\nYour account's email is now {new_email}. If you did not do this, "
        "reset your password from the sign-in page and contact us.\n",
    )
    flash(f"Your email is now {new_email}.", "success")
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
    password_hash = passwords.new_hash(form.password.data)  # outside the write transaction
    user.set_password_hash(password_hash)  # a new session token: every other session ends
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
        send_later(
            user.email,
            "Choose a new password for the shop",
            f"Hello {user.display_name},\n\nSomeone (we hope you) asked to reset the password "
            f"of your account. Follow this link within 30 minutes to choose a new one:\n\n"
            f"{link}\n\nIf it was not you, ignore this message: your password is unchanged.\n",
        )
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
    password_hash = passwords.new_hash(form.password.data)  # outside the write transaction
    user.set_password_hash(password_hash)  # the link's fingerprint changes: it works once
    db.session.commit()
    sign_in(user)
    flash(
        "Your new password is set, and you are signed in. Other sessions are signed out.", "success"
    )
    return redirect(url_for("catalog.index"))
