"""Accessibility in a real browser: axe-core on every page a visitor, shopper or admin reaches, and
a shopper who registers, searches, rates, likes, adds to the cart and checks out with the keyboard
alone.

axe runs with the WCAG 2.0/2.1 A and AA rules plus its best-practice rules (tests/axe_support.py)
and any violation fails the test, listing every page that had one. Each page's result is kept in
test-artifacts/axe/, and the keyboard walk keeps screenshots of its focus states in
test-artifacts/keyboard/.
"""

from __future__ import annotations

import re

import pytest
from flask import current_app
from sqlalchemy import select

from shop.extensions import db
from shop.models import Category, Event, Order, OrderLine, Product, Rating, User
from shop.services import accounts
from shop.services.availability import is_listed, is_sold_out
from shop.training.runs import train_and_publish
from tests.axe_support import check_page, describe
from tests.browser_support import ARTIFACTS, launch_chromium, new_page, running_shop

pytestmark = pytest.mark.browser

ADMIN = ("admin@example.com", "admin-password-1")
SHOPPER = ("shopper@example.com", "shopper-demo-password")
KEYBOARD_SHOTS = ARTIFACTS / "keyboard"


def _seed() -> dict:
    """A small seeded, trained shop (shoppers with histories, an admin, the demo experiment)."""
    from shop.seeding import SeedOptions, seed_database

    report = seed_database(
        SeedOptions(users=60, products=40, events=5_000, seed=7, days=60),
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        with_experiment=True,
    )
    # The most rated product on sale: the seeding sells out a best seller, and which one depends on
    # the day the shop is seeded, so the product page must not be left to that draw (its "Add to
    # cart" form is audited below).
    product = db.session.scalars(
        select(Product)
        .where(is_listed(), ~is_sold_out())
        .order_by(Product.rating_count.desc(), Product.id)
    ).first()
    _give_the_shopper_a_history(product)
    # Trained with the evaluation, as `make run` does: the home page's personal and "similar" rows
    # and the model page's evaluation tables only exist once a model is published.
    run = train_and_publish(current_app._get_current_object(), evaluate=True)
    assert run.status == "succeeded", run.error
    return {
        "experiment": report.experiment_id,
        "product": product.id,
        "category": db.session.scalars(select(Category.slug).order_by(Category.id)).first(),
        "word": max(product.name.split(), key=len).lower(),
    }


def _give_the_shopper_a_history(product: Product) -> None:
    """Two orders of one product and a few views, so the home page shows "Buy it again" and
    "Recently viewed" for the demo shopper whatever the seed drew."""
    shopper = db.session.scalar(select(User).where(User.email == SHOPPER[0]))
    others = db.session.scalars(select(Product).where(Product.id != product.id).limit(3)).all()
    for _ in range(2):
        placed = Order(user_id=shopper.id, total=product.price)
        placed.lines = [OrderLine(product_id=product.id, quantity=1, unit_price=product.price)]
        db.session.add(placed)
    for other in others:
        db.session.add(Event(user_id=shopper.id, product_id=other.id, kind="view"))
    db.session.commit()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_shop(tmp_path_factory.mktemp("a11y-shop"), fill=_seed) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


class Audit:
    """Collects axe results over many pages so that one test reports every page that fails."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, page, name: str) -> None:
        violations = check_page(page, name)
        if violations:
            self.failures.append(f"--- {name} ({page.url})\n{describe(violations)}")

    def assert_clean(self) -> None:
        assert not self.failures, "axe found violations:\n" + "\n".join(self.failures)


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main form [type=submit]")
    page.wait_for_url(f"{base}/")


def check_errors_shown(page, audit: Audit, name: str, **fields: str) -> None:
    """Fill the page's form with values it refuses, submit it, and check the page it answers with."""
    for field, value in fields.items():
        page.fill(f"main input[name={field}]", value)
    page.click("main form [type=submit]")
    page.wait_for_selector(".is-invalid")
    audit.check(page, name)


def submit_without_script(page, form_selector: str) -> None:
    """Post a form the plain way (as with JavaScript off) to see the page the server answers with."""
    page.eval_on_selector(form_selector, "form => form.removeAttribute('data-async')")
    with page.expect_navigation():
        page.eval_on_selector(form_selector, "form => form.requestSubmit()")


