"""The sitemap is built once per catalogue change: kept between requests, rebuilt when a product or
category changes, answered 304 when the crawler has it, and split into an index past the limit."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from shop.extensions import db
from shop.seo import sitemap as sitemap_module
from shop.services import products as product_service
from shop.services.products import PRODUCT_FIELDS, ProductData
from tests import factories

BASE = "https://shop.example"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def seo_app(app):
    app.config["SHOP_BASE_URL"] = BASE
    return app


@contextmanager
def statements():
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def locs(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    return [loc.text for loc in root.iter(f"{{{NS['sm']}}}loc")]


def product_urls(client) -> set[str]:
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    return {url for url in locs(response.data) if "/products/" in url}


def test_the_second_request_only_asks_whether_the_catalogue_changed(seo_app, client):
    for name in ("Mug", "Kettle", "Lamp"):
        factories.make_product(name, category="Kitchen")
    first = client.get("/sitemap.xml")

    with statements() as seen:
        second = client.get("/sitemap.xml")

    assert second.status_code == 200 and second.data == first.data
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1, seen
    assert "max(products.updated_at)" in seen[-1].lower()


def edit(product, **changes) -> None:
    """Change a product the way the admin's product form does (which sets ``updated_at``)."""
    data = ProductData(**{name: getattr(product, name) for name in PRODUCT_FIELDS})
    product_service.update_product(product, replace(data, **changes))
    db.session.commit()


def test_hiding_renaming_and_adding_a_product_show_on_the_next_request(seo_app, client):
    mug = factories.make_product("Mug", category="Kitchen")
    lamp = factories.make_product("Lamp", category="Kitchen")
    lamp.created_at = lamp.updated_at = datetime(2024, 1, 2, tzinfo=UTC)
    db.session.commit()
    assert product_urls(client) == {f"{BASE}/products/{mug.id}", f"{BASE}/products/{lamp.id}"}

    edit(mug, listed=False)
    assert product_urls(client) == {f"{BASE}/products/{lamp.id}"}

    before = client.get("/sitemap.xml")
    edit(lamp, name="Desk Lamp")
    after = client.get("/sitemap.xml")
    assert after.headers["ETag"] != before.headers["ETag"]
    assert b"2024-01-02" in before.data and b"2024-01-02" not in after.data  # lastmod moved

    kettle = factories.make_product("Kettle", category="Garden")
    urls = locs(client.get("/sitemap.xml").data)
    assert f"{BASE}/products/{kettle.id}" in urls
    assert f"{BASE}/products?category=garden" in urls


def test_an_unchanged_sitemap_is_a_304_and_gzip_is_served_to_who_takes_it(seo_app, client):
    factories.make_product("Mug", category="Kitchen")
    first = client.get("/sitemap.xml")
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]

    again = client.get("/sitemap.xml", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""

    zipped = client.get("/sitemap.xml", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == first.data
    assert zipped.headers["ETag"] != etag

    factories.make_product("Lamp", category="Kitchen")
    changed = client.get("/sitemap.xml", headers={"If-None-Match": etag})
    assert changed.status_code == 200


def test_past_the_limit_the_sitemap_is_an_index_of_smaller_files(seo_app, client, monkeypatch):
    monkeypatch.setattr(sitemap_module, "MAX_URLS", 3)
    made = [factories.make_product(f"Thing {i}", category="Kitchen") for i in range(6)]
    # Home, all products, one category, six products: nine URLs, three files of three.

    index = client.get("/sitemap.xml")

    root = ET.fromstring(index.data)
    assert root.tag == f"{{{NS['sm']}}}sitemapindex"
    children = locs(index.data)
    assert children == [f"{BASE}/sitemap-{n}.xml" for n in (1, 2, 3)]
    assert all(s.findtext("sm:lastmod", namespaces=NS) for s in root.findall("sm:sitemap", NS))
    listed: list[str] = []
    for child in children:
        response = client.get(child.removeprefix(BASE))
        assert response.status_code == 200
        child_root = ET.fromstring(response.data)
        assert child_root.tag == f"{{{NS['sm']}}}urlset"
        urls = locs(response.data)
        assert 1 <= len(urls) <= 3
        listed += urls
    assert len(listed) == len(set(listed)) == 9
    assert {f"{BASE}/products/{p.id}" for p in made} <= set(listed)
    assert client.get("/sitemap-4.xml").status_code == 404
    assert client.get("/sitemap-0.xml").status_code == 404  # the index is /sitemap.xml only
    robots = client.get("/robots.txt").get_data(as_text=True)
    assert f"Sitemap: {BASE}/sitemap.xml" in robots


def test_without_an_index_the_numbered_files_do_not_exist(seo_app, client):
    factories.make_product("Mug")
    assert client.get("/sitemap-1.xml").status_code == 404


def test_a_client_fetching_the_sitemap_in_a_loop_is_told_to_slow_down(seo_app, client):
    seo_app.config["SHOP_SITEMAP_LIMIT"] = "3 per minute"
    factories.make_product("Mug")

    statuses = [client.get("/sitemap.xml").status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    assert client.get("/robots.txt").status_code == 200
