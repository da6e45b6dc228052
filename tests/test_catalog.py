"""The shop window: home page lists, browsing, the product page and its drawn picture."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from shop.experiments.impressions import impression_token
from shop.extensions import db, local_pages
from shop.models import CartItem, Event, Experiment, ExperimentVariant, Impression, Like
from shop.services.events import record_event
from tests import factories


def section(html: str, section_id: str) -> str:
    """The HTML of one <section id=...> of a page."""
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def clicks(product, n: int) -> None:
    for _ in range(n):
        record_event(product.id, "click", source="test")
    db.session.commit()


def test_home_shows_top_five_most_clicked_in_click_order(client):
    products = [factories.make_product(f"Gadget {name}") for name in "ABCDEF"]
    for product, n in zip(products, [3, 9, 1, 7, 5, 0], strict=True):
        clicks(product, n)

    top = section(client.get("/").get_data(as_text=True), "top-clicked")

    names = re.findall(r"Gadget [A-F]", top)
    assert list(dict.fromkeys(names)) == [
        "Gadget B",
        "Gadget D",
        "Gadget E",
        "Gadget A",
        "Gadget C",
    ]
    assert "Gadget F" not in top
    assert "src=home:top-clicked" in top


def test_home_shows_category_tiles_linking_to_the_filtered_listing(client):
    factories.make_product("Teapot", category="Kitchen")
    factories.make_product("Lantern", category="Garden Lights")

    tiles = section(client.get("/").get_data(as_text=True), "categories")

    assert "Kitchen" in tiles and "Garden Lights" in tiles
    assert 'href="/products?category=garden-lights"' in tiles


def test_home_asks_visitors_to_sign_in_for_personal_picks(client):
    factories.make_product("Teapot")

    slot = section(client.get("/").get_data(as_text=True), "for-you-slot")

    assert "Recommended for you" in slot
    assert "Sign in for personal picks" in slot


def test_home_shows_signed_in_shopper_picks_with_reasons_and_because_you_liked(
    client, auth, shopper
):
    liked = factories.make_product("Red Teapot", category="Kitchen")
    factories.make_product("Green Teapot", category="Kitchen")
    factories.make_product("Garden Gnome", category="Garden")
    # Ten popular garden tools fill "Recommended for you", leaving the teapot for the other list.
    for i in range(10):
        clicks(factories.make_product(f"Garden Tool {i}", category="Garden"), 3)
    db.session.add(Like(user_id=shopper.id, product_id=liked.id))
    db.session.commit()
    auth.login()

    html = client.get("/").get_data(as_text=True)

    for_you = section(html, "for-you")
    assert "Popular with shoppers right now" in for_you  # no model trained: labelled fallback
    assert "src=home:for-you" in for_you
    because = section(html, "because-liked")
    assert "Because you liked Red Teapot" in because
    assert "Green Teapot" in because


def test_because_you_liked_leaves_out_what_recommended_for_you_already_shows(client, auth, shopper):
    liked = factories.make_product("Red Teapot", category="Kitchen")
    factories.make_product("Green Teapot", category="Kitchen")
    factories.make_product("Blue Teapot", category="Kitchen")
    db.session.add(Like(user_id=shopper.id, product_id=liked.id))
    db.session.commit()
    auth.login()

    html = client.get("/").get_data(as_text=True)

    # With three products the popularity list shows both other teapots: nothing is left to repeat.
    assert "Green Teapot" in section(html, "for-you")
    assert '<section id="because-liked"' not in html


def test_home_links_carry_the_impression_of_an_experiment_list(client, auth, shopper):
    factories.make_product("Teapot")
    # A shopper with a history: one with none is shown the shop's lists, not a personal one.
    factories.make_event(shopper, factories.make_product("Kettle"), "view")
    experiment = Experiment(name="hybrid vs popularity")
    experiment.variants = [
        ExperimentVariant(name="all", algorithm="popularity", traffic_percent=100)
    ]
    db.session.add(experiment)
    db.session.commit()
    auth.login()

    for_you = section(client.get("/").get_data(as_text=True), "for-you")

    impression = db.session.scalar(select(Impression))
    assert impression is not None and impression.user_id == shopper.id
    assert f"imp={impression_token(impression.id, shopper.id)}" in for_you


def test_reloading_the_home_page_records_one_impression_per_window(app, client, auth, shopper):
    factories.make_product("Teapot")
    # A shopper with a history: one with none is shown the shop's lists, not a personal one.
    factories.make_event(shopper, factories.make_product("Kettle"), "view")
    experiment = Experiment(name="hybrid vs popularity")
    experiment.variants = [
        ExperimentVariant(name="all", algorithm="popularity", traffic_percent=100)
    ]
    db.session.add(experiment)
    db.session.commit()
    auth.login()

    pages = [section(client.get("/").get_data(as_text=True), "for-you") for _ in range(300)]

    assert db.session.scalar(select(func.count(Impression.id))) == 1
    assert len(set(pages)) == 1  # every reload links with the one impression
    app.config["SHOP_IMPRESSION_WINDOW_SECONDS"] = 0
    client.get("/")
    assert db.session.scalar(select(func.count(Impression.id))) == 2


def test_products_filters_by_category(client):
    factories.make_product("Teapot", category="Kitchen")
    factories.make_product("Lantern", category="Garden")

    html = client.get("/products?category=garden").get_data(as_text=True)

    assert "Lantern" in html
    assert "Teapot" not in html


@pytest.mark.parametrize("slug", ["no-such-thing", "%00", "x" * 500, "' OR 1=1 --"])
def test_products_with_unknown_category_is_a_friendly_404(client, slug):
    response = client.get(f"/products?category={slug}")
    assert response.status_code == 404
    assert "no category by that name" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price-asc", ["Cheap", "Middle", "Dear"]),
        ("price-desc", ["Dear", "Middle", "Cheap"]),
        ("newest", ["Dear", "Middle", "Cheap"]),
    ],
)
def test_products_sorts_by_price_and_date(client, sort, expected):
    factories.make_product("Cheap thing", price="2.00")
    factories.make_product("Middle thing", price="20.00")
    factories.make_product("Dear thing", price="200.00")

    html = client.get(f"/products?sort={sort}").get_data(as_text=True)

    assert re.findall(r"(Cheap|Middle|Dear) thing</a>", html) == expected


def test_products_sorts_by_rating_with_unrated_last(client):
    unrated = factories.make_product("Unrated thing")
    good = factories.make_product("Good thing")
    fair = factories.make_product("Fair thing")
    good.rating_sum, good.rating_count = 9, 2
    fair.rating_sum, fair.rating_count = 3, 1
    db.session.commit()
    assert unrated.rating_count == 0

    html = client.get("/products?sort=rating").get_data(as_text=True)

    assert re.findall(r"(Unrated|Good|Fair) thing</a>", html) == ["Good", "Fair", "Unrated"]


def test_products_sorts_by_popularity_and_ignores_an_unknown_sort(client):
    quiet = factories.make_product("Quiet thing")
    busy = factories.make_product("Busy thing")
    clicks(busy, 3)
    assert quiet.click_count == 0

    for url in ("/products?sort=popular", "/products?sort=DROP%20TABLE"):
        response = client.get(url)
        assert response.status_code == 200
        names = re.findall(r"(Quiet|Busy) thing</a>", response.get_data(as_text=True))
        assert names == ["Busy", "Quiet"]


def test_products_paginates_with_the_configured_page_size(app, client):
    app.config["SHOP_PAGE_SIZE"] = 2
    for i in range(5):
        factories.make_product(f"Item {i}", price=str(10 + i))

    first = client.get("/products?sort=price-asc").get_data(as_text=True)
    last = client.get("/products?sort=price-asc&page=3").get_data(as_text=True)

    assert re.findall(r"Item \d</a>", first) == ["Item 0</a>", "Item 1</a>"]
    assert "Page 1 of 3" in first
    assert re.findall(r"Item \d</a>", last) == ["Item 4</a>"]
    assert "page=2" in last  # the Previous link keeps the sort
    assert "sort=price-asc" in last


@pytest.mark.parametrize(
    "extra", ["endpoint=catalog.index", "_external=1&_anchor=%0Aalert(1)", "_scheme=javascript"]
)
def test_page_links_keep_unknown_arguments_as_plain_query_text(app, client, extra):
    app.config["SHOP_PAGE_SIZE"] = 2
    for i in range(5):
        factories.make_product(f"Item {i}")

    response = client.get(f"/products?{extra}&page=2")

    assert response.status_code == 200
    links = re.findall(r'class="page-link" href="([^"]*)"', response.get_data(as_text=True))
    assert links and all(link.startswith("/products?") and "#" not in link for link in links)


@pytest.mark.parametrize(
    "page", ["-1", "0", "abc", "1.5", "", "99999999999999999999", "9" * 400, "%00"]
)
def test_products_survives_hostile_page_values(app, client, page):
    app.config["SHOP_PAGE_SIZE"] = 2
    factories.make_product("Teapot")

    response = client.get(f"/products?page={page}")

    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert "Teapot" in response.get_data(as_text=True)
    else:
        assert "There is no page" in response.get_data(as_text=True)


def test_product_page_shows_the_product_with_price_in_pounds(client):
    product = factories.make_product(
        "Brass Lantern",
        category="Garden",
        price="1234.5",
        brand="Glowco",
        description="Warm light for long evenings.",
    )

    html = client.get(f"/products/{product.id}").get_data(as_text=True)

    assert "Brass Lantern" in html
    assert "£1,234.50" in html
    assert "Glowco" in html and "Garden" in html
    assert "Warm light for long evenings." in html
    assert f'src="/products/{product.id}/image.svg"' in html
    assert 'name="product_id"' in html and 'name="quantity"' in html


def test_unknown_product_is_404(client):
    assert client.get("/products/999999").status_code == 404


def test_viewing_a_product_records_an_anonymous_view(client):
    product = factories.make_product("Teapot")

    client.get(f"/products/{product.id}")

    events = db.session.scalars(select(Event)).all()
    assert [(e.kind, e.user_id, e.product_id) for e in events] == [("view", None, product.id)]
    db.session.refresh(product)
    assert product.view_count == 1


def test_viewing_a_product_signed_in_records_the_shopper(client, auth, shopper):
    product = factories.make_product("Teapot")
    auth.login()

    client.get(f"/products/{product.id}")

    event = db.session.scalar(select(Event).where(Event.kind == "view"))
    assert event.user_id == shopper.id


def test_arriving_from_a_list_records_a_click_with_source_and_impression(client, auth, shopper):
    product = factories.make_product("Teapot")
    impression = Impression(user_id=shopper.id, source="home:for-you", product_ids=[product.id])
    db.session.add(impression)
    db.session.commit()
    auth.login()

    client.get(
        f"/products/{product.id}?src=home:for-you&imp={impression_token(impression.id, shopper.id)}"
    )

    click = db.session.scalar(select(Event).where(Event.kind == "click"))
    assert click.source == "home:for-you"
    assert click.impression_id == impression.id
    db.session.refresh(product)
    assert (product.click_count, product.view_count) == (1, 1)


@pytest.mark.parametrize(
    "imp", ["424242", "abc", "-3", "99999999999999999999", "WzEsMV0.forged-signature"]
)
def test_a_click_with_an_unknown_impression_is_kept_without_it(client, imp):
    product = factories.make_product("Teapot")

    response = client.get(f"/products/{product.id}?src=search&imp={imp}")

    assert response.status_code == 200
    click = db.session.scalar(select(Event).where(Event.kind == "click"))
    assert click.source == "search"
    assert click.impression_id is None


def test_product_image_is_a_cacheable_svg_drawn_from_name_and_category(client):
    product = factories.make_product('Mug <script>alert("x")</script> & Co', category="Kitchen")

    first = client.get(f"/products/{product.id}/image.svg")
    second = client.get(f"/products/{product.id}/image.svg")

    assert first.status_code == 200
    assert first.mimetype == "image/svg+xml"
    assert first.cache_control.max_age >= 86400
    body = first.get_data(as_text=True)
    assert body.startswith("<svg") and "<script>" not in body
    assert "&lt;script&gt;" in body and "KITCHEN" in body
    assert body == second.get_data(as_text=True)
    again = client.get(
        f"/products/{product.id}/image.svg", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_product_image_colour_follows_the_category(client):
    a = factories.make_product("Alpha", category="Kitchen")
    b = factories.make_product("Beta", category="Kitchen")
    fill = re.compile(r'stop-color="(#[0-9a-f]{6})"')

    colours_a = fill.findall(client.get(f"/products/{a.id}/image.svg").get_data(as_text=True))
    colours_b = fill.findall(client.get(f"/products/{b.id}/image.svg").get_data(as_text=True))

    assert colours_a == colours_b


def test_image_of_unknown_product_is_404(client):
    assert client.get("/products/424242/image.svg").status_code == 404


def test_similar_products_are_listed_with_their_source(client):
    product = factories.make_product("Red Teapot", category="Kitchen")
    factories.make_product("Blue Teapot", category="Kitchen")

    similar = section(client.get(f"/products/{product.id}").get_data(as_text=True), "similar")

    assert "Blue Teapot" in similar
    assert "src=product:similar" in similar


def test_add_to_cart_form_carries_the_list_the_shopper_came_from(client, auth, post, shopper):
    product = factories.make_product("Teapot")
    impression = Impression(user_id=shopper.id, source="home:for-you", product_ids=[product.id])
    db.session.add(impression)
    db.session.commit()
    auth.login()

    token = impression_token(impression.id, shopper.id)
    html = client.get(f"/products/{product.id}?src=home:for-you&imp={token}").get_data(as_text=True)
    assert f'name="imp" value="{token}"' in html
    assert 'name="src" value="home:for-you"' in html

    response = post(
        "/cart/add",
        {"product_id": product.id, "quantity": "2", "src": "home:for-you", "imp": token},
    )

    assert response.status_code == 302
    item = db.session.scalar(select(CartItem))
    assert (item.product_id, item.quantity, item.impression_id) == (product.id, 2, impression.id)


def test_home_shows_best_sellers_once_something_has_sold(client):
    quiet = factories.make_product("Quiet thing")
    hit = factories.make_product("Hit thing")
    steady = factories.make_product("Steady thing")
    for i in range(5):  # these fill "Top 5 most clicked"; the home page never shows a product twice
        clicks(factories.make_product(f"Clicked thing {i}"), 2)
    assert "best-sellers" not in client.get("/").get_data(as_text=True)

    for product, n in ((hit, 5), (steady, 2)):
        for _ in range(n):
            record_event(product.id, "purchase", source="test")
    db.session.commit()
    # Sales move no product's state, so a visitor's kept home page may lag for
    # SHOP_PAGE_CACHE_SECONDS (shop.page_cache); once it has aged out the row is there.
    kept = client.get("/")
    assert kept.headers["X-Page-Cache"] == "hit"
    assert "best-sellers" not in kept.get_data(as_text=True)
    local_pages.clear()  # what those seconds do

    sellers = section(client.get("/").get_data(as_text=True), "best-sellers")
    assert re.findall(r"(Quiet|Hit|Steady) thing</a>", sellers) == ["Hit", "Steady"]
    assert quiet.purchase_count == 0


# --- analytics a stranger cannot steer ------------------------------------------------------


def test_a_hundred_gets_of_a_product_link_from_one_client_count_one_view_and_one_click(client):
    product = factories.make_product("Teapot")
    for n in range(100):
        assert client.get(f"/products/{product.id}?src=home:top-clicked{n % 3}").status_code == 200
    db.session.refresh(product)
    assert (product.view_count, product.click_count) == (1, 1)
    kinds = db.session.scalars(select(Event.kind).where(Event.product_id == product.id)).all()
    assert sorted(kinds) == ["click", "view"]


def test_another_visitor_still_counts(app, client):
    product = factories.make_product("Teapot")
    client.get(f"/products/{product.id}?src=search")
    app.test_client().get(
        f"/products/{product.id}?src=search", environ_base={"REMOTE_ADDR": "192.0.2.8"}
    )
    db.session.refresh(product)
    assert (product.view_count, product.click_count) == (2, 2)


def test_another_shoppers_impression_token_attributes_nothing(app, client, auth, shopper):
    product = factories.make_product("Teapot")
    other = factories.make_user(email="other@example.com")
    impression = Impression(user_id=other.id, source="home:for-you", product_ids=[product.id])
    db.session.add(impression)
    db.session.commit()
    theirs = impression_token(impression.id, other.id)
    anonymous = app.test_client()
    anonymous.get(f"/products/{product.id}?src=home:for-you&imp={theirs}")
    auth.login()
    client.get(f"/products/{product.id}?src=home:for-you&imp={theirs}")
    client.get(f"/products/{product.id}?src=home:for-you&imp={impression.id}")
    clicks = db.session.scalars(select(Event).where(Event.kind == "click")).all()
    assert len(clicks) == 2 and all(c.impression_id is None for c in clicks)


def listing_names(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'class="[^"]*product-name">([^<]+)</a>', response.get_data(as_text=True))


def rate(product, stars_sum: int, count: int) -> None:
    product.rating_sum, product.rating_count = stars_sum, count
    db.session.commit()


def test_the_listing_filters_by_brand_price_and_rating_with_counts(client):
    kitchen = factories.make_category("Kitchen")
    rate(factories.make_product("Cheap Mug", category=kitchen, brand="Acme", price="5"), 9, 2)
    factories.make_product("Dear Mug", category=kitchen, brand="Acme", price="60")
    rate(factories.make_product("Fair Jug", category=kitchen, brand="Jugco", price="8"), 3, 1)
    factories.make_product("Lantern", category="Garden", brand="Acme", price="7")

    page = client.get("/products?category=kitchen")
    html = page.get_data(as_text=True)
    assert 'aria-label="Filter the products"' in html
    assert re.search(r"Acme</span>\s*<span class=\"facet-count\">2<", html)  # not the lantern
    assert re.search(r"Under £10.00</span>\s*<span class=\"facet-count\">2<", html)
    assert re.search(r"4 stars and up</span>\s*<span class=\"facet-count\">1<", html)
    assert 'href="/products?category=kitchen&amp;brand=Acme"' in html

    assert listing_names(client.get("/products?category=kitchen&brand=Acme")) == [
        "Cheap Mug",
        "Dear Mug",
    ]
    assert listing_names(client.get("/products?category=kitchen&price=0-10&brand=Acme")) == [
        "Cheap Mug"
    ]
    assert listing_names(client.get("/products?category=kitchen&rating=3")) == [
        "Cheap Mug",
        "Fair Jug",
    ]
    assert listing_names(client.get("/products?rating=4")) == ["Cheap Mug"]


def test_a_filtered_listing_offers_to_clear_and_is_kept_out_of_the_index(client):
    factories.make_product("Cheap Mug", brand="Acme", price="5")
    factories.make_product("Jug", brand="Jugco", price="5")

    plain = client.get("/products?category=kitchen").get_data(as_text=True)
    assert "Clear the filters" not in plain
    assert 'name="robots"' not in plain

    html = client.get("/products?category=kitchen&sort=price-asc&brand=Acme").get_data(as_text=True)
    assert '<meta name="robots" content="noindex, follow">' in html
    assert 'href="/products?category=kitchen&amp;sort=price-asc">Clear the filters' in html
    assert '<input type="hidden" name="brand" value="Acme">' in html  # the sort form keeps it
    # A ticked brand links to its own removal, keeping the category and the sort.
    assert (
        'href="/products?category=kitchen&amp;sort=price-asc" rel="nofollow" aria-current' in html
    )


def test_listing_pages_keep_the_filters(app, client):
    app.config["SHOP_PAGE_SIZE"] = 2
    for i in range(3):
        factories.make_product(f"Acme Item {i}", brand="Acme", price="5")
    factories.make_product("Other Item", brand="Other", price="5")

    first = client.get("/products?brand=Acme&price=0-10").get_data(as_text=True)
    second = client.get("/products?brand=Acme&price=0-10&page=2")

    assert "/products?brand=Acme&amp;price=0-10&amp;page=2" in first
    assert listing_names(second) == ["Acme Item 2"]


def test_hidden_products_are_never_counted_and_sold_out_ones_come_last(client):
    gone = factories.make_product("Sold Out Mug", brand="Acme", price="5")
    factories.make_product("Hidden Mug", brand="Acme", price="5").listed = False
    factories.make_product("Plain Mug", brand="Acme", price="5")
    gone.stock = 0
    gone.click_count = 50
    db.session.commit()

    response = client.get("/products?brand=Acme")

    assert listing_names(response) == ["Plain Mug", "Sold Out Mug"]
    html = response.get_data(as_text=True)
    assert re.search(r"Acme</span>\s*<span class=\"facet-count\">2<", html)
    assert "Hidden Mug" not in html


@pytest.mark.parametrize("query", ["brand=Nope", "price=1-2", "rating=5", "rating=x", "brand=%00"])
def test_unknown_listing_filters_are_ignored(client, query):
    factories.make_product("Teapot")

    response = client.get(f"/products?{query}")

    assert listing_names(response) == ["Teapot"]
    assert "Clear the filters" not in response.get_data(as_text=True)
