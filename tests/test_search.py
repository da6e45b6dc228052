"""Search: ranked full-text matching that no input can break."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from shop.extensions import db
from shop.search import budget
from shop.search.compounds import find_compounds, split_word
from shop.search.engine import (
    MAX_QUERY_CHARS,
    MAX_TOKENS,
    fts_match_expression,
    search_products,
    tokenize,
)
from shop.search.vocabulary import Vocabulary
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


# --- stemming, typos, no dead ends ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("Travel Mug", "mugs"),
        ("Brass Lantern", "lanterns"),
        ("Water Bottle", "water bottles"),
        ("Gift Box", "boxes"),
        ("Fairy Lights", "light"),
    ],
)
def test_plurals_and_singulars_find_the_product(client, name, query):
    factories.make_product(name, description="Nothing to see.")
    factories.make_product("Oak Chopping Board", description="End grain.")

    assert result_names(client.get("/search", query_string={"q": query})) == [name]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ketle", "kettle"),  # a deletion in a six-letter word
        ("kettel", "kettle"),  # a transposition is one edit
        ("kwttle", "kettle"),  # a substitution
        ("mugg", "mug"),  # a four-letter word: one letter too many
        ("plnt", "plant"),  # a four-letter word: one letter missing
        ("binokulers", "binoculars"),  # two edits in a long word
    ],
)
def test_a_typo_is_corrected_and_says_so(client, typed, meant):
    product = factories.make_product(meant.title(), description="Nothing to see.")

    response = client.get("/search", query_string={"q": typed})

    assert result_names(response) == [product.name]
    html = response.get_data(as_text=True)
    assert "Showing results for" in html and f">{meant}</a>" in html
    assert f'href="/search?q={typed}&amp;exact=1"' in html


def test_search_instead_for_the_typed_words_does_not_correct(client):
    factories.make_product("Kettle")

    html = client.get("/search?q=ketle&exact=1").get_data(as_text=True)

    assert "Nothing matched “ketle”" in html
    assert "Showing results for" not in html


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("Lamp", "lamb"),  # a substitution in a four-letter word could be another real word
        ("Kettle", "kxttxe"),  # two edits in a six-letter word is too many
        ("Mug", "mu"),  # too short to guess at (and not a prefix of anything else)
    ],
)
def test_words_too_far_from_the_shop_are_not_corrected(client, name, typed):
    factories.make_product(name, description="Nothing to see.", brand="")

    html = client.get("/search", query_string={"q": typed}).get_data(as_text=True)

    assert "Showing results for" not in html


def test_only_the_word_that_matches_nothing_is_corrected(client):
    factories.make_product("Blue Kettle")
    factories.make_product("Red Kettle")

    response = client.get("/search?q=blue+ketle")

    assert result_names(response) == ["Blue Kettle"]
    assert ">blue kettle</a>" in response.get_data(as_text=True)


def test_of_equally_near_corrections_the_one_that_fits_the_other_words_wins(client):
    factories.make_product("Art Print", description="Nothing to see.")
    factories.make_product("Art Easel", description="Nothing to see.")
    factories.make_product("Smart Watch", description="Nothing to see.")

    assert sorted(result_names(client.get("/search?q=mart"))) == ["Art Easel", "Art Print"]
    assert result_names(client.get("/search?q=mart+watch")) == ["Smart Watch"]


def test_a_compound_typed_as_one_word_finds_the_two_word_name(client):
    factories.make_product("Bird Feeder", category="Garden")
    factories.make_product("Garden Trowel", category="Garden")

    response = client.get("/search?q=birdfeeder")

    assert result_names(response) == ["Bird Feeder"]
    assert "Showing results for" not in response.get_data(as_text=True)


def test_two_words_find_a_name_that_writes_them_as_one(client):
    factories.make_product("Birdfeeder", category="Garden")
    factories.make_product("Bird Bath", category="Garden")

    assert result_names(client.get("/search?q=bird+feeder")) == ["Birdfeeder"]
    assert result_names(client.get("/search?q=bird+feeders")) == ["Birdfeeder"]


def test_the_words_as_typed_rank_above_a_compound_reading(client):
    factories.make_product("Birdfeeder Station", category="Garden")
    factories.make_product("Bird Feeder", category="Garden")

    assert result_names(client.get("/search?q=bird+feeder")) == [
        "Bird Feeder",
        "Birdfeeder Station",
    ]
    assert result_names(client.get("/search?q=birdfeeder")) == [
        "Birdfeeder Station",
        "Bird Feeder",
    ]


def test_tea_towel_finds_tea_towels_and_never_the_trowel(client):
    factories.make_product("Garden Trowel", category="Garden")
    factories.make_product("Teapot", category="Kitchen")
    factories.make_product("Linen Tea Towel", category="Kitchen")
    factories.make_product("Tea Towel", category="Kitchen")

    for query in ("tea towel", "tea towels", "teatowel", "Tea-Towel"):
        names = result_names(client.get("/search", query_string={"q": query}))
        assert sorted(names) == ["Linen Tea Towel", "Tea Towel"], query


def test_a_whole_word_ranks_above_a_longer_word_it_begins(client):
    factories.make_product("Teapot", category="Kitchen")
    factories.make_product("Tea Towel", category="Kitchen")

    assert result_names(client.get("/search?q=tea")) == ["Tea Towel", "Teapot"]


def test_a_word_that_finds_products_is_never_corrected_to_another(client):
    factories.make_product("Kitchen Towel", category="Kitchen")
    factories.make_product("Tea Light", category="Home")
    factories.make_product("Garden Trowel", category="Garden")

    response = client.get("/search?q=tea+towel")

    assert sorted(result_names(response)) == ["Kitchen Towel", "Tea Light"]
    assert "Showing results for" not in response.get_data(as_text=True)


def test_compounds_split_into_shop_words_but_not_little_words(app):
    vocabulary = Vocabulary({"bird": 3, "feeder": 2, "tea": 4, "towel": 1, "ever": 1}, {})

    assert split_word("birdfeeder", vocabulary) == (("bird", "feeder"),)
    assert split_word("birdfeeders", vocabulary) == (("bird", "feeders"),)
    assert split_word("forever", vocabulary) == ()  # "for" is not a part
    compounds = find_compounds(["tea", "towel", "birdfeeder"], vocabulary)
    assert compounds.joins == ()
    assert compounds.splits == ((), (), (("bird", "feeder"),))
    assert find_compounds(["bird", "feeder"], Vocabulary({"birdfeeder": 1}, {})).joins == (
        (0, "birdfeeder"),
    )


def test_a_search_that_finds_nothing_offers_near_words_and_popular_products(client):
    lantern = factories.make_product("Brass Lantern", category="Garden")
    factories.make_product("Oak Chopping Board", category="Kitchen")
    lantern.click_count = 10
    db.session.commit()

    response = client.get("/search?q=lanxxxrn")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nothing matched" in html
    assert 'href="/search?q=lantern"' in html  # the nearest word, one click away
    assert "Popular in Garden" in html
    assert f"/products/{lantern.id}?src=search:no-results" in html


def test_a_search_with_no_near_word_still_shows_popular_products(client):
    factories.make_product("Oak Chopping Board")

    html = client.get("/search?q=zzqqxx").get_data(as_text=True)

    assert "Nothing matched" in html
    assert "Popular in the shop" in html
    assert "Oak Chopping Board" in html


def test_the_home_page_suggests_words_that_find_at_least_three_products(client):
    for name in ("Cast Iron Kettle", "Copper Kettle", "Travel Kettle", "Travel Kettle Classic"):
        factories.make_product(name)
    factories.make_product("Blue Mug")

    html = client.get("/").get_data(as_text=True)

    assert "Try “kettle”" in html
    assert "mug" not in re.search(r'placeholder="(Try[^"]*)"', html).group(1)
    assert len(result_names(client.get("/search?q=kettle"))) >= 3


# --- facets --------------------------------------------------------------------------------------


def _facet_links(html: str) -> dict[str, str]:
    """Facet label -> its link, from the results page."""
    links = re.findall(
        r'<a class="facet-option[^"]*" href="([^"]+)"[^>]*>.*?facet-label">([^<]+)</span>\s*'
        r'<span class="facet-count">(\d+)',
        html,
        re.S,
    )
    return {label: (href.replace("&amp;", "&"), int(count)) for href, label, count in links}


def _facet_catalogue():
    factories.make_product("Cheap Lamp", category="Lighting", brand="Glowco", price="5.00")
    factories.make_product("Desk Lamp", category="Lighting", brand="Brightly", price="30.00")
    factories.make_product("Grand Lamp", category="Lighting", brand="Glowco", price="150.00")
    factories.make_product("Lamp Oil", category="Kitchen", brand="Glowco", price="4.00")
    factories.make_product("Oak Board", category="Kitchen", brand="Timber", price="20.00")


def test_facets_count_the_matches_of_the_query(client):
    _facet_catalogue()

    facets = _facet_links(client.get("/search?q=lamp").get_data(as_text=True))

    assert facets["Lighting"][1] == 3 and facets["Kitchen"][1] == 1
    assert facets["Glowco"][1] == 3 and facets["Brightly"][1] == 1
    assert "Timber" not in facets  # not among the matches
    assert facets["Under £10.00"][1] == 2
    assert facets["£100.00 and over"][1] == 1


def test_facets_combine_and_each_combination_has_its_own_url(client):
    _facet_catalogue()
    first = _facet_links(client.get("/search?q=lamp").get_data(as_text=True))

    lighting_url = first["Lighting"][0]
    lighting = client.get(lighting_url)
    assert sorted(result_names(lighting)) == ["Cheap Lamp", "Desk Lamp", "Grand Lamp"]
    second = _facet_links(lighting.get_data(as_text=True))
    # other categories still count what they would add; brands count within Lighting
    assert second["Kitchen"][1] == 1
    assert second["Glowco"][1] == 2

    both = second["Glowco"][0]
    assert "category=lighting" in both and "brand=Glowco" in both
    assert sorted(result_names(client.get(both))) == ["Cheap Lamp", "Grand Lamp"]

    widened = _facet_links(client.get(both).get_data(as_text=True))["Kitchen"][0]
    assert sorted(result_names(client.get(widened))) == ["Cheap Lamp", "Grand Lamp", "Lamp Oil"]

    cheap = _facet_links(client.get(both).get_data(as_text=True))["Under £10.00"][0]
    assert result_names(client.get(cheap)) == ["Cheap Lamp"]


def test_a_ticked_facet_links_to_its_removal(client):
    _facet_catalogue()

    html = client.get("/search?q=lamp&category=lighting").get_data(as_text=True)

    facets = _facet_links(html)
    assert facets["Lighting"][0] == "/search?q=lamp"
    assert "Remove the filter" in html
    assert 'href="/search?q=lamp">Clear the filters' in html


def test_facet_values_that_find_nothing_are_not_links(client):
    _facet_catalogue()

    html = client.get("/search?q=lamp").get_data(as_text=True)

    assert "£50.00 to £100.00" not in _facet_links(html)
    assert re.search(r'facet-option disabled">.*?£50.00 to £100.00', html, re.S)


def test_pagination_keeps_every_facet_value(app, client):
    app.config["SHOP_PAGE_SIZE"] = 1
    _facet_catalogue()

    html = client.get("/search?q=lamp&category=lighting&category=kitchen").get_data(as_text=True)

    assert "category=lighting&amp;category=kitchen&amp;page=2" in html


def test_unknown_brands_and_price_bands_are_ignored(client):
    _facet_catalogue()

    response = client.get("/search?q=lamp&brand=Nobody&price=1-2&price=")

    assert len(result_names(response)) == 4


# --- suggestions ---------------------------------------------------------------------------------


def test_suggestions_correct_a_typo_and_link_with_their_source(client):
    mug = factories.make_product("Trail Insulated Mug", category="Outdoor", price="12.00")

    body = client.get("/search/suggest?q=mugg").get_json()

    assert body["corrected"] == "mug"
    assert body["suggestions"] == [
        {
            "type": "product",
            "label": "Trail Insulated Mug",
            "detail": "Outdoor · £12.00",
            "url": f"/products/{mug.id}?src=search-suggest",
        }
    ]


def test_suggestions_match_prefixes_and_offer_categories_with_counts(client):
    for i in range(12):
        factories.make_product(f"Kettle {i}", category="Kitchen")

    body = client.get("/search/suggest?q=ket").get_json()

    kinds = [item["type"] for item in body["suggestions"]]
    assert len(kinds) == 8
    assert kinds[0] == "category"
    assert body["suggestions"][0] == {
        "type": "category",
        "label": "Kitchen",
        "count": 12,
        "url": "/search?q=ket&category=kitchen",
    }
    assert all(item["label"].startswith("Kettle") for item in body["suggestions"][1:])


def test_suggestions_follow_the_click_source_through_to_the_event(client):
    mug = factories.make_product("Trail Insulated Mug")
    url = client.get("/search/suggest?q=mug").get_json()["suggestions"][0]["url"]

    client.get(url)

    from shop.models import Event

    sources = db.session.scalars(
        db.select(Event.source).where(Event.product_id == mug.id, Event.kind == "click")
    ).all()
    assert sources == ["search-suggest"]


def test_suggestions_for_nothing_are_empty(client):
    factories.make_product("Kettle")

    for query in ("", "   ", "zzqqxx", "'\""):
        body = client.get("/search/suggest", query_string={"q": query}).get_json()
        assert body["suggestions"] == []


@pytest.mark.parametrize("query", HOSTILE)
def test_any_input_gives_suggestions_json_not_an_error(client, query):
    factories.make_product("Kettle", description="A kettle for tea.")

    response = client.get("/search/suggest", query_string={"q": query})

    assert response.status_code == 200
    assert response.is_json
    assert len(response.get_json()["suggestions"]) <= 8


# --- what one search may cost ---------------------------------------------------------------------


def test_words_past_the_cap_are_ignored_and_the_page_says_so(client):
    factories.make_product("Blue Kettle", description="A kettle for tea.")
    words = ["blue", "kettle"] + list("abcdefghij")  # twelve words, ten of one letter

    response = client.get("/search", query_string={"q": " ".join(words)})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"Only the first {MAX_TOKENS} words were searched for" in page
    assert search_products(" ".join(words)).tokens == words[:MAX_TOKENS]
    plain = client.get("/search", query_string={"q": "blue kettle"}).get_data(as_text=True)
    assert "were searched for" not in plain


def test_an_over_long_query_is_not_searched_and_the_page_says_why(client):
    factories.make_product("Kettle")

    response = client.get("/search", query_string={"q": "kettle " * 40})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"That search is too long to look up: use at most {MAX_QUERY_CHARS} characters" in page
    assert result_names(response) == []


def test_a_search_past_its_budget_is_stopped_with_a_clear_page(app, client, monkeypatch):
    factories.make_product("Kettle")
    monkeypatch.setattr(budget, "SQLITE_CHECK_EVERY", 1)
    app.config["SHOP_SEARCH_TIMEOUT_MS"] = 0

    response = client.get("/search", query_string={"q": "kettle"})
    suggestions = client.get("/search/suggest", query_string={"q": "kettle"})

    assert response.status_code == 503
    assert "That search took too long" in response.get_data(as_text=True)
    assert suggestions.status_code == 200 and suggestions.get_json()["suggestions"] == []
    # The connection is left as it was: the next search, within its budget, finds the kettle.
    app.config["SHOP_SEARCH_TIMEOUT_MS"] = 5000
    assert result_names(client.get("/search", query_string={"q": "kettle"})) == ["Kettle"]


def test_the_database_stops_a_statement_past_the_budget(app, monkeypatch):
    """The mechanism itself on the database under test: SQLite's progress handler (with a clock
    that jumps past the deadline) or PostgreSQL's statement_timeout (against a sleeping query)."""
    factories.make_product("Kettle")
    dialect = db.session.connection().dialect.name
    if dialect == "sqlite":
        ticks = iter([0.0] + [60.0] * 1_000_000)
        monkeypatch.setattr(budget.time, "monotonic", lambda: next(ticks))
        monkeypatch.setattr(budget, "SQLITE_CHECK_EVERY", 1)
        slow = "SELECT count(*) FROM products a, products b, products c"
    else:
        slow = "SELECT pg_sleep(2)"
    with pytest.raises(budget.SearchTooCostly), budget.search_budget(50):
        db.session.execute(text(slow)).all()
    # Nothing is left behind on the connection: a query after it runs normally.
    assert db.session.execute(text("SELECT count(*) FROM products")).scalar() == 1


def test_the_rating_facet_keeps_products_rated_that_well_or_better(client):
    good = factories.make_product("Good Lamp")
    fair = factories.make_product("Fair Lamp")
    factories.make_product("Unrated Lamp")
    good.rating_sum, good.rating_count = 9, 2
    fair.rating_sum, fair.rating_count = 3, 1
    db.session.commit()

    html = client.get("/search?q=lamp").get_data(as_text=True)
    assert re.search(r"4 stars and up</span>\s*<span class=\"facet-count\">1<", html)
    assert re.search(r"3 stars and up</span>\s*<span class=\"facet-count\">2<", html)
    assert 'href="/search?q=lamp&amp;rating=4"' in html

    assert result_names(client.get("/search?q=lamp&rating=4")) == ["Good Lamp"]
    chosen = client.get("/search?q=lamp&rating=4").get_data(as_text=True)
    assert 'href="/search?q=lamp&amp;rating=3"' in chosen  # another minimum replaces it
    assert '<meta name="robots" content="noindex, follow">' in chosen
