"""A page built once for every shopper, with holes for what is each shopper's own.

A signed-in shopper's product page is nearly all the product's: the header, the product, its
reviews and rows are the same for every shopper; the cart badge, the name on the sign-out button,
the like button, the rating form and the CSRF token are not. Rendering the whole page for each
shopper's first sight of each product cost 5-6 ms of a page that is otherwise a few reads.

So the page is rendered once per URL and shop state as a **frame**: the template marks each of the
shopper's own parts with :func:`mine` while a frame is being built (and prints them as usual
otherwise), the frame keeps the text between the marks, and each shopper's page is the frame with
their own parts, rendered from the same macros (``templates/_mine.html``), in the holes. The CSRF
token of the shopper who happened to build it is a hole too. A part whose template is not marked
stays in the frame, so a new personal part must be marked: ``tests/test_page_frames.py`` serves a
frame one shopper built to another and checks that nothing of the first shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from flask import g
from markupsafe import Markup

_OPEN = "<!--mine:{}-->"
_CLOSE = "<!--/mine-->"
_MARKED = re.compile(r"<!--mine:([a-z-]+)-->(.*?)<!--/mine-->", re.DOTALL)
#: The hole the builder's CSRF token leaves.
TOKEN = "csrf-token"
#: Response header: "filled" (the page came from a kept frame) or "built" (it made one).
HEADER = "X-Page-Frame"


def building() -> bool:
    return bool(g.get("_building_frame"))


@contextmanager
def marking(on: bool = True) -> Iterator[None]:
    """Render inside with the shopper's own parts marked (``on``), as a frame is built."""
    g._building_frame = on
    try:
        yield
    finally:
        g._building_frame = False


def mine(name: str, html: str) -> Markup:
    """Mark ``html`` as the shopper's own part ``name`` while a frame is built; else print it."""
    html = Markup(html)
    if not building():
        return html
    return Markup(_OPEN.format(name)) + html + Markup(_CLOSE)


@dataclass(frozen=True)
class Frame:
    """The page's text with the names of the holes between: text, hole, text, ..., text."""

    parts: tuple[str, ...]
    shown: frozenset[int]  # products the page lists (a cart holding one needs its own page)

    def fill(self, fillers: Mapping[str, Callable[[], str]]) -> str:
        """The page with each hole filled; each filler runs once however many holes it fills."""
        made: dict[str, str] = {}
        out = []
        for i, part in enumerate(self.parts):
            if i % 2 == 0:
                out.append(part)
            else:
                if part not in made:
                    made[part] = str(fillers[part]())
                out.append(made[part])
        return "".join(out)


def cut(html: str, token: str | None, shown: frozenset[int]) -> tuple[Frame, str]:
    """The frame of a page built with marks, and the page as its builder gets it (marks out)."""
    parts: list[str] = []
    position = 0
    for match in _MARKED.finditer(html):
        parts.extend(_token_holes(html[position : match.start()], token))
        parts.append(match.group(1))
        position = match.end()
    parts.extend(_token_holes(html[position:], token))
    return Frame(tuple(parts), shown), _MARKED.sub(r"\2", html)


def _token_holes(text: str, token: str | None) -> list[str]:
    """Text, TOKEN, text, ...: the text with its CSRF tokens as holes."""
    if not token or token not in text:
        return [text]
    pieces = text.split(token)
    out = [pieces[0]]
    for piece in pieces[1:]:
        out.extend((TOKEN, piece))
    return out
