"""A browser's cache and the shop: a repeat visit asks the server for the page and nothing else,
signing in is never hidden by a cached page, and the trimmed Bootstrap draws the pages as the full
one does.

Screenshots of the home, listing and product pages on a desktop and a phone are kept in
test-artifacts/static-cache/.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shop.extensions import db
from shop.models import Product
from tests import factories
from tests.browser_support import ARTIFACTS, fill_catalogue, launch_chromium, new_page, running_shop

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "static-cache"
EMAIL, PASSWORD = "cache@example.com", "cache-password-1"
FULL_BOOTSTRAP = Path(__file__).resolve().parents[1] / "static/vendor/bootstrap/bootstrap.min.css"


class Requests:
    """Every request that reaches the server, in order (WSGI middleware around the app)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        with self.lock:
            query = environ.get("QUERY_STRING")
            self.seen.append(environ["PATH_INFO"] + (f"?{query}" if query else ""))
        return self.app(environ, start_response)

    def take(self) -> list[str]:
        with self.lock:
            seen, self.seen = self.seen, []
        return seen


def _fill() -> int:
    fill_catalogue()
    factories.make_user(email=EMAIL, password=PASSWORD, name="Cache Shopper")
    return db.session.scalars(db.select(Product.id).order_by(Product.id)).first()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_shop(tmp_path_factory.mktemp("cache-shop"), fill=_fill) as running:
        requests = Requests(running.app.wsgi_app)
        running.app.wsgi_app = requests
        yield running, requests


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


def _visit(context, url: str):
    """Open ``url`` in a new tab (a repeat visit, not a reload) and record where each response
    came from: the network, or the browser's disk or memory cache (Chromium's protocol says)."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    responses: dict[str, str] = {}

    def received(event) -> None:  # noqa: ANN001
        response = event["response"]
        cached = response.get("fromDiskCache") or response.get("fromPrefetchCache")
        responses[response["url"]] = "cache" if cached else "network"

    cdp.on("Network.responseReceived", received)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, responses


def test_a_repeat_visit_fetches_only_the_page(shop, browser):
    (live, requests) = shop
    context, first = new_page(browser)
    first.goto(live.url + "/")
    first.wait_for_load_state("networkidle")
    first_visit = requests.take()
    assets = [path for path in first_visit if path != "/"]
    assert any(path.startswith("/static/css/") for path in assets), first_visit
    assert any(path.startswith("/static/js/") for path in assets), first_visit
    assert any("/image.svg" in path or "/img/" in path for path in assets), first_visit

    page, responses = _visit(context, live.url + "/")
    assert requests.take() == ["/"]  # the server is asked for the HTML and nothing else
    from_network = [url for url, where in responses.items() if where == "network"]
    assert from_network == [live.url + "/"], responses
    assert page.locator("nav .navbar-brand").is_visible()
    context.close()


def test_signing_in_is_never_hidden_by_a_visitors_cached_page(shop, browser):
    (live, requests) = shop
    context, page = new_page(browser)
    page.goto(live.url + "/")
    assert page.locator("nav >> text=Sign in").count() == 1
    page.goto(live.url + "/auth/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form [type=submit]")
    page.wait_for_url(live.url + "/")
    assert page.locator("nav >> text=Sign out").count() == 1
    page.click("nav .navbar-brand")  # a link to the same page a visitor saw a moment ago
    page.wait_for_load_state()
    assert page.locator("nav >> text=Sign out").count() == 1
    context.close()
    requests.take()


def _screens(page, base: str, product_id: int, size: str) -> dict[str, bytes]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    shots = {}
    for name, path in {
        "home": "/",
        "listing": "/products",
        "product": f"/products/{product_id}",
    }.items():
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        shots[name] = page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
    return shots


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_trimmed_bootstrap_draws_the_pages_as_the_full_one_does(shop, browser, size):
    (live, requests) = shop
    viewport = {"desktop": (1280, 900), "phone": (390, 844)}[size]
    options = {"is_mobile": True, "has_touch": True} if size == "phone" else {}
    context, page = new_page(browser, width=viewport[0], height=viewport[1], **options)
    page.emulate_media(reduced_motion="reduce")
    trimmed = _screens(page, live.url, live.filled, size)
    context.close()

    context, page = new_page(browser, width=viewport[0], height=viewport[1], **options)
    page.emulate_media(reduced_motion="reduce")
    swapped = []

    def full_bootstrap(route) -> None:  # noqa: ANN001
        swapped.append(route.request.url)
        route.fulfill(path=str(FULL_BOOTSTRAP), content_type="text/css")

    page.route("**/static/vendor/bootstrap/bootstrap.*.css", full_bootstrap)
    full = _screens(page, live.url, live.filled, f"{size}-full-bootstrap")
    assert len(swapped) == len(full)
    context.close()
    requests.take()
    different = [name for name in trimmed if trimmed[name] != full[name]]
    assert not different, f"pages drawn differently with the trimmed Bootstrap: {different}"
