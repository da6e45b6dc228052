"""A day in the demo shop, in a real browser: what the admin changes, the shopper sees.

The admin adds a product with a picture, changes a price, sells a product out, ships one order and
cancels another; the shopper finds the new product (its page, the home page's "New in" row and the
"Similar products" of the product it resembles, before any retrain), the sold-out mark, the new
price and the orders' statuses with their history. Every step is a click or a form fill in
Debian's chromium against the real server; screenshots land in test-artifacts/day-*.png.
"""

from __future__ import annotations

import re

import pytest
from flask import current_app
from PIL import Image, ImageDraw

from shop.extensions import db
from shop.models import StockReason
from shop.services import stock
from shop.training.runs import train_and_publish
from tests import factories
from tests.browser_support import ARTIFACTS, launch_chromium, new_page, running_shop
from tests.test_training import build_small_shop

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
SHOPPER_EMAIL = "dana@example.com"
SHOPPER_PASSWORD = "shopper-password-1"
SHOPPER_NAME = "Dana Shopper"
UNITS = 10

NEW_PRODUCT = "Copper Teapot"
LOOKALIKE = "Teapot Kitchen"  # the seeded product whose text the new one shares
REPRICED = "Kettle Kitchen"
SOLD_OUT = "Mug Kitchen"
SHIPPED = "Spade Garden"
CANCELLED = "Rake Garden"
CANCEL_REASON = "Ordered twice by mistake; the shopper asked us to cancel."


def fill_a_trained_shop() -> None:
    """The small shop of the training tests, counted stock, an admin, a shopper, a trained model."""
    shop = build_small_shop()
    for product in shop["products"]["Kitchen"] + shop["products"]["Garden"]:
        stock.set_count(product, UNITS, StockReason.INITIAL)
    db.session.commit()
    factories.make_user(ADMIN_EMAIL, ADMIN_PASSWORD, "Alex Admin", is_admin=True)
    factories.make_user(SHOPPER_EMAIL, SHOPPER_PASSWORD, SHOPPER_NAME)
    run = train_and_publish(current_app._get_current_object(), evaluate=False)
    assert run.status == "succeeded", run.error


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_shop(tmp_path_factory.mktemp("day-shop"), fill_a_trained_shop) as running:
        yield running


def a_photo(folder) -> str:
    """A small real JPEG: a copper-coloured teapot shape on a pale background."""
    image = Image.new("RGB", (480, 360), (246, 240, 230))
    draw = ImageDraw.Draw(image)
    draw.ellipse((140, 120, 340, 300), fill=(184, 115, 51))
    draw.rectangle((215, 90, 265, 125), fill=(150, 90, 40))
    draw.polygon([(330, 190), (420, 140), (425, 155), (340, 225)], fill=(170, 105, 45))
    draw.arc((90, 150, 170, 250), 90, 270, fill=(150, 90, 40), width=12)
    path = folder / "copper-teapot.jpg"
    image.save(path, "JPEG", quality=85)
    return str(path)


class Day:
    """The two browser windows of the day, and a numbered screenshot of each step."""

    def __init__(self, browser, base: str):
        self.base = base
        self.problems: list[str] = []
        self.shots = 0
        self.contexts = []
        self.admin = self._window(browser)
        self.shopper = self._window(browser)

    def _window(self, browser):
        context, page = new_page(browser, width=1280, height=900, timeout_ms=20_000)
        page.on("pageerror", lambda exc: self.problems.append(f"{page.url}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.problems.append(f"{page.url}: {msg.text}") if msg.type == "error" else None
            ),
        )
        self.contexts.append(context)
        return page

    def shot(self, page, name: str) -> None:
        self.shots += 1
        page.screenshot(path=str(ARTIFACTS / f"day-{self.shots:02d}-{name}.png"), full_page=True)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def search(page, words: str) -> None:
    box = page.locator("nav.navbar").get_by_label("Search products")
    box.fill(words)
    box.press("Enter")


