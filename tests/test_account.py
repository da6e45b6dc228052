"""The account page: name, email, password, signing out elsewhere, my data, deletion, reset links."""

from __future__ import annotations

import email
import json
import re
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from bench.servers import free_port
from shop.extensions import db
from shop.models import Event, Like, Order, OrderLine, Product, Rating, User
from shop.services import accounts
from tests import factories
from tests.conftest import CSRF_RE, AuthActions, browser_with, csrf_token, is_signed_in

PASSWORD = "correct-horse"


@pytest.fixture
def signed_in(auth, shopper):
    assert auth.login().status_code == 302
    return shopper


def test_the_account_page_needs_a_sign_in(client):
    response = client.get("/auth/account")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_the_display_name_can_be_changed(client, post, signed_in):
    assert "Your account" in client.get("/auth/account").get_data(as_text=True)
    assert post("/auth/account/name", {"display_name": "Sam Renamed"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, signed_in.id).display_name == "Sam Renamed"
    assert post("/auth/account/name", {"display_name": "x"}).status_code == 400


def _change_email(post, address: str, password: str = PASSWORD):
    return post("/auth/account/email", {"email": address, "current_password": password})


def _confirm(client, link: str):
    path = urlsplit(link).path
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": CSRF_RE.search(page.get_data(as_text=True))[1]})


EMAIL_LINK_RE = re.compile(r"(https?://\S+/auth/account/email/\S+)")


def test_a_new_email_takes_effect_from_the_link_mailed_to_it(client, post, signed_in, inbox):
    wrong = _change_email(post, "new@example.com", password="nope")
    assert wrong.status_code == 401
    assert "not your current password" in wrong.get_data(as_text=True)
    assert inbox.messages == []
    asked = _change_email(post, "New@Example.com")
    assert asked.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, signed_in.id).email == "shopper@example.com"  # not yet
    assert inbox.messages[-1]["To"] == "new@example.com"
    link = EMAIL_LINK_RE.search(inbox.messages[-1].get_payload(decode=True).decode())[1]
    assert client.get(urlsplit(link).path).status_code == 200  # a GET changes nothing
    db.session.expire_all()
    assert db.session.get(User, signed_in.id).email == "shopper@example.com"
    assert _confirm(client, link).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, signed_in.id).email == "new@example.com"
    assert inbox.messages[-1]["To"] == "shopper@example.com"  # the old address is told
    again = _confirm(client, link)
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)


def test_asking_for_a_taken_email_answers_as_for_a_free_one(client, post, signed_in, inbox):
    factories.make_user(email="taken@example.com")
    notices = []
    for address in ("taken@example.com", "free@example.com"):
        answer = _change_email(post, address)
        assert answer.status_code == 302
        page = client.get(answer.headers["Location"]).get_data(as_text=True)
        # The pages' CSRF tokens carry the second they were signed in: not part of the answer.
        page = re.sub(r'(name="csrf[-_]token"[^>]*?(?:content|value)=")[^"]*', r"\1", page)
        notices.append(page.replace(address, "X"))
    assert "We have sent a link to X" in notices[0]
    assert notices[0] == notices[1]
    # only the mailbox learns: the owner of the taken address is told, with no link to use
    to_taken = next(m for m in inbox.messages if m["To"] == "taken@example.com")
    assert "/auth/account/email/" not in to_taken.get_payload(decode=True).decode()
    db.session.expire_all()
    assert db.session.get(User, signed_in.id).email == "shopper@example.com"


def test_email_change_probes_are_limited_whatever_the_answer(app, client, post, signed_in, inbox):
    for n in range(3):
        factories.make_user(email=f"someone{n}@example.com")
    answers = [
        _change_email(post, f"someone{n % 3}@example.com" if n % 2 else f"free{n}@example.com")
        for n in range(100)
    ]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:5] == [302] * 5
    assert set(statuses[5:]) == {429}
    assert len(inbox.messages) == 5


