"""No slow work inside a write transaction (the rule in shop/database.py).

A POST holds SQLite's one write lock from its first query until it commits. Hashing a password
(scrypt) or waiting on a mail server inside that window stalls every other write in the shop; these
tests check that neither happens: the hashing functions find no transaction open, and a mail
server that accepts the connection and never answers does not hold up a cart write made meanwhile.
"""

from __future__ import annotations

import threading
import time

import pytest

from bench.servers import SilentMailServer
from shop import mail
from shop.auth import passwords
from shop.extensions import db
from tests import factories
from tests.conftest import AuthActions, csrf_token


@pytest.fixture
def hash_calls(monkeypatch):
    """Every password hash or check, with whether a transaction was open when it ran."""
    calls: list[bool] = []
    real_check, real_make = passwords.check_password_hash, passwords.generate_password_hash

    def check(stored, password):
        calls.append(db.session().in_transaction())
        return real_check(stored, password)

    def make(password, method):
        calls.append(db.session().in_transaction())
        return real_make(password, method=method)

    monkeypatch.setattr(passwords, "check_password_hash", check)
    monkeypatch.setattr(passwords, "generate_password_hash", make)
    return calls


def test_passwords_are_hashed_and_checked_outside_any_transaction(client, post, hash_calls):
    auth = AuthActions(client)
    assert auth.register(email="sam@example.com", password="first-password").status_code == 302
    auth.logout()
    assert auth.login(email="sam@example.com", password="wrong-password").status_code == 401
    assert auth.login(email="nobody@example.com", password="wrong-password").status_code == 401
    assert auth.login(email="sam@example.com", password="first-password").status_code == 302
    changed = post(
        "/auth/account/password",
        {"current_password": "first-password", "password": "second-pass", "confirm": "second-pass"},
    )
    assert changed.status_code == 302
    assert len(hash_calls) >= 6
    assert not any(hash_calls), hash_calls


@pytest.fixture
def silent_relay(app, monkeypatch):
    server = SilentMailServer()
    app.config["SHOP_MAIL_URL"] = f"smtp://127.0.0.1:{server.port}"
    monkeypatch.setattr(mail, "SMTP_TIMEOUT_SECONDS", 3)
    yield server
    server.close()


def test_a_mail_server_that_hangs_holds_up_no_other_write(app, silent_relay):
    factories.make_user(email="shopper@example.com", password="correct-horse")
    buyer = factories.make_user(email="buyer@example.com", password="correct-horse")
    product = factories.make_product("Enamel Tea Kettle")
    product_id, buyer_id = product.id, buyer.id
    db.session.remove()

    resetter, cart_client = app.test_client(), app.test_client()
    AuthActions(cart_client).login(email="buyer@example.com")
    reset_token, cart_token = csrf_token(resetter, "/auth/reset"), csrf_token(cart_client, "/")
    answers: dict[str, tuple[int, float]] = {}

    def ask_for_reset():
        started = time.monotonic()
        with app.app_context():
            response = resetter.post(
                "/auth/reset", data={"csrf_token": reset_token, "email": "shopper@example.com"}
            )
        answers["reset"] = (response.status_code, time.monotonic() - started)

    thread = threading.Thread(target=ask_for_reset)
    thread.start()
    time.sleep(0.8)  # the reset request is now waiting on the mail server
    started = time.monotonic()
    with app.app_context():
        added = cart_client.post(
            "/cart/add", data={"csrf_token": cart_token, "product_id": product_id, "quantity": 1}
        )
    cart_seconds = time.monotonic() - started
    thread.join(timeout=30)

    assert added.status_code == 302
    assert cart_seconds < 1.0, f"the cart write waited {cart_seconds:.2f} s for the lock"
    status, reset_seconds = answers["reset"]
    assert status == 302  # the shopper is answered as usual; the mail failure is logged
    assert reset_seconds >= 2.5  # it really did wait on the silent relay meanwhile
    with app.app_context():
        from sqlalchemy import select

        from shop.models import CartItem

        assert db.session.scalar(select(CartItem.quantity).where(CartItem.user_id == buyer_id))
