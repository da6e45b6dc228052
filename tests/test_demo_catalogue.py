"""The demo catalogue makes sense: products of a type speak that type's words, cost what that type
costs, are reviewed as that type, are drawn as that type, and the demo shopper still has things to
discover in her favourite categories."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.images import COLOURS, drawing_for, product_svg
from shop.models import Category, Event, Product, User
from shop.seeding import DEMO_EMAIL, DEMO_PASSWORD, SeedOptions, seed_database
from shop.seeding.generator import generate, product_types
from shop.seeding.vocabulary import (
    CATEGORIES,
    REVIEW_CLOSERS_BAD,
    REVIEW_CLOSERS_GOOD,
    ProductType,
)
from shop.training.runs import train_and_publish
from tests.test_catalog import section

CATALOGUE = SeedOptions(users=30, products=1000, events=3000, seed=42, as_of=date(2026, 12, 1))


@pytest.fixture(scope="module")
def catalogue():
    data = generate(CATALOGUE)
    specs = {spec.name: spec for spec in CATEGORIES}
    kinds = product_types([specs[c["name"]] for c in data.categories])
    return data, kinds


def _without_own_words(text: str, kind: ProductType) -> str:
    """The text without the phrases, colours and noun of the product's own type (longest first)."""
    text = text.lower()
    for phrase in sorted((*kind.vocabulary(), *kind.colours, kind.noun), key=len, reverse=True):
        text = text.replace(phrase.lower(), " ")
    return text


def test_every_description_uses_only_its_product_types_words(catalogue):
    data, kinds = catalogue
    foreign = {}  # per type: one pattern for every phrase that belongs to other types only
    for kind in kinds:
        own = {p.lower() for p in kind.vocabulary()}
        phrases = {
            phrase.lower()
            for other in kinds
            if other is not kind
            for phrase in (*other.materials, *other.uses, *other.features)
        } - own
        foreign[kind.noun] = re.compile(
            r"\b(" + "|".join(map(re.escape, sorted(phrases, key=len, reverse=True))) + r")\b"
        )
    for product in data.products:
        kind = kinds[product["type_index"]]
        description = product["description"]
        assert kind.noun.lower() in description.lower()
        # one material, one size, two features and two uses of its own type...
        for words, least in ((kind.materials, 1), (kind.sizes, 1), (kind.features, 2)):
            assert sum(w.lower() in description.lower() for w in words) >= least, description
        assert sum(w.lower() in description.lower() for w in kind.uses) >= 2, description
        # ...and nothing that belongs to another type only
        stray = foreign[kind.noun].search(_without_own_words(description, kind))
        assert stray is None, f"{product['name']!r} says {stray.group(1)!r}: {description}"


def test_every_price_falls_in_its_product_types_range(catalogue):
    data, kinds = catalogue
    for product in data.products:
        low, high = kinds[product["type_index"]].price_range
        assert low <= float(product["price"]) <= high, product["name"]
    # so an insulated mug does not cost ten times a bag of coffee beans
    mugs = [p["price"] for p in data.products if kinds[p["type_index"]].noun == "Insulated Mug"]
    beans = [p["price"] for p in data.products if kinds[p["type_index"]].noun == "Coffee Beans"]
    assert mugs and beans and max(mugs) < 5 * min(beans)


def test_names_are_unique_and_say_what_and_which_colour(catalogue):
    data, kinds = catalogue
    names = [p["name"] for p in data.products]
    assert len(set(names)) == len(names)
    brands = {p["brand"].split()[0].lower() for p in data.products}
    assert not brands & {c.lower() for c in COLOURS}  # no "White Kitchenworks" beside "White"
    assert not any(re.search(r"\b(\w+) \1\b", name) for name in names)  # no "Smart Smart Plug"
    for product in data.products:
        kind = kinds[product["type_index"]]
        assert kind.noun in product["name"]
        assert drawing_for(product["name"]) == kind.picture, product["name"]
        assert product["colour"] in kind.colours and product["colour"] in COLOURS
        if not re.search(r", \d", product["name"]) and ": " not in product["name"]:
            assert product["name"].endswith(kind.noun) and product["colour"] in product["name"]
    # about 1,000 products over every category, several types in each
    per_category = Counter(p["category_index"] for p in data.products)
    assert len(per_category) == 12 and min(per_category.values()) >= 30
    assert len({p["type_index"] for p in data.products}) >= 0.95 * len(kinds)


