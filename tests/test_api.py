"""`GET /recommend`: the JSON endpoint, its access rules and its answers to bad input."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from shop.training.runs import train_and_publish
from tests import factories
from tests.browser_support import live_server
from tests.test_training import build_small_shop

ITEM_KEYS = {"product_id", "name", "score", "reason", "price", "currency", "url", "image"}


def sign_in(auth, user, password="correct-horse"):
    response = auth.login(email=user.email, password=password)
    assert response.status_code == 302


@pytest.fixture
def trained_shop(app):
    shop = build_small_shop()
    for user in shop["users"][:3]:  # the shoppers these tests sign in as (scrypt is slow)
        user.set_password("correct-horse")
    from shop.extensions import db

    db.session.commit()
    run = train_and_publish(app, evaluate=False)
    assert run.status == "succeeded"
    shop["run"] = run
    return shop


def test_signed_out_caller_gets_401_json(client, shopper):
    response = client.get(f"/recommend?user_id={shopper.id}")
    assert response.status_code == 401
    assert response.is_json
    assert "Sign in" in response.get_json()["error"]["message"]


def test_shopper_reads_own_recommendations_from_the_trained_model(client, auth, trained_shop):
    user = trained_shop["users"][0]
    sign_in(auth, user)
    response = client.get(f"/recommend?user_id={user.id}&n=4")
    assert response.status_code == 200
    data = response.get_json()
    assert data["user_id"] == user.id
    assert data["model_version"] == trained_shop["run"].model_version
    assert data["fallback"] is False
    assert len(data["recommendations"]) == 4
    first = data["recommendations"][0]
    assert set(first) == ITEM_KEYS
    assert re.fullmatch(r"\d+\.\d{2}", first["price"])
    assert first["currency"] == "GBP"
    assert first["url"] == f"http://localhost/products/{first['product_id']}"
    assert first["image"].startswith("http://localhost/")
    assert first["reason"]
    assert response.headers["Cache-Control"] == "private, no-store"


def test_recommendations_leave_out_what_the_shopper_already_bought(client, auth, trained_shop):
    from sqlalchemy import select

    from shop.extensions import db
    from shop.models import Event

    user = trained_shop["users"][1]
    bought = set(
        db.session.scalars(
            select(Event.product_id).where(Event.user_id == user.id, Event.kind == "purchase")
        )
    )
    sign_in(auth, user)
    data = client.get(f"/recommend?user_id={user.id}&n=10").get_json()
    ids = {item["product_id"] for item in data["recommendations"]}
    assert ids and not ids & bought


def test_without_a_model_the_answer_is_popularity_marked_as_fallback(client, auth, shopper):
    factories.make_product("Blue Kettle")
    sign_in(auth, shopper)
    data = client.get(f"/recommend?user_id={shopper.id}").get_json()
    assert data["model_version"] is None
    assert data["fallback"] is True
    assert [item["name"] for item in data["recommendations"]] == ["Blue Kettle"]


def test_shopper_without_history_gets_the_popular_products(client, auth, trained_shop):
    newcomer = factories.make_user(email="new@example.com")
    sign_in(auth, newcomer)
    data = client.get(f"/recommend?user_id={newcomer.id}&n=5").get_json()
    assert data["fallback"] is False
    assert len(data["recommendations"]) == 5
    assert all(
        item["reason"].startswith(("Popular", "Trending")) for item in data["recommendations"]
    )


def test_another_shoppers_recommendations_are_forbidden(client, auth, shopper):
    other = factories.make_user(email="other@example.com")
    sign_in(auth, shopper)
    response = client.get(f"/recommend?user_id={other.id}")
    assert response.status_code == 403
    assert response.is_json
    assert "your own" in response.get_json()["error"]["message"]


def test_admin_reads_anyones_recommendations_and_gets_404_for_unknown_users(
    client, auth, shopper, admin_user
):
    sign_in(auth, admin_user, password="admin-password")
    assert client.get(f"/recommend?user_id={shopper.id}").status_code == 200
    response = client.get("/recommend?user_id=987654")
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "There is no user 987654."
    # Past the 32-bit ids PostgreSQL stores: still no such user, never a database error.
    assert client.get(f"/recommend?user_id={2**40}").status_code == 404


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "1.5", str(10**30), "", " ", "1e3", "0x10"])
def test_malformed_user_id_is_a_400_with_a_message(client, auth, shopper, raw):
    sign_in(auth, shopper)
    response = client.get("/recommend", query_string={"user_id": raw})
    assert response.status_code == 400
    assert response.is_json
    assert "user_id must be a positive whole number" in response.get_json()["error"]["message"]


def test_missing_user_id_is_a_400(client, auth, shopper):
    sign_in(auth, shopper)
    response = client.get("/recommend")
    assert response.status_code == 400
    assert "user_id is required" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("raw", ["0", "-5", "101", "abc", "2.5", ""])
def test_malformed_n_is_a_400_with_a_message(client, auth, shopper, raw):
    sign_in(auth, shopper)
    response = client.get("/recommend", query_string={"user_id": shopper.id, "n": raw})
    assert response.status_code == 400
    assert "n must be a whole number from 1 to 100" in response.get_json()["error"]["message"]


def test_recommend_over_real_http_with_a_signed_in_session(app, trained_shop):
    user = trained_shop["users"][2]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with live_server(app) as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(f"{url}/recommend?user_id={user.id}", timeout=10)
        assert refused.value.code == 401
        assert json.loads(refused.value.read())["error"]["status"] == 401
        refused.value.close()

        login_page = opener.open(f"{url}/auth/login", timeout=10).read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode(
            {"csrf_token": token, "email": user.email, "password": "correct-horse"}
        ).encode()
        opener.open(f"{url}/auth/login", data=form, timeout=10).read()

        with opener.open(f"{url}/recommend?user_id={user.id}&n=3", timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            data = json.loads(response.read())
    assert data["user_id"] == user.id
    assert data["model_version"] == trained_shop["run"].model_version
    assert len(data["recommendations"]) == 3
    assert data["recommendations"][0]["url"].startswith(f"{url}/products/")


def test_absolute_urls_come_from_server_name_not_the_host_header(app, client, auth, trained_shop):
    user = trained_shop["users"][0]
    sign_in(auth, user)
    client.set_cookie("session", client.get_cookie("session").value, domain="evil.example")
    app.config["SERVER_NAME"] = "shop.example"
    response = client.get(f"/recommend?user_id={user.id}&n=2", headers={"Host": "evil.example"})
    assert response.status_code == 200
    for item in response.get_json()["recommendations"]:
        assert item["url"].startswith("http://shop.example/")
        assert item["image"].startswith("http://shop.example/")
