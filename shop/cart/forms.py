"""Cart forms. Each carries the CSRF token; quantities are whole numbers in a fixed range."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from shop import payments
from shop.forms import FirstErrorMixin, WholeNumberField, clean_text
from shop.services import checkout
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


class _NamedChoice:
    """A choice field that names what was wrong instead of WTForms' "Not a valid choice"."""

    def __init__(self, label: str, unknown: str, **kwargs):
        super().__init__(label, validators=[InputRequired(message=unknown)], **kwargs)
        self.unknown = unknown

    def pre_validate(self, form) -> None:
        if self.data not in {value for value, _ in self.choices}:
            raise ValidationError(self.unknown)


class ChoiceRadioField(_NamedChoice, RadioField):
    pass


class ChoiceSelectField(_NamedChoice, SelectField):
    pass


def _text(label: str, max_length: int, required: str | None, **kwargs) -> StringField:
    validators = [InputRequired(message=required)] if required else [Optional()]
    validators.append(Length(max=max_length, message=f"Use at most {max_length} characters."))
    return StringField(label, filters=[clean_text], validators=validators, **kwargs)


class CheckoutForm(FirstErrorMixin, FlaskForm):
    """Address, delivery and payment; the review page sends them back with the ``total`` it
    showed, and an order is placed only when that is still the total."""

    email = EmailField(
        "Email",
        filters=[lambda value: clean_text(value).lower()],
        validators=[
            Optional(),
            Length(max=254, message="Use at most 254 characters."),
            Email(
                check_deliverability=False, message="Enter an email address like sam@example.com."
            ),
        ],
    )
    name = _text("Full name", 80, "Enter the name to deliver to.")
    line1 = _text("Address line 1", 100, "Enter the first line of the address.")
    line2 = _text("Address line 2 (optional)", 100, None)
    city = _text("Town or city", 60, "Enter the town or city.")
    postcode = _text("Postcode", 16, "Enter the postcode.")
    country = ChoiceSelectField("Country", "Choose a country we deliver to.")
    delivery = ChoiceRadioField("Delivery", "Choose one of the delivery options.")
    payment = ChoiceRadioField("Payment", "Choose one of the payment methods offered.")
    total = HiddenField()

    def __init__(self, *args, guest: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.guest = guest
        self.country.choices = list(checkout.countries().items())
        self.delivery.choices = [(o.code, o.label) for o in checkout.delivery_options().values()]
        self.payment.choices = [(m.code, m.label) for m in payments.enabled().values()]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.guest and not self.email.data and not self.email.errors:
            self.email.errors.append("Enter your email address: the confirmation goes there.")
            valid = False
        if self.postcode.data and not POSTCODE.fullmatch(self.postcode.data):
            self.postcode.errors.append("A postcode has letters, digits, spaces and dashes only.")
            valid = False
        method = payments.method(self.payment.data)
        if method and not self.delivery.errors and not method.offered_with(self.delivery.data):
            self.payment.errors.append(
                f"{method.label} is only for orders collected from the shop."
            )
            valid = False
        return valid

    def details(self, email: str) -> checkout.CheckoutDetails:
        return checkout.CheckoutDetails(
            email=email,
            address=checkout.Address(
                self.name.data,
                self.line1.data,
                self.line2.data or "",
                self.city.data,
                self.postcode.data.upper(),
                self.country.data,
            ),
            delivery=self.delivery.data,
            payment=self.payment.data,
        )

    def choices(self) -> dict[str, str]:
        """What was chosen, to keep in the session between the checkout's pages."""
        return {name: getattr(self, name).data or "" for name in CHOSEN}


CHOSEN = ("email", "name", "line1", "line2", "city", "postcode", "country", "delivery", "payment")
POSTCODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]*")
