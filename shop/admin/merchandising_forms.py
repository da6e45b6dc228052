"""Forms for merchandising: pin a product in a category, boost or bury a category for some days.

The forms check what was typed (a product that exists, a position offered, real dates in order, a
known category); the rules that depend on the category's pins live in
:func:`shop.services.merchandising.check_pin`, which the view's call reports next to the field.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from shop.extensions import db
from shop.forms import clean_text
from shop.models import Category, Product
from shop.services import merchandising

POSITION_MESSAGE = f"Choose a position from 1 to {merchandising.MAX_PINS}."
KINDS = {"boost": merchandising.BOOST_WEIGHT, "bury": merchandising.BURY_WEIGHT}


class _OfferedSelectField(SelectField):
    """A select whose bad value (typed by a script, not a browser) gets the field's own message."""

    def __init__(self, *args, message: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.message) from exc

    def pre_validate(self, form) -> None:
        offered = {choice.value for choice in self.choices}
        if not self.process_errors and self.data not in offered:
            raise ValidationError(self.message)


def _position(value) -> int:
    text = str(value)
    if text not in {str(i) for i in range(1, merchandising.MAX_PINS + 1)}:
        raise ValueError(POSITION_MESSAGE)
    return int(text)


class _DayField(DateField):
    """A date (the browser's date picker sends YYYY-MM-DD) with a message a person can act on."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0]:
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            self.data = None
            raise ValueError("Enter a date as YYYY-MM-DD.") from exc


class PinForm(FlaskForm):
    """One category's pin form (the page has one per category, each with its own prefix)."""

    product = StringField(
        "Product (id or SKU)",
        filters=[clean_text],
        validators=[DataRequired("Name the product by its id or its SKU."), Length(max=40)],
    )
    position = _OfferedSelectField(
        "Position",
        coerce=_position,
        choices=[SelectChoice(i, str(i)) for i in range(1, merchandising.MAX_PINS + 1)],
        message=POSITION_MESSAGE,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.found: Product | None = None

    def validate_product(self, field) -> None:
        if field.data:
            self.found = merchandising.find_product(field.data)
            if self.found is None:
                raise ValidationError(f"No product has the id or SKU “{field.data}”.")


class BoostForm(FlaskForm):
    category = SelectField("Category", validate_choice=False)
    kind = _OfferedSelectField(
        "Boost or bury",
        choices=[
            SelectChoice("boost", f"Boost (scores × {merchandising.BOOST_WEIGHT:g})"),
            SelectChoice("bury", f"Bury (scores × {merchandising.BURY_WEIGHT:g})"),
        ],
        message="Choose boost or bury.",
    )
    starts_on = _DayField("From", validators=[InputRequired("Give the first day.")])
    ends_on = _DayField("To (inclusive)", validators=[InputRequired("Give the last day.")])
    note = StringField(
        "Note (why; shown in the audit log)",
        filters=[clean_text],
        validators=[Length(max=merchandising.MAX_NOTE)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rows = db.session.execute(select(Category.id, Category.name).order_by(Category.name))
        self.category.choices = [SelectChoice("", "Choose a category")] + [
            SelectChoice(str(i), name) for i, name in rows
        ]

    def validate_category(self, field) -> None:
        known = {choice.value for choice in self.category.choices if choice.value}
        if field.data not in known:
            raise ValidationError("Choose one of the shop's categories.")

    def validate_ends_on(self, field) -> None:
        if field.data is None or self.starts_on.data is None:
            return
        if field.data < self.starts_on.data:
            raise ValidationError("The end date must be on or after the start date.")
        if field.data < merchandising.today():
            raise ValidationError("This range has already ended; choose a last day from today on.")

    @property
    def weight(self) -> float:
        return KINDS[self.kind.data]
