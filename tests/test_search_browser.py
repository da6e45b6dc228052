"""The search box's suggestions in a real browser: type a typo, see a suggestion, take it by keyboard.
And on a phone: the search box in sight on the home page, the filters folded behind a button.

The screenshots land in test-artifacts/: search-suggestions.png (the open dropdown),
search-results-facets.png, and phone-home.png, phone-search.png, phone-listing-filters-open.png
(390x844) beside desktop-search.png and desktop-listing.png (1366x900).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.models import Event
from tests.axe_support import assert_accessible
from tests.browser_support import ARTIFACTS, launch_chromium, new_page, running_shop

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_shop(tmp_path_factory.mktemp("search-browser-shop")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


def test_typing_mugg_suggests_the_mug_and_the_keyboard_follows_it(shop, browser):
    base, app, _ = shop
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    context, page = new_page(browser)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{base}/")
    box = page.get_by_role("combobox", name="Search products")
    assert box.get_attribute("aria-expanded") == "false"
    box.press_sequentially("mugg", delay=60)

    option = page.get_by_role("option", name=re.compile("Stoneware Mug Set"))
    option.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    assert page.get_by_role("status").filter(has_text="Suggestions for mug").count() == 1

    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == option.get_attribute("id")
    assert option.get_attribute("aria-selected") == "true"
    page.screenshot(path=str(ARTIFACTS / "search-suggestions.png"))

    box.press("Enter")
    page.wait_for_url(re.compile(r"/products/\d+\?src=search-suggest$"))
    assert page.get_by_role("heading", name="Stoneware Mug Set").count() == 1
    with app.app_context():
        sources = db.session.scalars(select(Event.source).where(Event.kind == "click")).all()
    assert "search-suggest" in sources
    assert errors == []
    context.close()


def test_escape_closes_the_suggestions_and_enter_then_searches(shop, browser):
    base, _app, _ = shop
    context, page = new_page(browser)

    page.goto(f"{base}/products")
    box = page.get_by_role("combobox", name="Search products")
    box.press_sequentially("lant", delay=40)
    page.get_by_role("option", name=re.compile("Lantern")).first.wait_for()

    box.press("Escape")
    assert page.locator("#search-suggestions").is_hidden()
    assert box.get_attribute("aria-expanded") == "false"

    box.press("Enter")  # no option active: the form submits as it does without JavaScript
    page.wait_for_url(re.compile(r"/search\?q=lant$"))
    assert page.locator(".product-card").count() == 2

    facets = page.get_by_role("navigation", name="Filter the results")
    facets.get_by_role("link", name=re.compile("Garden")).click()  # a facet narrows the results
    page.wait_for_url(re.compile(r"/search\?q=lant&category=garden$"))
    assert page.locator(".product-card").count() == 1
    page.screenshot(path=str(ARTIFACTS / "search-results-facets.png"), full_page=True)
    context.close()


def test_on_a_phone_the_search_box_is_in_sight_and_the_filters_fold_away(shop, browser):
    base, _app, _ = shop
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = new_page(browser, width=390, height=844)

    page.goto(f"{base}/")
    phone_search = page.get_by_role("search", name="Search the shop")
    box = phone_search.get_by_role("combobox", name="Search products")
    assert box.is_visible()  # without opening the menu
    assert page.locator("#mainnav").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "phone-home.png"))
    assert_accessible(page, "phone-home")

    box.fill("lantern")
    phone_search.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/search\?q=lantern$"))
    toggle = page.get_by_role("button", name="Filters")
    facets = page.get_by_role("navigation", name="Filter the results")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert facets.is_hidden()
    first_card = page.locator(".product-card").first.bounding_box()
    assert first_card is not None and first_card["y"] < 844  # results above the fold
    page.screenshot(path=str(ARTIFACTS / "phone-search.png"))
    assert_accessible(page, "phone-search")

    page.goto(f"{base}/products?category=garden")
    toggle = page.get_by_role("button", name="Filters")
    facets = page.get_by_role("navigation", name="Filter the products")
    assert facets.is_hidden()
    toggle.click()
    page.wait_for_selector("#filters-panel.collapse.show")
    assert toggle.get_attribute("aria-expanded") == "true"
    facets.get_by_role("link", name=re.compile("Glowco")).click()
    page.wait_for_url(re.compile(r"/products\?category=garden&brand=Glowco$"))
    assert page.locator(".product-card").count() == 2
    assert page.get_by_role("button", name="Filters (1 chosen)").is_visible()
    page.get_by_role("button", name="Filters (1 chosen)").click()
    page.wait_for_selector("#filters-panel.collapse.show")  # opened, the animation over
    assert page.get_by_role("link", name="Clear the filters").is_visible()
    page.screenshot(path=str(ARTIFACTS / "phone-listing-filters-open.png"), full_page=True)
    assert_accessible(page, "phone-listing-filters-open")
    context.close()


def test_on_a_wide_screen_the_filters_are_open_beside_the_results(shop, browser):
    base, _app, _ = shop
    context, page = new_page(browser, width=1366, height=900)

    page.goto(f"{base}/search?q=lantern")
    assert page.get_by_role("button", name="Filters").is_hidden()
    assert page.get_by_role("navigation", name="Filter the results").is_visible()
    page.screenshot(path=str(ARTIFACTS / "desktop-search.png"))

    page.goto(f"{base}/products?category=garden&price=10-25")
    assert page.get_by_role("navigation", name="Filter the products").is_visible()
    assert page.locator(".product-card").count() == 2
    page.screenshot(path=str(ARTIFACTS / "desktop-listing.png"))
    assert_accessible(page, "desktop-listing")
    context.close()
