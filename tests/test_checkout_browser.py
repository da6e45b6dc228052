"""A shopper's cart and checkout in a real browser: a visitor's cart survives sign-up, a guest
checks out, and an expired session is explained rather than answered with an error page.

Screenshots at desktop (1366x900) and phone (390x844) widths land in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from tests.browser_support import ARTIFACTS, launch_chromium, new_page, running_shop

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_shop(tmp_path_factory.mktemp("checkout-shop")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


def _watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def _add(page, base: str, name: str) -> None:
    page.goto(f"{base}/products")
    page.click(f"text={name}")
    page.wait_for_url(re.compile(r"/products/\d+"))
    page.click("#add-to-cart button[type=submit]")
    page.wait_for_selector("#add-to-cart [data-status].text-success")


def _shots(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_a_visitors_cart_survives_registration(shop, browser):
    email = "visitor-cart@example.com"
    base = shop.url
    context, page = new_page(browser, **DESKTOP)
    errors = _watch_errors(page)
    try:
        page.goto(f"{base}/")
        page.goto(f"{base}/products")
        page.click("text=Knitted Bunny")
        page.wait_for_url(re.compile(r"/products/\d+"))
        assert context.cookies() == []  # looking around sets no cookie
        _add(page, base, "Enamel Tea Kettle")
        assert [c["name"] for c in context.cookies()] == ["session"]  # the first add starts it
        assert page.locator("[data-cart-count]").first.inner_text() == "1"
        _add(page, base, "Knitted Bunny")
        assert page.locator("[data-cart-count]").first.inner_text() == "2"
        page.goto(f"{base}/auth/register")
        page.fill("input[name=email]", email)
        page.fill("input[name=display_name]", "Vic Visitor")
        page.fill("input[name=password]", "correct-horse-battery")
        page.fill("input[name=confirm]", "correct-horse-battery")
        page.click("main form [type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/cart")
        lines = page.locator(".cart-lines li")
        assert lines.count() == 2
        text = page.inner_text(".cart-lines")
        assert "Enamel Tea Kettle" in text and "Knitted Bunny" in text
        assert page.locator("[data-cart-count]").first.inner_text() == "2"
        assert "Sign out (Vic Visitor)" in page.content()
        _shots(page, "cart-after-registration")
        assert errors == []
    finally:
        context.close()


def test_a_guest_checks_out_with_bank_transfer(shop, browser):
    base = shop.url
    context, page = new_page(browser, **DESKTOP)
    errors = _watch_errors(page)
    try:
        _add(page, base, "Oak Chopping Board")
        page.goto(f"{base}/cart")
        page.click("text=Check out")
        page.wait_for_url(re.compile(r"/checkout\??$"))
        page.fill("#email", "guest-browser@example.com")
        page.fill("#name", "Gwen Guest")
        page.fill("#line1", "7 Quay Street")
        page.fill("#line2", "Flat 2")
        page.fill("#city", "Bristol")
        page.fill("#postcode", "BS1 4DJ")
        page.select_option("#country", "GB")
        page.check("#delivery-1")  # express
        page.check("#payment-0")  # bank transfer
        _shots(page, "checkout-details")
        page.click("text=Review your order")
        page.wait_for_url(f"{base}/checkout/review")
        assert page.inner_text("[data-review-total]") == "£36.95"  # 28.00 + 8.95 express
        _shots(page, "checkout-review")
        page.click("button:has-text('Place order')")
        page.wait_for_url(re.compile(r"/checkout/confirmation/\d+$"))
        text = page.inner_text("main")
        assert "is placed" in text and "Oak Chopping Board" in text
        assert "7 Quay Street" in text and "Sort code" in text
        assert "Create my account" in text
        _shots(page, "checkout-confirmation")
        assert errors == []
    finally:
        context.close()


def test_a_session_that_expires_mid_rating_is_explained_and_the_rating_kept(shop, browser):
    base = shop.url
    context, page = new_page(browser, **DESKTOP)
    errors = _watch_errors(page)
    try:
        page.goto(f"{base}/auth/register")
        page.fill("input[name=email]", "expiring@example.com")
        page.fill("input[name=display_name]", "Eve Expiring")
        page.fill("input[name=password]", "correct-horse-battery")
        page.fill("input[name=confirm]", "correct-horse-battery")
        page.click("main form [type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/products")
        page.click("text=Brass Garden Lantern")
        page.wait_for_url(re.compile(r"/products/\d+"))
        product_url = page.url.split("?")[0]
        page.click("label[for=star4]")
        page.fill("textarea[name=review]", "Lovely warm glow on the patio.")
        context.clear_cookies()  # the session ends while the shopper is typing
        page.click("#rate button[type=submit]")
        page.wait_for_url(re.compile(r"/auth/login\?next="))
        assert "Your session expired, so you are signed out" in page.inner_text("main")
        assert "we kept your rating" in page.inner_text("main")
        _shots(page, "session-expired-sign-in")
        page.fill("input[name=email]", "expiring@example.com")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("main form [type=submit]")
        page.wait_for_url(re.compile(re.escape(product_url)))
        assert page.is_checked("#star4")
        assert page.input_value("textarea[name=review]") == "Lovely warm glow on the patio."
        assert "filled in below" in page.inner_text("main")
        page.locator("#rate").scroll_into_view_if_needed()
        _shots(page, "session-expired-rating-kept")
        page.click("#rate button[type=submit]")
        page.wait_for_selector("#rate [data-status].text-success")
        assert page.inner_text("[data-rating-count]") == "1"
        # the 401 of the expired post is the browser's console error for that fetch, nothing else
        assert [e for e in errors if "401" not in e] == []
    finally:
        context.close()
