"""Search: ranked full-text matching that no input can break."""

from __future__ import annotations

import re

import pytest

from shop.extensions import db
from shop.search.engine import MAX_TOKENS, fts_match_expression, tokenize
from tests import factories


def result_names(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'class="[^"]*product-name">([^<]+)</a>', response.get_data(as_text=True))


def test_a_name_match_ranks_above_a_description_match(client):
    factories.make_product("Travel Mug", description="Goes well with a lantern evening.")
    factories.make_product("Brass Lantern", description="A warm light.")

    assert result_names(client.get("/search?q=lantern")) == ["Brass Lantern", "Travel Mug"]


def test_a_word_prefix_finds_the_whole_word(client):
    factories.make_product("Kettle", description="Boils water.")
    factories.make_product("Teapot", description="Brews tea.")

    response = client.get("/search?q=kett")

    assert result_names(response) == ["Kettle"]
    assert "does not exist" not in response.get_data(as_text=True)  # no filter, no complaint


def test_category_and_brand_are_searchable(client):
    factories.make_product("Gnome", category="Garden", brand="Acme")
    factories.make_product("Spatula", category="Kitchen", brand="Cookwell")

    assert result_names(client.get("/search?q=garden")) == ["Gnome"]
    assert result_names(client.get("/search?q=cookwell")) == ["Spatula"]


def test_accented_words_are_found_with_or_without_accents(client):
    factories.make_product("Café Cup", description="For espresso.")

    assert result_names(client.get("/search?q=café")) == ["Café Cup"]
    if db.engine.dialect.name == "sqlite":
        # FTS5's unicode61 tokenizer folds accents; PostgreSQL would need the unaccent extension.
        assert result_names(client.get("/search?q=CAFE")) == ["Café Cup"]


def test_every_word_must_match_before_any_word_may(client):
    factories.make_product("Blue Kettle")
    factories.make_product("Blue Mug")
    factories.make_product("Red Kettle")

    assert result_names(client.get("/search?q=blue+kettle")) == ["Blue Kettle"]
    fallback = client.get("/search?q=blue+teapot")
    assert sorted(result_names(fallback)) == ["Blue Kettle", "Blue Mug"]
    assert "No product matched every word" in fallback.get_data(as_text=True)


def test_filters_by_category_and_maximum_price(client):
    factories.make_product("Cheap Lamp", category="Lighting", price="5.00")
    factories.make_product("Grand Lamp", category="Lighting", price="500.00")
    factories.make_product("Lamp Oil", category="Kitchen", price="4.00")

    assert sorted(result_names(client.get("/search?q=lamp&category=lighting"))) == [
        "Cheap Lamp",
        "Grand Lamp",
    ]
    assert sorted(result_names(client.get("/search?q=lamp&price_max=10"))) == [
        "Cheap Lamp",
        "Lamp Oil",
    ]


@pytest.mark.parametrize("price", ["abc", "nan", "-Infinity", "-5", "1e999"])
def test_a_bad_price_filter_is_reported_and_left_out(client, price):
    factories.make_product("Cheap Lamp", price="5.00")

    response = client.get(f"/search?q=lamp&price_max={price}")

    assert result_names(response) == ["Cheap Lamp"]
    assert "The price filter is off." in response.get_data(as_text=True)


def test_an_unknown_category_filter_is_left_out(client):
    factories.make_product("Cheap Lamp")

    response = client.get("/search?q=lamp&category=nope")

    assert result_names(response) == ["Cheap Lamp"]
    assert "That category does not exist" in response.get_data(as_text=True)


def test_results_are_paginated(app, client):
    app.config["SHOP_PAGE_SIZE"] = 2
    for i in range(3):
        factories.make_product(f"Lamp {i}")

    first = client.get("/search?q=lamp")
    second = client.get("/search?q=lamp&page=2")

    assert len(result_names(first)) == 2
    assert len(result_names(second)) == 1
    assert "3 products" in first.get_data(as_text=True)


def test_result_links_carry_the_search_source(client):
    product = factories.make_product("Kettle")

    html = client.get("/search?q=kettle").get_data(as_text=True)

    assert f"/products/{product.id}?src=search" in html


def test_an_empty_query_shows_a_friendly_prompt(client):
    factories.make_product("Kettle", category="Kitchen")

    response = client.get("/search?q=")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Search the shop" in html
    assert 'href="/products?category=kitchen"' in html


HOSTILE = [
    '"',
    "'",
    "*",
    "NEAR(",
    "AND",
    "OR NOT",
    "-",
    "(",
    ")",
    "kettle OR",
    '"kettle" NEAR("mug" "pot", 2)',
    "name:kettle",
    "^kettle",
    "kettle*",
    "-kettle",
    "café ☕",
    "🫖🫖",
    "\x00",
    "kettle\x00mug",
    "a" * 10_000,
    "kettle " * 2_000,
    "_",
    "%",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_any_input_gives_a_page_not_an_error(client, query):
    factories.make_product("Kettle", description="A kettle for tea.")

    response = client.get("/search", query_string={"q": query})

    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


def test_operators_are_searched_as_words_not_syntax(client):
    factories.make_product("Near Field Speaker")

    assert result_names(client.get("/search", query_string={"q": "NEAR("})) == [
        "Near Field Speaker"
    ]


def test_tokens_are_capped_and_quoted():
    tokens = tokenize(" ".join(f"word{i}" for i in range(50)) + ' "x" NEAR(')
    assert len(tokens) == MAX_TOKENS
    assert fts_match_expression(["blue", "kett"]) == '"blue"* AND "kett"*'
    assert fts_match_expression(["blue", "kett"], "OR") == '"blue"* OR "kett"*'
    assert tokenize('"café" ☕ near( x_y') == ["café", "near", "x", "y"]