def open_card(scope, name: str) -> None:
    """Click a product card's name (its picture links to the same page)."""
    scope.locator(".product-name").get_by_text(name, exact=True).click()


def flash_text(page) -> str:
    return " ".join(page.locator(".alert").all_inner_texts())


def open_admin_product(page, base: str, name: str) -> None:
    """From the admin's product list, filtered by name, to the product's edit page."""
    page.goto(f"{base}/admin/products")
    page.get_by_label("Name, SKU or brand").fill(name)
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=f"Edit {name}").click()
    page.wait_for_url(re.compile(r"/admin/products/\d+/edit$"))


def admin_adds_a_product_with_a_picture(day: Day, photo: str) -> str:
    page, base = day.admin, day.base
    page.goto(f"{base}/admin/products")
    page.get_by_role("link", name="New product").click()
    page.wait_for_url(f"{base}/admin/products/new")
    page.get_by_label("Name", exact=True).fill(NEW_PRODUCT)
    page.get_by_label("SKU").fill("KIT-COPPER-1")
    page.get_by_label("Description").fill(
        "A copper teapot for the kitchen: this teapot brews six cups and keeps them warm."
    )
    page.get_by_label("Category").select_option(label="Kitchen")
    page.get_by_label("Brand").fill("Acme")
    page.get_by_label("Price").fill("24.00")
    page.get_by_label("Stock (units on hand").fill("5")
    day.shot(page, "admin-new-product-form")
    page.get_by_role("button", name="Create product").click()
    page.wait_for_url(re.compile(r"/admin/products/\d+/edit$"))
    assert f"“{NEW_PRODUCT}” created." in flash_text(page)
    product_url = page.url.replace("/admin/products/", "/products/").removesuffix("/edit")

    page.get_by_label("New picture").set_input_files(photo)
    page.get_by_role("button", name="Save picture").click()
    page.wait_for_load_state()
    assert "Picture saved." in flash_text(page)
    picture = page.get_by_role("img", name=NEW_PRODUCT)
    assert re.search(r"^/pictures/[0-9a-f]{64}-\d+\.webp$", picture.get_attribute("src"))
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator("#stock-level").inner_text().startswith("5")
    day.shot(page, "admin-new-product-with-picture")
    return product_url


def admin_changes_a_price(day: Day) -> None:
    page = day.admin
    open_admin_product(page, day.base, REPRICED)
    page.get_by_label("Price").fill("12.50")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    assert "Saved: price." in flash_text(page)
    day.shot(page, "admin-price-changed")


def admin_sells_a_product_out(day: Day) -> None:
    page = day.admin
    open_admin_product(page, day.base, SOLD_OUT)
    page.get_by_label("Change (+ received, - removed)").fill(f"-{UNITS}")
    page.get_by_label("Note").fill("Stock count: the last mugs were broken")
    page.get_by_role("button", name="Adjust stock").click()
    page.wait_for_load_state()
    assert f"Stock of “{SOLD_OUT}” is now 0." in flash_text(page)
    assert page.locator("#stock-level").inner_text().startswith("0")
    day.shot(page, "admin-sold-out")


def shopper_sees_the_new_product(day: Day, product_url: str) -> None:
    page, base = day.shopper, day.base
    page.goto(f"{base}/")
    new_in = page.locator("#new-in .product-name").all_inner_texts()
    assert new_in and new_in[0] == NEW_PRODUCT, new_in
    # Nothing viewed or bought yet: no list claims to be personal; the shop's lists say "Popular".
    assert page.locator("#for-you").count() == 0
    assert "Popular now" in page.locator("#top-clicked").inner_text()
    assert "Based on your activity" not in page.inner_text("main")
    day.shot(page, "shopper-home-new-in")
    open_card(page.locator("#new-in"), NEW_PRODUCT)
    page.wait_for_url(re.compile(re.escape(product_url) + r"\?src="))
    assert page.get_by_role("heading", level=1).inner_text() == NEW_PRODUCT
    hero = page.locator(".product-page img").first
    assert re.search(r"^/pictures/[0-9a-f]{64}-\d+\.webp$", hero.get_attribute("src"))
    assert hero.evaluate("img => img.complete && img.naturalWidth > 0")
    assert "£24.00" in page.locator(".product-page .price").inner_text()
    # Its own neighbours come from its text, too: the product it was written like leads them.
    assert page.locator("#similar .product-name").first.inner_text() == LOOKALIKE
    day.shot(page, "shopper-new-product-page")

    # The product whose text it shares lists it among "Similar products", before any retrain.
    search(page, "teapot")
    page.wait_for_url(re.compile(r"/search\?q=teapot"))
    open_card(page.locator(".product-card"), LOOKALIKE)
    page.wait_for_url(re.compile(r"/products/\d+"))
    similar = page.locator("#similar .product-name").all_inner_texts()
    day.shot(page, "shopper-similar-products")
    assert NEW_PRODUCT in similar, similar