def test_reviews_are_their_product_types_own_and_vary():
    data = generate(SeedOptions(users=300, products=150, events=30_000, seed=42))
    specs = {spec.name: spec for spec in CATEGORIES}
    kinds = product_types([specs[c["name"]] for c in data.categories])
    reviews = [r for r in data.ratings if r["review"]]
    assert len(reviews) > 100
    for review in reviews:
        kind = kinds[data.products[review["product_index"]]["type_index"]]
        text = review["review"]
        if review["stars"] >= 4:
            assert any(p in text for p in kind.praise), text
            assert not any(c in text for c in kind.complaints), text
            assert text.endswith(tuple(c for c in REVIEW_CLOSERS_GOOD if c) + tuple(kind.praise))
        elif review["stars"] <= 2:
            assert any(c in text for c in kind.complaints), text
            assert not any(p in text for p in kind.praise), text
            assert text.endswith(tuple(c for c in REVIEW_CLOSERS_BAD if c) + kind.complaints)
        else:
            assert any(text.startswith(p) for p in kind.praise) and " But " in text
    # a popular product's reviews mostly differ
    by_product = Counter(r["product_index"] for r in reviews)
    busiest = by_product.most_common(1)[0][0]
    texts = [r["review"] for r in reviews if r["product_index"] == busiest]
    assert len(texts) >= 5 and len(set(texts)) > 0.6 * len(texts)


def test_pictures_differ_by_type_and_colour_and_stay_small_and_safe(catalogue):
    data, kinds = catalogue
    sizes, drawings = [], {}
    for product in data.products[:300]:
        category = data.categories[product["category_index"]]["name"]
        svg = product_svg(product["name"], category)
        sizes.append(len(svg.encode()))
        assert svg.startswith("<svg") and "<script" not in svg and "href" not in svg
        drawings.setdefault(kinds[product["type_index"]].picture, set()).add(svg)
    assert max(sizes) < 4096  # a few KB each
    # the same kind in another colour is another picture
    assert sum(len(variants) > 1 for variants in drawings.values()) > 20
    sage = product_svg("Sage Speckled Mug", "Kitchen")
    navy = product_svg("Navy Speckled Mug", "Kitchen")
    teapot = product_svg("Sage Heritage Teapot", "Kitchen")
    assert COLOURS["Sage"] in sage and COLOURS["Navy"] in navy and sage != navy
    assert teapot != sage
    # the noun is not a colour, and a maker's name does not paint the product
    assert COLOURS["Cream"] not in product_svg("Non-Greasy Hand Cream, 30 ml", "Beauty")
    assert COLOURS["Navy"] in product_svg("White Navy Speckled Mug", "Kitchen")
    hostile = product_svg('Mug <script>alert("x")</script> & Co', "Kitchen")
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    unknown = product_svg("Quantum Flux Widget", "Gadgets")  # nothing drawn: the monogram
    assert ">QF<" in unknown


def test_the_demo_shoppers_picks_come_mostly_from_her_favourite_categories(
    app, client, auth, tmp_path
):
    app.static_folder = str(tmp_path / "static")
    seed_database(
        SeedOptions(users=300, products=300, events=20_000, seed=42, as_of=date(2026, 12, 1))
    )
    assert train_and_publish(app, evaluate=False).status == "succeeded"
    demo = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    touched = dict(
        db.session.execute(
            select(Product.category_id, func.count(func.distinct(Product.id)))
            .join(Event, Event.product_id == Product.id)
            .where(Event.user_id == demo.id)
            .group_by(Product.category_id)
        ).all()
    )
    favourites = sorted(touched, key=touched.get, reverse=True)[:2]
    sizes = dict(
        db.session.execute(
            select(Product.category_id, func.count(Product.id))
            .where(Product.category_id.in_(favourites))
            .group_by(Product.category_id)
        ).all()
    )
    for category_id in favourites:  # she has not touched everything there
        assert touched[category_id] < 0.7 * sizes[category_id]

    auth.login(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    html = section(client.get("/").get_data(as_text=True), "for-you")
    shown = [int(i) for i in dict.fromkeys(re.findall(r'href="/products/(\d+)', html))]
    assert len(shown) == 10
    categories = dict(
        db.session.execute(
            select(Product.id, Product.category_id).where(Product.id.in_(shown))
        ).all()
    )
    from_favourites = sum(categories[i] in favourites for i in shown)
    names = db.session.scalars(select(Category.name).where(Category.id.in_(favourites))).all()
    assert from_favourites >= 5, f"{from_favourites} of 10 from {names}"


def test_the_home_page_says_how_many_products_there_are(client, app, tmp_path):
    app.static_folder = str(tmp_path / "static")
    seed_database(SeedOptions(users=20, products=40, events=800, seed=3, as_of=date(2026, 1, 15)))
    listed = db.session.scalar(select(func.count(Product.id)).where(Product.listed.is_(True)))
    categories = db.session.scalar(select(func.count(Category.id)))
    page = client.get("/").get_data(as_text=True)
    assert f"{listed} products in {categories} categories" in page
    assert "Thousands of products" not in page
