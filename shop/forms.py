"""Form pieces that several blueprints share: a text filter, a strict whole-number field and
first-error reporting.

The cart's quantities, the feedback form's stars and the admin's traffic shares all want the same
thing from a number: "2.5", "abc", "1e3" or a hundred nines are refused with the form's own plain
message (the one its range check uses too), never WTForms' generic "Not a valid integer value."
nor a server error.
"""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

DEFAULT_WHOLE_NUMBER_MESSAGE = "Enter a whole number."
#: Larger numbers are refused while parsing, with the field's own message: past a float's range
#: WTForms' NumberRange (which calls math.isnan on the value) would raise OverflowError. Smaller
#: ones are left to the form's range check, or to the view (an id past any row's is a 404).
LARGEST = 10**308
#: What a whole number may look like: ASCII digits with an optional sign. ``int()`` alone also reads
#: other scripts' digits ("٤", "４" are 4) and underscores ("1_0" is 10), which no shopper types.
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,309}", re.ASCII)


def clean_text(value: str | None) -> str:
    """Typed text without control characters (tabs and line breaks kept), trimmed.

    Nobody types a NUL, but a script can send one, and PostgreSQL refuses it in any text
    parameter (a 500 on the query, not a form error): a filter for every free-text field.
    """
    return "".join(ch for ch in (value or "") if ch.isprintable() or ch in "\n\t").strip()


class WholeNumberField(IntegerField):
    """An integer field whose parse error is ``message``, the same words as its range error."""

    def __init__(self, *args, message: str = DEFAULT_WHOLE_NUMBER_MESSAGE, **kwargs):
        super().__init__(*args, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        text = str(valuelist[0]).strip(" \t\r\n")
        if not WHOLE_NUMBER.fullmatch(text):
            self.data = None
            raise ValueError(self.message)
        value = int(text)
        if abs(value) > LARGEST:
            self.data = None
            raise ValueError(self.message)
        self.data = value


class OfferedNumberField(WholeNumberField):
    """The number from a radio group or select: only the exact values the page offered.

    ``int()`` reads any script's digits (``٤``, ``４``, ``𝟒`` are all 4) and spaces; a browser
    sends back exactly the ``value`` of the radio or option, so anything else is refused.
    """

    def __init__(self, *args, offered: range, **kwargs):
        super().__init__(*args, **kwargs)
        self.offered = {str(value): value for value in offered}

    def process_formdata(self, valuelist):
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        self.data = self.offered.get(valuelist[0])
        if self.data is None:
            raise ValueError(self.message)


class FirstErrorMixin:
    """For forms whose errors are shown as one line (a flash, or a JSON message)."""

    fallback_error = "Please check the form."

    def first_error(self) -> str:
        for errors in self.errors.values():
            if errors:
                return str(errors[0])
        return self.fallback_error


class AccountFromOrderForm(FirstErrorMixin, FlaskForm):
    """A guest's name and password for an account made from their order (the email is the
    order's). The cart's confirmation page shows it and auth's route takes it."""

    display_name = StringField(
        "Your name",
        filters=[clean_text],
        validators=[
            InputRequired(message="Enter your name."),
            Length(max=80, message="Use at most 80 characters."),
        ],
    )
    password = PasswordField(
        "Choose a password",
        validators=[
            InputRequired(message="Choose a password."),
            Length(min=8, max=128, message="Use between 8 and 128 characters."),
        ],
    )
