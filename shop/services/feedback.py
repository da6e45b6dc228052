"""Ratings and likes: the explicit feedback the recommendation engine learns from.

The views, the A/B simulator and the load tests all write feedback through these two functions, so
that the one-row-per-shopper-and-product rule and the counters on ``Product`` (``rating_sum``,
``rating_count``, ``like_count``) can never drift apart. Neither function commits: the caller owns
the transaction, which keeps a failed request from storing half of its work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.forms import clean_text
from shop.models import Like, Order, OrderLine, Product, Rating
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


@dataclass(frozen=True)
class OwnFeedback:
    """What a product page shows of the shopper's own feedback, with the product's like count."""

    stars: int | None
    review: str | None
    liked: bool
    like_count: int


def _own_feedback_statement() -> Select:
    user, product = bindparam("user_id"), bindparam("product_id")
    mine = (Rating.user_id == user, Rating.product_id == product)
    return select(
        Product.like_count,
        select(Rating.stars).where(*mine).scalar_subquery(),
        select(Rating.review).where(*mine).scalar_subquery(),
        select(Like.id).where(Like.user_id == user, Like.product_id == product).exists(),
    ).where(Product.id == product)


#: Built once: building the expression took as long as running it.
_OWN_FEEDBACK = _own_feedback_statement()


def own_feedback(user_id: int, product_id: int) -> OwnFeedback | None:
    """The shopper's own rating and like of a product, with its like count, in one statement
    (None: no such product): what the product page shows of the shopper, whole or filled into its
    shared frame (:mod:`shop.page_frames`)."""
    row = db.session.execute(
        _OWN_FEEDBACK, {"user_id": user_id, "product_id": product_id}
    ).one_or_none()
    if row is None:
        return None
    like_count, stars, review, liked = row
    return OwnFeedback(stars, review, bool(liked), like_count)


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


#: How the full list of a product's reviews may be sorted: (label, ORDER BY).
REVIEW_SORTS = {
    "newest": ("Newest first", (Rating.updated_at.desc(), Rating.id.desc())),
    "highest": ("Highest rated", (Rating.stars.desc(), Rating.updated_at.desc(), Rating.id.desc())),
    "lowest": ("Lowest rated", (Rating.stars.asc(), Rating.updated_at.desc(), Rating.id.desc())),
}
DEFAULT_REVIEW_SORT = "newest"


def parse_review_sort(value: str | None) -> str:
    return value if value in REVIEW_SORTS else DEFAULT_REVIEW_SORT


def reviews_query(product_id: int, sort: str = DEFAULT_REVIEW_SORT) -> Select:
    """Every written review of a product, for paging, in one of ``REVIEW_SORTS``."""
    return (
        select(Rating)
        .where(Rating.product_id == product_id, Rating.review.is_not(None))
        .options(joinedload(Rating.user))
        .order_by(*REVIEW_SORTS[parse_review_sort(sort)][1])
    )


@dataclass(frozen=True)
class RatingBreakdown:
    """How many shoppers gave each number of stars (5 first), and how many wrote a review."""

    counts: dict[int, int]
    reviews: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, stars: int) -> float:
        return self.counts[stars] / self.total if self.total else 0.0


def rating_breakdown(product_id: int) -> RatingBreakdown:
    rows = db.session.execute(
        select(Rating.stars, func.count(Rating.id), func.count(Rating.review))
        .where(Rating.product_id == product_id)
        .group_by(Rating.stars)
    ).all()
    counts = dict.fromkeys(range(5, 0, -1), 0)
    for stars, count, _ in rows:
        counts[int(stars)] = int(count)
    return RatingBreakdown(counts=counts, reviews=sum(int(written) for *_, written in rows))


def buyers_among(product_id: int, user_ids: list[int]) -> set[int]:
    """Which of these shoppers bought the product (an order not cancelled): "Bought this"."""
    if not user_ids:
        return set()
    return set(
        db.session.scalars(
            select(Order.user_id)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(
                OrderLine.product_id == product_id,
                Order.user_id.in_(user_ids),
                Order.status != "cancelled",
            )
            .distinct()
        )
    )


def saved_query(user_id: int) -> Select:
    """The products the shopper likes, latest like first; hidden products are left out."""
    return (
        select(Product)
        .join(Like, Like.product_id == Product.id)
        .where(Like.user_id == user_id, Product.listed.is_(True))
        .options(joinedload(Product.category))
        .order_by(Like.created_at.desc(), Like.id.desc())
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
