"""Admin forms. Each POST carries Flask-WTF's CSRF token; checks against the database sit here."""

from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import (
    FieldList,
    Form,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from shop.extensions import db
from shop.forms import WholeNumberField, clean_text
from shop.models import Experiment

ALGORITHMS = ("hybrid", "popularity", "svd", "als", "itemknn", "content", "ease")
ALGORITHM_LABELS = {
    # What the guard chose at training (a learned ranker, a blend or one source: the model page says).
    "hybrid": "Hybrid (the trained ranker)",
    "popularity": "Popularity",
    "svd": "SVD (ratings)",
    "als": "ALS (implicit)",
    "itemknn": "Item k-NN",
    "content": "Content (TF-IDF)",
    "ease": "EASE (item-item)",
}
MAX_VARIANTS = 4
MIN_VARIANTS = 2


class VariantForm(Form):
    """One row of the variants table; a row with an empty name is ignored."""

    name = StringField("Variant name", filters=[clean_text], validators=[Length(max=40)])
    algorithm = SelectField(
        "Algorithm",
        choices=[SelectChoice(a, ALGORITHM_LABELS[a]) for a in ALGORITHMS],
        default="hybrid",
    )
    traffic_percent = WholeNumberField(
        "Traffic %",
        message="Use 1 to 100.",
        validators=[Optional(), NumberRange(min=1, max=100, message="Use 1 to 100.")],
    )

    @property
    def filled(self) -> bool:
        return bool(self.name.data)


class ExperimentForm(FlaskForm):
    name = StringField(
        "Experiment name", filters=[clean_text], validators=[DataRequired(), Length(max=120)]
    )
    description = TextAreaField(
        "What are we testing?", filters=[clean_text], validators=[Length(max=2000)]
    )
    variants = FieldList(FormField(VariantForm), min_entries=MAX_VARIANTS, max_entries=MAX_VARIANTS)

    def validate_name(self, field) -> None:
        taken = db.session.scalar(
            select(Experiment.id).where(func.lower(Experiment.name) == field.data.lower())
        )
        if taken:
            raise ValidationError("An experiment with this name already exists.")

    def validate_variants(self, field) -> None:
        rows = [row.form for row in field.entries if row.form.filled]
        if not MIN_VARIANTS <= len(rows) <= MAX_VARIANTS:
            raise ValidationError(
                f"Give between {MIN_VARIANTS} and {MAX_VARIANTS} variants (name, algorithm, traffic)."
            )
        names = [row.name.data.lower() for row in rows]
        if len(set(names)) != len(names):
            raise ValidationError("Each variant needs its own name.")
        if any(row.traffic_percent.data is None for row in rows):
            raise ValidationError("Give every variant a traffic percentage.")
        total = sum(row.traffic_percent.data for row in rows)
        if total != 100:
            raise ValidationError(
                f"Traffic percentages must add up to 100 (they add up to {total})."
            )

    def variant_rows(self) -> list[tuple[str, str, int]]:
        """The filled rows as (name, algorithm, traffic percent), in the order given."""
        return [
            (row.form.name.data, row.form.algorithm.data, int(row.form.traffic_percent.data))
            for row in self.variants.entries
            if row.form.filled
        ]


class ActionForm(FlaskForm):
    """A button that changes state (retrain, stop): nothing to fill in but the CSRF token."""