def test_visitor_pages_have_no_axe_violations(shop, browser):
    base, _, seeded = shop
    audit = Audit()
    context, page = new_page(browser)
    pages = {
        "home": "/",
        "products": "/products",
        "category": f"/products?category={seeded['category']}&sort=price_asc",
        "products-page-2": "/products?page=2&sort=newest",
        "product": f"/products/{seeded['product']}",
        "search": f"/search?q={seeded['word']}",
        "search-start": "/search",
        "search-no-results": "/search?q=qqqzzzxxy",
        "search-bad-filters": f"/search?q={seeded['word']}&price_max=abc&category=no-such",
        "sign-in": "/auth/login",
        "register": "/auth/register",
        "not-found": "/products/999999",
    }
    for name, path in pages.items():
        page.goto(base + path)
        audit.check(page, name)

    page.goto(f"{base}/auth/register")
    check_errors_shown(page, audit, "register-errors", email="not-an-email", password="short")
    page.goto(f"{base}/auth/login")
    check_errors_shown(
        page, audit, "sign-in-errors", email="nobody@example.com", password="wrong-password"
    )
    context.close()
    audit.assert_clean()


def test_search_suggestions_and_password_reset_have_no_axe_violations(shop, browser):
    base, app, seeded = shop
    audit = Audit()
    context, page = new_page(browser)
    page.goto(f"{base}/products")
    page.fill("nav input[name=q]", seeded["word"][:4])
    page.wait_for_selector("#search-suggestions:not([hidden]) [role=option]")
    audit.check(page, "search-suggestions-open")
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("#search-suggestions [aria-selected=true]")
    audit.check(page, "search-suggestions-option-chosen")

    page.goto(f"{base}/auth/reset")
    audit.check(page, "reset-request")
    check_errors_shown(page, audit, "reset-request-errors", email="not-an-email")
    page.fill("main input[name=email]", "nobody-here@example.com")  # no account: no mail is sent
    page.click("main form [type=submit]")
    page.wait_for_url(f"{base}/auth/login")
    assert page.locator(".alert-info").count() == 1
    audit.check(page, "reset-request-sent")

    with app.app_context():
        forgetful = User(email="forgetful@example.com", display_name="Forgetful")
        forgetful.set_password("forgotten-password-1")
        db.session.add(forgetful)
        db.session.commit()
        token = accounts.reset_token(forgetful)
        db.session.remove()
    page.goto(f"{base}/auth/reset/{token}")
    audit.check(page, "reset-password")
    check_errors_shown(
        page, audit, "reset-password-errors", password="a-new-password-1", confirm="another-2"
    )
    page.goto(f"{base}/auth/reset/not-a-real-token")
    audit.check(page, "reset-link-not-valid")
    context.close()
    audit.assert_clean()


def test_narrow_screen_with_the_menu_open_has_no_axe_violations(shop, browser):
    base, _, seeded = shop
    audit = Audit()
    context, page = new_page(browser, width=390, height=844)
    page.goto(f"{base}/products/{seeded['product']}")
    page.click(".navbar-toggler")
    page.wait_for_selector("#mainnav.show")
    audit.check(page, "product-narrow-menu-open")
    page.screenshot(path=str(ARTIFACTS / "narrow-menu-open.png"))
    context.close()
    audit.assert_clean()


def test_shopper_pages_have_no_axe_violations(shop, browser):
    base, _, seeded = shop
    audit = Audit()
    context, page = new_page(browser)
    sign_in(page, base, *SHOPPER)
    assert page.locator("#buy-again .product-card").count() >= 1
    assert page.locator("#recently-viewed .product-card").count() >= 1
    audit.check(page, "home-signed-in-with-history-rows")

    page.goto(f"{base}/auth/account")
    audit.check(page, "account")

    page.goto(f"{base}/products/{seeded['product']}")
    audit.check(page, "product-signed-in")
    page.click("#add-to-cart button[type=submit]")
    page.wait_for_selector("#add-to-cart [data-status] a")
    page.click("#like button")
    page.wait_for_selector("#like [data-status].text-success")
    audit.check(page, "product-after-add-and-like")

    submit_without_script(page, "#rate form")  # no stars chosen: the page comes back with errors
    assert page.locator("#stars-error").count() == 1
    audit.check(page, "rating-errors")

    page.goto(f"{base}/cart")
    assert page.locator(".cart-lines li").count() >= 1
    audit.check(page, "cart-with-items")
    page.click("text=Check out")
    page.wait_for_url(re.compile(r"/checkout\??$"))
    page.click("text=Review your order")  # nothing filled in: the page comes back with errors
    page.wait_for_selector("#line1-error")
    audit.check(page, "checkout-errors")
    page.fill("#name", "Audit Shopper")
    page.fill("#line1", "1 High Street")
    page.fill("#city", "Bristol")
    page.fill("#postcode", "BS1 4DJ")
    page.click("text=Review your order")
    page.wait_for_url(f"{base}/checkout/review")
    audit.check(page, "checkout-review")
    page.click("button:has-text('Place order')")
    page.wait_for_url(re.compile(r"/checkout/confirmation/\d+$"))
    audit.check(page, "order-confirmation")
    page.goto(page.url.replace("/checkout/confirmation/", "/orders/"))
    audit.check(page, "order")
    page.goto(f"{base}/orders")
    audit.check(page, "orders")
    page.goto(f"{base}/cart")
    audit.check(page, "cart-empty")
    context.close()
    audit.assert_clean()


