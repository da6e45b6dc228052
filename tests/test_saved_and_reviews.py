"""What shoppers look for again: their saved (liked) products, and every review of a product."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shop.extensions import db
from shop.models import Like, Order, OrderLine, Rating
from tests import factories

START = datetime(2026, 1, 1, tzinfo=UTC)


def names(html: str) -> list[str]:
    return re.findall(r'class="stretched-link[^"]*product-name">([^<]+)</a>', html)


def like(user, product, minutes: int) -> None:
    db.session.add(
        Like(user_id=user.id, product_id=product.id, created_at=START + timedelta(minutes=minutes))
    )
    db.session.commit()


def test_saved_lists_the_shoppers_likes_latest_first_without_hidden_ones(client, auth, shopper):
    teapot, kettle, hidden = (factories.make_product(n) for n in ("Teapot", "Kettle", "Old Jug"))
    other = factories.make_user(email="other@example.com", name="Other")
    like(shopper, teapot, 1)
    like(shopper, kettle, 2)
    like(shopper, hidden, 3)
    like(other, factories.make_product("Someone Else's"), 4)
    hidden.listed = False
    db.session.commit()
    auth.login()

    page = client.get("/feedback/saved")

    assert page.status_code == 200
    assert names(page.get_data(as_text=True)) == ["Kettle", "Teapot"]
    assert 'href="/feedback/saved"' in client.get("/").get_data(as_text=True)  # in the header


def test_saved_needs_a_signed_in_shopper_and_says_when_it_is_empty(client, auth, shopper):
    response = client.get("/feedback/saved")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    auth.login()
    assert "Nothing saved yet." in client.get("/feedback/saved").get_data(as_text=True)


def test_a_like_on_the_product_page_puts_it_on_the_saved_list(client, auth, post, shopper):
    teapot = factories.make_product("Teapot")
    auth.login()
    assert post(f"/feedback/like/{teapot.id}").status_code == 302
    assert names(client.get("/feedback/saved").get_data(as_text=True)) == ["Teapot"]
    assert post(f"/feedback/like/{teapot.id}").status_code == 302  # pressed again: unliked
    assert names(client.get("/feedback/saved").get_data(as_text=True)) == []


def reviews_of(product, stars_and_texts):
    users = []
    for i, (stars, text) in enumerate(stars_and_texts):
        user = factories.make_user(email=f"r{i}@example.com", name=f"Reviewer {i}")
        when = START + timedelta(days=i)
        db.session.add(
            Rating(
                user_id=user.id,
                product_id=product.id,
                stars=stars,
                review=text,
                created_at=when,
                updated_at=when,
            )
        )
        users.append(user)
    product.rating_count = len(stars_and_texts)
    product.rating_sum = sum(stars for stars, _ in stars_and_texts)
    db.session.commit()
    return users


def bought(user, product, status: str = "delivered") -> None:
    order = Order(user_id=user.id, total=Decimal("5.00"), status=status)
    order.lines = [OrderLine(product_id=product.id, quantity=1, unit_price=product.price)]
    db.session.add(order)
    db.session.commit()


def review_texts(html: str) -> list[str]:
    return re.findall(r'<blockquote class="mb-1 review-text">([^<]*)</blockquote>', html)


def test_the_product_page_shows_the_breakdown_and_links_to_every_review(client):
    teapot = factories.make_product("Teapot")
    texts = [(5, f"Lovely {i}") for i in range(6)] + [(2, "Chipped"), (4, None)]
    reviews_of(teapot, texts)

    page = client.get(f"/products/{teapot.id}").get_data(as_text=True)

    counts = dict(re.findall(r'data-stars="(\d)">(\d+)<', page))
    assert counts == {"5": "6", "4": "1", "3": "0", "2": "1", "1": "0"}
    assert len(review_texts(page)) == 5
    assert f'href="/products/{teapot.id}/reviews">See all 7 reviews' in page


def test_all_reviews_page_sorts_pages_and_marks_buyers(client):
    teapot = factories.make_product("Teapot")
    texts = [(1 + i % 5, f"Review {i}") for i in range(12)]
    users = reviews_of(teapot, texts)
    bought(users[11], teapot)
    bought(users[10], teapot, status="cancelled")  # a cancelled order is not a purchase

    newest = client.get(f"/products/{teapot.id}/reviews").get_data(as_text=True)
    assert review_texts(newest) == [f"Review {i}" for i in range(11, 1, -1)]
    assert "Page 1 of 2 · 12 reviews" in newest
    first = newest[newest.index("Review 11") :]
    assert "Bought this" in first[: first.index("</figure>")]
    second = newest[newest.index("Review 10") :]
    assert "Bought this" not in second[: second.index("</figure>")]

    page_two = client.get(f"/products/{teapot.id}/reviews?page=2").get_data(as_text=True)
    assert review_texts(page_two) == ["Review 1", "Review 0"]

    lowest = client.get(f"/products/{teapot.id}/reviews?sort=lowest").get_data(as_text=True)
    assert review_texts(lowest)[:3] == ["Review 10", "Review 5", "Review 0"]
    highest = client.get(f"/products/{teapot.id}/reviews?sort=highest").get_data(as_text=True)
    assert review_texts(highest)[:2] == ["Review 9", "Review 4"]
    odd = client.get(f"/products/{teapot.id}/reviews?sort=%00bogus&page=x")
    assert odd.status_code == 200 and review_texts(odd.get_data(as_text=True))[0] == "Review 11"


def test_reviews_of_a_hidden_or_unknown_product_are_a_404(client):
    teapot = factories.make_product("Teapot")
    teapot.listed = False
    db.session.commit()
    assert client.get(f"/products/{teapot.id}/reviews").status_code == 404
    assert client.get("/products/999999/reviews").status_code == 404
