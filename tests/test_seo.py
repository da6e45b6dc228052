"""What search engines and link previews read: JSON-LD, canonical and robots tags, the sitemap,
robots.txt, and the CSP hash that admits the JSON-LD block."""

from __future__ import annotations

import json
import re
import urllib.robotparser
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from shop import create_app
from shop.extensions import db
from shop.models import Category, Product, Rating
from shop.security import script_hash
from shop.seo.urls import PRIVATE_BLUEPRINTS
from shop.services.feedback import rate_product
from tests import factories

BASE = "https://shop.example"
SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


class Head(HTMLParser):
    """The tags of a page that crawlers read: meta, link and the JSON-LD blocks, as written."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.links: dict[str, list[str]] = {}
        self.json_ld: list[str] = []
        self._in_json_ld = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and ("name" in attrs or "property" in attrs):
            self.meta[attrs.get("name") or attrs["property"]] = attrs.get("content", "")
        elif tag == "link":
            self.links.setdefault(attrs["rel"], []).append(attrs["href"])
        elif tag == "script" and attrs.get("type") == "application/ld+json":
            self._in_json_ld = True
            self.json_ld.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_json_ld = False

    def handle_data(self, data):
        if self._in_json_ld:
            self.json_ld[-1] += data

    @property
    def canonical(self) -> str | None:
        found = self.links.get("canonical", [])
        assert len(found) <= 1, found
        return found[0] if found else None

    def structured(self, kind: str) -> dict:
        found = [data for data in map(json.loads, self.json_ld) if data["@type"] == kind]
        assert len(found) == 1, [json.loads(block)["@type"] for block in self.json_ld]
        return found[0]


@pytest.fixture
def seo_app(app):
    app.config["SHOP_BASE_URL"] = BASE
    return app


def head_of(client, path: str, **kwargs) -> Head:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return Head(response.get_data(as_text=True))


def rated_product() -> Product:
    product = factories.make_product(
        "Enamel Tea Kettle", category="Kitchen", brand="Hearthware", price="34.00"
    )
    for stars in (5, 4, 4):
        rate_product(factories.make_user().id, product.id, stars, review="Boils quickly.")
    db.session.commit()
    return product


# --- Product pages ------------------------------------------------------------------------------


def test_product_json_ld_says_what_the_database_row_says(seo_app, client):
    product = rated_product()

    data = head_of(client, f"/products/{product.id}").structured("Product")

    row = db.session.get(Product, product.id)
    assert data["@context"] == "https://schema.org"
    assert (data["name"], data["sku"], data["description"]) == (
        row.name,
        row.sku,
        row.description,
    )
    assert data["brand"] == {"@type": "Brand", "name": row.brand}
    assert data["category"] == row.category.name
    assert data["url"] == f"{BASE}/products/{row.id}"
    assert data["image"] == [f"{BASE}/products/{row.id}/image.svg"]
    offer = data["offers"]
    assert offer["@type"] == "Offer"
    assert Decimal(offer["price"]) == row.price
    assert offer["priceCurrency"] == seo_app.config["SHOP_CURRENCY"] == "GBP"
    # The factory's product has no counted stock, so the offer claims no availability.
    assert row.stock is None and "availability" not in offer
    rating = data["aggregateRating"]
    assert rating["ratingCount"] == row.rating_count == 3
    assert rating["ratingValue"] == pytest.approx(row.rating_sum / row.rating_count, abs=0.005)
    assert (rating["bestRating"], rating["worstRating"]) == (5, 1)


def test_a_product_nobody_rated_has_no_aggregate_rating(seo_app, client):
    product = factories.make_product("Oak Chopping Board")

    data = head_of(client, f"/products/{product.id}").structured("Product")

    assert "aggregateRating" not in data
    assert data["offers"]["price"] == f"{product.price:.2f}"


def test_product_breadcrumbs_go_home_category_product(seo_app, client):
    product = factories.make_product("Herb Planter", category="Garden")

    trail = head_of(client, f"/products/{product.id}").structured("BreadcrumbList")

    assert [(i["position"], i["name"], i["item"]) for i in trail["itemListElement"]] == [
        (1, "Home", f"{BASE}/"),
        (2, "Garden", f"{BASE}/products?category=garden"),
        (3, "Herb Planter", f"{BASE}/products/{product.id}"),
    ]


def test_each_json_ld_block_is_admitted_by_its_hash_and_nothing_else_is(seo_app, client):
    product = rated_product()

    response = client.get(f"/products/{product.id}")
    blocks = Head(response.get_data(as_text=True)).json_ld

    script_src = re.search(r"script-src ([^;]+)", response.headers["Content-Security-Policy"])
    sources = script_src.group(1).split()
    assert len(blocks) == 2
    assert sources == ["'self'", *(script_hash(block) for block in blocks)]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    # A page without JSON-LD keeps the plain policy.
    other = client.get("/auth/login").headers["Content-Security-Policy"]
    assert "sha256-" not in other


def test_a_name_cannot_close_the_json_ld_script(seo_app, client):
    product = factories.make_product('Mug </script><script>alert(1)</script> & "co"')

    html = client.get(f"/products/{product.id}").get_data(as_text=True)

    data = Head(html).structured("Product")
    assert data["name"] == product.name
    assert "<script>alert(1)" not in html


def test_product_pages_carry_open_graph_and_twitter_cards(seo_app, client):
    product = factories.make_product(
        "Brass Garden Lantern", category="Garden", price="45.00", description="A warm lantern."
    )

    meta = head_of(client, f"/products/{product.id}?src=home:top-clicked").meta

    assert meta["og:type"] == "product"
    assert meta["og:title"] == meta["twitter:title"] == "Brass Garden Lantern"
    assert meta["og:url"] == f"{BASE}/products/{product.id}"  # without the click-tracking source
    assert meta["og:image"] == meta["twitter:image"] == f"{BASE}/products/{product.id}/image.svg"
    assert meta["product:price:amount"] == "45.00"
    assert meta["product:price:currency"] == "GBP"
    assert meta["twitter:card"] == "summary"
    assert "A warm lantern." in meta["og:description"] == meta["description"]


# --- Canonical, robots and pagination -----------------------------------------------------------


def test_canonical_urls_come_from_the_configured_base_not_the_host_header(seo_app, client):
    product = factories.make_product()

    head = head_of(
        client, f"/products/{product.id}?src=search&imp=x", headers={"Host": "evil.example"}
    )

    assert head.canonical == f"{BASE}/products/{product.id}"
    assert "evil.example" not in json.dumps(head.meta) + "".join(head.json_ld)


def test_without_a_base_url_the_shop_states_no_absolute_urls(app, client):
    product = factories.make_product()

    head = head_of(client, f"/products/{product.id}")

    assert head.canonical is None and "og:url" not in head.meta
    data = head.structured("Product")
    assert "url" not in data and "image" not in data
    assert data["offers"]["price"] == f"{product.price:.2f}"
    assert client.get("/sitemap.xml").status_code == 404
    assert "Sitemap:" not in client.get("/robots.txt").get_data(as_text=True)


def test_the_base_url_falls_back_to_server_name(app):
    app.config.update(SERVER_NAME="shop.test", SHOP_BASE_URL=None)
    with app.test_request_context("/products"):
        from shop.seo.urls import base_url

        assert base_url() == "http://shop.test"
        app.config["SHOP_ENV"] = "production"
        assert base_url() == "https://shop.test"


@pytest.mark.parametrize("value", ["shop.example", "https://shop.example/shop", "ftp://x.example"])
def test_a_base_url_that_is_not_an_origin_is_refused(value, tmp_path):
    with pytest.raises(ValueError, match="SHOP_BASE_URL"):
        create_app(
            {
                "SHOP_ENV": "testing",
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "SHOP_MODEL_DIR": str(tmp_path),
                "SHOP_BASE_URL": value,
            }
        )


def test_a_category_page_is_its_own_canonical_and_a_sorted_one_is_noindex(seo_app, client):
    seo_app.config["SHOP_PAGE_SIZE"] = 2
    for n in range(5):
        factories.make_product(f"Mug {n}", category="Kitchen")

    page2 = head_of(client, "/products?category=kitchen&page=2&utm_source=x")
    assert "robots" not in page2.meta
    assert page2.canonical == f"{BASE}/products?category=kitchen&page=2"
    assert page2.links["prev"] == [f"{BASE}/products?category=kitchen&utm_source=x"]
    assert page2.links["next"] == [f"{BASE}/products?category=kitchen&utm_source=x&page=3"]

    default_order = head_of(client, "/products?category=kitchen&sort=popular")
    assert "robots" not in default_order.meta
    assert default_order.canonical == f"{BASE}/products?category=kitchen"
    assert "prev" not in default_order.links

    by_price = head_of(client, "/products?category=kitchen&sort=price-asc&page=3")
    assert by_price.meta["robots"] == "noindex, follow"
    assert by_price.canonical is None  # a noindex page names no canonical: mixed signals
    assert by_price.links["prev"] == [f"{BASE}/products?category=kitchen&sort=price-asc&page=2"]
    assert "next" not in by_price.links


def test_one_query_is_indexable_and_its_filtered_variants_are_not(seo_app, client):
    seo_app.config["SHOP_PAGE_SIZE"] = 1
    factories.make_product("Blue Kettle", category="Kitchen", brand="Acme")
    factories.make_product("Red Kettle", category="Kitchen", brand="Hearthware")

    plain = head_of(client, "/search?q=kettle")
    assert "robots" not in plain.meta
    assert plain.canonical == f"{BASE}/search?q=kettle"
    assert plain.links["next"] == [f"{BASE}/search?q=kettle&page=2"]
    assert "kettle" in plain.meta["description"]

    for variant in (
        "/search?q=kettle&brand=Acme",
        "/search?q=kettle&category=kitchen",
        "/search?q=kettle&price_max=20",
        "/search?q=kettle&exact=1",
        "/search?q=ketle",  # shown as the results for "kettle"
        "/search?q=qqqzzzxxy",  # nothing found
        "/search",
    ):
        head = head_of(client, variant)
        assert head.meta.get("robots") == "noindex, follow", variant
        assert head.canonical is None, variant


def test_private_and_error_pages_are_noindex(seo_app, client, auth):
    assert head_of(client, "/auth/login").meta["robots"] == "noindex"
    assert head_of(client, "/auth/reset").meta["robots"] == "noindex"
    missing = Head(client.get("/products/99999").get_data(as_text=True))
    assert missing.meta["robots"] == "noindex" and missing.canonical is None
    auth.register()  # and signed in
    for path in ("/cart", "/orders", "/auth/account"):
        head = head_of(client, path)
        assert head.meta["robots"] == "noindex", path
        assert head.canonical is None, path


def test_every_public_page_has_its_own_description(seo_app, client):
    product = factories.make_product("Stoneware Mug", category="Kitchen")

    descriptions = {
        path: head_of(client, path).meta["description"]
        for path in ("/", "/products", "/products?category=kitchen", f"/products/{product.id}")
    }
    descriptions["search"] = head_of(client, "/search?q=mug").meta["description"]

    assert all(descriptions.values())
    assert len(set(descriptions.values())) == len(descriptions), descriptions
    assert all(len(text) <= 160 for text in descriptions.values())


# --- sitemap.xml and robots.txt -----------------------------------------------------------------


def test_the_sitemap_lists_exactly_the_listed_pages_with_lastmod(seo_app, client):
    kettle = rated_product()
    mug = factories.make_product("Mug", category="Kitchen")
    gnome = factories.make_product("Gnome", category="Garden")
    loose = factories.make_product("Gift Card", category=None)
    factories.make_category("Toys")  # no products: not a page worth listing
    old = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    for product in (mug, gnome, loose):
        product.created_at = product.updated_at = old
    db.session.commit()

    response = client.get("/sitemap.xml")

    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"
    listed = {
        url.findtext("sm:loc", namespaces=SITEMAP_NS): datetime.fromisoformat(
            url.findtext("sm:lastmod", namespaces=SITEMAP_NS)
        )
        for url in root.findall("sm:url", SITEMAP_NS)
    }
    products = db.session.scalars(select(Product)).all()
    slugs = db.session.scalars(select(Category.slug).where(Category.products.any())).all()
    assert sorted(slugs) == ["garden", "kitchen"]
    assert set(listed) == {
        f"{BASE}/",
        f"{BASE}/products",
        *(f"{BASE}/products?category={slug}" for slug in slugs),
        *(f"{BASE}/products/{p.id}" for p in products),
    }
    assert listed[f"{BASE}/products/{gnome.id}"] == old
    last_review = db.session.scalar(
        select(Rating.updated_at).where(Rating.product_id == kettle.id).order_by(Rating.id.desc())
    )
    expected = last_review if last_review.tzinfo else last_review.replace(tzinfo=UTC)
    assert listed[f"{BASE}/products/{kettle.id}"] == expected.replace(microsecond=0)
    assert listed[f"{BASE}/products?category=garden"] == old
    assert listed[f"{BASE}/products?category=kitchen"] >= old + timedelta(days=1)


def test_robots_txt_keeps_private_pages_out_and_points_at_the_sitemap(seo_app, client):
    product = factories.make_product()
    response = client.get("/robots.txt")
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(text.splitlines())

    assert robots.site_maps() == [f"{BASE}/sitemap.xml"]
    # Every page of the private blueprints, whatever it is called...
    private = [
        re.sub(r"<[^>]+>", "1", rule.rule)
        for rule in seo_app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in PRIVATE_BLUEPRINTS and rule.endpoint != "api.health"
    ]
    assert "/auth/account" in private and "/auth/reset/1" in private
    for path in [*private, "/admin", "/search/suggest?q=mug"]:
        assert not robots.can_fetch("*", f"{BASE}{path}"), path
    # ...and none of the shop window.
    for path in (
        "/",
        "/products",
        "/products?category=kitchen",
        f"/products/{product.id}",
        f"/products/{product.id}/image.svg",
        "/search?q=mug",
        "/static/css/shop.css",
        "/sitemap.xml",
    ):
        assert robots.can_fetch("*", f"{BASE}{path}"), path


@pytest.mark.parametrize(
    ("count", "state"), [(0, "OutOfStock"), (3, "LimitedAvailability"), (40, "InStock")]
)
def test_the_offer_says_how_much_is_in_stock(seo_app, client, count, state):
    product = rated_product()
    product.stock = count
    db.session.commit()
    offer = head_of(client, f"/products/{product.id}").structured("Product")["offers"]
    assert offer["availability"] == f"https://schema.org/{state}"
