"""No overselling: 20 shoppers check out at once over real HTTP for a product with 3 units left.

gunicorn with 4 workers serves the test's own database (a SQLite file, or the PostgreSQL database
of the PostgreSQL run: the Makefile's PostgreSQL run includes the ``oversell`` marker). Exactly
three orders may be placed; everyone else must be told the product sold out, with their cart kept,
and nobody may see a 5xx.
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import func, select

from bench.servers import gunicorn, shop_env
from shop.extensions import db
from shop.models import CartItem, Order, OrderEvent, Product, StockMovement
from tests import factories
from tests.factories import checkout_form

pytestmark = [pytest.mark.load, pytest.mark.oversell, pytest.mark.slow]

SHOPPERS = 20
UNITS = 3
PASSWORD = "oversell-password"
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One shopper's cookie jar and CSRF token; redirects are returned, not followed."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _KeepRedirects()
        )
        self.csrf = ""

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body)
        try:
            with self.opener.open(req, timeout=120) as resp:
                status, text, location = resp.status, resp.read().decode(), ""
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
            location = exc.headers.get("Location") or ""
        match = CSRF_RE.search(text)
        if match:
            self.csrf = match.group(1)
        return status, text, location

    def sign_in(self, email: str) -> None:
        self.request("/auth/login")
        status, _, _ = self.request(
            "/auth/login", {"csrf_token": self.csrf, "email": email, "password": PASSWORD}
        )
        assert status == 302, f"{email} could not sign in ({status})"
        self.request("/cart")  # the signed-in session's token, as the cart page's form has it


def test_twenty_concurrent_checkouts_for_three_units_sell_exactly_three(app, tmp_path):
    kettle = factories.make_product(name="Blue Kettle")
    kettle.stock = UNITS
    emails = [f"racer{i}@example.com" for i in range(SHOPPERS)]
    users = [factories.make_user(email=email, password=PASSWORD) for email in emails]
    for user in users:
        db.session.add(CartItem(user_id=user.id, product_id=kettle.id, quantity=1))
    db.session.commit()

    env = shop_env(tmp_path, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    log = tmp_path / "gunicorn.log"
    results: dict[str, tuple[int, str]] = {}
    errors: list[str] = []
    with gunicorn(env, workers=4, log=log) as base:
        browsers = {email: Browser(base) for email in emails}
        for email, browser in browsers.items():
            browser.sign_in(email)
        start = threading.Barrier(SHOPPERS)

        def check_out(email: str) -> None:
            browser = browsers[email]
            try:
                start.wait(timeout=60)
                status, _, location = browser.request(
                    "/checkout", {"csrf_token": browser.csrf, **checkout_form()}
                )
                results[email] = (status, location)
            except Exception as exc:  # noqa: BLE001 (reported below, with the shopper)
                errors.append(f"{email}: {exc!r}")

        threads = [threading.Thread(target=check_out, args=(email,)) for email in emails]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        told = {
            email: browsers[email].request("/cart")[1]
            for email, (status, location) in results.items()
            if location.endswith("/cart")
        }

    server_log = log.read_text()
    assert not errors, errors
    assert len(results) == SHOPPERS
    statuses = sorted(status for status, _ in results.values())
    assert all(status < 500 for status in statuses), (statuses, server_log[-3000:])
    placed = [
        email
        for email, (s, loc) in results.items()
        if s == 302 and "/checkout/confirmation/" in loc
    ]
    refused = [
        email
        for email, (s, loc) in results.items()
        if s == 409 or (s in (302, 303) and loc.endswith("/cart"))
    ]
    assert len(placed) == UNITS, results
    assert len(refused) == SHOPPERS - UNITS, results
    for email, page in told.items():
        assert "Blue Kettle has just sold out." in page, email

    db.session.expire_all()
    assert db.session.get(Product, kettle.id).stock == 0
    assert db.session.scalar(select(func.count()).select_from(Order)) == UNITS
    movements = list(
        db.session.scalars(select(StockMovement).where(StockMovement.product_id == kettle.id))
    )
    assert sorted((m.reason, m.change) for m in movements) == [("order", -1)] * UNITS
    assert sorted(m.stock_after for m in movements) == [0, 1, 2]
    assert db.session.scalar(select(func.count()).select_from(OrderEvent)) == UNITS
    refused_ids = {u.id for u in users if u.email in refused}
    kept = db.session.scalar(
        select(func.count()).select_from(CartItem).where(CartItem.user_id.in_(refused_ids))
    )
    assert kept == SHOPPERS - UNITS