def test_wrong_current_passwords_count_towards_the_sign_in_limit(app, post, signed_in):
    app.config["SHOP_LOGIN_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert (
            post(
                "/auth/account/email", {"email": "a@example.com", "current_password": "x"}
            ).status_code
            == 401
        )
    assert (
        post(
            "/auth/account/email", {"email": "a@example.com", "current_password": PASSWORD}
        ).status_code
        == 429
    )


def _capture(app, client, remember=False) -> dict[str, str]:
    """Sign in a second browser and return copies of its cookies (an attacker's, say)."""
    other = app.test_client()
    AuthActions(other).login(remember="y" if remember else "")
    cookies = {"session": other.get_cookie("session").value}
    if remember:
        cookies["remember_token"] = other.get_cookie("remember_token").value
    return cookies


def test_a_password_change_signs_out_every_other_session_and_keeps_this_one(
    app, client, post, signed_in
):
    session_copy = _capture(app, client)
    remember_copy = {"remember_token": _capture(app, client, remember=True)["remember_token"]}
    assert is_signed_in(browser_with(app, **session_copy))
    response = post(
        "/auth/account/password",
        {"current_password": PASSWORD, "password": "brand-new-pass", "confirm": "brand-new-pass"},
    )
    assert response.status_code == 302
    assert is_signed_in(client)
    assert not is_signed_in(browser_with(app, **session_copy))
    assert not is_signed_in(browser_with(app, **remember_copy))
    assert AuthActions(app.test_client()).login(password="brand-new-pass").status_code == 302


def test_sign_out_everywhere_else_ends_other_sessions_and_keeps_this_one(
    app, client, post, signed_in
):
    session_copy = _capture(app, client)
    remember_copy = {"remember_token": _capture(app, client, remember=True)["remember_token"]}
    assert post("/auth/account/sign-out-others").status_code == 302
    assert is_signed_in(client)
    assert not is_signed_in(browser_with(app, **session_copy))
    assert not is_signed_in(browser_with(app, **remember_copy))


@pytest.fixture
def history(signed_in):
    kettle = factories.make_product("Blue Kettle", price="20.00")
    lamp = factories.make_product("Brass Lamp", price="5.50")
    db.session.add(Rating(user_id=signed_in.id, product_id=kettle.id, stars=4, review="Boils fast"))
    db.session.add(Like(user_id=signed_in.id, product_id=lamp.id))
    kettle.rating_count, kettle.rating_sum, lamp.like_count = 1, 4, 1
    order = Order(user_id=signed_in.id, total=Decimal("45.50"))
    order.lines = [
        OrderLine(product_id=kettle.id, quantity=2, unit_price=Decimal("20.00")),
        OrderLine(product_id=lamp.id, quantity=1, unit_price=Decimal("5.50")),
    ]
    db.session.add(order)
    db.session.commit()
    factories.make_event(signed_in, kettle, "view")
    factories.make_event(signed_in, kettle, "purchase", quantity=2)
    return {"kettle": kettle, "lamp": lamp, "order": order}


def test_download_my_data_holds_profile_ratings_likes_orders_and_events(client, signed_in, history):
    response = client.get("/auth/account/data.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["profile"]["email"] == "shopper@example.com"
    assert [(r["product"], r["stars"], r["review"]) for r in data["ratings"]] == [
        ("Blue Kettle", 4, "Boils fast")
    ]
    assert [lk["product"] for lk in data["likes"]] == ["Brass Lamp"]
    assert data["orders"][0]["total"] == "45.50" and len(data["orders"][0]["lines"]) == 2
    assert [e["kind"] for e in data["events"]] == ["view", "purchase"]
    assert "password" not in json.dumps(data).lower()


def _rows_naming(value: str) -> int:
    """Rows in any table with a text column equal to ``value`` (the whole database is searched)."""
    found = 0
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, db.String):
                found += db.session.scalar(
                    select(func.count()).select_from(table).where(column == value)
                )
    return found


