"""Cart forms. Each carries the CSRF token; quantities are whole numbers in a fixed range."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import InputRequired, NumberRange, Optional

from shop.forms import FirstErrorMixin, WholeNumberField
from shop.services.carts import MAX_QUANTITY

QUANTITY_MESSAGE = f"Choose a quantity from 1 to {MAX_QUANTITY}."
UPDATE_MESSAGE = f"Choose a quantity from 0 (remove) to {MAX_QUANTITY}."


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
    imp = HiddenField()  # a signed impression token (shop.experiments.impressions)
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
