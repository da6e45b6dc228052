"""Compound words: "birdfeeder" finds "Bird Feeder", and "bird feeder" finds "Birdfeeder".

Shoppers write a compound as one word or as two, often the other way from the shop. The shop's
words are known (shop.search.vocabulary), so at query time

- a word that splits into two of the shop's words may also match as that two-word phrase
  ("birdfeeder" -> "bird feeder", the words next to each other, in that order);
- two neighbouring words that join into one of the shop's words may also match as that word
  ("bird feeder" -> "birdfeeder").

These are alternatives OR-ed with the words as typed, never instead of them, and the engine ranks a
product that only an alternative finds below one that the typed words find. A part must have three
letters or more and not be a little word such as "for" or "the" (PostgreSQL drops those from a
query, which would turn a phrase into a single loose word).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from shop.search.vocabulary import Vocabulary

MIN_PART = 3
MAX_SPLITS = 2  # per word: "teatowel" has one reading, a rare word may have two

# English stop words of three letters or more (PostgreSQL's 'english' configuration drops them).
LITTLE_WORDS = frozenset(
    """about above after again against all and any are because been before being below between
    both but can did does doing down during each few for from further had has have having her
    here hers herself him himself his how into its itself just more most myself nor not now
    off once only other our ours ourselves out over own same she should some such than that
    the their theirs them themselves then there these they this those through too under until
    very was were what when where which while who whom why will with you your yours yourself
    yourselves""".split()  # noqa: SIM905
)

# One way to match a position of the query: a word, or a phrase of words next to each other.
# The last word of either is a prefix, as every typed word is ("bird fee" finds "Bird Feeder").
Alternative = tuple[str, ...]


@dataclass(frozen=True)
class Compounds:
    """The compound readings of a query's terms (empty: none)."""

    # (i, word): terms[i] and terms[i + 1] written as one word that the shop uses
    joins: tuple[tuple[int, str], ...] = ()
    # per term: the two-word phrases it splits into (empty for most words)
    splits: tuple[tuple[tuple[str, str], ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.joins) or any(self.splits)

    def segmentations(self, terms: list[str]) -> list[list[list[Alternative]]]:
        """Every way to read the terms: a list of positions, each a list of alternatives.

        The first reading is the terms as typed (each with its splits); then one reading per join,
        with the joined pair as a single position.
        """
        positions: list[list[Alternative]] = [
            [(term,), *(self.splits[i] if i < len(self.splits) else ())]
            for i, term in enumerate(terms)
        ]
        readings = [positions]
        for i, word in self.joins:
            readings.append(positions[:i] + [[(word,)]] + positions[i + 2 :])
        return readings


def _known(word: str, vocabulary: Vocabulary) -> bool:
    """A shop word, or the plural of one ("feeders"); never a little word."""
    if len(word) < MIN_PART or word in LITTLE_WORDS:
        return False
    return word in vocabulary or (word.endswith("s") and word[:-1] in vocabulary)


def split_word(word: str, vocabulary: Vocabulary) -> tuple[tuple[str, str], ...]:
    """``"birdfeeder"`` -> ``(("bird", "feeder"),)``: the ways it is two of the shop's words."""
    found = [
        (word[:i], word[i:])
        for i in range(MIN_PART, len(word) - MIN_PART + 1)
        if _known(word[:i], vocabulary) and _known(word[i:], vocabulary)
    ]
    # The split whose rarer part is commoner is the likelier one.
    found.sort(key=lambda pair: -min(_frequency(part, vocabulary) for part in pair))
    return tuple(found[:MAX_SPLITS])


def _frequency(word: str, vocabulary: Vocabulary) -> int:
    return vocabulary.frequency.get(word) or vocabulary.frequency.get(word[:-1], 0)


def find_compounds(terms: list[str], vocabulary: Vocabulary) -> Compounds:
    joins = tuple(
        (i, first + second)
        for i, (first, second) in enumerate(pairwise(terms))
        if _known(first + second, vocabulary)
    )
    return Compounds(joins, tuple(split_word(term, vocabulary) for term in terms))
