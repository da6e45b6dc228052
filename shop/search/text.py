"""Turning what a shopper typed into words: the one tokenizer every part of search shares."""

from __future__ import annotations

import re

# Word characters in any script, without the underscore (FTS5's unicode61 splits on it anyway).
TOKEN_RE = re.compile(r"[^\W_]+")
# Every word is one more prefix term for the index to expand and intersect, and a query of many
# one-letter words cost 300 ms on a 20,000-product shop: words past this many are ignored (the
# page says so). A product name rarely needs more.
MAX_TOKENS = 8
MAX_TOKEN_LENGTH = 40
# A longer query is not searched at all (the page says why): the search box takes this many.
MAX_QUERY_CHARS = 200
MAX_DISPLAY_CHARS = 200


def display_text(raw: str | None) -> str:
    """The query as shown back on the page: printable characters only, and not a whole essay."""
    cleaned = "".join(ch for ch in (raw or "")[: MAX_QUERY_CHARS * 2] if ch.isprintable())
    return cleaned.strip()[:MAX_DISPLAY_CHARS]


def tokenize_text(text: str) -> list[str]:
    """Every lower-case word of a product's text, in order (no cap: used to build the vocabulary)."""
    return [word.lower() for word in TOKEN_RE.findall(text)]


def tokenize(raw: str | None) -> list[str]:
    """Distinct lower-case word tokens of a query, at most ``MAX_TOKENS`` of them."""
    return read_words(raw)[0]


def read_words(raw: str | None) -> tuple[list[str], bool]:
    """The query's first ``MAX_TOKENS`` distinct words, and whether it had more (then ignored)."""
    tokens: list[str] = []
    for word in TOKEN_RE.findall((raw or "")[:MAX_QUERY_CHARS]):
        token = word.lower()[:MAX_TOKEN_LENGTH]
        if token not in tokens:
            if len(tokens) == MAX_TOKENS:
                return tokens, True
            tokens.append(token)
    return tokens, False


def is_too_long(raw: str | None) -> bool:
    return len((raw or "").strip()) > MAX_QUERY_CHARS
