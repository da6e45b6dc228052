"""The signed-in home page in a real browser: discoveries, "Buy it again" and "Recently viewed".

The screenshot lands in test-artifacts/home-history-rows.png so a person can look at the rows.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import current_app

from shop.extensions import db
from shop.models import Event, Order, OrderLine
from shop.training.runs import train_and_publish
from tests.browser_support import ARTIFACTS, launch_chromium, new_page, running_shop
from tests.test_training import START, build_small_shop

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse"


def fill_shop_with_a_regular_customer() -> dict:
    """The small trained shop, and a shopper who re-orders one product and browses a few more."""
    shop = build_small_shop()
    user = shop["users"][0]
    user.set_password(PASSWORD)
    kitchen = shop["products"]["Kitchen"]
    later = START + timedelta(days=70)
    for days in (0, 14, 28):
        placed = Order(user_id=user.id, total=Decimal("9.99"), created_at=later + timedelta(days))
        placed.lines = [OrderLine(product_id=kitchen[0].id, quantity=1, unit_price=Decimal("9.99"))]
        db.session.add(placed)
    viewed = shop["products"]["Garden"][:3]
    for minutes, product in enumerate(viewed):
        db.session.add(
            Event(
                user_id=user.id,
                product_id=product.id,
                kind="view",
                created_at=later + timedelta(days=30, minutes=minutes),
            )
        )
    db.session.commit()
    run = train_and_publish(current_app._get_current_object(), evaluate=False)
    assert run.status == "succeeded", run.error
    return {
        "email": user.email,
        "rebought": kitchen[0].name,
        "viewed_newest_first": [p.name for p in reversed(viewed)],
    }


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_shop(
        tmp_path_factory.mktemp("rows-shop"), fill_shop_with_a_regular_customer
    ) as running:
        yield running


def names(page, row: str) -> list[str]:
    return page.locator(f"#{row} .product-name").all_inner_texts()


def test_signed_in_home_page_shows_discoveries_apart_from_the_shoppers_history(shop):
    base, _, filled = shop
    ARTIFACTS.mkdir(exist_ok=True)
    with launch_chromium() as browser:
        context, page = new_page(browser)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/auth/login")
        page.fill("input[name=email]", filled["email"])
        page.fill("input[name=password]", PASSWORD)
        page.click("main form [type=submit]")
        page.wait_for_url(f"{base}/")

        for_you = names(page, "for-you")
        again = names(page, "buy-again")
        recent = names(page, "recently-viewed")
        assert len(for_you) == 10
        assert again[0] == filled["rebought"]
        assert "You have bought this 3 times" in page.inner_text("#buy-again")
        assert recent[:3] == filled["viewed_newest_first"]
        assert not set(for_you) & (set(again) | set(recent))  # discovery: nothing already touched
        assert page.locator("#buy-again").is_visible()
        assert page.locator("#recently-viewed").is_visible()
        page.screenshot(path=str(ARTIFACTS / "home-history-rows.png"), full_page=True)
        context.close()
        assert errors == []


# --- the demo shop's home page: compact, nothing twice -------------------------------------------


def fill_demo_shop() -> None:
    """The `make run` demo (smaller), trained, with its demo shopper."""
    from shop.seeding import seed_database
    from shop.seeding.generator import SeedOptions

    seed_database(SeedOptions(users=120, products=80, events=6_000, seed=42))
    run = train_and_publish(current_app._get_current_object(), evaluate=False)
    assert run.status == "succeeded", run.error


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with running_shop(tmp_path_factory.mktemp("demo-home"), fill_demo_shop) as running:
        yield running


def home_rows(page) -> list[tuple[str, list[str]]]:
    """(row id, product hrefs) for every product row of the page, in order."""
    rows = []
    for section in page.locator("main section.product-section").all():
        links = section.locator(".product-card a.product-name").all()
        ids = [link.get_attribute("href").split("?")[0] for link in links]
        rows.append((section.get_attribute("id"), ids))
    return rows


def check_home(page, label: str, width: int) -> list[str]:
    rows = home_rows(page)
    shown = [href for _, ids in rows for href in ids]
    assert 1 <= len(rows) <= 5, rows
    assert len(shown) == len(set(shown)), f"{label}: a product twice: {rows}"
    assert all(ids for _, ids in rows), f"{label}: an empty row: {rows}"
    if width < 576:  # a phone: rows swipe sideways instead of stacking into tall grids
        grid = page.locator("main section.product-section .row").first
        assert grid.evaluate("e => getComputedStyle(e).flexWrap") == "nowrap"
        assert grid.evaluate("e => e.scrollWidth > e.clientWidth")
    page.screenshot(path=str(ARTIFACTS / f"home-{label}-{width}.png"), full_page=True)
    return [row_id for row_id, _ in rows]


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_the_demo_shoppers_and_a_new_accounts_home_pages_are_compact(demo, width, height):
    from shop.seeding.generator import DEMO_EMAIL, DEMO_PASSWORD

    ARTIFACTS.mkdir(exist_ok=True)
    with launch_chromium() as browser:
        context, page = new_page(browser, width=width, height=height)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{demo.url}/auth/login")
        page.fill("input[name=email]", DEMO_EMAIL)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("main form [type=submit]")
        page.wait_for_url(f"{demo.url}/")
        rows = check_home(page, "demo-shopper", width)
        assert rows[0] == "for-you" and "top-clicked" in rows  # her own picks lead
        assert "Based on your activity" in page.inner_text("#for-you-slot")
        context.close()

        context, page = new_page(browser, width=width, height=height)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{demo.url}/auth/register")
        page.fill("input[name=display_name]", "Nell Newcomer")
        page.fill("input[name=email]", f"newcomer-{width}@example.com")
        page.fill("input[name=password]", "a-long-enough-password")
        page.fill("input[name=confirm]", "a-long-enough-password")
        page.click("main form [type=submit]")
        page.wait_for_load_state()
        page.goto(f"{demo.url}/")
        rows = check_home(page, "new-account", width)
        assert rows[0] == "top-clicked" and "for-you" not in rows
        assert "Based on your activity" not in page.inner_text("main")
        assert "Popular now" in page.inner_text("#top-clicked")
        context.close()
        assert errors == []