def test_a_new_shoppers_home_page_has_no_axe_violations(shop, browser):
    """Signed in with no history yet: the welcome banner's search beside the header's (two search
    landmarks, which axe's landmark-unique wants told apart) and the personal-picks slot."""
    base, app, _ = shop
    with app.app_context():
        newcomer = User(email="newcomer@example.com", display_name="Newcomer")
        newcomer.set_password("newcomer-password-1")
        db.session.add(newcomer)
        db.session.commit()
        db.session.remove()
    audit = Audit()
    for name, width in (("home-new-shopper", 1280), ("home-new-shopper-phone", 390)):
        context, page = new_page(browser, width=width, height=900)
        sign_in(page, base, "newcomer@example.com", "newcomer-password-1")
        assert page.locator("form[role=search]").count() == 2
        audit.check(page, name)
        context.close()
    audit.assert_clean()


def test_admin_pages_have_no_axe_violations(shop, browser):
    base, _, seeded = shop
    audit = Audit()
    context, page = new_page(browser, width=1400, height=1000, timeout_ms=20_000)
    sign_in(page, base, *ADMIN)
    page.goto(f"{base}/admin/")
    page.wait_for_function("window.shopCharts && window.shopCharts.length === 7")
    for table in page.locator("details").all():
        table.locator("summary").click()
    # Every chart is described by a line that links to a table with its numbers.
    for canvas in page.locator("canvas[role=img]").all():
        described = page.locator("#" + canvas.get_attribute("aria-describedby"))
        target = described.locator("a").get_attribute("href")
        assert page.locator(target + " table, table" + target).count() >= 1, target
    audit.check(page, "admin-dashboard")

    page.goto(f"{base}/admin/model")
    # the evaluation's tables, wider than their cards
    page.locator("#model-figures summary").click()
    assert page.locator("#model-figures table").count() >= 2
    audit.check(page, "admin-model")
    page.goto(f"{base}/admin/experiments")
    audit.check(page, "admin-experiments")
    page.fill("#experiment-form input[name=name]", "")
    page.click("#experiment-form button[type=submit]")
    page.wait_for_load_state()
    audit.check(page, "admin-experiment-form-errors")
    page.goto(f"{base}/admin/experiments/{seeded['experiment']}")
    page.wait_for_function("window.shopCharts && window.shopCharts.length === 1")
    audit.check(page, "admin-experiment")

    page.goto(f"{base}/admin/products")
    audit.check(page, "admin-products")
    page.click("#product-table a >> nth=0")
    page.wait_for_load_state()
    audit.check(page, "admin-product-edit")
    page.fill("#product-form input[name=price]", "-1")
    page.fill("#product-form input[name=name]", "")
    page.click("#product-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#price-error").is_visible()
    audit.check(page, "admin-product-form-errors")
    page.goto(f"{base}/admin/products/new")
    audit.check(page, "admin-product-new")
    page.goto(f"{base}/admin/categories")
    page.fill("#category-form input[name=name]", "")
    page.click("#category-form button[type=submit]")
    page.wait_for_load_state()
    audit.check(page, "admin-categories-errors")
    page.goto(f"{base}/admin/catalogue/import")
    audit.check(page, "admin-catalogue-import")
    page.goto(f"{base}/admin/orders")
    audit.check(page, "admin-orders")
    page.click("#orders-table tbody a >> nth=0")
    page.wait_for_selector("#order-actions")
    audit.check(page, "admin-order")
    page.click("#order-actions button.btn-outline-danger")  # cancel without a reason
    page.wait_for_selector("#cancel-reason.is-invalid")
    audit.check(page, "admin-order-cancel-without-reason")
    page.goto(f"{base}/admin/audit")
    audit.check(page, "admin-audit")
    context.close()
    audit.assert_clean()


# --- The keyboard alone ------------------------------------------------------------------------

