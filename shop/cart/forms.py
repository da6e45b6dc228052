"""Cart forms. Each carries the CSRF token; quantities are whole numbers in a fixed range."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired, NumberRange, Optional

from shop.services.orders import MAX_QUANTITY

QUANTITY_MESSAGE = f"Choose a quantity from 1 to {MAX_QUANTITY}."
UPDATE_MESSAGE = f"Choose a quantity from 0 (remove) to {MAX_QUANTITY}."


class WholeNumberField(IntegerField):
    """An integer field whose parse error is the same plain message as its range error."""

    def __init__(self, *args, message: str = QUANTITY_MESSAGE, **kwargs):
        super().__init__(*args, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError as exc:
            self.data = None
            raise ValueError(self.message) from exc


class LenientIdField(IntegerField):
    """An optional id that is simply ignored (None) when it is not a whole number."""

    def process_formdata(self, valuelist):
        try:
            self.data = int(str(valuelist[0]).strip()) if valuelist and valuelist[0] else None
        except ValueError:
            self.data = None


class FirstErrorMixin:
    def first_error(self) -> str:
        for errors in self.errors.values():
            if errors:
                return str(errors[0])
        return "Please check the form."


class AddToCartForm(FirstErrorMixin, FlaskForm):
    product_id = WholeNumberField(
        message="Choose a product to add.",
        validators=[InputRequired(message="Choose a product to add.")],
    )
    quantity = WholeNumberField(
        "Quantity",
        default=1,
        validators=[Optional(), NumberRange(min=1, max=MAX_QUANTITY, message=QUANTITY_MESSAGE)],
    )
    imp = LenientIdField(validators=[Optional()])
    src = HiddenField()
    next = HiddenField()


class UpdateQuantityForm(FirstErrorMixin, FlaskForm):
    quantity = WholeNumberField(
        "Quantity",
        message=UPDATE_MESSAGE,
        validators=[
            InputRequired(message=UPDATE_MESSAGE),
            NumberRange(min=0, max=MAX_QUANTITY, message=UPDATE_MESSAGE),
        ],
    )


class CartActionForm(FlaskForm):
    """Remove and checkout are buttons: the form only carries the CSRF token."""
