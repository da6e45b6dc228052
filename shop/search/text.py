"""Turning what a shopper typed into words: the one tokenizer every part of search shares."""

from __future__ import annotations

import re

# Word characters in any script, without the underscore (FTS5's unicode61 splits on it anyway).
TOKEN_RE = re.compile(r"[^\W_]+")
MAX_TOKENS = 12
MAX_TOKEN_LENGTH = 40
# Only this much of a pasted essay is looked at: twelve words never need more.
MAX_QUERY_CHARS = 1000
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
    tokens: list[str] = []
    for word in TOKEN_RE.findall((raw or "")[:MAX_QUERY_CHARS]):
        token = word.lower()[:MAX_TOKEN_LENGTH]
        if token not in tokens:
            tokens.append(token)
        if len(tokens) == MAX_TOKENS:
            break
    return tokens
