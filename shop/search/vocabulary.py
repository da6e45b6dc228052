"""The shop's own words, for correcting typos and pointing a fruitless search somewhere useful.

The vocabulary is every word of the products' names, brands and category names, with how many
products carry it and in which categories. It is built from the database once per process and
rebuilt when the catalogue changes: ``current_vocabulary()`` compares a cheap fingerprint of the
products table (row count, highest id, total length of the searchable text) at most every
``RECHECK_SECONDS``, and ``clear_vocabulary_cache()`` drops it at once (the importer and the seeder
run in other processes, so the fingerprint is what catches them).

Typos are measured with the optimal string alignment distance (Levenshtein plus adjacent
transposition, so "ktetle" is one edit from "kettle"), as the big shop search engines do, with
their budget: one edit for words of five to eight letters, two for longer words. Four-letter words
get one edit only when it adds or removes a letter ("mugg" -> "mug", "plnt" -> "plant"): a
substitution in a word that short turns too many real words into other real words (lamp, camp,
ramp). Several words can be equally near ("travl": trail or travel); ``candidates`` gives them
best first and the engine keeps the first that makes sense with the query's other words.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from flask import current_app
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from sqlalchemy import case, func, select

from shop.extensions import db
from shop.models import Category, Product
from shop.search.text import tokenize_text

RECHECK_SECONDS = 10.0
MIN_WORD_LENGTH = 3
EXAMPLES = 3
EXAMPLE_MIN_PRODUCTS = 3
_EXTENSION_KEY = "search_vocabulary"


@dataclass
class Vocabulary:
    # word -> number of products whose name, brand or category holds it
    frequency: dict[str, int]
    # word -> how many of those products are in each category
    categories: dict[str, Counter]
    # a few words to offer as examples: each ends the names of at least three products
    examples: list[str] = field(default_factory=list)
    words: list[str] = field(init=False)
    _prefixes: dict[int, dict[str, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.words = sorted(self.frequency)

    def __contains__(self, word: str) -> bool:
        return word in self.frequency

    def correct(self, token: str) -> str | None:
        """The shop's word the shopper most likely meant, or None when nothing is close enough."""
        found = self.candidates(token, 1)
        return found[0] if found else None

    def candidates(self, token: str, n: int = 3) -> list[str]:
        """The shop's words the shopper may have meant, likeliest first (empty: nothing is close).

        Whole words within the edit budget come first; failing those, words whose beginning is
        within the budget (the shopper is still typing: "ketel" -> "kettle"); failing those, the
        same for the word without a plural ``s`` ("muggs" -> "mug").
        """
        if token in self.frequency or len(token) < 4:
            return []
        for candidate in (token, token[:-1] if token.endswith("s") else None):
            if candidate is None or len(candidate) < 4:
                continue
            if candidate in self.frequency:
                return [candidate]
            found = self._closest_words(candidate, n) or self._closest_prefixes(candidate, n)
            if found:
                return found
        return []

    def nearest(self, token: str, n: int = 3) -> list[str]:
        """The shop's words most like ``token`` however far off, for a search that found nothing."""
        if not self.words:
            return []
        matches = process.extract(
            token, self.words, scorer=fuzz.ratio, score_cutoff=60, limit=n * 4
        )
        ranked = sorted(matches, key=lambda m: (-round(m[1]), -self.frequency[m[0]], m[0]))
        return [word for word, _score, _index in ranked[:n]]

    def category_ids_for(self, words: list[str]) -> list[int]:
        """Categories the words point to: where the products carrying them mostly are."""
        counts: Counter = Counter()
        for word in words:
            counts.update(self.categories.get(word, {}))
        return [category_id for category_id, _ in counts.most_common()]

    def _closest_words(self, token: str, n: int) -> list[str]:
        budget = edit_budget(len(token))
        if budget == 0:
            return []
        pool = self.words
        if len(token) == 4:  # a letter added or missed, never swapped for another
            pool = [w for w in self.words if len(w) in (3, 5)]
        return self._ranked(token, pool, budget, n)

    def _closest_prefixes(self, token: str, n: int) -> list[str]:
        budget = edit_budget(len(token))
        if budget == 0 or len(token) < 5:
            return []
        prefixes = self._prefixes.get(len(token))
        if prefixes is None:
            prefixes = {}
            for word in self.words:  # most frequent word for each prefix
                if len(word) > len(token):
                    head = word[: len(token)]
                    best = prefixes.get(head)
                    if best is None or self.frequency[word] > self.frequency[best]:
                        prefixes[head] = word
            self._prefixes[len(token)] = prefixes
        heads = self._ranked(token, list(prefixes), budget, n)
        return list(dict.fromkeys(prefixes[head] for head in heads))

    def _ranked(self, token: str, pool: list[str], budget: int, n: int) -> list[str]:
        matches = process.extract(token, pool, scorer=OSA.distance, score_cutoff=budget, limit=None)
        # Fewest edits; then a word that starts like the token (first letters are rarely
        # mistyped); then the commoner word; then alphabetical, so the answer is stable.
        matches.sort(key=lambda m: (m[1], m[0][0] != token[0], -self.frequency.get(m[0], 0), m[0]))
        return [word for word, _distance, _index in matches[:n]]


