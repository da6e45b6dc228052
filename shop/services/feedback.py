"""Ratings and likes: the explicit feedback the recommendation engine learns from.

The views, the A/B simulator and the load tests all write feedback through these two functions, so
that the one-row-per-shopper-and-product rule and the counters on ``Product`` (``rating_sum``,
``rating_count``, ``like_count``) can never drift apart. Neither function commits: the caller owns
the transaction, which keeps a failed request from storing half of its work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.forms import clean_text
from shop.models import Like, Product, Rating
from shop.services.counters import bump_counters

MAX_REVIEW_LENGTH = 500


@dataclass(frozen=True)
class RatingOutcome:
    rating: Rating
    created: bool  # False when an earlier rating by the same shopper was changed


@dataclass(frozen=True)
class LikeOutcome:
    liked: bool


def tidy_review(review: str | None) -> str:
    """Line breaks kept, other control characters (NUL, which PostgreSQL refuses) dropped."""
    return clean_text((review or "").replace("\r\n", "\n").replace("\r", "\n"))


def clean_review(review: str | None) -> str | None:
    """Blank reviews are stored as no review; long ones are refused by the form, cut here as a guard."""
    return tidy_review(review)[:MAX_REVIEW_LENGTH] or None


def rate_product(
    user_id: int, product_id: int, stars: int, review: str | None = None
) -> RatingOutcome:
    """Store a shopper's rating, replacing their earlier one for the same product.

    The counters move by the difference, so a re-rating from 2 to 5 stars adds 3 to ``rating_sum``
    and nothing to ``rating_count``.
    """
    if not 1 <= int(stars) <= 5:
        raise ValueError("stars must be between 1 and 5")
    stars = int(stars)
    review = clean_review(review)
    existing = _existing_rating(user_id, product_id)
    if existing is None:
        try:
            # A savepoint: if another request inserted the same pair first, fall back to updating it.
            with db.session.begin_nested():
                rating = Rating(user_id=user_id, product_id=product_id, stars=stars, review=review)
                db.session.add(rating)
        except IntegrityError:
            existing = _existing_rating(user_id, product_id)
            if existing is None:
                raise
        else:
            bump_counters(product_id, rating_sum=stars, rating_count=1)
            return RatingOutcome(rating=rating, created=True)
    delta = stars - existing.stars
    existing.stars = stars
    existing.review = review
    bump_counters(product_id, rating_sum=delta)
    db.session.flush()
    return RatingOutcome(rating=existing, created=False)


def toggle_like(user_id: int, product_id: int) -> LikeOutcome:
    """Like a product, or take the like back when the shopper already likes it."""
    like = db.session.scalar(
        select(Like).where(Like.user_id == user_id, Like.product_id == product_id)
    )
    if like is not None:
        db.session.delete(like)
        db.session.flush()
        bump_counters(product_id, like_count=-1)
        return LikeOutcome(liked=False)
    try:
        with db.session.begin_nested():
            db.session.add(Like(user_id=user_id, product_id=product_id))
    except IntegrityError:
        # Liked twice at once (a double click): the first like stands.
        return LikeOutcome(liked=True)
    bump_counters(product_id, like_count=1)
    return LikeOutcome(liked=True)


def user_feedback(user_id: int | None, product_id: int) -> tuple[Rating | None, bool]:
    """The shopper's own rating of a product and whether they like it (for the product page)."""
    if user_id is None:
        return None, False
    rating = _existing_rating(user_id, product_id)
    liked = (
        db.session.scalar(
            select(Like.id).where(Like.user_id == user_id, Like.product_id == product_id)
        )
        is not None
    )
    return rating, liked


def latest_reviews(product_id: int, limit: int = 5) -> list[Rating]:
    """The newest written reviews of a product, with their authors loaded."""
    return list(
        db.session.scalars(
            select(Rating)
            .where(Rating.product_id == product_id, Rating.review.is_not(None))
            .options(joinedload(Rating.user))
            .order_by(Rating.updated_at.desc(), Rating.id.desc())
            .limit(limit)
        )
    )


def product_counters(product_id: int) -> Product:
    """The product with its counters read fresh from the database (after a commit)."""
    product = db.session.get(Product, product_id)
    db.session.refresh(product)
    return product


def _existing_rating(user_id: int, product_id: int) -> Rating | None:
    return db.session.scalar(
        select(Rating).where(Rating.user_id == user_id, Rating.product_id == product_id)
    )