def shopper_sees_the_price_and_the_sold_out_mark(day: Day) -> None:
    page, base = day.shopper, day.base
    page.goto(f"{base}/products?category=kitchen")
    cards = page.locator(".product-card")
    kettle = cards.filter(has_text=REPRICED)
    assert "£12.50" in kettle.inner_text()
    mug = cards.filter(has_text=SOLD_OUT)
    assert "Out of stock" in mug.inner_text()
    assert "Out of stock" not in kettle.inner_text()
    day.shot(page, "shopper-kitchen-listing")

    open_card(kettle, REPRICED)
    page.wait_for_url(re.compile(r"/products/\d+"))
    assert "£12.50" in page.locator(".product-page .price").inner_text()

    search(page, "mug")
    page.wait_for_url(re.compile(r"/search\?q=mug"))
    mug = page.locator(".product-card").filter(has_text=SOLD_OUT)
    assert "Out of stock" in mug.inner_text()
    day.shot(page, "shopper-search-sold-out")
    open_card(mug, SOLD_OUT)
    page.wait_for_url(re.compile(r"/products/\d+"))
    assert page.locator("[data-stock-label]").inner_text() == "Out of stock"
    assert page.get_by_role("button", name="Out of stock").is_disabled()
    assert page.get_by_role("button", name="Add to cart").count() == 0
    day.shot(page, "shopper-sold-out-product")


def shopper_orders(day: Day, name: str, quantity: int) -> int:
    """Search, open the product, add it to the cart, check out; the new order's number."""
    page = day.shopper
    search(page, name)
    page.wait_for_url(re.compile(r"/search\?q="))
    open_card(page.locator(".product-card"), name)
    page.wait_for_url(re.compile(r"/products/\d+"))
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    page.locator("#add-to-cart [data-status]").filter(has_text="to your cart").wait_for()
    page.get_by_role("link", name=re.compile(r"^Cart\b")).click()
    page.wait_for_url(f"{day.base}/cart")
    assert name in page.locator(".cart-lines").inner_text()
    page.get_by_role("button", name="Check out").click()
    page.wait_for_url(re.compile(r"/checkout\??$"))
    page.get_by_label("Full name").fill("Day Shopper")
    page.get_by_label("Address line 1").fill("1 High Street")
    page.get_by_label("Town or city").fill("Bristol")
    page.get_by_label("Postcode").fill("BS1 4DJ")
    page.get_by_role("button", name="Review your order").click()
    page.wait_for_url(f"{day.base}/checkout/review")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/checkout/confirmation/\d+$"))
    order_id = int(page.url.rsplit("/", 1)[1])
    assert f"Order #{order_id} is placed." in flash_text(page)
    return order_id


def admin_moves_order(day: Day, order_id: int, button: str, status: str) -> None:
    page = day.admin
    page.get_by_role("button", name=button).click()
    page.wait_for_url(f"{day.base}/admin/orders/{order_id}")
    assert f"Order #{order_id} is now {status}." in flash_text(page)


