"""A synthetic shop with hidden structure, generated in memory (no database here).

Random clicks would teach a recommender nothing, so the data is drawn from a small generative model
whose structure the engine can rediscover:

* every shopper has latent tastes (a Dirichlet mix over favourite categories), a price sensitivity
  and an activity level;
* every product has a latent quality and a long-tailed (lognormal) appeal;
* shoppers browse in sessions: views, some of which become clicks, some clicks add to the cart and
  about half the carts are checked out as one order with several lines;
* ratings follow taste match plus quality plus noise, likes follow high ratings.

Everything is drawn from one ``numpy`` generator and one seeded Faker, so the same options always give
the same shop. Times run over the ``days`` before ``as_of`` with a weekly and a daily rhythm.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import numpy as np
from faker import Faker

from shop.seeding.vocabulary import (
    CATEGORIES,
    COLOURS,
    REVIEW_CLOSERS_BAD,
    REVIEW_CLOSERS_GOOD,
    REVIEW_OPENERS_BAD,
    REVIEW_OPENERS_GOOD,
    SUBJECTS,
    CategorySpec,
    ProductType,
)

DEMO_EMAIL = "shopper@example.com"
DEMO_PASSWORD = "shopper-demo-password"
DEMO_NAME = "Demo Shopper"

KINDS = ("view", "click", "add_to_cart", "purchase")
VIEW, CLICK, CART, PURCHASE = range(4)

# Where a view happened. Lists that show popular items draw from overall popularity, the rest from
# the shopper's own tastes (search, browsing a category, personal recommendations).
SOURCES = (
    "catalog",
    "search",
    "home:top-clicked",
    "home:best-sellers",
    "home:for-you",
    "product:similar",
    "product:also-bought",
    "home:because-liked",
)
SOURCE_WEIGHTS = np.array([0.30, 0.20, 0.10, 0.06, 0.12, 0.12, 0.05, 0.05])
POPULAR_SOURCES = np.array([2, 3])  # top-clicked, best-sellers
ANONYMOUS_SHARE = 0.08

# Base conversion rates; each event's own probability moves around these with taste and price.
CLICK_RATE, CART_RATE, PURCHASE_RATE = 0.30, 0.20, 0.36
# Shoppers are busier at the weekend and in the evening.
WEEKDAY_WEIGHTS = np.array([0.9, 0.85, 0.9, 0.95, 1.05, 1.25, 1.3])  # Monday..Sunday
HOUR_WEIGHTS = np.array(
    [2, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 8, 9, 8, 7, 7, 8, 9, 11, 13, 14, 12, 8, 4], dtype=float
)
EVENTS_PER_SESSION_GUESS = 6.5
# Styles that keep their capital letter inside a sentence.
PROPER_STYLES = frozenset({"Japanese", "Damascus", "Moroccan", "Earl Grey", "Scandinavian"})
_COLOUR_WORDS = frozenset(word.lower() for colour in COLOURS for word in colour.split()) | {
    "brown",
    "green",
    "grey",
    "gray",
    "rose",
    "blue",
    "pink",
    "gold",
    "silver",
}
PLURAL_NOUNS = frozenset(
    {"Running Shoes", "Building Blocks", "Pruning Shears", "Greeting Cards", "Coffee Beans"}
)
# How much a shopper's taste for a kind of product (mugs, teapots) moves around their category taste.
TYPE_TASTE_SD = 0.6
# The demo shopper's share of all signed-in sessions: a history worth showing (about 200 events on the
# default demo) that still leaves products to discover in her favourite categories; never less than
# three times the average shopper's.
DEMO_SESSION_SHARE = 0.0025


@dataclass(frozen=True)
class SeedOptions:
    """What to generate; the defaults are the demo `make run` seeds."""

    users: int = 2_000
    products: int = 1_000
    events: int = 100_000
    seed: int = 42
    as_of: date | None = None  # events end before this day (UTC); today when unset
    days: int = 120

    def end(self) -> datetime:
        day = self.as_of or datetime.now(UTC).date()
        return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass
class SeedData:
    """Rows to insert, cross-referenced by list index (the writer maps indexes to database ids)."""

    categories: list[dict]
    products: list[dict]  # has "category_index"
    users: list[dict]
    # events as parallel arrays, sorted by time; user index -1 is a visitor who was not signed in
    event_user: np.ndarray
    event_product: np.ndarray
    event_kind: np.ndarray
    event_quantity: np.ndarray
    event_source: np.ndarray
    event_time: np.ndarray  # datetime64[us], UTC
    orders: list[dict]  # user_index, created_at, total
    order_lines: list[dict]  # order_index, product_index, quantity, unit_price
    ratings: list[dict]  # user_index, product_index, stars, review, created_at
    likes: list[dict]  # user_index, product_index, created_at
    cart_items: list[dict]  # user_index, product_index, quantity, added_at
    stats: dict = field(default_factory=dict)
    world: HiddenWorld | None = None  # what the shoppers and products are really like
    end: datetime | None = None  # every event happened before this instant

    @property
    def n_events(self) -> int:
        return int(self.event_kind.size)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


def _ascii(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower()) or "shopper"


def _price(rng: np.random.Generator, kind: ProductType, quality: float) -> Decimal:
    """A shop-like price: log-spread over the type's range, better products cost a bit more."""
    lo, hi = kind.price_range
    position = rng.beta(2.0, 2.5) + 0.08 * quality
    raw = float(np.exp(np.log(lo) + np.clip(position, 0, 1) * (np.log(hi) - np.log(lo))))
    # whole pounds less a penny from 20, half pounds less a penny below; never outside the range
    step = 1.0 if raw >= 20 else 0.5
    value = round(raw / step) * step - 0.01
    while value > hi:
        value -= step
    while value < lo:
        value += step
    return Decimal(f"{min(value, hi):.2f}")