def edit_budget(length: int) -> int:
    if length >= 9:
        return 2
    if length >= 4:
        return 1
    return 0


def build_vocabulary() -> Vocabulary:
    frequency: Counter = Counter()
    categories: dict[str, Counter] = defaultdict(Counter)
    # The last word of a name is usually what the product is ("Cast Iron Kettle"): those words,
    # weighted by how often their products are clicked, make the home page's examples.
    last_words: Counter = Counter()
    last_word_clicks: Counter = Counter()
    rows = db.session.execute(
        select(Product.name, Product.brand, Category.name, Product.category_id, Product.click_count)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Product.listed.is_(True))
    )
    rows = rows.all()
    names = {tuple(tokenize_text(row[0])) for row in rows}
    for name, brand, category_name, category_id, clicks in rows:
        name_words = tokenize_text(name)
        # "Cast Iron Kettle Classic" beside "Cast Iron Kettle" is a variant: its noun is "kettle".
        while len(name_words) > 1 and tuple(name_words[:-1]) in names:
            name_words = name_words[:-1]
        if name_words and name_words[-1].isalpha() and len(name_words[-1]) >= 3:
            last_words[name_words[-1]] += 1
            last_word_clicks[name_words[-1]] += clicks or 0
        words = {
            w
            for w in tokenize_text(f"{name} {brand or ''} {category_name or ''}")
            if len(w) >= MIN_WORD_LENGTH and not w.isdigit()
        }
        frequency.update(words)
        if category_id is not None:
            for word in words:
                categories[word][category_id] += 1
    common = [word for word, count in last_words.items() if count >= EXAMPLE_MIN_PRODUCTS]
    common.sort(key=lambda word: (-last_word_clicks[word], -last_words[word], word))
    return Vocabulary(dict(frequency), dict(categories), examples=common[:EXAMPLES])


def _fingerprint() -> tuple:
    return tuple(
        db.session.execute(
            select(
                func.count(Product.id),
                func.max(Product.id),
                func.sum(func.length(Product.name) + func.length(Product.brand)),
                func.sum(case((Product.listed.is_(True), 1), else_=0)),
                select(func.count(Category.id)).scalar_subquery(),
            )
        ).one()
    )


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.vocabulary: Vocabulary | None = None
        self.fingerprint: tuple | None = None
        self.checked_at = 0.0


def current_vocabulary() -> Vocabulary:
    """This process's vocabulary, rebuilt when the products changed (see the module docstring)."""
    cache = current_app.extensions.setdefault(_EXTENSION_KEY, _Cache())
    with cache.lock:
        now = time.monotonic()
        if cache.vocabulary is not None and now - cache.checked_at < RECHECK_SECONDS:
            return cache.vocabulary
        fingerprint = _fingerprint()
        if cache.vocabulary is None or fingerprint != cache.fingerprint:
            cache.vocabulary = build_vocabulary()
            cache.fingerprint = fingerprint
        cache.checked_at = now
        return cache.vocabulary


def clear_vocabulary_cache() -> None:
    """Forget the vocabulary, so the next search rebuilds it (after this process edits products)."""
    current_app.extensions.pop(_EXTENSION_KEY, None)