def test_deleting_the_account_erases_it_and_keeps_orders_anonymised(
    client, post, signed_in, history
):
    assert _rows_naming("shopper@example.com") == 1 and _rows_naming("Test Shopper") == 1
    refused = post("/auth/account/delete", {"current_password": PASSWORD})
    assert refused.status_code == 400  # the box was not ticked
    response = post("/auth/account/delete", {"current_password": PASSWORD, "confirm_delete": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert _rows_naming("shopper@example.com") == 0
    assert _rows_naming("Test Shopper") == 0
    assert db.session.scalar(select(func.count()).select_from(Rating)) == 0
    assert db.session.scalar(select(func.count()).select_from(Like)) == 0
    order = db.session.get(Order, history["order"].id)
    assert order.total == Decimal("45.50") and sum(
        line.subtotal for line in order.lines
    ) == Decimal("45.50")
    assert order.user.display_name == accounts.DELETED_NAME and order.user.password_hash is None
    assert db.session.scalar(select(func.count()).where(Event.user_id.is_not(None))) == 0
    kettle = db.session.get(Product, history["kettle"].id)
    assert (
        kettle.rating_count,
        kettle.rating_sum,
        db.session.get(Product, history["lamp"].id).like_count,
    ) == (0, 0, 0)
    assert not is_signed_in(client)
    assert AuthActions(client).login().status_code == 401


def test_a_fault_half_way_through_deletion_leaves_the_account_as_it_was(
    client, post, signed_in, history, monkeypatch
):
    def failing(user_id):
        raise OperationalError("UPDATE events", {}, Exception("disk I/O error"))

    monkeypatch.setattr(accounts, "_anonymise_activity", failing)  # after ratings and likes went
    response = post("/auth/account/delete", {"current_password": PASSWORD, "confirm_delete": "y"})
    assert response.status_code == 503
    assert "nothing was changed" in response.get_data(as_text=True)
    db.session.expire_all()
    assert _rows_naming("shopper@example.com") == 1
    assert db.session.scalar(select(func.count()).select_from(Rating)) == 1
    assert db.session.scalar(select(func.count()).select_from(Like)) == 1
    assert db.session.get(Product, history["kettle"].id).rating_count == 1
    assert is_signed_in(client)


# --- password reset by mail -----------------------------------------------------------------

LINK_RE = re.compile(r"(https?://\S+/auth/reset/\S+)")


class Inbox:
    """An SMTP server on loopback (aiosmtpd) that keeps what it is sent."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def link(self) -> str:
        body = self.messages[-1].get_payload(decode=True).decode()
        return LINK_RE.search(body).group(1)


@pytest.fixture
def inbox(app):
    from aiosmtpd.controller import Controller

    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    app.config["SHOP_MAIL_URL"] = f"smtp://127.0.0.1:{port}"
    yield box
    controller.stop()


def _ask_for_reset(client, address: str):
    token = csrf_token(client, "/auth/reset")
    return client.post("/auth/reset", data={"csrf_token": token, "email": address})


def _choose(client, link: str, password: str):
    parts = urlsplit(link)
    path = parts.path
    page = client.get(path)
    if page.status_code != 200:
        return page
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
    )
    return client.post(
        path, data={"csrf_token": token.group(1), "password": password, "confirm": password}
    )


def test_a_reset_link_arrives_by_smtp_works_once_and_ends_other_sessions(
    app, client, shopper, inbox
):
    copy = _capture(app, client, remember=True)
    response = _ask_for_reset(client, "Shopper@Example.com")
    assert response.status_code == 302
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["To"] == "shopper@example.com"
    link = inbox.link()
    assert _choose(client, link, "chosen-by-link").status_code == 302
    assert is_signed_in(client)
    assert not is_signed_in(browser_with(app, **copy))
    AuthActions(client).logout()
    assert AuthActions(client).login(password="chosen-by-link").status_code == 302
    AuthActions(client).logout()
    again = _choose(client, link, "second-use-of-link")
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)


def test_a_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(client, shopper, inbox):
    known = _ask_for_reset(client, "shopper@example.com")
    unknown = _ask_for_reset(client, "nobody@example.com")
    assert (known.status_code, known.headers["Location"]) == (
        unknown.status_code,
        unknown.headers["Location"],
    )
    assert len(inbox.messages) == 1


def test_reset_links_expire_after_thirty_minutes_and_refuse_tampering(
    app, client, shopper, monkeypatch
):
    token = accounts.reset_token(shopper)
    later = time.time() + accounts.RESET_MAX_AGE_SECONDS + 5
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    expired = client.get(f"/auth/reset/{token}")
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    monkeypatch.undo()
    assert client.get(f"/auth/reset/{token}").status_code == 200
    assert client.get(f"/auth/reset/{token[:-2]}xx").status_code == 400


def test_reset_requests_are_limited_per_address_and_per_email(app, client, shopper, inbox):
    app.config["SHOP_RESET_EMAIL_LIMIT"] = "2 per hour"
    assert _ask_for_reset(client, "shopper@example.com").status_code == 302
    assert _ask_for_reset(client, "shopper@example.com").status_code == 302
    assert _ask_for_reset(client, "shopper@example.com").status_code == 429
    assert len(inbox.messages) == 2


def test_without_a_mail_url_messages_go_to_the_log_and_the_mail_folder(
    app, client, shopper, tmp_path
):
    app.config["SHOP_MAIL_URL"] = ""
    app.config["SHOP_MAIL_DIR"] = str(tmp_path / "mail")
    assert _ask_for_reset(client, "shopper@example.com").status_code == 302
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes())
    assert message["To"] == "shopper@example.com"
    assert "/auth/reset/" in message.get_payload(decode=True).decode()


def test_the_database_holds_no_plain_password_after_a_reset(client, shopper, inbox):
    _ask_for_reset(client, "shopper@example.com")
    _choose(client, inbox.link(), "plain-text-check")
    dump = " ".join(str(v) for row in db.session.execute(text("SELECT * FROM users")) for v in row)
    assert "plain-text-check" not in dump


@pytest.mark.parametrize(
    "spelling",
    [
        "\x01shopper@example.com",
        "shopper@example.com\x08",
        "SHOPPER@example.com",
        "ｓｈｏｐｐｅｒ@example.com",
    ],
)
def test_the_reset_limit_holds_for_every_spelling_of_one_address(
    app, client, shopper, inbox, spelling
):
    app.config["SHOP_RESET_EMAIL_LIMIT"] = "3 per hour"
    for _ in range(3):
        assert _ask_for_reset(client, "shopper@example.com").status_code == 302
    assert _ask_for_reset(client, spelling).status_code == 429
    assert len(inbox.messages) == 3


def test_an_address_with_control_characters_is_refused_not_mailed(client, shopper, inbox):
    response = _ask_for_reset(client, "\x01shopper@example.com")
    assert response.status_code == 200
    assert "cannot contain control characters" in response.get_data(as_text=True)
    assert inbox.messages == []


def test_a_full_width_address_signs_in_as_the_same_account(auth, shopper):
    assert auth.login(email="ＳＨＯＰＰＥＲ@ｅｘａｍｐｌｅ.ｃｏｍ").status_code == 302


def test_reset_links_come_from_configuration_never_from_the_host_header(
    app, client, shopper, inbox
):
    app.config["TRUSTED_HOSTS"] = None
    evil = {"Host": "evil.example:5000"}
    page = client.get("/auth/reset", headers=evil).get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    sent = client.post(
        "/auth/reset", data={"csrf_token": token, "email": "shopper@example.com"}, headers=evil
    )
    assert sent.status_code == 302
    assert inbox.link().startswith("http://127.0.0.1:5000/auth/reset/")
    app.config["SHOP_BASE_URL"] = "https://shop.example"
    _ask_for_reset(client, "shopper@example.com")
    assert inbox.link().startswith("https://shop.example/auth/reset/")
