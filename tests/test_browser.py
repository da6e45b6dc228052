"""A shopper in a real browser: register, search, open a product, rate it and like it.

Screenshots of the home page, the search results and the product page land in test-artifacts/ so a
person can look at what the shop shows.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.models import Like, Rating
from tests.browser_support import ARTIFACTS, launch_chromium, new_page, running_shop

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_shop(tmp_path_factory.mktemp("browser-shop")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


def register(page, base: str, email: str, name: str) -> None:
    page.goto(f"{base}/auth/register")
    page.fill("input[name=email]", email)
    page.fill("input[name=display_name]", name)
    page.fill("input[name=password]", "correct-horse-battery")
    page.fill("input[name=confirm]", "correct-horse-battery")
    page.click("main form [type=submit]")
    page.wait_for_url(f"{base}/")
    assert f"Sign out ({name})" in page.content()


def test_shopper_registers_searches_rates_and_likes_a_product(shop, browser):
    base, app, _ = shop
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    context, page = new_page(browser)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )

    page.goto(f"{base}/")
    assert page.locator("#top-clicked .product-card").count() == 5
    page.screenshot(path=str(ARTIFACTS / "home-page.png"), full_page=True)

    register(page, base, "browser@example.com", "Bea Browser")
    page.screenshot(path=str(ARTIFACTS / "home-page-signed-in.png"), full_page=True)

    page.fill("nav input[name=q]", "lantern")
    page.press("nav input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"/search\?q=lantern"))
    results = page.locator(".product-card .product-name")
    assert results.count() == 2
    assert results.first.inner_text() in ("Brass Garden Lantern", "Glass Candle Lantern")
    page.screenshot(path=str(ARTIFACTS / "search-results.png"), full_page=True)

    page.click("text=Brass Garden Lantern")
    page.wait_for_url(re.compile(r"/products/\d+\?src=search"))
    assert "£45.00" in page.inner_text(".product-page")

    page.click("label[for=star4]")
    page.fill("textarea[name=review]", "Lovely warm glow on the patio.")
    page.click("#rate button[type=submit]")
    page.wait_for_selector("#rate [data-status].text-success")
    assert page.inner_text("[data-rating-count]") == "1"
    assert page.inner_text("[data-rating-avg]") == "4.0"

    page.click("#like button")
    page.wait_for_selector("#like button.liked[aria-pressed=true]")
    assert page.inner_text("[data-like-count]") == "1"

    # What the server renders after a reload agrees with what the script showed.
    page.reload()
    assert page.inner_text("[data-rating-avg]") == "4.0"
    assert page.is_checked("#star4")
    assert page.get_attribute("#like button", "aria-pressed") == "true"
    assert "Liked" in page.inner_text("#like button")
    assert "Lovely warm glow on the patio." in page.inner_text("#reviews")
    page.screenshot(path=str(ARTIFACTS / "product-page.png"), full_page=True)
    context.close()

    assert errors == []  # no CSP violations, no script errors
    with app.app_context():
        assert db.session.scalar(select(Rating.stars)) == 4
        assert db.session.scalar(select(Like.id)) is not None
        db.session.remove()


def test_rating_and_liking_work_without_javascript(shop, browser):
    base, app, _ = shop
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = new_page(browser, java_script_enabled=False)
    register(page, base, "nojs@example.com", "Nina NoScript")

    page.goto(f"{base}/products?category=toys")
    page.screenshot(path=str(ARTIFACTS / "category-listing.png"), full_page=True)
    page.click("text=Knitted Bunny")
    page.click("label[for=star5]")
    page.click("#rate button[type=submit]")
    page.wait_for_url(re.compile(r"/products/\d+#rate$"))
    assert "Thanks! Your rating is saved." in page.content()
    assert page.inner_text("[data-rating-avg]") == "5.0"

    page.click("#like button")
    page.wait_for_url(re.compile(r"/products/\d+#like$"))
    assert page.get_attribute("#like button", "aria-pressed") == "true"
    context.close()
