"""Forms for ratings and likes. Both carry the CSRF token; the rating form checks its own values."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from shop.forms import FirstErrorMixin, OfferedNumberField
from shop.services.feedback import MAX_REVIEW_LENGTH, tidy_review

STARS_MESSAGE = "Choose a rating from 1 to 5 whole stars."


class RatingForm(FirstErrorMixin, FlaskForm):
    fallback_error = "Please check your rating."

    stars = OfferedNumberField(
        "Your rating",
        offered=range(1, 6),
        message=STARS_MESSAGE,
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


class LikeForm(FlaskForm):
    """No fields of its own: liking is a button, and the form only carries the CSRF token."""