def admin_ships_one_order_and_cancels_the_other(day: Day, shipped: int, cancelled: int) -> None:
    page, base = day.admin, day.base
    page.goto(f"{base}/admin/")
    page.locator(".admin-nav").get_by_role("link", name="Orders").click()
    page.wait_for_url(f"{base}/admin/orders")
    assert page.locator("#orders-table tbody tr").count() == 2
    day.shot(page, "admin-orders")
    page.get_by_role("link", name=f"#{shipped}", exact=True).click()
    admin_moves_order(day, shipped, "Mark paid", "paid")
    admin_moves_order(day, shipped, "Mark shipped", "shipped")
    day.shot(page, "admin-order-shipped")

    page.get_by_role("link", name="All orders").click()
    page.get_by_role("link", name=f"#{cancelled}", exact=True).click()
    page.get_by_label("Reason for cancelling").fill(CANCEL_REASON)
    admin_moves_order(day, cancelled, "Cancel order", "cancelled")
    assert CANCEL_REASON in page.locator("[data-order-timeline]").inner_text()
    day.shot(page, "admin-order-cancelled")

    # The cancelled order's units are back on the shelf, and the ledger says why.
    open_admin_product(page, base, CANCELLED)
    assert page.locator("#stock-level").inner_text().startswith(str(UNITS))
    latest, taken = page.locator("table tbody tr").all_inner_texts()[:2]
    assert f"Order #{cancelled} cancelled" in latest and "+2" in latest, latest
    assert "order" in taken and "-2" in taken, taken
    day.shot(page, "admin-stock-given-back")


def shopper_sees_the_order_statuses(day: Day, shipped: int, cancelled: int) -> None:
    page, base = day.shopper, day.base
    page.get_by_role("link", name="Orders", exact=True).click()
    page.wait_for_url(f"{base}/orders")
    rows = page.locator(".orders-table tbody tr")
    shipped_row = rows.filter(has=page.get_by_role("link", name=f"#{shipped}", exact=True))
    cancelled_row = rows.filter(has=page.get_by_role("link", name=f"#{cancelled}", exact=True))
    assert shipped_row.locator("[data-order-status]").inner_text() == "Shipped"
    assert cancelled_row.locator("[data-order-status]").inner_text() == "Cancelled"
    day.shot(page, "shopper-orders")

    shipped_row.get_by_role("link", name=f"#{shipped}").click()
    page.wait_for_url(f"{base}/orders/{shipped}")
    history = page.locator("[data-order-timeline] li .fw-semibold").all_inner_texts()
    assert history == ["Placed", "Paid", "Shipped"]
    day.shot(page, "shopper-order-shipped")

    page.get_by_role("link", name="Your orders").click()
    page.get_by_role("link", name=f"#{cancelled}", exact=True).click()
    page.wait_for_url(f"{base}/orders/{cancelled}")
    history = page.locator("[data-order-timeline] li .fw-semibold").all_inner_texts()
    assert history == ["Placed", "Cancelled"]
    assert f"Reason: {CANCEL_REASON}" in page.locator("[data-order-timeline]").inner_text()
    day.shot(page, "shopper-order-cancelled")


def test_a_day_in_the_shop_admin_changes_show_to_the_shopper(shop, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("day-*.png"):
        old.unlink()
    with launch_chromium() as browser:
        day = Day(browser, shop.url)
        try:
            sign_in(day.admin, shop.url, ADMIN_EMAIL, ADMIN_PASSWORD)
            sign_in(day.shopper, shop.url, SHOPPER_EMAIL, SHOPPER_PASSWORD)

            product_url = admin_adds_a_product_with_a_picture(day, a_photo(tmp_path))
            admin_changes_a_price(day)
            admin_sells_a_product_out(day)

            shopper_sees_the_new_product(day, product_url)
            shopper_sees_the_price_and_the_sold_out_mark(day)
            shipped = shopper_orders(day, SHIPPED, 1)
            cancelled = shopper_orders(day, CANCELLED, 2)

            admin_ships_one_order_and_cancels_the_other(day, shipped, cancelled)
            shopper_sees_the_order_statuses(day, shipped, cancelled)
        finally:
            day.close()
    assert day.problems == []  # no script errors, no CSP violations
