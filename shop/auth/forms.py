from __future__ import annotations

import unicodedata

from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from shop.extensions import db
from shop.forms import clean_text
from shop.models import User


def normalise_email(value: str | None) -> str:
    """The one spelling of an address that accounts, sign-in, reset and every limit key use.

    NFKC first (full-width "ａｄｍｉｎ" is "admin"), then control characters dropped (no stored
    address has one, and PostgreSQL refuses NUL in a query), trimmed and lower-cased. A form
    refuses an address typed with control characters (:func:`no_control_characters`); limit keys
    use this spelling, so "\x01shopper@example.com" counts against shopper@example.com.
    """
    return clean_text(unicodedata.normalize("NFKC", value or "")).lower()


def no_control_characters(form, field) -> None:
    """Refuse an address sent with control characters instead of quietly cleaning it."""
    raw = (field.raw_data or [""])[0] or ""
    if any(not ch.isprintable() for ch in raw.strip(" ")):
        raise ValidationError("An email address cannot contain control characters.")


DUPLICATE_EMAIL_MESSAGE = "An account with this email already exists. Sign in instead?"


def address_field(label: str = "Email") -> EmailField:
    return EmailField(
        label,
        filters=[normalise_email],
        validators=[
            DataRequired(),
            no_control_characters,
            Email(check_deliverability=False),
            Length(max=254),
        ],
    )


def password_pair(label: str = "Password", repeat: str = "Repeat password"):
    """A new password and its repetition (the fields must be named ``password`` and ``confirm``)."""
    password = PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(min=8, max=128, message="Use between 8 and 128 characters."),
        ],
    )
    confirm = PasswordField(
        repeat,
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    return password, confirm


def check_email_free(field) -> None:
    exists = db.session.scalar(select(User.id).where(func.lower(User.email) == field.data))
    if exists:
        raise ValidationError(DUPLICATE_EMAIL_MESSAGE)


class RegistrationForm(FlaskForm):
    email = address_field()
    display_name = StringField(
        "Your name",
        filters=[clean_text],
        validators=[DataRequired(), Length(min=2, max=80)],
    )
    password, confirm = password_pair()
    submit = SubmitField("Create account")

    def validate_email(self, field) -> None:
        check_email_free(field)


class LoginForm(FlaskForm):
    email = EmailField(
        "Email", filters=[normalise_email], validators=[DataRequired(), Length(max=254)]
    )
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    remember = BooleanField("Keep me signed in")
    next = HiddenField()
    submit = SubmitField("Sign in")


class LogoutForm(FlaskForm):
    submit = SubmitField("Sign out")


class CurrentPasswordMixin:
    current_password = PasswordField(
        "Your current password", validators=[DataRequired(), Length(max=128)]
    )


class DisplayNameForm(FlaskForm):
    display_name = StringField(
        "Your name", filters=[clean_text], validators=[DataRequired(), Length(min=2, max=80)]
    )
    submit = SubmitField("Save name")


class EmailChangeForm(CurrentPasswordMixin, FlaskForm):
    # No "already taken" check here: the answer must not tell (shop.auth.account.change_email).
    email = address_field("New email")
    submit = SubmitField("Change email")


class PasswordChangeForm(CurrentPasswordMixin, FlaskForm):
    password, confirm = password_pair("New password", "Repeat new password")
    submit = SubmitField("Change password")


class DeleteAccountForm(CurrentPasswordMixin, FlaskForm):
    confirm_delete = BooleanField(
        "I understand that my account, ratings, likes and history are erased for good.",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
    submit = SubmitField("Delete my account")


class ResetRequestForm(FlaskForm):
    email = address_field()
    submit = SubmitField("Send me a link")


class ResetPasswordForm(FlaskForm):
    password, confirm = password_pair("New password", "Repeat new password")
    submit = SubmitField("Set new password")


class ButtonForm(FlaskForm):
    """Buttons (sign out on other devices): the form only carries the CSRF token."""
