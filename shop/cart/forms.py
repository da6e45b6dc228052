"""Cart forms. Each carries the CSRF token; quantities are whole numbers in a fixed range."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired, NumberRange, Optional

from shop.forms import FirstErrorMixin, WholeNumberField
from shop.services.orders import MAX_QUANTITY

QUANTITY_MESSAGE = f"Choose a quantity from 1 to {MAX_QUANTITY}."
UPDATE_MESSAGE = f"Choose a quantity from 0 (remove) to {MAX_QUANTITY}."


class LenientIdField(IntegerField):
    """An optional id that is simply ignored (None) when it is not a whole number."""

    def process_formdata(self, valuelist):
        try:
            self.data = int(str(valuelist[0]).strip()) if valuelist and valuelist[0] else None
        except ValueError:
            self.data = None


class AddToCartForm(FirstErrorMixin, FlaskForm):
    product_id = WholeNumberField(
        message="Choose a product to add.",
        validators=[InputRequired(message="Choose a product to add.")],
    )
    quantity = WholeNumberField(
        "Quantity",
        message=QUANTITY_MESSAGE,
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