def image_path(sku: str, name: str, category: str) -> str:
    """``img/products/<sku>-<digest>.svg``: the digest of what the picture shows keeps two databases
    that share one static folder (the demo, a test run, another seed) from overwriting each other's
    pictures under the same SKU."""
    digest = hashlib.md5(f"{name}|{category}".encode()).hexdigest()[:8]
    return f"img/products/{sku}-{digest}.svg"


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[int(rng.integers(len(words)))]


def _two(rng: np.random.Generator, words: tuple[str, ...]) -> tuple[str, str]:
    first, second = rng.choice(len(words), size=2, replace=False)
    return words[int(first)], words[int(second)]


def _names_colour(spec: CategorySpec, kind: ProductType) -> bool:
    return kind.coloured and "{colour}" in spec.lead


def _name(
    rng: np.random.Generator, spec: CategorySpec, kind: ProductType, maker: str | None = None
) -> tuple[str, str, str, str]:
    """The product's name with the style, colour and size it was given (the picture shows the colour).

    ``maker`` (a brand's family name) tells apart products that would otherwise share a name.
    """
    style, colour, size = _pick(rng, kind.styles), _pick(rng, kind.colours), _pick(rng, kind.sizes)
    subjects = SUBJECTS.get(kind.noun)
    if subjects:
        name = f"{_pick(rng, subjects)}: {style} {kind.noun}"
        if maker:
            name += " (Revised Edition)"
        return name, style, colour, size
    if _names_colour(spec, kind):
        name = f"{colour} {style} {kind.noun}"  # the noun last, as search expects
    else:
        name = f"{style} {kind.noun}, {size}"
    return (f"{maker} {name}" if maker else name), style, colour, size


def _article(phrase: str) -> str:
    return "An" if phrase[:1].lower() in "aeiou" else "A"


def _description(
    rng: np.random.Generator,
    spec: CategorySpec,
    kind: ProductType,
    style: str,
    colour: str,
    size: str,
    brand: str,
) -> str:
    """Sentences from the product type's own words only (tests check no other type's creep in)."""
    first, second = _two(rng, kind.features)
    use, other_use = _two(rng, kind.uses)
    lead = spec.lead if kind.coloured else spec.lead.replace("{colour} ", "")
    lead = lead.format(
        style=style if style in PROPER_STYLES else style.lower(),
        noun=kind.noun.lower(),
        material=_pick(rng, kind.materials),
        colour=colour.lower(),
        size=size,
    )
    if lead.startswith("A "):
        rest = lead[2:]
        lead = f"{_article(rest)} {rest}" if kind.noun not in PLURAL_NOUNS else rest
    sentences = [
        lead[0].upper() + lead[1:],
        f"{'They have' if kind.noun in PLURAL_NOUNS else 'It has'} {first} and {second}.",
        f"Made for {use} and {other_use}.",
        f"Part of our {spec.name.lower()} range from {brand.rstrip('.')}.",
    ]
    return " ".join(sentences)


