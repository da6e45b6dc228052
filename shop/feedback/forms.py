"""Forms for ratings and likes. Both carry the CSRF token; the rating form checks its own values."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from shop.services.feedback import MAX_REVIEW_LENGTH, tidy_review

STARS_MESSAGE = "Choose a rating from 1 to 5 whole stars."


class StarsField(IntegerField):
    """A whole number of stars; "2.5" or "abc" get the same plain message as 0 or 6."""

    def process_formdata(self, valuelist):
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError as exc:
            self.data = None
            raise ValueError(STARS_MESSAGE) from exc


class RatingForm(FlaskForm):
    stars = StarsField(
        "Your rating",
        validators=[
            InputRequired(message=STARS_MESSAGE),
            NumberRange(min=1, max=5, message=STARS_MESSAGE),
        ],
    )
    review = TextAreaField(
        "Short review (optional)",
        filters=[tidy_review],
        validators=[
            Length(
                max=MAX_REVIEW_LENGTH,
                message=f"Keep your review to {MAX_REVIEW_LENGTH} characters or fewer.",
            )
        ],
    )

    def first_error(self) -> str:
        for errors in self.errors.values():
            if errors:
                return str(errors[0])
        return "Please check your rating."


class LikeForm(FlaskForm):
    """No fields of its own: liking is a button, and the form only carries the CSRF token."""
