"""Bootstrap trimmed to the classes the shop uses, so the one stylesheet that blocks the first
paint is small.

Bootstrap's full stylesheet is 232 KB (23 KB with Brotli), most of it components the shop never
shows (modals, carousels, toasts, the dark theme). :func:`purge` keeps a rule when every class
its selector needs appears somewhere in the templates, the shop's scripts or its Python (where
flash categories and status colours are chosen), plus the classes Bootstrap's own script adds
(:data:`ADDED_BY_SCRIPT`). A class built in a template from a prefix (``alert-{{ category }}``)
counts with every word the sources contain after that prefix. Element and attribute rules, custom
properties and keyframes are kept. ``flask --app shop trim-bootstrap`` writes the result to
``static/vendor/bootstrap/bootstrap.shop.min.css`` (committed, so a deploy needs no step), and a
test fails when the templates use a class the trimmed file has dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

#: Classes Bootstrap's script sets on the collapse, alert and navbar the shop uses.
ADDED_BY_SCRIPT = frozenset(
    {"show", "showing", "hiding", "fade", "collapse", "collapsing", "collapsed", "active"}
)
#: Always kept: state classes the shop's forms and pagers switch on.
STATES = frozenset({"disabled", "was-validated", "is-invalid", "is-valid"})

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9_-]*-)\{\{")
CLASS = re.compile(r"\.(-?[A-Za-z_][A-Za-z0-9_-]*)")
NOT = re.compile(r":not\([^()]*\)")
SOURCE_SUFFIXES = (".html", ".js", ".py")


def used_classes(texts: Iterable[str]) -> set[str]:
    """Every word of the sources, plus ``prefix-word`` for each ``prefix-{{`` a template builds."""
    texts = list(texts)
    words: set[str] = set()
    prefixes: set[str] = set()
    for text in texts:
        words.update(WORD.findall(text))
        prefixes.update(PREFIX.findall(text))
    built = {prefix + word for prefix in prefixes for word in words}
    return words | built | ADDED_BY_SCRIPT | STATES


def source_texts(root: Path, folders: Iterable[str]) -> list[str]:
    """The text of every template, script and module under ``folders`` of ``root`` (vendored
    libraries left out: Bootstrap's own script names every class it has)."""
    texts = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and "vendor" not in path.parts:
                texts.append(path.read_text(encoding="utf-8"))
    return texts


def selector_is_used(selector: str, used: set[str]) -> bool:
    if "[data-bs-theme=dark]" in selector:
        return False
    needed = CLASS.findall(NOT.sub("", selector))
    return all(name in used for name in needed)


def split_blocks(css: str) -> list[tuple[str, str | None]]:
    """The top-level items of ``css``: ``(prelude, body)`` for a block, ``(statement, None)`` for
    an at-rule ending in ``;`` or a comment. Braces inside strings and comments are skipped."""
    items: list[tuple[str, str | None]] = []
    i, start, n = 0, 0, len(css)
    while i < n:
        c = css[i]
        if css.startswith("/*", i):
            end = css.index("*/", i + 2) + 2
            if not css[start:i].strip():
                items.append((css[i:end], None))
                start = end
            i = end
        elif c in "\"'":
            i = css.index(c, i + 1) + 1
        elif c == ";" and css[start:i].lstrip().startswith("@"):
            items.append((css[start : i + 1].strip(), None))
            i = start = i + 1
        elif c == "{":
            depth, j = 1, i + 1
            while depth:
                d = css[j]
                if d in "\"'":
                    j = css.index(d, j + 1)
                elif d == "{":
                    depth += 1
                elif d == "}":
                    depth -= 1
                j += 1
            items.append((css[start:i].strip(), css[i + 1 : j - 1]))
            i = start = j
        else:
            i += 1
    return items


NESTED_AT_RULES = ("@media", "@supports", "@layer", "@container")


def purge(css: str, used: set[str]) -> str:
    """``css`` without the rules none of whose selectors the shop uses."""
    out = []
    for prelude, body in split_blocks(css):
        if body is None:
            out.append(prelude)
        elif prelude.startswith(NESTED_AT_RULES):
            inner = purge(body, used)
            if inner:
                out.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):  # @keyframes, @font-face, @page
            out.append(f"{prelude}{{{body}}}")
        else:
            kept = [s for s in _split_selectors(prelude) if selector_is_used(s, used)]
            if kept:
                out.append(f"{','.join(kept)}{{{body}}}")
    return "".join(out)


def _split_selectors(prelude: str) -> list[str]:
    """A selector list split at its top-level commas (not those inside ``:not(a,b)``)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(prelude):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(prelude[start:i])
            start = i + 1
    parts.append(prelude[start:])
    return [p.strip() for p in parts if p.strip()]
