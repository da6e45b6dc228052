"""A real shop server on loopback for browser tests, and the browser to drive it.

The one place that starts a live server and launches Debian's chromium, so every browser test
module skips (or fails, with SHOP_REQUIRE_BROWSER=1 as in CI) for the same reasons and drives the
browser with the same launch arguments.

The server is the real app (werkzeug's threaded server, not the test client) over a SQLite file
built by the migrations, so the browser sees exactly what a shopper would: CSP headers, static
files, cookies, redirects and the JavaScript in static/js.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from bench.servers import shop_env, worker
from shop import create_app
from shop.extensions import db
from shop.services.events import record_event
from tests import factories
from tests.conftest import chromium_path

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

CATALOGUE = [
    (
        "Kitchen",
        "Enamel Tea Kettle",
        "Hearthware",
        "34.00",
        "A whistling enamel kettle for the hob.",
    ),
    ("Kitchen", "Stoneware Mug Set", "Hearthware", "22.50", "Four glazed mugs in sea colours."),
    ("Kitchen", "Oak Chopping Board", "Timberline", "28.00", "End-grain oak, oiled and ready."),
    ("Garden", "Brass Garden Lantern", "Glowco", "45.00", "A warm lantern for long evenings."),
    ("Garden", "Solar String Lights", "Glowco", "18.99", "Twenty warm-white bulbs, no wiring."),
    ("Garden", "Herb Planter Trio", "Greenleaf", "16.00", "Three terracotta pots for herbs."),
    ("Home Decor", "Linen Cushion Cover", "Loomhouse", "14.50", "Stone-washed linen, 45 cm."),
    ("Home Decor", "Glass Candle Lantern", "Glowco", "24.00", "Hand-blown glass with a brass top."),
    ("Home Decor", "Woven Storage Basket", "Loomhouse", "26.00", "Seagrass basket with handles."),
    ("Toys", "Wooden Stacking Rainbow", "Playwood", "21.00", "Seven arches of painted beech."),
    ("Toys", "Knitted Bunny", "Playwood", "12.00", "A soft cotton bunny, hand knitted."),
    ("Stationery", "Recycled Notebook A5", "Papercraft", "6.50", "Dot grid, 120 recycled pages."),
]


def _skip_or_fail(reason: str) -> None:
    """Skip a browser test that cannot run here; in CI (SHOP_REQUIRE_BROWSER=1) fail it instead."""
    if os.environ.get("SHOP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} and SHOP_REQUIRE_BROWSER=1")
    pytest.skip(reason)


def require_chromium() -> str:
    """The browser's path, or a skip (a failure when SHOP_REQUIRE_BROWSER=1, as in CI)."""
    path = chromium_path()
    if path is None:
        _skip_or_fail("chromium not installed: apt-get install chromium")
    return path


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (never a downloaded browser); closed on exit."""
    executable = require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright not installed: pip install playwright")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(
    browser: Any, *, width: int = 1280, height: int = 900, timeout_ms: int = 15_000, **options: Any
) -> tuple[Any, Any]:
    """A fresh browser context (its own cookies) and a page in it; the caller closes the context."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(timeout_ms)
    return context, context.new_page()


def fill_catalogue() -> None:
    """A dozen hand-written products in five categories, with clicks to rank them."""
    products = [
        factories.make_product(name, category=category, brand=brand, price=price, description=text)
        for category, name, brand, price, text in CATALOGUE
    ]
    # Some clicks so that "Top 5 most clicked" has an order to show.
    for product, n in zip(products, [5, 9, 2, 7, 4, 1, 3, 6, 0, 8, 2, 1], strict=True):
        for _ in range(n):
            record_event(product.id, "click", source="seed")
    db.session.commit()


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 in a thread; yields its base URL, stops on exit."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="shop-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class LiveShop(NamedTuple):
    url: str
    app: Flask
    filled: Any  # what the fill function returned, e.g. the id of an experiment it created


@contextmanager
def running_shop(
    folder: Path, fill: Callable[[], Any] = fill_catalogue, *, with_worker: bool = False
) -> Iterator[LiveShop]:
    """Migrate a fresh SQLite file in `folder`, fill it, serve it on loopback; stop on exit.

    ``with_worker`` queues jobs in a SQLite file there and runs a real `flask worker` process on
    them (otherwise jobs run at once inside the request, as in the other tests).
    """
    app = create_app(
        {
            "SHOP_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "browser-test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'shop.db'}",
            "SHOP_MODEL_DIR": str(folder / "models"),
            # Uploaded pictures and sent mail stay in the test's folder, not the checkout's instance/.
            "SHOP_PICTURE_DIR": str(folder / "pictures"),
            "SHOP_MAIL_DIR": str(folder / "mail"),
            "RATELIMIT_STORAGE_URI": "memory://",
            "SHOP_JOBS_IMMEDIATE": not with_worker,
            "SHOP_JOBS_DB": str(folder / "jobs.db"),
        }
    )
    with app.app_context():
        upgrade()
        filled = fill()
        db.session.remove()
    try:
        with ExitStack() as stack:
            if with_worker:
                env = shop_env(folder, SHOP_RETRAIN_SCHEDULE="off")
                stack.enter_context(worker(env, folder / "worker.log"))
            url = stack.enter_context(live_server(app))
            yield LiveShop(url, app, filled)
    finally:
        with app.app_context():
            db.engine.dispose()
