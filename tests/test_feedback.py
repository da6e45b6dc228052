"""Ratings and likes: stored once per shopper and product, counters in step, JSON for fetch()."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import Like, Product, Rating
from shop.services import feedback
from tests import factories
from tests.conftest import csrf_token

JSON = {"Accept": "application/json"}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def fresh(product: Product) -> Product:
    db.session.expire_all()
    return db.session.get(Product, product.id)


@pytest.fixture
def product(app):
    return factories.make_product("Brass Lantern")


@pytest.fixture
def signed_in(auth, shopper):
    auth.login()
    return shopper


def test_rating_is_stored_and_counted(client, post, signed_in, product):
    response = post(f"/feedback/rate/{product.id}", {"stars": "4", "review": "Lovely glow."})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/products/{product.id}#rate")
    rating = db.session.scalar(select(Rating))
    assert (rating.user_id, rating.stars, rating.review) == (signed_in.id, 4, "Lovely glow.")
    assert (fresh(product).rating_count, fresh(product).rating_sum) == (1, 4)
    page = client.get(f"/products/{product.id}").get_data(as_text=True)
    assert "Thanks! Your rating is saved." in page
    assert "Lovely glow." in page
    assert "Update rating" in page


def test_re_rating_updates_the_same_row_and_keeps_counters_right(
    client, auth, post, shopper, product
):
    other = factories.make_user(email="other@example.com")
    db.session.add(Rating(user_id=other.id, product_id=product.id, stars=2))
    product.rating_sum, product.rating_count = 2, 1
    db.session.commit()
    auth.login()

    post(f"/feedback/rate/{product.id}", {"stars": "1"})
    response = post(f"/feedback/rate/{product.id}", {"stars": "5", "review": "Changed my mind"})

    assert response.status_code == 302
    assert count(Rating) == 2
    mine = db.session.scalar(select(Rating).where(Rating.user_id == shopper.id))
    assert (mine.stars, mine.review) == (5, "Changed my mind")
    assert (fresh(product).rating_count, fresh(product).rating_sum) == (2, 7)
    assert "Your rating is updated to 5 stars." in client.get(f"/products/{product.id}").get_data(
        as_text=True
    )


def test_rating_answers_json_to_fetch(post, signed_in, product):
    response = post(f"/feedback/rate/{product.id}", {"stars": "5"}, headers=JSON)

    assert response.status_code == 200
    assert response.json == {
        "stars": 5,
        "rating_avg": 5.0,
        "rating_avg_text": "5.0",
        "rating_count": 1,
        "rating_stars": "★★★★★",
        "message": "Thanks! Your rating is saved.",
    }


@pytest.mark.parametrize(
    "stars",
    # The last four read as 4 to int() (Arabic-Indic, fullwidth, mathematical digits, spaces),
    # yet the radio group never offers them.
    [
        "0",
        "6",
        "abc",
        "2.5",
        "",
        "-1",
        "99999999999999999999",
        "\u0664",
        "\uff14",
        "\U0001d7d2",
        " 4 ",
    ],
)
def test_invalid_stars_are_refused_and_nothing_is_stored(client, post, signed_in, product, stars):
    as_form = post(f"/feedback/rate/{product.id}", {"stars": stars})
    as_json = post(f"/feedback/rate/{product.id}", {"stars": stars}, headers=JSON)

    assert as_form.status_code == 400
    assert "Choose a rating from 1 to 5 whole stars." in as_form.get_data(as_text=True)
    assert "Brass Lantern" in as_form.get_data(as_text=True)  # the product page, with the error
    assert as_json.status_code == 400
    assert as_json.json["error"]["message"] == "Choose a rating from 1 to 5 whole stars."
    assert count(Rating) == 0
    assert (fresh(product).rating_count, fresh(product).rating_sum) == (0, 0)


def test_missing_stars_field_is_refused(post, signed_in, product):
    response = post(f"/feedback/rate/{product.id}", {"review": "No stars"}, headers=JSON)
    assert response.status_code == 400
    assert count(Rating) == 0


def test_a_review_over_500_characters_is_refused(post, signed_in, product):
    response = post(f"/feedback/rate/{product.id}", {"stars": "3", "review": "x" * 501})

    assert response.status_code == 400
    assert "500 characters" in response.get_data(as_text=True)
    assert count(Rating) == 0


def test_control_characters_are_dropped_from_reviews(post, signed_in, product):
    response = post(
        f"/feedback/rate/{product.id}", {"stars": "4", "review": "Nice\x00 one\r\nReally"}
    )

    assert response.status_code == 302
    assert db.session.scalar(select(Rating.review)) == "Nice one\nReally"


def test_reviews_are_shown_as_text_not_markup(client, post, signed_in, product):
    post(f"/feedback/rate/{product.id}", {"stars": "3", "review": "<script>alert(1)</script>"})

    html = client.get(f"/products/{product.id}").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_like_toggles_and_keeps_the_like_count(post, signed_in, product):
    first = post(f"/feedback/like/{product.id}", headers=JSON)
    assert first.json["liked"] is True and first.json["like_count"] == 1
    assert count(Like) == 1

    second = post(f"/feedback/like/{product.id}", headers=JSON)
    assert second.json["liked"] is False and second.json["like_count"] == 0
    assert count(Like) == 0
    assert fresh(product).like_count == 0


def test_like_by_form_redirects_back_and_the_page_shows_it(client, post, signed_in, product):
    response = post(f"/feedback/like/{product.id}")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/products/{product.id}#like")
    html = client.get(f"/products/{product.id}").get_data(as_text=True)
    assert 'aria-pressed="true"' in html
    assert "Liked" in html


@pytest.mark.parametrize("action", ["rate", "like"])
def test_a_form_post_when_signed_out_goes_to_sign_in_and_back(client, post, product, action):
    response = post(f"/feedback/{action}/{product.id}", {"stars": "4"})

    assert response.status_code == 302
    assert f"/auth/login?next=/products/{product.id}" in response.headers["Location"]
    assert count(Rating) == 0 and count(Like) == 0


@pytest.mark.parametrize("action", ["rate", "like"])
def test_a_fetch_when_signed_out_gets_401_json(post, product, action):
    response = post(f"/feedback/{action}/{product.id}", {"stars": "4"}, headers=JSON)

    assert response.status_code == 401
    assert response.json["error"]["message"] == "Please sign in to rate or like products."


@pytest.mark.parametrize("action", ["rate", "like"])
def test_a_post_without_csrf_token_is_refused(client, signed_in, product, action):
    response = client.post(f"/feedback/{action}/{product.id}", data={"stars": "4"})

    assert response.status_code == 303  # back to the page, with a message (test_session_expired)
    assert "Your session expired" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert count(Rating) == 0 and count(Like) == 0


@pytest.mark.parametrize("action", ["rate", "like"])
def test_feedback_on_an_unknown_product_is_404(post, signed_in, action):
    assert post(f"/feedback/{action}/424242", {"stars": "4"}).status_code == 404


@pytest.mark.parametrize("action", ["rate", "like"])
def test_feedback_urls_are_post_only(client, signed_in, product, action):
    assert client.get(f"/feedback/{action}/{product.id}").status_code == 405


def test_the_csrf_header_from_javascript_is_accepted(client, signed_in, product):
    token = csrf_token(client, f"/products/{product.id}")

    response = client.post(f"/feedback/like/{product.id}", headers={**JSON, "X-CSRFToken": token})

    assert response.status_code == 200 and response.json["liked"] is True


def test_rate_product_service_refuses_stars_out_of_range(product, shopper):
    with pytest.raises(ValueError):
        feedback.rate_product(shopper.id, product.id, 0)
    assert count(Rating) == 0
