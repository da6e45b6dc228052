"""Merchandising: pins at the top of a category, boosted and buried categories, the admin page.

Every check looks at what a shopper or an admin sees (the listing, the home page's lists, the
product page, the admin page and its messages) or at rows really stored.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import AuditEntry, CategoryBoost, CategoryPin, Like
from shop.services import merchandising
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def as_admin(client, auth, admin_user):
    auth.login(email="admin@example.com", password="admin-password")
    return client


def cards(html: str) -> list[tuple[str, str | None]]:
    """(product name, reason or None) for each product card, in page order."""
    found = []
    for chunk in html.split('class="card h-100 product-card')[1:]:
        name = re.search(r'class="[^"]*product-name">([^<]+)</a>', chunk).group(1)
        reason = re.search(r'class="small text-success mt-1 reason">([^<]+)</div>', chunk)
        found.append((name, reason.group(1) if reason else None))
    return found


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def popular(names_and_clicks: list[tuple[str, int]], category: str = "Kitchen") -> list:
    products = []
    for name, clicks in names_and_clicks:
        product = factories.make_product(name, category=category)
        product.click_count = clicks
        products.append(product)
    db.session.commit()
    return products


def pin_form(category, product_ref, position) -> dict:
    """What the browser sends from a category's pin form (its fields carry the category's prefix)."""
    return {"product": str(product_ref), "position": str(position)}


def post_pin(client, category, product_ref, position, **kwargs):
    prefix = f"pin{category.id}-"
    data = {f"{prefix}{k}": v for k, v in pin_form(category, product_ref, position).items()}
    data[f"{prefix}csrf_token"] = csrf_token(client, "/admin/merchandising")
    return client.post(f"/admin/merchandising/categories/{category.id}/pins", data=data, **kwargs)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'<div class="invalid-feedback" id="{field_id}-error">([^<]*)</div>', html)
    assert match, f"no message next to {field_id}"
    return html_lib.unescape(match.group(1))


# --- Pins: the admin page ----------------------------------------------------------------------


def test_a_pinned_product_comes_first_in_the_popular_listing_and_says_featured(as_admin, client):
    top, middle, quiet = popular([("Top Kettle", 50), ("Mid Kettle", 20), ("Quiet Kettle", 0)])
    kitchen = top.category

    first = post_pin(client, kitchen, quiet.sku, 1, follow_redirects=True)
    second = post_pin(client, kitchen, str(middle.id), 2, follow_redirects=True)

    assert first.status_code == second.status_code == 200
    assert "Pinned “Quiet Kettle” at position 1 in Kitchen." in first.get_data(as_text=True)
    shown = cards(client.get("/products?category=kitchen").get_data(as_text=True))
    assert shown == [
        ("Quiet Kettle", "Featured"),
        ("Mid Kettle", "Featured"),
        ("Top Kettle", None),
    ]
    # Another sort is not the popular list: no pins, no "Featured".
    by_price = cards(client.get("/products?category=kitchen&sort=newest").get_data(as_text=True))
    assert all(reason is None for _, reason in by_price)


def test_the_admin_page_lists_pins_and_boosts_and_is_in_the_admin_nav(as_admin, client):
    (kettle,) = popular([("Copper Kettle", 1)])
    merchandising.add_pin(kettle.category, kettle, 2)
    today = merchandising.today()
    db.session.add_all(
        [
            CategoryBoost(
                category=kettle.category,
                weight=1.5,
                starts_on=today,
                ends_on=today,
                note="Summer sale",
            ),
            CategoryBoost(
                category=kettle.category,
                weight=0.5,
                starts_on=today + timedelta(days=3),
                ends_on=today + timedelta(days=5),
            ),
            CategoryBoost(
                category=kettle.category,
                weight=1.5,
                starts_on=today - timedelta(days=9),
                ends_on=today - timedelta(days=2),
            ),
        ]
    )
    db.session.commit()

    html = client.get("/admin/merchandising").get_data(as_text=True)

    assert 'href="/admin/merchandising"' in client.get("/admin/").get_data(as_text=True)
    pins = html[html.index('id="pins-') : html.index('id="boosts"')]
    assert "Copper Kettle" in pins and f"SKU {kettle.sku}" in pins and "1 of 3 pinned" in pins
    prefix = f"pin{kettle.category_id}-product"
    assert f'name="{prefix}"' in pins and f'list="{prefix}-choices"' in pins
    boosts = html[html.index('id="boost-table"') :]
    assert "Summer sale" in boosts
    assert [s for s in ("running", "scheduled", "ended") if f'class="boost-{s}"' in boosts] == [
        "running",
        "scheduled",
        "ended",
    ]


def test_a_fourth_pin_is_refused_with_a_message_next_to_the_product(as_admin, client):
    products = popular([(f"Kettle {i}", i) for i in range(4)])
    kitchen = products[0].category
    for position, product in enumerate(products[:3], start=1):
        assert post_pin(client, kitchen, product.sku, position).status_code == 302

    response = post_pin(client, kitchen, products[3].sku, 1)

    assert response.status_code == 409
    message = field_error(response.get_data(as_text=True), f"pin{kitchen.id}-product")
    assert message == "Kitchen already has 3 pinned products; remove one first."
    assert count(CategoryPin) == 3


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("other-category", "product", "Garden Hose is in Garden, not Kitchen"),
        ("hidden", "product", "Hidden Kettle is hidden from shoppers; list it again"),
        ("unknown", "product", "No product has the id or SKU “NOPE-1”."),
        ("blank", "product", "Name the product by its id or its SKU."),
        ("already", "product", "Pinned Kettle is already pinned in Kitchen at position 1."),
        ("taken", "position", "Position 1 is taken by Pinned Kettle"),
        ("position-4", "position", "Choose a position from 1 to 3."),
        ("position-abc", "position", "Choose a position from 1 to 3."),
    ],
)
def test_a_pin_the_rules_do_not_allow_is_refused_and_nothing_is_stored(
    as_admin, client, case, field, message
):
    pinned, hidden, spare = popular([("Pinned Kettle", 3), ("Hidden Kettle", 2), ("Kettle", 1)])
    hose = factories.make_product("Garden Hose", category="Garden")
    hidden.listed = False
    kitchen = pinned.category
    merchandising.add_pin(kitchen, pinned, 1)
    db.session.commit()
    ref, position = {
        "other-category": (hose.sku, 2),
        "hidden": (hidden.sku, 2),
        "unknown": ("NOPE-1", 2),
        "blank": ("", 2),
        "already": (pinned.id, 2),
        "taken": (spare.sku, 1),
        "position-4": (spare.sku, 4),
        "position-abc": (spare.sku, "abc"),
    }[case]
    entries = count(AuditEntry)

    response = post_pin(client, kitchen, ref, position)

    assert response.status_code in (409, 422)
    assert message in field_error(response.get_data(as_text=True), f"pin{kitchen.id}-{field}")
    assert db.session.scalars(select(CategoryPin.product_id)).all() == [pinned.id]
    assert count(AuditEntry) == entries


def test_pinning_in_an_unknown_category_is_not_found(as_admin, client):
    (kettle,) = popular([("Kettle", 1)])

    response = client.post(
        "/admin/merchandising/categories/999/pins",
        data={
            "pin999-product": kettle.sku,
            "pin999-position": "1",
            "pin999-csrf_token": csrf_token(client, "/admin/merchandising"),
        },
    )

    assert response.status_code == 404
    assert count(CategoryPin) == 0


def test_removing_a_pin_needs_a_post_with_csrf_and_is_audited(as_admin, client, post):
    (kettle,) = popular([("Kettle", 1)])
    pin = merchandising.add_pin(kettle.category, kettle, 1)
    db.session.commit()
    path = f"/admin/merchandising/pins/{pin.id}/remove"

    assert client.get(path).status_code == 405
    assert client.post(path, data={}).status_code == 400
    response = post(path, follow_redirects=True)

    assert response.status_code == 200
    assert "Unpinned “Kettle” from Kitchen." in response.get_data(as_text=True)
    assert count(CategoryPin) == 0
    assert db.session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc())) == (
        "merch.unpin"
    )


# --- Boosts: the admin page --------------------------------------------------------------------


def boost_form(category_id, kind="boost", starts=None, ends=None, note="Summer sale") -> dict:
    today = merchandising.today()
    return {
        "category": str(category_id),
        "kind": kind,
        "starts_on": (starts or today).isoformat() if not isinstance(starts, str) else starts,
        "ends_on": (ends or today + timedelta(days=6)).isoformat()
        if not isinstance(ends, str)
        else ends,
        "note": note,
    }


def test_an_admin_boosts_a_category_for_a_date_range(as_admin, post):
    (kettle,) = popular([("Kettle", 1)])

    response = post(
        "/admin/merchandising/boosts", boost_form(kettle.category_id), follow_redirects=True
    )

    assert response.status_code == 200
    boost = db.session.scalar(select(CategoryBoost))
    assert (boost.weight, boost.note) == (merchandising.BOOST_WEIGHT, "Summer sale")
    assert boost.ends_on - boost.starts_on == timedelta(days=6)
    assert 'class="boost-running"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"starts_on": "2031-05-10", "ends_on": "2031-05-09"},
            "ends_on",
            "The end date must be on or after the start date.",
        ),
        ({"ends_on": "2020-01-02", "starts_on": "2020-01-01"}, "ends_on", "already ended"),
        ({"starts_on": "10/05/2031"}, "starts_on", "Enter a date as YYYY-MM-DD."),
        ({"ends_on": ""}, "ends_on", "Give the last day."),
        ({"category": "999"}, "category", "Choose one of the shop's categories."),
        ({"category": "abc"}, "category", "Choose one of the shop's categories."),
        ({"kind": "sink"}, "kind", "Choose boost or bury."),
        ({"note": "x" * 201}, "note", "200"),
    ],
)
def test_a_bad_boost_is_refused_next_to_its_field(as_admin, post, overrides, field, message):
    (kettle,) = popular([("Kettle", 1)])
    data = {**boost_form(kettle.category_id), **overrides}

    response = post("/admin/merchandising/boosts", data)

    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), field)
    assert count(CategoryBoost) == 0


def test_removing_a_boost_is_audited(as_admin, post):
    (kettle,) = popular([("Kettle", 1)])
    post("/admin/merchandising/boosts", boost_form(kettle.category_id, kind="bury"))
    boost = db.session.scalar(select(CategoryBoost))
    assert boost.weight == merchandising.BURY_WEIGHT

    response = post(f"/admin/merchandising/boosts/{boost.id}/remove", follow_redirects=True)

    assert response.status_code == 200 and count(CategoryBoost) == 0
    assert "No category is boosted or buried." in response.get_data(as_text=True)


def test_every_merchandising_change_is_in_the_audit_log(as_admin, client, post):
    (kettle,) = popular([("Copper Kettle", 1)])
    post_pin(client, kettle.category, kettle.sku, 1)
    pin = db.session.scalar(select(CategoryPin))
    post(f"/admin/merchandising/pins/{pin.id}/remove")
    post("/admin/merchandising/boosts", boost_form(kettle.category_id))
    boost = db.session.scalar(select(CategoryBoost))
    post(f"/admin/merchandising/boosts/{boost.id}/remove")

    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("merch.%")).order_by(AuditEntry.id)
    ).all()

    assert [e.action for e in entries] == [
        "merch.pin",
        "merch.unpin",
        "merch.boost",
        "merch.unboost",
    ]
    assert all(e.actor_email == "admin@example.com" for e in entries)
    assert entries[0].summary == "Pinned Copper Kettle at position 1 in Kitchen"
    assert entries[2].after["note"] == "Summer sale"
    page = client.get("/admin/audit?action=merch").get_data(as_text=True)
    assert "Pinned Copper Kettle at position 1 in Kitchen" in page


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/merchandising"),
        ("POST", "/admin/merchandising/categories/1/pins"),
        ("POST", "/admin/merchandising/pins/1/remove"),
        ("POST", "/admin/merchandising/boosts"),
        ("POST", "/admin/merchandising/boosts/1/remove"),
    ],
)
def test_merchandising_is_for_admins_only(client, auth, shopper, post, method, path):
    (kettle,) = popular([("Kettle", 1)])
    data = {"pin1-product": kettle.sku, "pin1-position": "1", **boost_form(kettle.category_id)}

    signed_out = client.get(path) if method == "GET" else post(path, data)
    auth.login()
    as_shopper = client.get(path) if method == "GET" else post(path, data)

    assert signed_out.status_code == 302 and "/auth/login" in signed_out.headers["Location"]
    assert as_shopper.status_code == 403
    assert count(CategoryPin) == 0 and count(CategoryBoost) == 0


# --- What the shopper sees ---------------------------------------------------------------------


def test_a_hidden_or_sold_out_pin_is_skipped_and_not_featured(client):
    top, hidden, sold_out, quiet = popular(
        [("Top Kettle", 50), ("Hidden Kettle", 40), ("Empty Kettle", 30), ("Quiet Kettle", 0)]
    )
    kitchen = top.category
    for position, product in enumerate((hidden, sold_out, quiet), start=1):
        db.session.add(CategoryPin(category=kitchen, product=product, position=position))
    hidden.listed = False
    sold_out.stock = 0
    db.session.commit()

    shown = cards(client.get("/products?category=kitchen").get_data(as_text=True))

    assert shown == [("Quiet Kettle", "Featured"), ("Top Kettle", None), ("Empty Kettle", None)]


def test_pins_lead_the_popular_in_list_of_a_product_page_in_position_order(client):
    viewed, top, second, first = popular(
        [("Viewed Kettle", 9), ("Top Kettle", 50), ("Pin Two", 0), ("Pin One", 1)]
    )
    hidden = factories.make_product("Hidden Pin", category="Kitchen")
    hidden.listed = False
    for position, product in ((1, first), (2, hidden), (3, second)):
        db.session.add(CategoryPin(category=viewed.category, product=product, position=position))
    db.session.commit()

    similar = section(client.get(f"/products/{viewed.id}").get_data(as_text=True), "similar")

    assert cards(similar) == [
        ("Pin One", "Featured"),
        ("Pin Two", "Featured"),
        ("Top Kettle", "Popular in Kitchen"),
    ]


def test_a_pin_in_because_you_liked_says_featured_not_because_you_liked(client, auth, shopper):
    liked, other, pinned = popular([("Red Teapot", 0), ("Green Teapot", 0), ("Pinned Teapot", 0)])
    # Ten popular garden tools fill "Recommended for you", leaving the teapots for this list.
    popular([(f"Garden Tool {i}", 30) for i in range(10)], category="Garden")
    db.session.add(CategoryPin(category=liked.category, product=pinned, position=1))
    db.session.add(Like(user_id=shopper.id, product_id=liked.id))
    db.session.commit()
    auth.login()

    because = section(client.get("/").get_data(as_text=True), "because-liked")

    assert cards(because) == [
        ("Pinned Teapot", "Featured"),
        ("Green Teapot", "Because you liked Red Teapot"),
    ]


def _boosted(category, weight: float, days: tuple[int, int] = (0, 0)) -> None:
    today = merchandising.today()
    db.session.add(
        CategoryBoost(
            category=category,
            weight=weight,
            starts_on=today + timedelta(days=days[0]),
            ends_on=today + timedelta(days=days[1]),
        )
    )
    db.session.commit()


@pytest.fixture
def two_aisles(app):
    kitchen = popular([("K1", 10), ("K2", 9), ("K3", 8)], category="Kitchen")
    garden = popular([("G1", 7), ("G2", 6), ("G3", 5)], category="Garden")
    return kitchen[0].category, garden[0].category


def top_clicked(client) -> list[str]:
    return [
        name for name, _ in cards(section(client.get("/").get_data(as_text=True), "top-clicked"))
    ]


def test_without_boosts_the_popular_list_follows_clicks(client, two_aisles):
    assert top_clicked(client) == ["K1", "K2", "K3", "G1", "G2"]


def test_a_running_boost_raises_the_category_in_the_popular_list(client, two_aisles):
    _, garden = two_aisles
    _boosted(garden, merchandising.BOOST_WEIGHT, days=(-1, 1))

    assert top_clicked(client) == ["K1", "K2", "G1", "K3", "G2"]


def test_a_running_bury_lowers_the_category_in_the_popular_list(client, two_aisles):
    kitchen, _ = two_aisles
    _boosted(kitchen, merchandising.BURY_WEIGHT)

    assert top_clicked(client) == ["K1", "G1", "K2", "K3", "G2"]


@pytest.mark.parametrize("days", [(-10, -1), (1, 10)], ids=["ended", "scheduled"])
def test_a_boost_outside_its_dates_changes_nothing(client, two_aisles, days):
    _, garden = two_aisles
    _boosted(garden, merchandising.BOOST_WEIGHT, days=days)

    assert top_clicked(client) == ["K1", "K2", "K3", "G1", "G2"]


def test_a_boost_raises_the_category_in_recommended_for_you(client, auth, shopper, two_aisles):
    _, garden = two_aisles
    popular([(f"K{i}", 20 + i) for i in range(4, 11)], category="Kitchen")
    # A shopper with a history (one with none is shown the shop's lists, not a personal one).
    factories.make_event(shopper, factories.make_product("Seen", category="Kitchen"), "view")
    auth.login()
    before = [n for n, _ in cards(section(client.get("/").get_data(as_text=True), "for-you"))]
    _boosted(garden, merchandising.BOOST_WEIGHT)

    after = [n for n, _ in cards(section(client.get("/").get_data(as_text=True), "for-you"))]

    assert "G1" not in before and len(before) == 10
    assert "G1" in after and len(after) == 10


def test_a_pin_whose_product_moved_category_is_skipped(client):
    top, moved = popular([("Top Kettle", 50), ("Moved Kettle", 0)])
    db.session.add(CategoryPin(category=top.category, product=moved, position=1))
    moved.category = factories.make_category("Garden")
    db.session.commit()

    listing = cards(client.get("/products?category=kitchen").get_data(as_text=True))
    garden = cards(client.get("/products?category=garden").get_data(as_text=True))

    assert listing == [("Top Kettle", None)]
    assert garden == [("Moved Kettle", None)]


def test_a_boost_lifts_a_ranker_s_negative_scores_and_a_bury_lowers_them(app):
    """The engine's scores may be negative; the boost must still raise, never lower, them."""
    kitchen, garden = factories.make_category("Kitchen"), factories.make_category("Garden")
    items = ["k1", "g1", "k2", "g2"]
    scores = [-0.1, -0.2, -0.3, -0.9]
    categories = [kitchen.id, garden.id, kitchen.id, garden.id]

    plain = merchandising.reweight(items, scores, categories, {}, 3)
    boosted = merchandising.reweight(items, scores, categories, {garden.id: 1.5}, 3)
    buried = merchandising.reweight(items, scores, categories, {kitchen.id: 0.5}, 3)

    assert plain == ["k1", "g1", "k2"]
    assert boosted == ["g1", "k1", "k2"]
    assert buried == ["g1", "k1", "k2"]
