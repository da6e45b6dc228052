from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from shop.extensions import db
from shop.forms import clean_text
from shop.models import User


def normalise_email(value: str | None) -> str:
    """Addresses compare trimmed and lower-case; control characters are dropped, as no stored
    address has one (and PostgreSQL refuses NUL in a query)."""
    return clean_text(value).lower()


DUPLICATE_EMAIL_MESSAGE = "An account with this email already exists. Sign in instead?"


class RegistrationForm(FlaskForm):
    email = EmailField(
        "Email",
        filters=[normalise_email],
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    display_name = StringField(
        "Your name",
        filters=[clean_text],
        validators=[DataRequired(), Length(min=2, max=80)],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(min=8, max=128, message="Use between 8 and 128 characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    submit = SubmitField("Create account")

    def validate_email(self, field) -> None:
        exists = db.session.scalar(select(User.id).where(func.lower(User.email) == field.data))
        if exists:
            raise ValidationError(DUPLICATE_EMAIL_MESSAGE)


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


def _new_password_fields():
    password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(min=8, max=128, message="Use between 8 and 128 characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    return password, confirm


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
    email = EmailField(
        "New email",
        filters=[normalise_email],
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    submit = SubmitField("Change email")

    def validate_email(self, field) -> None:
        exists = db.session.scalar(select(User.id).where(func.lower(User.email) == field.data))
        if exists:
            raise ValidationError(DUPLICATE_EMAIL_MESSAGE)


class PasswordChangeForm(CurrentPasswordMixin, FlaskForm):
    password, confirm = _new_password_fields()
    submit = SubmitField("Change password")


class DeleteAccountForm(CurrentPasswordMixin, FlaskForm):
    confirm_delete = BooleanField(
        "I understand that my account, ratings, likes and history are erased for good.",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
    submit = SubmitField("Delete my account")


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email",
        filters=[normalise_email],
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    submit = SubmitField("Send me a link")


class ResetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields()
    submit = SubmitField("Set new password")


class ButtonForm(FlaskForm):
    """Buttons (sign out on other devices): the form only carries the CSRF token."""
