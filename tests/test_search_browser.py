"""The search box's suggestions in a real browser: type a typo, see a suggestion, take it by keyboard.

The screenshot of the open dropdown lands in test-artifacts/search-suggestions.png.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.models import Event
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
