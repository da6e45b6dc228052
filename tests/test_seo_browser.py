"""The product page's JSON-LD under the shop's strict CSP, in a real browser: the block's SHA-256 as
the browser reads it is the one the response's policy admits, and the console shows no violation.
"""

from __future__ import annotations

import json
import re

import pytest

from shop.extensions import db
from shop.models import Product, User
from shop.services.feedback import rate_product
from tests.browser_support import fill_catalogue, launch_chromium, new_page, running_shop

pytestmark = pytest.mark.browser

# Installed before any page script runs, so a violation during parsing is caught too.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(event.violatedDirective + " " + (event.sample || event.blockedURI));
});
"""

BLOCK_HASHES = """async () => {
    const hashes = [];
    for (const block of document.querySelectorAll('script[type="application/ld+json"]')) {
        const bytes = new TextEncoder().encode(block.textContent);
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        hashes.push("'sha256-" + btoa(String.fromCharCode(...digest)) + "'");
    }
    return hashes;
}"""


def _fill() -> int:
    fill_catalogue()
    shopper = User(email="rater@example.com", display_name="Rater")
    shopper.set_password("rater-password-1")
    db.session.add(shopper)
    db.session.flush()
    product = db.session.scalars(db.select(Product).order_by(Product.id)).first()
    rate_product(shopper.id, product.id, 4, review="Whistles nicely.")
    db.session.commit()
    return product.id


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_shop(tmp_path_factory.mktemp("seo-shop"), fill=_fill) as running:
        running.app.config["SHOP_BASE_URL"] = running.url
        yield running


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


def _open(browser, url: str, route=None):
    context, page = new_page(browser)
    context.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    if route:
        page.route(url, route)
    response = page.goto(url)
    page.wait_for_load_state("load")
    return context, page, response, console


def test_the_product_pages_json_ld_runs_under_the_csp_without_a_violation(shop, browser):
    url = f"{shop.url}/products/{shop.filled}"
    context, page, response, console = _open(browser, url)

    policy = response.header_value("content-security-policy")
    script_src = re.search(r"script-src ([^;]+)", policy).group(1).split()
    hashes = page.evaluate(BLOCK_HASHES)
    assert len(hashes) == 2  # the Product and its BreadcrumbList
    assert script_src == ["'self'", *hashes]
    blocks = page.eval_on_selector_all(
        'script[type="application/ld+json"]', "els => els.map((el) => el.textContent)"
    )
    product = next(data for data in map(json.loads, blocks) if data["@type"] == "Product")
    assert product["name"] == page.inner_text("h1")
    assert product["aggregateRating"]["ratingCount"] == 1
    assert page.evaluate("window.__cspViolations") == []
    assert not [line for line in console if "Content Security Policy" in line], console
    assert not [line for line in console if line.startswith(("error", "pageerror"))], console
    context.close()


def test_the_violation_check_sees_an_inline_script_the_policy_does_not_admit(shop, browser):
    """The control for the test above: the same page with one injected inline script."""

    def inject(route):
        original = route.fetch()
        body = original.text().replace("</head>", "<script>document.title = 'x';</script></head>")
        route.fulfill(response=original, body=body)

    url = f"{shop.url}/products/{shop.filled}"
    context, page, _, console = _open(browser, url, route=inject)

    assert page.evaluate("window.__cspViolations")
    assert [line for line in console if "Content Security Policy" in line]
    assert page.title() != "x"
    context.close()