def _categories(rng: np.random.Generator, n_products: int) -> list[CategorySpec]:
    n = int(np.clip(n_products // 12, 8, len(CATEGORIES)))
    n = min(n, n_products)
    chosen = np.sort(rng.choice(len(CATEGORIES), size=n, replace=False))
    return [CATEGORIES[i] for i in chosen]


def _maker_name(fake: Faker) -> str:
    """A family name for a brand that is not also a colour ("White Kitchenworks Black Knife")."""
    name = fake.last_name()
    while name.lower() in _COLOUR_WORDS:
        name = fake.last_name()
    return name


def product_types(specs: list[CategorySpec]) -> list[ProductType]:
    """Every type of the chosen categories, in order: the generator's type indexes."""
    return [kind for spec in specs for kind in spec.types]


def _products(
    rng: np.random.Generator, fake: Faker, specs: list[CategorySpec], n: int, end: datetime
) -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    k = len(specs)
    # every category gets at least one product, the rest by uneven shares
    share = rng.dirichlet(np.full(k, 4.0))
    category = np.concatenate([np.arange(k), rng.choice(k, size=n - k, p=share)])
    rng.shuffle(category)
    # within a category, its types by uneven shares too
    kinds = product_types(specs)
    first_kind = np.cumsum([0] + [len(spec.types) for spec in specs])
    type_share = [rng.dirichlet(np.full(len(spec.types), 3.0)) for spec in specs]
    kind = np.array(
        [first_kind[c] + rng.choice(len(specs[c].types), p=type_share[c]) for c in category]
    )
    quality = rng.normal(0.0, 1.0, n)
    # the long tail of popularity; good products tend to become popular, but not always
    appeal = rng.lognormal(0.35 * quality, 1.0)
    brands = {
        spec.name: [f"{_maker_name(fake)} {_pick(rng, spec.brand_suffixes)}" for _ in range(4)]
        for spec in specs
    }
    rows: list[dict] = []
    names: set[str] = set()
    log_price = np.zeros(n)
    for i in range(n):
        spec, product_type = specs[category[i]], kinds[kind[i]]
        brand = brands[spec.name][int(rng.integers(4))]
        for attempt in range(16):  # a fresh combination when the name is taken, then the maker's
            maker = brand.split()[0] if attempt >= 8 else None
            name, style, colour, size = _name(rng, spec, product_type, maker)
            if name not in names:
                break
        if name in names:
            name = f"{name} No. {i + 1}"
        names.add(name)
        price = _price(rng, product_type, quality[i])
        log_price[i] = np.log(float(price))
        sku = f"{spec.name[:3].upper()}-{i + 1:05d}"
        rows.append(
            {
                "sku": sku,
                "name": name,
                "description": _description(rng, spec, product_type, style, colour, size, brand),
                "brand": brand,
                "price": price,
                "image_path": image_path(sku, name, spec.name),
                "category_index": int(category[i]),
                "type_index": int(kind[i]),
                "colour": colour,
                "created_at": end - timedelta(days=150 + float(rng.uniform(0, 60))),
            }
        )
    # price relative to the product's type: what a price-sensitive shopper shies away from
    rel_price = np.zeros(n)
    for t in np.unique(kind):
        members = kind == t
        rel_price[members] = _zscore(log_price[members])
    return rows, category, kind, quality, appeal, rel_price


def _users(
    rng: np.random.Generator, fake: Faker, n: int, k: int, n_types: int, demo_tastes: list[int]
):
    tastes = rng.dirichlet(np.full(k, 0.35), size=n)
    # within a category some kinds of product appeal more than others (mugs, not teapots)
    type_tastes = rng.normal(0.0, TYPE_TASTE_SD, size=(n, n_types))
    sensitivity = np.clip(rng.normal(0.6, 0.35, n), 0.0, 1.5)
    activity = rng.lognormal(0.0, 0.9, n)
    # The demo shopper: two clear favourite categories and a busy history worth showing.
    demo = np.full(k, 0.02)
    demo[demo_tastes] = 1.0
    tastes[0] = demo / demo.sum()
    others = activity[1:].sum()
    activity[0] = max(3.0 * activity.mean(), others * DEMO_SESSION_SHARE / (1 - DEMO_SESSION_SHARE))
    countries = ("United Kingdom", "Ireland", "France", "Germany", "Netherlands", "Spain")
    country_p = np.array([0.7, 0.06, 0.07, 0.07, 0.05, 0.05])
    rows = []
    for i in range(n):
        first, last = fake.first_name(), fake.last_name()
        if i == 0:
            email, name = DEMO_EMAIL, DEMO_NAME
        else:
            email = f"{_ascii(first)}.{_ascii(last)}{i}@{fake.safe_domain_name()}"
            name = f"{first} {last}"
        rows.append(
            {
                "email": email,
                "display_name": name,
                "country": countries[int(rng.choice(len(countries), p=country_p))],
            }
        )
    return rows, tastes, type_tastes, sensitivity, activity


def _sample_rows(rng: np.random.Generator, cdf: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One draw per entry of ``rows`` from that row's distribution, vectorised over all rows."""
    n_rows, width = cdf.shape
    flat = (cdf + np.arange(n_rows)[:, None]).ravel()
    draws = rng.random(rows.size) * 0.999999 + rows
    picked = np.searchsorted(flat, draws, side="right") - rows * width
    return np.clip(picked, 0, width - 1)


def _session_starts(rng: np.random.Generator, n: int, end: datetime, days: int) -> np.ndarray:
    """Session start times (seconds before ``end``) with a weekly and a daily rhythm."""
    day_index = np.arange(days)  # 0 = the day before ``end``
    weekday = np.array([(end - timedelta(days=int(d) + 1)).weekday() for d in day_index])
    # a gentle upward trend: the shop grows over the period
    day_weight = WEEKDAY_WEIGHTS[weekday] * (1.0 + 0.4 * (1 - day_index / days))
    day = rng.choice(days, size=n, p=day_weight / day_weight.sum())
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds_into_day = hour * 3600 + rng.uniform(0, 3600, n)
    return (day + 1) * 86400.0 - seconds_into_day  # seconds before end


@dataclass(frozen=True)
class HiddenWorld:
    """The latent truth the events are drawn from, which the shop itself never sees.

    Kept with the generated rows so that whatever is simulated later (the demo A/B experiment) or measured
    against the truth (the ceiling benchmark) uses the same shoppers and the same behaviour model as the
    browsing history. Indexes are the generator's: shopper ``u`` is ``SeedData.users[u]``, product ``j``
    is ``SeedData.products[j]``.
    """

    category: np.ndarray  # product -> category index
    quality: np.ndarray  # product, standard normal
    appeal: np.ndarray  # product, lognormal: how much attention it draws whoever looks
    rel_price: np.ndarray  # product, log price standardised within its category
    tastes: np.ndarray  # shopper x category, each row a Dirichlet mix
    sensitivity: np.ndarray  # shopper: how much a dear product puts them off
    activity: np.ndarray  # shopper: relative number of sessions
    kind: np.ndarray | None = None  # product -> product type index (generator.product_types)
    type_tastes: np.ndarray | None = None  # shopper x product type, log weights around 0
    match_centre: float = 0.0  # standardisation of raw_match over all (shopper, product) pairs
    match_scale: float = 1.0

    @property
    def n_users(self) -> int:
        return int(self.tastes.shape[0])

    @property
    def n_products(self) -> int:
        return int(self.quality.shape[0])

    def taste(self, users: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Log taste of each shopper for each product's category and, within it, its type."""
        taste = np.log(self.tastes[users][:, self.category] + 0.02)
        if self.type_tastes is not None and self.kind is not None:
            taste += self.type_tastes[users][:, self.kind]
        return taste

    def raw_match(self, users: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Taste for the category and type, quality and price for the shopper, unstandardised."""
        return (
            self.taste(users)
            + 0.35 * self.quality[None, :]
            - 0.5 * self.sensitivity[users][:, None] * self.rel_price[None, :]
        )

    def match(self, users: np.ndarray | slice = slice(None)) -> np.ndarray:
        """How much each shopper likes each product apart from its popularity (standardised).

        What turns a view into a click, a cart and a purchase, and what ratings follow.
        """
        raw = self.raw_match(users)
        raw -= self.match_centre
        raw /= self.match_scale
        return raw

    def affinity(self, users: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Log weight of each product in a shopper's browsing: taste x appeal x quality x price.

        The shopper's personal views are drawn with probability proportional to ``exp(affinity)``: it is
        the utility the interactions are generated from, and the oracle ranking of the ceiling benchmark.
        """
        affinity = self.taste(users) + np.log(self.appeal)[None, :] + 0.35 * self.quality
        affinity -= 0.5 * self.sensitivity[users][:, None] * self.rel_price[None, :]
        return affinity

    def view_cdf(self, users: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Per shopper, the cumulative distribution their personal views are drawn from."""
        affinity = self.affinity(users)
        weights = np.exp(affinity - affinity.max(axis=1, keepdims=True))
        return np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)

    def popular_cdf(self) -> np.ndarray:
        """The distribution of views from lists of popular products (and of anonymous visitors)."""
        return np.cumsum(self.appeal / self.appeal.sum())[None, :]


def _hidden_world(
    category, kind, quality, appeal, rel_price, tastes, type_tastes, sensitivity, activity
):
    """The world and its full standardised match matrix (computed once: the funnel needs all of it)."""
    world = HiddenWorld(
        category, quality, appeal, rel_price, tastes, sensitivity, activity, kind, type_tastes
    )
    match = world.raw_match()
    centre, scale = float(match.mean()), float(match.std() or 1.0)
    match -= centre
    match /= scale
    return replace(world, match_centre=centre, match_scale=scale), match


def session_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """Views in each of ``n`` browsing sessions: about five, at most 30."""
    return np.minimum(1 + rng.geometric(0.2, n), 30)


def funnel_probabilities(
    match: np.ndarray, quality: np.ndarray, price_push: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(click | view), P(add to cart | click), P(purchase | add to cart) for each viewed product.

    ``match`` is the shopper's match for the product, ``price_push`` their price sensitivity times the
    product's relative price. One behaviour model for the browsing history and the demo experiment.
    """
    p_click = np.clip(CLICK_RATE * 2 * _sigmoid(1.1 * match + 0.4 * quality - 0.5), 0, 0.95)
    p_cart = np.clip(
        CART_RATE * 2 * _sigmoid(0.9 * match + 0.8 * quality - 0.5 * price_push - 0.4), 0, 0.9
    )
    p_buy = np.clip(
        PURCHASE_RATE * 2 * _sigmoid(0.6 * match + 0.6 * quality - 0.6 * price_push - 0.2),
        0,
        0.95,
    )
    return p_click, p_cart, p_buy


def quantities(rng: np.random.Generator, n: int) -> np.ndarray:
    """Units on each of ``n`` cart lines: mostly one."""
    return 1 + (rng.random(n) < 0.12) + (rng.random(n) < 0.04)


def _view_sources_and_products(
    rng: np.random.Generator, v_user: np.ndarray, user_cdf: np.ndarray, popular_cdf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where each view comes from and what it shows; ``v_user`` indexes the rows of ``user_cdf``.

    Views from lists of popular products and by anonymous visitors (``v_user < 0``) follow appeal alone,
    every other view the shopper's own ``exp(affinity)`` distribution.
    """
    source = rng.choice(len(SOURCES), size=v_user.size, p=SOURCE_WEIGHTS)
    popular = np.isin(source, POPULAR_SOURCES) | (v_user < 0)
    product = np.empty(v_user.size, dtype=np.int64)
    product[popular] = _sample_rows(rng, popular_cdf, np.zeros(int(popular.sum()), dtype=np.int64))
    product[~popular] = _sample_rows(rng, user_cdf, v_user[~popular])
    return source, product


class ListVisit(NamedTuple):
    """What a shopper did with one shown list: one entry per card they looked at, in that order."""

    product: np.ndarray  # generator product indexes
    clicked: np.ndarray
    carted: np.ndarray
    bought: np.ndarray
    quantity: np.ndarray


def browse_list(
    rng: np.random.Generator, world: HiddenWorld, user: int, shown: np.ndarray
) -> ListVisit:
    """Shopper ``user`` (a generator index) visits a page that shows the products ``shown``.

    They browse as they do in the history: a session's views are drawn from the same sources and
    distributions as every browsing session (their own ``exp(affinity)``, or appeal for views from lists
    of popular products), and the views that land on a product the list shows are taken from the list;
    the others happen elsewhere in the shop and are not part of this visit. Each card looked at then
    goes through the browsing funnel (``funnel_probabilities``). So a list is worth what it captures of
    the shopper's interest and how well that converts; nothing here knows which engine made the list.
    """
    n_views = int(session_lengths(rng, 1)[0])
    _, viewed = _view_sources_and_products(
        rng, np.zeros(n_views, dtype=np.int64), world.view_cdf([user]), world.popular_cdf()
    )
    _, first = np.unique(viewed, return_index=True)
    viewed = viewed[np.sort(first)]  # a product looked at twice in one visit counts once
    product = viewed[np.isin(viewed, shown)]
    match = world.match([user])[0, product]
    price_push = world.sensitivity[user] * world.rel_price[product]
    p_click, p_cart, p_buy = funnel_probabilities(match, world.quality[product], price_push)
    clicked = rng.random(product.size) < p_click
    carted = clicked & (rng.random(product.size) < p_cart)
    bought = carted & (rng.random(product.size) < p_buy)
    return ListVisit(product, clicked, carted, bought, quantities(rng, product.size))


class _Funnel:
    """Simulates browsing sessions in vectorised batches until enough events exist."""

    def __init__(self, rng, world: HiddenWorld, match: np.ndarray):
        self.rng = rng
        self.match = match
        self.user_cdf = world.view_cdf()
        self.popular_cdf = world.popular_cdf()
        self.quality = world.quality
        self.rel_price = world.rel_price
        self.sensitivity = world.sensitivity
        self.n_users = world.n_users

    def batch(self, n_sessions: int, activity_p: np.ndarray):
        rng = self.rng
        anonymous = rng.random(n_sessions) < ANONYMOUS_SHARE
        user = np.where(anonymous, -1, rng.choice(self.n_users, size=n_sessions, p=activity_p))
        n_views = session_lengths(rng, n_sessions)
        session = np.repeat(np.arange(n_sessions), n_views)
        v_user = user[session]
        source, product = _view_sources_and_products(rng, v_user, self.user_cdf, self.popular_cdf)
        # a product viewed twice in one session counts once
        _, first = np.unique(session * 1_000_000 + product, return_index=True)
        keep = np.sort(first)
        session, v_user, source, product = session[keep], v_user[keep], source[keep], product[keep]
        match = np.where(v_user >= 0, self.match[np.maximum(v_user, 0), product], 0.0)
        sens = np.where(v_user >= 0, self.sensitivity[np.maximum(v_user, 0)], 0.6)
        price_push = sens * self.rel_price[product]
        quality = self.quality[product]

        p_click, p_cart, p_buy = funnel_probabilities(match, quality, price_push)
        clicked = rng.random(session.size) < p_click
        carted = clicked & (v_user >= 0) & (rng.random(session.size) < p_cart)
        bought = carted & (rng.random(session.size) < p_buy)
        quantity = quantities(rng, session.size)

        # times within the session (seconds from its start)
        gaps = rng.exponential(45.0, session.size)
        elapsed = np.cumsum(gaps)
        view_t = elapsed - elapsed[np.searchsorted(session, session)]  # first view at 0
        click_t = view_t + rng.uniform(2, 25, session.size)
        cart_t = click_t + rng.uniform(20, 240, session.size)
        # one checkout per session, after its last add-to-cart
        last_cart = np.zeros(n_sessions)
        np.maximum.at(last_cart, session[bought], cart_t[bought])
        checkout_t = last_cart + rng.uniform(60, 600, n_sessions)
        buy_t = checkout_t[session]

        parts = []
        for kind, mask, t in (
            (VIEW, np.ones(session.size, bool), view_t),
            (CLICK, clicked, click_t),
            (CART, carted, cart_t),
            (PURCHASE, bought, buy_t),
        ):
            parts.append(
                {
                    "session": session[mask],
                    "user": v_user[mask],
                    "product": product[mask],
                    "kind": np.full(int(mask.sum()), kind, dtype=np.int8),
                    "quantity": np.where(kind >= CART, quantity[mask], 1),
                    "source": np.where(kind == PURCHASE, -1, source[mask]),
                    "t": t[mask],
                }
            )
        merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        order = np.lexsort((merged["kind"], merged["t"], merged["session"]))
        return {key: value[order] for key, value in merged.items()}, n_sessions


def generate(options: SeedOptions) -> SeedData:
    """Draw the whole shop. Pure: the same options always give the same rows."""
    rng = np.random.default_rng(options.seed)
    fake = Faker("en_GB")
    fake.seed_instance(options.seed)
    end = options.end()

    specs = _categories(rng, options.products)
    categories = [{"name": spec.name, "slug": spec.slug} for spec in specs]
    products, category, kind, quality, appeal, rel_price = _products(
        rng, fake, specs, options.products, end
    )
    n_types = len(product_types(specs))
    favourites = list(rng.choice(len(specs), size=min(2, len(specs)), replace=False))
    users, tastes, type_tastes, sensitivity, activity = _users(
        rng, fake, options.users, len(specs), n_types, favourites
    )
    world, match = _hidden_world(
        category, kind, quality, appeal, rel_price, tastes, type_tastes, sensitivity, activity
    )
    funnel = _Funnel(rng, world, match)
    activity_p = activity / activity.sum()

    # sessions in batches until there are enough events, then cut at exactly options.events
    batches, total, session_base = [], 0, 0
    while total < options.events:
        missing = options.events - total
        n_sessions = int(missing / EVENTS_PER_SESSION_GUESS * 1.1) + 5
        events, made = funnel.batch(n_sessions, activity_p)
        events["session"] = events["session"] + session_base
        session_base += made
        batches.append(events)
        total += events["kind"].size
    ev = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
    ev = {key: value[: options.events] for key, value in ev.items()}
    n_sessions = session_base

    # place sessions in time; a session that would run past the end is moved back whole
    start_before_end = _session_starts(rng, n_sessions, end, options.days)
    seconds = -start_before_end[ev["session"]] + ev["t"]
    session_last = np.full(n_sessions, -np.inf)
    np.maximum.at(session_last, ev["session"], seconds)
    shift = np.maximum(0.0, session_last + 60.0)
    seconds = seconds - shift[ev["session"]]
    end64 = np.datetime64(end.replace(tzinfo=None), "us")
    times = end64 + (seconds * 1e6).astype("timedelta64[us]")

    order = np.lexsort((ev["kind"], times))
    ev = {key: value[order] for key, value in ev.items()}
    times = times[order]

    orders, lines = _orders(ev, times, products)
    ratings, likes = _feedback(
        rng, ev, times, funnel.match, quality, product_types(specs), kind, end
    )
    cart_items = _open_carts(ev, times, end)

    first_seen = {}
    for u, t in zip(ev["user"].tolist(), times.tolist(), strict=True):
        if u >= 0 and u not in first_seen:
            first_seen[u] = t
    for i, user in enumerate(users):
        seen = first_seen.get(i, end.replace(tzinfo=None) - timedelta(days=5))
        signup = seen - timedelta(days=float(rng.uniform(0.2, 30)))
        user["created_at"] = signup.replace(tzinfo=UTC)

    kinds = ev["kind"]
    stats = _funnel_stats(kinds)
    return SeedData(
        categories=categories,
        products=products,
        users=users,
        event_user=ev["user"],
        event_product=ev["product"],
        event_kind=kinds,
        event_quantity=ev["quantity"],
        event_source=ev["source"],
        event_time=times,
        orders=orders,
        order_lines=lines,
        ratings=ratings,
        likes=likes,
        cart_items=cart_items,
        stats=stats,
        world=world,
        end=end,
    )


def _funnel_stats(kinds: np.ndarray) -> dict:
    counts = np.bincount(kinds, minlength=4)
    return {
        "views": int(counts[VIEW]),
        "clicks": int(counts[CLICK]),
        "carts": int(counts[CART]),
        "purchases": int(counts[PURCHASE]),
        "click_rate": float(counts[CLICK] / max(counts[VIEW], 1)),
        "cart_rate": float(counts[CART] / max(counts[CLICK], 1)),
        "purchase_rate": float(counts[PURCHASE] / max(counts[CART], 1)),
    }


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _orders(ev: dict, times: np.ndarray, products: list[dict]) -> tuple[list[dict], list[dict]]:
    """Each session's purchases become one order; its lines carry the product's price."""
    bought = np.flatnonzero(ev["kind"] == PURCHASE)
    by_session: dict[int, int] = {}
    orders: list[dict] = []
    lines: list[dict] = []
    for i in bought.tolist():
        session = int(ev["session"][i])
        if session not in by_session:
            by_session[session] = len(orders)
            orders.append(
                {
                    "user_index": int(ev["user"][i]),
                    "created_at": _aware(times[i].item()),
                    "total": Decimal("0.00"),
                }
            )
        index = by_session[session]
        product = int(ev["product"][i])
        quantity = int(ev["quantity"][i])
        price = products[product]["price"]
        lines.append(
            {
                "order_index": index,
                "product_index": product,
                "quantity": quantity,
                "unit_price": price,
            }
        )
        orders[index]["total"] += price * quantity
    return orders, lines


def _feedback(rng, ev, times, match, quality, kinds_of, kind, end):
    """Ratings for some purchased (and a few clicked) products; likes for most high ratings."""
    users, items, kinds = ev["user"], ev["product"], ev["kind"]
    signed_in = users >= 0
    candidates: dict[tuple[int, int], tuple[int, bool]] = {}
    for i in np.flatnonzero(signed_in & ((kinds == PURCHASE) | (kinds == CLICK))).tolist():
        key = (int(users[i]), int(items[i]))
        purchased = kinds[i] == PURCHASE
        if key not in candidates or (purchased and not candidates[key][1]):
            candidates[key] = (i, bool(purchased))
    ratings, likes = [], []
    end_naive = end.replace(tzinfo=None)
    for (u, j), (i, purchased) in sorted(candidates.items()):
        chance = 0.5 if purchased else 0.02
        if rng.random() >= chance:
            continue
        stars = int(star_ratings(match[u, j], quality[j], rng.normal(0, 0.9), purchased))
        when = times[i].item() + timedelta(hours=float(rng.uniform(1, 24 * 14)))
        when = min(when, end_naive - timedelta(minutes=float(rng.uniform(1, 600))))
        review = None
        if rng.random() < 0.35:
            review = _review(rng, stars, kinds_of[kind[j]])
        ratings.append(
            {
                "user_index": u,
                "product_index": j,
                "stars": stars,
                "review": review,
                "created_at": _aware(when),
            }
        )
        like_chance = {5: 0.75, 4: 0.4}.get(stars, 0.0)
        if rng.random() < like_chance:
            liked_at = min(when + timedelta(minutes=float(rng.uniform(1, 30))), end_naive)
            likes.append({"user_index": u, "product_index": j, "created_at": _aware(liked_at)})
    return ratings, likes


def star_ratings(match, quality, noise, purchased):
    """Stars a shopper gives: taste match plus quality plus noise, a little lower for what they did not buy.

    ``noise`` is drawn by the caller (normal, sd 0.9); works on scalars and arrays alike.
    """
    latent = 2.9 + 0.9 * match + 0.8 * quality + noise
    latent = latent - np.where(purchased, 0.0, 0.4)
    return np.clip(np.rint(latent), 1, 5)


def _review(rng, stars: int, kind: ProductType) -> str:
    """What the product type's reviewers say: its own praise or complaints, and a closing line."""
    if stars >= 4:
        parts = [
            _pick(rng, REVIEW_OPENERS_GOOD),
            _pick(rng, kind.praise),
            _pick(rng, REVIEW_CLOSERS_GOOD),
        ]
    elif stars == 3:
        praise, complaint = _pick(rng, kind.praise), _pick(rng, kind.complaints)
        parts = [praise, f"But {complaint[0].lower()}{complaint[1:]}"]
    else:
        parts = [
            _pick(rng, REVIEW_OPENERS_BAD),
            _pick(rng, kind.complaints),
            _pick(rng, REVIEW_CLOSERS_BAD),
        ]
    return " ".join(part for part in parts if part)


def _open_carts(ev: dict, times: np.ndarray, end: datetime) -> list[dict]:
    """What shoppers put in the cart in their last session of the final fortnight but did not buy."""
    users, kinds, sessions = ev["user"], ev["kind"], ev["session"]
    recent = times >= np.datetime64(end.replace(tzinfo=None) - timedelta(days=14), "us")
    last_session: dict[int, int] = {}
    for i in np.flatnonzero(users >= 0).tolist():
        last_session[int(users[i])] = int(sessions[i])  # times are sorted: the last one wins
    bought = {
        (int(sessions[i]), int(ev["product"][i]))
        for i in np.flatnonzero(kinds == PURCHASE).tolist()
    }
    items: dict[tuple[int, int], dict] = {}
    for i in np.flatnonzero((kinds == CART) & recent & (users >= 0)).tolist():
        u, s, j = int(users[i]), int(sessions[i]), int(ev["product"][i])
        if last_session.get(u) != s or (s, j) in bought:
            continue
        items[(u, j)] = {
            "user_index": u,
            "product_index": j,
            "quantity": int(ev["quantity"][i]),
            "added_at": _aware(times[i].item()),
        }
    return list(items.values())


def engine_frames(data: SeedData):
    """The shop's interactions and products frames for ``data``, without a database.

    The same columns and kinds the shop's bridge (``shop.services.interactions``) reads after a seed:
    signed-in events with their quantity as value, likes, and ratings by their stars. Shoppers and
    products are the generator's indexes, so the hidden world lines up with them.
    """
    import pandas as pd

    signed_in = data.event_user >= 0
    kinds = np.asarray(KINDS, dtype=object)
    stamps = pd.to_datetime(data.event_time[signed_in]).tz_localize("UTC")
    parts = [
        pd.DataFrame(
            {
                "user_id": data.event_user[signed_in].astype(np.int64),
                "product_id": data.event_product[signed_in].astype(np.int64),
                "kind": kinds[data.event_kind[signed_in]],
                "value": data.event_quantity[signed_in].astype(float),
                "timestamp": stamps,
            }
        )
    ]
    for rows, kind, value in ((data.likes, "like", None), (data.ratings, "rating", "stars")):
        if rows:
            parts.append(
                pd.DataFrame(
                    {
                        "user_id": [r["user_index"] for r in rows],
                        "product_id": [r["product_index"] for r in rows],
                        "kind": kind,
                        "value": [float(r[value]) if value else 1.0 for r in rows],
                        "timestamp": pd.to_datetime([r["created_at"] for r in rows], utc=True),
                    }
                )
            )
    interactions = pd.concat(parts, ignore_index=True)
    interactions["timestamp"] = interactions["timestamp"].astype("datetime64[ns, UTC]")
    return interactions, catalogue_frame(data)


def catalogue_frame(data: SeedData):
    """The shop's products frame for ``data`` (product ids are the generator's indexes)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "product_id": np.arange(len(data.products), dtype=np.int64),
            "name": [p["name"] for p in data.products],
            "description": [p["description"] for p in data.products],
            "category": [data.categories[p["category_index"]]["name"] for p in data.products],
            "brand": [p["brand"] for p in data.products],
            "price": [float(p["price"]) for p in data.products],
        }
    )