FOCUS_VISIBLE = """() => {
    let el = document.activeElement;
    if (!el || el === document.body) return false;
    if (el.matches(".star-input input")) el = el.nextElementSibling;  // the radio draws on its label
    if (el.matches(".stretched-link")) el = el.closest(".product-card");  // the ring is the card's
    const style = getComputedStyle(el);
    return (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
        || style.boxShadow !== "none";
}"""


def tab_to(page, selector: str, *, back: bool = False, limit: int = 120) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches `selector`; each stop must show
    its focus."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            assert page.evaluate(FOCUS_VISIBLE), f"focus on {selector} is not visible"
            return
        if page.evaluate("() => document.activeElement !== document.body"):
            described = page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)")
            assert page.evaluate(FOCUS_VISIBLE), f"focus is not visible on {described}"
    raise AssertionError(f"{limit} presses of {key} never reached {selector}")


def shot(page, name: str) -> None:
    KEYBOARD_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(KEYBOARD_SHOTS / f"{name}.png"))


def test_a_shopper_registers_searches_rates_and_checks_out_with_the_keyboard_only(shop, browser):
    base, app, seeded = shop
    errors: list[str] = []
    context, page = new_page(browser)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/")

    # The first Tab reaches the skip link; Enter moves focus to the page's content.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.matches('.skip-link')")
    assert page.evaluate(FOCUS_VISIBLE)
    shot(page, "01-skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"

    # Register.
    tab_to(page, 'nav a[href="/auth/register"]', back=True)
    shot(page, "02-register-link")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "main input[name=email]")
    page.keyboard.type("keys@example.com")
    shot(page, "03-email-field")
    for value in ("Kim Keys", "correct-horse-battery", "correct-horse-battery"):
        page.keyboard.press("Tab")
        page.keyboard.type(value)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Sign out (Kim Keys)" in page.content()

    # Search from the navigation bar and open the first result.
    tab_to(page, "nav input[name=q]")
    page.keyboard.type(seeded["word"])
    shot(page, "04-search-box")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/search?q=" in page.url
    tab_to(page, "main .product-card a.product-name")
    shot(page, "05-product-card")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    product_id = int(re.search(r"/products/(\d+)", page.url).group(1))

    # Rate: the stars are one radio group; the arrow keys move along it.
    tab_to(page, "#rate input[name=stars]")
    assert page.evaluate("() => document.activeElement.id") == "star1"
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert page.is_checked("#star4")
    shot(page, "06-four-stars")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowRight")
    assert page.is_checked("#star4")
    page.keyboard.press("Tab")
    page.keyboard.type("Works nicely, found it without a mouse.")
    tab_to(page, "#rate button[type=submit]")
    page.keyboard.press("Space")
    page.wait_for_selector("#rate [data-status].text-success")
    assert "Thanks" in page.inner_text("#rate [role=status]")

    # Like it and add it to the cart; each result is announced in its status region.
    tab_to(page, "#like button", back=True)
    page.keyboard.press("Space")
    page.wait_for_selector("#like [data-status].text-success")
    assert "like" in page.inner_text("#like [role=status]")
    tab_to(page, "#add-to-cart button[type=submit]", back=True)
    shot(page, "07-add-to-cart")
    page.keyboard.press("Enter")
    page.wait_for_selector("#add-to-cart [data-status] a")
    assert "to your cart" in page.inner_text("#add-to-cart [role=status]")
    tab_to(page, "#add-to-cart [data-status] a")
    shot(page, "08-view-cart-link")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # Check out.
    assert page.url == f"{base}/cart"
    tab_to(page, "form[action='/checkout'] button")
    shot(page, "09-check-out")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    for selector, text in (
        ("#name", "Kim Keys"),
        ("#line1", "1 High Street"),
        ("#city", "Bristol"),
        ("#postcode", "BS1 4DJ"),
    ):
        tab_to(page, selector)
        page.keyboard.type(text)
    tab_to(page, "#checkout-form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{base}/checkout/review"
    tab_to(page, "form[action='/checkout'] button")
    shot(page, "09-place-order")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"/checkout/confirmation/\d+$", page.url)
    assert "Thank you! Order #" in page.content()
    shot(page, "10-order-placed")
    context.close()

    assert errors == []
    with app.app_context():
        order = db.session.scalars(select(Order).order_by(Order.id.desc())).first()
        assert [line.product_id for line in order.lines] == [product_id]
        assert order.user.email == "keys@example.com"
        rating = db.session.scalar(select(Rating).where(Rating.user_id == order.user_id))
        assert (rating.product_id, rating.stars) == (product_id, 4)
        db.session.remove()
