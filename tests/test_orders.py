"""An order's life in the admin area and on the shopper's pages: the allowed moves and the refused
ones with their messages, the stock a cancellation returns, the mails, the audit log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import AuditEntry, CartItem, Order, OrderEvent, Product, StockMovement
from shop.services import orders
from tests import factories
from tests.conftest import ON_POSTGRES, AuthActions, csrf_token
from tests.test_account import inbox  # noqa: F401 (the loopback SMTP server fixture)


def _place(user, product, quantity=1) -> Order:
    """An order placed the way checkout places it."""
    from shop.services.carts import place_order

    db.session.add(CartItem(user_id=user.id, product_id=product.id, quantity=quantity))
    db.session.flush()
    order = place_order(user.id)
    db.session.commit()
    return order


@pytest.fixture
def kettle(app):
    product = factories.make_product(name="Blue Kettle")
    product.stock = 5
    db.session.commit()
    return product


@pytest.fixture
def order(shopper, kettle) -> Order:
    return _place(shopper, kettle, 2)


@pytest.fixture
def as_admin(app, admin_user):
    browser = app.test_client()
    AuthActions(browser).login(email="admin@example.com", password="admin-password")
    return browser


def _move(browser, order_id, to, note="", **kwargs):
    token = csrf_token(browser, f"/admin/orders/{order_id}")
    return browser.post(
        f"/admin/orders/{order_id}/status",
        data={"csrf_token": token, "to": to, "note": note},
        **kwargs,
    )


def _status(order_id) -> str:
    db.session.expire_all()
    return db.session.get(Order, order_id).status


def test_an_order_goes_placed_paid_shipped_delivered_with_its_history(as_admin, order):
    page = as_admin.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Mark paid" in page and "Cancel order" in page and "Mark shipped" not in page
    for to in ("paid", "shipped", "delivered"):
        response = _move(as_admin, order.id, to, follow_redirects=True)
        assert response.status_code == 200
        assert f"Order #{order.id} is now {to}." in response.get_data(as_text=True)
        assert _status(order.id) == to
    events = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    )
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "placed"),
        ("placed", "paid"),
        ("paid", "shipped"),
        ("shipped", "delivered"),
    ]
    page = as_admin.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "nothing more to do" in page


@pytest.mark.parametrize(
    ("path", "to", "message", "status"),
    [
        (("paid", "shipped"), "cancelled", "A shipped order cannot be cancelled.", 409),
        (("paid", "shipped", "delivered"), "shipped", "Order #{id} is already delivered.", 409),
        ((), "shipped", "Order #{id} is placed; it cannot be marked shipped now.", 409),
        (("cancelled",), "paid", "Order #{id} is already cancelled.", 409),
        ((), "refunded", "“refunded” is not an order status.", 409),
    ],
)
def test_other_moves_are_refused_with_a_clear_message(as_admin, order, path, to, message, status):
    for step in path:
        _move(as_admin, order.id, step, note="Out of stock at the warehouse")
    before = _status(order.id)
    response = _move(as_admin, order.id, to, note="why not")
    assert response.status_code == status
    assert message.format(id=order.id) in response.get_data(as_text=True)
    assert _status(order.id) == before


def test_cancelling_needs_a_reason_and_gives_the_stock_back(as_admin, order, kettle):
    assert db.session.get(Product, kettle.id).stock == 3
    response = _move(as_admin, order.id, "cancelled", note="   ")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="cancel-reason-error">Give a reason for cancelling the order.' in page
    assert _status(order.id) == "placed"

    _move(as_admin, order.id, "cancelled", note="Customer asked by phone")
    assert _status(order.id) == "cancelled"
    assert db.session.get(Product, kettle.id).stock == 5
    movements = db.session.scalars(
        select(StockMovement).where(StockMovement.order_id == order.id).order_by(StockMovement.id)
    )
    assert [(m.reason, m.change, m.stock_after) for m in movements] == [
        ("order", -2, 3),
        ("cancel", 2, 5),
    ]


def test_two_admins_moving_the_same_order_one_is_refused_as_changed_meanwhile(app, order):
    stale = db.session.get(Order, order.id)
    assert stale.status == "placed"
    # Another admin's move lands between this one's read and its write.
    db.session.execute(
        Order.__table__.update().where(Order.id == order.id).values(status="cancelled")
    )
    with pytest.raises(orders.ChangedMeanwhile, match="changed meanwhile"):
        orders.move(stale, "paid")
    db.session.rollback()


def test_every_move_is_in_the_audit_log_with_before_and_after(as_admin, admin_user, order):
    _move(as_admin, order.id, "paid")
    _move(as_admin, order.id, "cancelled", note="Payment bounced")
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.before, e.after) for e in entries] == [
        ("order.paid", {"status": "placed"}, {"status": "paid"}),
        ("order.cancelled", {"status": "paid"}, {"status": "cancelled", "note": "Payment bounced"}),
    ]
    assert {e.actor_id for e in entries} == {admin_user.id}
    page = as_admin.get("/admin/audit?action=order.cancel").get_data(as_text=True)
    assert "order.cancelled" in page and "order.paid" not in page
    assert "Payment bounced" in page and "admin@example.com" in page


def test_the_shopper_is_mailed_when_the_order_ships_and_when_one_is_cancelled(
    as_admin,
    shopper,
    kettle,
    order,
    inbox,  # noqa: F811
):
    _move(as_admin, order.id, "paid")
    assert inbox.messages == []
    _move(as_admin, order.id, "shipped", note="Tracking 1Z999")
    other = _place(shopper, kettle)
    _move(as_admin, other.id, "cancelled", note="Damaged in the warehouse")
    assert [m["To"] for m in inbox.messages] == ["shopper@example.com"] * 2
    shipped, cancelled = (m.get_payload(decode=True).decode() for m in inbox.messages)
    assert inbox.messages[0]["Subject"] == f"Your order #{order.id} is on its way"
    assert "Tracking 1Z999" in shipped and f"/orders/{order.id}" in shipped
    assert "Reason: Damaged in the warehouse" in cancelled


def test_a_mail_server_that_is_down_does_not_undo_the_move(app, as_admin, order, caplog):
    app.config["SHOP_MAIL_URL"] = "smtp://127.0.0.1:1"
    _move(as_admin, order.id, "paid")
    response = _move(as_admin, order.id, "shipped", follow_redirects=True)
    assert response.status_code == 200
    assert "is now shipped" in response.get_data(as_text=True)
    assert _status(order.id) == "shipped"
    assert "could not send mail through 127.0.0.1:1" in caplog.text  # logged; the queue retries


def test_the_order_list_filters_by_status_and_customer_with_totals(as_admin, shopper, kettle):
    first = _place(shopper, kettle)
    other = factories.make_user(email="zoe@example.com", name="Zoe Zed")
    second = _place(other, kettle, 2)
    _move(as_admin, first.id, "paid")
    page = as_admin.get("/admin/orders").get_data(as_text=True)
    assert f"#{first.id}" in page and f"#{second.id}" in page and "2 orders" in page
    page = as_admin.get("/admin/orders?status=paid").get_data(as_text=True)
    assert f"#{first.id}" in page and f"#{second.id}</a>" not in page
    page = as_admin.get("/admin/orders?customer=ZED").get_data(as_text=True)
    assert f"#{second.id}" in page and "1 order" in page
    response = as_admin.get("/admin/orders?start=yesterday")
    assert response.status_code == 400
    assert "is not a date like" in response.get_data(as_text=True)


def test_the_shopper_sees_the_status_and_history_with_the_reason(
    client, auth, as_admin, order, kettle
):
    _move(as_admin, order.id, "paid")
    _move(as_admin, order.id, "cancelled", note="Sold out at the supplier")
    auth.login()
    page = client.get("/orders").get_data(as_text=True)
    assert "Cancelled</span>" in page and "since " in page
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    for words in ("Placed", "Paid", "Cancelled", "Reason: Sold out at the supplier"):
        assert words in page


def test_another_shoppers_order_is_a_404_and_admin_pages_are_403(client, auth, order):
    factories.make_user(email="nosy@example.com")
    auth.login(email="nosy@example.com")
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert client.get("/admin/orders").status_code == 403
    assert client.get(f"/admin/orders/{order.id}").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    token = csrf_token(client, "/")
    response = client.post(
        f"/admin/orders/{order.id}/status", data={"csrf_token": token, "to": "paid"}
    )
    assert response.status_code == 403
    assert _status(order.id) == "placed"


def test_no_admin_post_route_edits_or_deletes_audit_entries(app, as_admin, order):
    """Every POST route of the admin area, pressed with a valid token, adds entries at most."""
    entry = AuditEntry(action="test.seed", target_type="test", summary="keep me")
    db.session.add(entry)
    db.session.commit()
    before = {(e.id, e.action, e.summary) for e in db.session.scalars(select(AuditEntry))}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or "POST" not in rule.methods:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{arg}>", str(order.id), path)
        token = csrf_token(as_admin, "/admin/")
        as_admin.post(path, data={"csrf_token": token, "to": "paid", "note": "x"})
    db.session.expire_all()
    after = {(e.id, e.action, e.summary) for e in db.session.scalars(select(AuditEntry))}
    assert before <= after
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == len(after)


def test_experiment_start_stop_and_retrain_requests_are_audited(as_admin, monkeypatch):
    from shop.training import tasks

    monkeypatch.setattr(tasks, "request_retrain", lambda app, user_id: 42)
    token = csrf_token(as_admin, "/admin/experiments")
    as_admin.post(
        "/admin/experiments",
        data={
            "csrf_token": token,
            "name": "Home list",
            "variants-0-name": "A",
            "variants-0-algorithm": "hybrid",
            "variants-0-traffic_percent": "50",
            "variants-1-name": "B",
            "variants-1-algorithm": "popularity",
            "variants-1-traffic_percent": "50",
        },
    )
    experiment_id = db.session.scalar(select(AuditEntry.target_id))
    token = csrf_token(as_admin, "/admin/experiments")
    as_admin.post(f"/admin/experiments/{experiment_id}/stop", data={"csrf_token": token})
    as_admin.post("/admin/model/retrain", data={"csrf_token": token})
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["experiment.create", "experiment.stop", "model.retrain"]
    page = as_admin.get("/admin/audit").get_data(as_text=True)
    assert "Experiment “Home list” stopped" in page and "running" in page


def test_a_payment_provider_marks_an_order_paid_through_the_same_service(app, order):
    with app.test_request_context():
        event = orders.record_payment(order, "pi_3Nabc")
        db.session.commit()
    assert _status(order.id) == "paid"
    assert (event.from_status, event.to_status, event.note) == (
        "placed",
        "paid",
        "Payment pi_3Nabc",
    )
    [entry] = db.session.scalars(select(AuditEntry))
    assert (entry.action, entry.actor_email) == ("order.paid", "")
    with app.test_request_context(), pytest.raises(orders.TransitionRefused, match="already paid"):
        orders.record_payment(db.session.get(Order, order.id), "pi_3Nabc")


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's single write lock is what this is about")
def test_the_mail_is_sent_after_the_commit_with_the_database_free_to_write(app, as_admin, order):
    """While the mail server reads the message, another process can write to the database."""
    import sqlite3

    from aiosmtpd.controller import Controller

    from bench.servers import free_port
    from tests.test_account import Inbox

    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    order_id = order.id
    seen: list[str] = []

    class WritingInbox(Inbox):
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            with sqlite3.connect(path, timeout=0) as conn:
                conn.execute("BEGIN IMMEDIATE")  # fails at once if the shop held the lock
                seen.append(
                    conn.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()[
                        0
                    ]
                )
                conn.rollback()
            return await super().handle_DATA(server, session, envelope)

    box, port = WritingInbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config["SHOP_MAIL_URL"] = f"smtp://127.0.0.1:{port}"
        _move(as_admin, order_id, "paid")
        _move(as_admin, order_id, "shipped")
    finally:
        controller.stop()
    assert seen == ["shipped"]  # committed before the mail, and the lock was free
    assert len(box.messages) == 1
