"""The shop's one product-picture drawer: a small SVG illustration from the product's name and category.

Most products come without a photo. A drawing still tells them apart at a glance: the object comes
from what the name says the product is ("mug", "watering can", "field guide": :data:`KEYWORDS`), its
colour from a colour the name mentions ("..., Sage") or else from the name's digest, and a detail (a
band, stripes, dots) from the digest too; the soft background and the small label keep the
category's tone, so a shelf of one category still looks of a piece. A name that names nothing drawn
gets the category's monogram card.

The drawing is a pure function of the two strings (an MD5 digest, not Python's per-process ``hash``),
so every worker draws the same picture and browsers may cache it. No script, no external reference;
every piece of text is escaped. The catalog serves it for products without a picture, and the seeder
writes it to files.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Callable
from xml.sax.saxutils import escape

# (background, darker shade, light accent) per tone; shop.css has a matching .cat-tone-N class.
PALETTE = (
    ("#2d4b73", "#1f3654", "#9fc1ea"),
    ("#2f7d6d", "#1f5a4e", "#a6e3d4"),
    ("#b5543c", "#8a3c29", "#f6c6b6"),
    ("#6b4c9a", "#4d3572", "#d2c2ee"),
    ("#c28a12", "#94680b", "#f8e0a5"),
    ("#3b7fb6", "#2a5f89", "#bfdcf4"),
    ("#a23e69", "#7a2c4e", "#f1bfd5"),
    ("#4f6d2f", "#3a5222", "#cfe3b4"),
    ("#1f7a8c", "#155866", "#b3e3ec"),
    ("#8c5a2b", "#68421f", "#ecd2b6"),
    ("#5a5f73", "#3f4354", "#d3d6e2"),
    ("#c0392b", "#922b21", "#f5b7b1"),
)

#: Colours a product name may mention, as the drawing paints them.
COLOURS: dict[str, str] = {
    "Sage": "#8fa98a",
    "Forest Green": "#2f6b3d",
    "Olive": "#7a7d3a",
    "Navy": "#24365c",
    "Cobalt": "#2f5fb3",
    "Sky Blue": "#7fb6e0",
    "Teal": "#1f7f80",
    "Charcoal": "#3d4045",
    "Slate Grey": "#6c7a86",
    "Stone": "#c9bfae",
    "Cream": "#efe6cf",
    "White": "#f4f4f1",
    "Black": "#222222",
    "Terracotta": "#c0643f",
    "Rust": "#a4482a",
    "Mustard": "#d4a23a",
    "Sunflower": "#f0c330",
    "Coral": "#ec7a64",
    "Blush Pink": "#e7a9ad",
    "Berry": "#9c2f5c",
    "Plum": "#6b3a6e",
    "Lavender": "#a99ad0",
    "Red": "#c8372d",
    "Orange": "#e77c2c",
    "Copper": "#b8733f",
    "Oak": "#b88a55",
    "Walnut": "#6e4a2f",
    "Natural": "#d8c39a",
    "Silver": "#b9bec4",
    "Graphite": "#4a4e55",
}
# For names without a colour: a lively mix, and wood tones for what is usually wooden.
_ANY = tuple(
    COLOURS[c]
    for c in (
        "Sage", "Navy", "Cobalt", "Teal", "Terracotta", "Mustard", "Coral", "Berry", "Plum",
        "Forest Green", "Rust", "Sky Blue", "Lavender", "Red", "Orange", "Charcoal",
    )
)  # fmt: skip
_WOOD = ("#b88a55", "#6e4a2f", "#d8c39a", "#a0703f", "#8a5a35")

WIDTH, HEIGHT = 400, 300


def _digest(value: str) -> int:
    return int.from_bytes(hashlib.md5(value.encode("utf-8")).digest()[:8], "big")


def tone_for(category_name: str | None) -> int:
    """The palette index of a category: the same category always gets the same colour."""
    return _digest((category_name or "").strip().lower()) % len(PALETTE)


def initials(name: str) -> str:
    words = [w for w in name.split() if any(ch.isalnum() for ch in w)]
    letters = [next(ch for ch in w if ch.isalnum()) for w in words[:2]]
    return "".join(letters).upper() or "?"


def _mix(colour: str, other: str, share: float) -> str:
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def _light(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b > 150


class _Ink:
    """The colours one drawing uses: the product's fill, its shade, and a detail colour that shows."""

    def __init__(self, fill: str, detail: int):
        self.f = fill
        self.s = _mix(fill, "#000000", 0.28)
        self.l = _mix(fill, "#ffffff", 0.45)
        self.t = "#3a3a3a" if _light(fill) else "#ffffff"  # trim on the fill
        self.detail = detail

    def decor(self, x: float, y: float, w: float, h: float) -> str:
        """The per-product detail on a drawing's body: nothing, a band, two stripes or dots."""
        t = self.t
        if self.detail == 1:
            return f'<rect x="{x}" y="{y + h * 0.38}" width="{w}" height="{h * 0.24}" fill="{t}" opacity=".45"/>'
        if self.detail == 2:
            return "".join(
                f'<rect x="{x}" y="{y + h * k}" width="{w}" height="{max(h * 0.08, 3):.1f}" fill="{t}" opacity=".5"/>'
                for k in (0.25, 0.62)
            )
        if self.detail == 3:
            n = max(int(w // 22), 2)
            return "".join(
                f'<circle cx="{x + w * (i + 0.5) / n:.1f}" cy="{y + h / 2}" r="{min(h, w / n) * 0.18:.1f}" fill="{t}" opacity=".55"/>'
                for i in range(n)
            )
        return ""


Drawing = Callable[[_Ink], str]
_SHADOW = '<ellipse cx="200" cy="262" rx="{rx}" ry="9" fill="#000" opacity=".12"/>'


def _stroke(c: _Ink) -> str:
    return f'stroke="{c.s}" stroke-width="3"'


def _mug(c: _Ink) -> str:
    return (
        f'<path d="M248 132 h20 a28 28 0 0 1 0 62 h-20" fill="none" stroke="{c.s}" stroke-width="14"/>'
        f'<rect x="148" y="108" width="104" height="126" rx="12" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(148, 130, 104, 80)
        + f'<ellipse cx="200" cy="110" rx="50" ry="8" fill="{c.s}"/>'
    )


def _campmug(c: _Ink) -> str:
    return (
        f'<path d="M244 140 h22 v54 h-22" fill="none" stroke="#8a8f96" stroke-width="8"/>'
        f'<rect x="156" y="120" width="90" height="118" rx="10" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(156, 150, 90, 60)
        + '<rect x="148" y="100" width="106" height="24" rx="8" fill="#3d4045"/>'
        '<rect x="186" y="94" width="30" height="8" rx="3" fill="#3d4045"/>'
    )


def _teapot(c: _Ink) -> str:
    return (
        f'<path d="M136 172 Q100 160 92 120 L106 116 Q116 146 146 152 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M262 140 q48 4 36 50 q-6 22 -34 24" fill="none" stroke="{c.s}" stroke-width="13"/>'
        f'<ellipse cx="200" cy="178" rx="76" ry="62" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(132, 168, 136, 36)
        + f'<ellipse cx="200" cy="120" rx="42" ry="10" fill="{c.s}"/>'
        f'<circle cx="200" cy="106" r="9" fill="{c.s}"/>'
    )


def _pan(c: _Ink) -> str:
    return (
        f'<rect x="268" y="170" width="118" height="16" rx="8" fill="{c.s}"/>'
        f'<ellipse cx="180" cy="182" rx="100" ry="44" fill="{c.f}" {_stroke(c)}/>'
        '<ellipse cx="180" cy="176" rx="84" ry="33" fill="#2f3034"/>'
        f'<ellipse cx="160" cy="168" rx="30" ry="8" fill="#ffffff" opacity=".12"/>'
    )


def _knife(c: _Ink) -> str:
    return (
        '<path d="M150 168 L330 146 Q322 182 150 196 Z" fill="#dfe3e8" stroke="#9aa3ad" stroke-width="2"/>'
        '<path d="M150 190 L300 178" stroke="#ffffff" stroke-width="3" opacity=".7"/>'
        f'<rect x="62" y="166" width="92" height="32" rx="10" fill="{c.f}" {_stroke(c)}/>'
        + "".join(f'<circle cx="{x}" cy="182" r="4" fill="#d9d9d9"/>' for x in (82, 106, 130))
    )


def _board(c: _Ink) -> str:
    return (
        f'<rect x="96" y="118" width="210" height="122" rx="20" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="110" y="130" width="168" height="98" rx="12" fill="none" stroke="{c.s}" stroke-width="3" opacity=".6"/>'
        f'<circle cx="290" cy="179" r="9" fill="{c.s}"/>'
        f'<path d="M120 150 q40 -6 80 0 M130 200 q50 6 110 -2" stroke="{c.s}" stroke-width="2" fill="none" opacity=".5"/>'
    )


def _bowl(c: _Ink) -> str:
    return (
        f'<path d="M108 148 h184 q-8 96 -92 96 q-84 0 -92 -96 Z" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(126, 166, 148, 34)
        + f'<ellipse cx="200" cy="148" rx="92" ry="15" fill="{c.s}"/>'
    )


def _petbowl(c: _Ink) -> str:
    return (
        f'<path d="M96 178 h208 l-22 58 h-164 Z" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(118, 196, 164, 26)
        + f'<ellipse cx="200" cy="178" rx="104" ry="16" fill="{c.s}"/>'
        '<ellipse cx="200" cy="176" rx="80" ry="9" fill="#8a5a35"/>'
    )


def _plantpot(c: _Ink) -> str:
    leaves = "".join(
        f'<ellipse cx="{200 + dx}" cy="{112 + dy}" rx="14" ry="40" fill="{g}" transform="rotate({r} {200 + dx} {112 + dy})"/>'
        for dx, dy, r, g in (
            (-34, 12, -35, "#4f8a3c"),
            (34, 12, 35, "#4f8a3c"),
            (0, -6, 0, "#3f7a32"),
            (-14, 20, -12, "#5d9a48"),
            (16, 22, 14, "#5d9a48"),
        )
    )
    return (
        leaves
        + f'<path d="M142 168 h116 l-14 84 h-88 Z" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(150, 186, 100, 40)
        + f'<rect x="132" y="152" width="136" height="24" rx="5" fill="{c.s}"/>'
    )


def _wateringcan(c: _Ink) -> str:
    return (
        f'<path d="M160 206 L88 128" stroke="{c.s}" stroke-width="14" stroke-linecap="round"/>'
        f'<ellipse cx="84" cy="122" rx="16" ry="9" fill="{c.s}" transform="rotate(-45 84 122)"/>'
        f'<path d="M172 132 q58 -50 104 0" fill="none" stroke="{c.s}" stroke-width="12"/>'
        f'<rect x="152" y="132" width="130" height="108" rx="14" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(152, 160, 130, 50)
    )


def _shears(c: _Ink) -> str:
    return (
        '<path d="M200 160 L322 96 L330 108 Z" fill="#cfd4da" stroke="#8f98a2" stroke-width="2"/>'
        '<path d="M200 166 L318 130 L312 146 Z" fill="#b9c0c8" stroke="#8f98a2" stroke-width="2"/>'
        f'<path d="M200 162 L112 150 Q80 150 84 176 Q96 196 196 172 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M200 168 L124 214 Q104 236 128 246 Q150 248 204 178 Z" fill="{c.f}" {_stroke(c)}/>'
        '<circle cx="200" cy="166" r="7" fill="#7a828c"/>'
    )


def _birdfeeder(c: _Ink) -> str:
    return (
        '<path d="M200 40 V82" stroke="#777" stroke-width="3"/>'
        f'<path d="M140 108 L200 78 L260 108 Z" fill="{c.s}"/>'
        '<rect x="164" y="108" width="72" height="112" rx="6" fill="#e9eef2" stroke="#b7c1c9" stroke-width="3"/>'
        '<rect x="168" y="150" width="64" height="66" fill="#caa56a"/>'
        + "".join(
            f'<circle cx="{x}" cy="{y}" r="3" fill="#8a6a3a"/>'
            for x, y in ((178, 160), (196, 172), (214, 158), (186, 194), (222, 196))
        )
        + f'<rect x="150" y="218" width="100" height="16" rx="6" fill="{c.f}" {_stroke(c)}/>'
        + f'<path d="M150 150 h-18 M250 186 h18" stroke="{c.f}" stroke-width="6" stroke-linecap="round"/>'
    )


def _trowel(c: _Ink) -> str:
    return (
        '<path d="M92 220 Q100 160 170 150 L196 176 Q186 246 92 220 Z" fill="#cfd4da" stroke="#8f98a2" stroke-width="2"/>'
        '<path d="M176 162 L214 124" stroke="#8f98a2" stroke-width="8"/>'
        f'<rect x="200" y="92" width="112" height="30" rx="14" fill="{c.f}" {_stroke(c)} transform="rotate(-38 210 118)"/>'
    )


def _lantern(c: _Ink) -> str:
    return (
        f'<circle cx="200" cy="64" r="10" fill="none" stroke="{c.s}" stroke-width="5"/>'
        f'<path d="M150 104 L200 74 L250 104 Z" fill="{c.f}" {_stroke(c)}/>'
        '<rect x="160" y="104" width="80" height="110" fill="#fff3c2" opacity=".95"/>'
        '<circle cx="200" cy="160" r="26" fill="#ffd45c" opacity=".9"/>'
        f'<path d="M160 104 v110 M240 104 v110 M200 104 v110" stroke="{c.f}" stroke-width="6"/>'
        f'<rect x="150" y="212" width="100" height="20" rx="4" fill="{c.f}" {_stroke(c)}/>'
    )


def _book(c: _Ink) -> str:
    return (
        '<rect x="150" y="74" width="124" height="174" rx="4" fill="#f3eee2"/>'
        f'<rect x="138" y="68" width="128" height="176" rx="5" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="138" y="68" width="16" height="176" fill="{c.s}"/>'
        f'<rect x="168" y="96" width="82" height="50" rx="3" fill="{c.t}" opacity=".85"/>'
        f'<path d="M178 114 h62 M178 128 h44" stroke="{c.f}" stroke-width="5"/>'
        + c.decor(154, 170, 112, 50)
    )


def _atlas(c: _Ink) -> str:
    return (
        '<rect x="98" y="108" width="214" height="140" rx="4" fill="#f3eee2"/>'
        f'<rect x="88" y="100" width="216" height="142" rx="5" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="88" y="100" width="14" height="142" fill="{c.s}"/>'
        '<circle cx="204" cy="170" r="46" fill="#7fb6e0" stroke="#ffffff" stroke-width="3"/>'
        '<path d="M176 146 q18 10 10 26 q-12 8 -4 24 M212 132 q20 18 12 34 q14 10 18 22" fill="none" stroke="#4f8a3c" stroke-width="9" stroke-linecap="round"/>'
    )


def _blocks(c: _Ink) -> str:
    def cube(x: int, y: int, fill: str) -> str:
        top = _mix(fill, "#ffffff", 0.35)
        side = _mix(fill, "#000000", 0.25)
        return (
            f'<path d="M{x} {y} l16 -14 h60 l-16 14 Z" fill="{top}"/>'
            f'<path d="M{x + 60} {y} l16 -14 v60 l-16 14 Z" fill="{side}"/>'
            f'<rect x="{x}" y="{y}" width="60" height="60" fill="{fill}"/>'
        )

    other = _mix(c.f, "#f0c330", 0.6)
    third = _mix(c.f, "#2f5fb3", 0.6)
    return cube(112, 176, c.f) + cube(186, 176, third) + cube(150, 116, other)


def _puzzle(c: _Ink) -> str:
    colours = (c.f, c.l, c.s, _mix(c.f, "#f0c330", 0.4))
    cells = "".join(
        f'<rect x="{120 + 80 * (i % 2)}" y="{90 + 80 * (i // 2)}" width="80" height="80" fill="{colours[i]}"/>'
        for i in range(4)
    )
    knobs = "".join(
        f'<circle cx="{x}" cy="{y}" r="12" fill="{fill}"/>'
        for x, y, fill in (
            (200, 130, colours[0]),
            (160, 170, colours[0]),
            (240, 170, colours[1]),
            (200, 210, colours[2]),
        )
    )
    return (
        cells
        + knobs
        + '<rect x="120" y="90" width="160" height="160" fill="none" stroke="#fff" stroke-width="3"/>'
    )


def _bear(c: _Ink) -> str:
    return (
        f'<ellipse cx="200" cy="206" rx="62" ry="50" fill="{c.f}" {_stroke(c)}/>'
        f'<circle cx="150" cy="82" r="20" fill="{c.f}" {_stroke(c)}/><circle cx="250" cy="82" r="20" fill="{c.f}" {_stroke(c)}/>'
        f'<circle cx="200" cy="120" r="54" fill="{c.f}" {_stroke(c)}/>'
        f'<ellipse cx="200" cy="140" rx="24" ry="17" fill="{c.l}"/>'
        '<circle cx="180" cy="110" r="6" fill="#222"/><circle cx="220" cy="110" r="6" fill="#222"/>'
        '<ellipse cx="200" cy="132" rx="8" ry="6" fill="#222"/>'
        f'<ellipse cx="200" cy="214" rx="30" ry="26" fill="{c.l}"/>'
    )


def _train(c: _Ink) -> str:
    return (
        f'<rect x="76" y="150" width="150" height="66" rx="8" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="176" y="108" width="58" height="108" rx="6" fill="{c.s}"/>'
        '<rect x="188" y="120" width="34" height="28" rx="3" fill="#e9f4ff"/>'
        f'<rect x="96" y="118" width="22" height="34" fill="{c.s}"/>'
        f'<rect x="244" y="160" width="90" height="56" rx="6" fill="{c.l}" {_stroke(c)}/>'
        + "".join(
            f'<circle cx="{x}" cy="224" r="16" fill="#333"/><circle cx="{x}" cy="224" r="6" fill="#bbb"/>'
            for x in (106, 160, 210, 268, 312)
        )
    )


def _kite(c: _Ink) -> str:
    return (
        f'<path d="M200 50 L272 130 L200 224 L128 130 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M200 50 L200 224 M128 130 H272" stroke="{c.t}" stroke-width="3" opacity=".7"/>'
        f'<path d="M200 50 L272 130 L200 130 Z" fill="{c.l}" opacity=".6"/>'
        f'<path d="M200 224 q-20 14 0 26 q20 12 -6 26" fill="none" stroke="{c.s}" stroke-width="3"/>'
        + "".join(
            f'<path d="M{x - 8} {y - 6} L{x + 8} {y + 6} M{x - 8} {y + 6} L{x + 8} {y - 6}" stroke="{c.s}" stroke-width="5"/>'
            for x, y in ((196, 238), (202, 262))
        )
    )


def _gamebox(c: _Ink) -> str:
    squares = "".join(
        f'<rect x="{128 + 36 * (i % 4)}" y="{96 + 36 * (i // 4)}" width="36" height="36" fill="{c.t if (i + i // 4) % 2 else c.f}" opacity="{".55" if (i + i // 4) % 2 else "1"}"/>'
        for i in range(12)
    )
    return (
        f'<rect x="116" y="84" width="168" height="132" rx="6" fill="{c.f}" {_stroke(c)}/>'
        + squares
        + f'<rect x="116" y="216" width="168" height="26" fill="{c.s}"/>'
        '<circle cx="254" cy="136" r="11" fill="#f4f4f1" stroke="#333" stroke-width="2"/>'
    )


def _headphones(c: _Ink) -> str:
    return (
        f'<path d="M124 190 V150 a76 76 0 0 1 152 0 V190" fill="none" stroke="{c.f}" stroke-width="18"/>'
        f'<rect x="100" y="164" width="52" height="84" rx="22" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="248" y="164" width="52" height="84" rx="22" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="140" y="176" width="14" height="60" rx="6" fill="{c.s}"/><rect x="246" y="176" width="14" height="60" rx="6" fill="{c.s}"/>'
    )


def _speaker(c: _Ink) -> str:
    dots = "".join(
        f'<circle cx="{140 + 16 * (i % 8)}" cy="{158 + 16 * (i // 8)}" r="3.5" fill="{c.s}"/>'
        for i in range(32)
    )
    return (
        f'<rect x="108" y="132" width="184" height="104" rx="52" fill="{c.f}" {_stroke(c)}/>'
        + dots
        + f'<rect x="186" y="124" width="28" height="10" rx="4" fill="{c.s}"/>'
    )


def _powerbank(c: _Ink) -> str:
    return (
        f'<rect x="134" y="78" width="132" height="180" rx="20" fill="{c.f}" {_stroke(c)}/>'
        + "".join(
            f'<circle cx="{176 + 16 * i}" cy="226" r="4.5" fill="#6fe08a"/>' for i in range(4)
        )
        + f'<rect x="180" y="84" width="40" height="8" rx="3" fill="{c.s}"/>'
        + c.decor(134, 120, 132, 60)
    )


def _smartplug(c: _Ink) -> str:
    return (
        f'<rect x="140" y="92" width="120" height="140" rx="26" fill="{c.f}" {_stroke(c)}/>'
        f'<circle cx="200" cy="150" r="30" fill="none" stroke="{c.s}" stroke-width="4"/>'
        f'<rect x="186" y="140" width="8" height="20" rx="3" fill="{c.s}"/><rect x="206" y="140" width="8" height="20" rx="3" fill="{c.s}"/>'
        '<circle cx="200" cy="206" r="5" fill="#3fb5ff"/>'
    )


def _keyboard(c: _Ink) -> str:
    keys = "".join(
        f'<rect x="{86 + 22 * col + (6 if row % 2 else 0)}" y="{148 + 20 * row}" width="18" height="16" rx="3" fill="{c.l}"/>'
        for row in range(3)
        for col in range(10)
    )
    return (
        f'<rect x="72" y="134" width="256" height="104" rx="12" fill="{c.f}" {_stroke(c)}/>'
        + keys
        + f'<rect x="130" y="210" width="140" height="16" rx="3" fill="{c.l}"/>'
    )


def _desklamp(c: _Ink) -> str:
    return (
        '<path d="M268 122 L314 226 L232 210 Z" fill="#fff3b0" opacity=".55"/>'
        f'<path d="M170 236 L150 160 L236 110" fill="none" stroke="{c.s}" stroke-width="9" stroke-linecap="round"/>'
        f'<ellipse cx="172" cy="240" rx="50" ry="12" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M226 92 L292 120 L268 148 L214 120 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<circle cx="150" cy="160" r="8" fill="{c.s}"/>'
    )


def _yogamat(c: _Ink) -> str:
    return (
        f'<rect x="110" y="144" width="190" height="88" rx="10" fill="{c.f}" {_stroke(c)}/>'
        f'<ellipse cx="300" cy="188" rx="24" ry="44" fill="{c.s}"/>'
        f'<ellipse cx="300" cy="188" rx="14" ry="30" fill="none" stroke="{c.l}" stroke-width="4"/>'
        f'<path d="M160 144 v88 M250 144 v88" stroke="{c.t}" stroke-width="8" opacity=".6"/>'
    )


def _shoe(c: _Ink) -> str:
    return (
        '<path d="M80 222 h250 q8 0 8 -10 v-8 h-258 Z" fill="#f4f4f1" stroke="#bbb" stroke-width="2"/>'
        f'<path d="M84 206 V170 Q88 146 120 146 L160 156 Q196 118 232 126 L304 170 Q338 184 334 206 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M170 152 l12 18 M186 142 l12 18 M202 134 l12 18" stroke="{c.t}" stroke-width="4" stroke-linecap="round"/>'
        f'<path d="M110 190 q70 -6 120 -34" fill="none" stroke="{c.l}" stroke-width="6"/>'
    )


def _dumbbell(c: _Ink) -> str:
    plates = "".join(
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{c.f}" {_stroke(c)}/>'
        for x, y, w, h in (
            (92, 126, 30, 108),
            (124, 140, 22, 80),
            (254, 140, 22, 80),
            (278, 126, 30, 108),
        )
    )
    return '<rect x="100" y="172" width="200" height="16" rx="6" fill="#9aa3ad"/>' + plates


def _football(c: _Ink) -> str:
    patch = "#2e2e2e" if _light(c.f) else c.f
    patches = "".join(
        f'<path d="M{x} {y} l14 10 -5 17 h-18 l-5 -17 Z" fill="{patch}"/>'
        for x, y in ((200, 156), (154, 118), (246, 118), (140, 196), (258, 196), (200, 232))
    )
    return (
        '<circle cx="200" cy="174" r="80" fill="#f7f7f4" stroke="#9a9a9a" stroke-width="3"/>'
        + patches
        + '<circle cx="200" cy="174" r="80" fill="none" stroke="#000" stroke-width="2" opacity=".15"/>'
    )


def _bottle(c: _Ink) -> str:
    return (
        f'<rect x="164" y="96" width="72" height="160" rx="22" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(164, 150, 72, 60)
        + '<rect x="174" y="66" width="52" height="34" rx="8" fill="#3d4045"/>'
        '<path d="M226 76 q26 0 26 22" fill="none" stroke="#3d4045" stroke-width="6"/>'
    )


def _racket(c: _Ink) -> str:
    strings = "".join(
        f'<path d="M{150 + 12 * i} 60 V210" stroke="#ddd" stroke-width="1.5"/>' for i in range(9)
    ) + "".join(
        f'<path d="M140 {70 + 14 * i} H260" stroke="#ddd" stroke-width="1.5"/>' for i in range(10)
    )
    return (
        '<clipPath id="h"><ellipse cx="200" cy="134" rx="54" ry="72"/></clipPath>'
        f'<g clip-path="url(#h)">{strings}</g>'
        f'<ellipse cx="200" cy="134" rx="58" ry="76" fill="none" stroke="{c.f}" stroke-width="10"/>'
        f'<path d="M200 210 V232" stroke="{c.f}" stroke-width="12"/>'
        '<rect x="190" y="230" width="20" height="52" rx="6" fill="#333"/>'
    )


def _dropper(c: _Ink) -> str:
    return (
        '<ellipse cx="200" cy="88" rx="16" ry="22" fill="#2e2e2e"/>'
        '<rect x="182" y="104" width="36" height="30" rx="4" fill="#c9a75a"/>'
        f'<rect x="156" y="132" width="88" height="120" rx="14" fill="{c.f}" {_stroke(c)}/>'
        '<rect x="170" y="168" width="60" height="46" rx="4" fill="#fbfaf6"/>'
        f'<path d="M180 184 h40 M186 198 h28" stroke="{c.s}" stroke-width="4"/>'
    )


def _jar(c: _Ink) -> str:
    return (
        f'<rect x="128" y="150" width="144" height="96" rx="18" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(128, 176, 144, 44)
        + f'<rect x="122" y="124" width="156" height="34" rx="10" fill="{c.s}"/>'
    )


def _lipbalm(c: _Ink) -> str:
    return (
        f'<path d="M178 98 Q200 70 222 98 V120 H178 Z" fill="{c.s}"/>'
        '<rect x="174" y="118" width="52" height="24" fill="#d9d9d9"/>'
        f'<rect x="168" y="140" width="64" height="112" rx="8" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(168, 170, 64, 52)
    )


def _tube(c: _Ink) -> str:
    return (
        f'<path d="M150 70 H250 L232 214 H168 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="146" y="62" width="108" height="14" rx="3" fill="{c.s}"/>'
        + c.decor(160, 110, 80, 60)
        + '<rect x="176" y="212" width="48" height="40" rx="6" fill="#f4f4f1" stroke="#bbb" stroke-width="2"/>'
    )


def _pumpbottle(c: _Ink) -> str:
    return (
        '<path d="M194 70 H236 V82 H206 V100" fill="none" stroke="#3d4045" stroke-width="8"/>'
        '<rect x="184" y="98" width="32" height="26" rx="4" fill="#3d4045"/>'
        f'<rect x="156" y="122" width="88" height="132" rx="16" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(156, 160, 88, 60)
    )


def _cushion(c: _Ink) -> str:
    return (
        f'<path d="M108 96 Q200 112 292 96 Q276 170 292 244 Q200 228 108 244 Q124 170 108 96 Z" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(126, 130, 148, 80)
        + f'<circle cx="200" cy="170" r="8" fill="{c.s}"/>'
    )


def _candle(c: _Ink) -> str:
    return (
        '<path d="M200 80 Q214 100 200 116 Q186 100 200 80 Z" fill="#f6a623"/>'
        '<path d="M200 116 V132" stroke="#333" stroke-width="3"/>'
        f'<rect x="140" y="128" width="120" height="120" rx="12" fill="{c.f}" {_stroke(c)}/>'
        '<ellipse cx="200" cy="136" rx="52" ry="8" fill="#f6f0df"/>'
        '<rect x="160" y="168" width="80" height="48" rx="4" fill="#fbfaf6"/>'
        f'<path d="M176 186 h48 M184 200 h32" stroke="{c.s}" stroke-width="4"/>'
    )


def _vase(c: _Ink) -> str:
    return (
        '<path d="M188 78 Q180 40 160 30 M206 78 Q214 36 240 28 M198 78 V24" stroke="#4f8a3c" stroke-width="4" fill="none"/>'
        '<circle cx="160" cy="30" r="10" fill="#f0c330"/><circle cx="240" cy="28" r="10" fill="#ec7a64"/><circle cx="198" cy="22" r="10" fill="#ffffff"/>'
        f'<path d="M176 78 h48 v22 q52 32 52 88 q0 62 -76 62 q-76 0 -76 -62 q0 -56 52 -88 Z" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(134, 170, 132, 40)
    )


def _frame(c: _Ink) -> str:
    return (
        f'<rect x="112" y="66" width="176" height="190" fill="{c.f}" {_stroke(c)}/>'
        '<rect x="130" y="84" width="140" height="154" fill="#fbfaf6"/>'
        '<rect x="146" y="100" width="108" height="122" fill="#bfdcf4"/>'
        '<path d="M146 222 L184 160 L210 196 L228 172 L254 222 Z" fill="#5d8a6a"/>'
        '<circle cx="226" cy="126" r="11" fill="#f0c330"/>'
    )


def _clock(c: _Ink) -> str:
    ticks = "".join(
        f'<rect x="197" y="92" width="6" height="14" fill="#333" transform="rotate({30 * i} 200 170)"/>'
        for i in range(12)
    )
    return (
        f'<circle cx="200" cy="170" r="94" fill="{c.f}" {_stroke(c)}/>'
        '<circle cx="200" cy="170" r="78" fill="#fbfaf6"/>'
        + ticks
        + '<path d="M200 170 L200 118 M200 170 L236 188" stroke="#333" stroke-width="6" stroke-linecap="round"/>'
        f'<circle cx="200" cy="170" r="6" fill="{c.s}"/>'
    )


def _blanket(c: _Ink) -> str:
    layers = "".join(
        f'<rect x="{110 - 4 * i}" y="{196 - 38 * i}" width="{180 + 8 * i}" height="40" rx="14" fill="{fill}" {_stroke(c)}/>'
        for i, fill in enumerate((c.s, c.f, c.l))
    )
    fringe = "".join(
        f'<path d="M{118 + 12 * i} 236 v12" stroke="{c.s}" stroke-width="3"/>' for i in range(15)
    )
    return fringe + layers + c.decor(106, 122, 188, 36)


def _notebook(c: _Ink) -> str:
    return (
        '<rect x="140" y="72" width="132" height="180" rx="8" fill="#f3eee2"/>'
        f'<rect x="130" y="66" width="134" height="182" rx="8" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(130, 100, 134, 40)
        + '<rect x="236" y="66" width="10" height="182" fill="#2e2e2e" opacity=".75"/>'
        '<path d="M200 248 v26 l-7 -8 -7 8 v-26" fill="#c8372d"/>'
    )


def _planner(c: _Ink) -> str:
    rings = "".join(
        f'<circle cx="136" cy="{92 + 26 * i}" r="7" fill="none" stroke="#9aa3ad" stroke-width="4"/>'
        for i in range(6)
    )
    return (
        f'<rect x="130" y="70" width="146" height="180" rx="8" fill="{c.f}" {_stroke(c)}/>'
        '<rect x="160" y="96" width="94" height="40" rx="4" fill="#fbfaf6"/>'
        f'<path d="M172 112 h70 M172 124 h46" stroke="{c.s}" stroke-width="4"/>'
        + c.decor(146, 160, 130, 50)
        + rings
    )


def _sketchbook(c: _Ink) -> str:
    rings = "".join(
        f'<circle cx="{110 + 18 * i}" cy="108" r="6" fill="none" stroke="#9aa3ad" stroke-width="3"/>'
        for i in range(11)
    )
    return (
        f'<rect x="96" y="108" width="208" height="140" rx="6" fill="{c.f}" {_stroke(c)}/>'
        '<path d="M130 214 q30 -50 60 -20 t60 -24" fill="none" stroke="#fbfaf6" stroke-width="5"/>'
        + rings
    )


def _pen(c: _Ink) -> str:
    return (
        '<g transform="rotate(-32 200 170)">'
        f'<rect x="92" y="156" width="150" height="28" rx="12" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="92" y="156" width="64" height="28" rx="12" fill="{c.s}"/>'
        '<rect x="100" y="150" width="44" height="6" rx="2" fill="#c9a75a"/>'
        '<path d="M242 160 L300 170 L242 180 Z" fill="#c9a75a"/>'
        '<path d="M256 170 H290" stroke="#6b5420" stroke-width="2"/></g>'
    )


def _pencils(c: _Ink) -> str:
    out = []
    for i in range(5):
        fill = _mix(c.f, ("#f0c330", "#2f5fb3", "#c8372d", "#2f6b3d", "#ffffff")[i], 0.15 * i)
        out.append(
            f'<g transform="rotate({-20 + 10 * i} 200 250)">'
            f'<rect x="190" y="90" width="20" height="130" fill="{fill}"/>'
            '<path d="M190 90 L200 62 L210 90 Z" fill="#e8cfa0"/>'
            f'<path d="M196 73 L200 62 L204 73 Z" fill="{fill}"/></g>'
        )
    return "".join(out)


def _card(c: _Ink) -> str:
    return (
        '<path d="M200 84 L294 96 V246 L200 236 Z" fill="#fbfaf6" stroke="#ccc" stroke-width="2"/>'
        f'<path d="M200 84 L112 96 V246 L200 236 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M156 150 c-16 -22 -44 -2 0 30 c44 -32 16 -52 0 -30 Z" fill="{c.t}" opacity=".8"/>'
    )


def _dogbed(c: _Ink) -> str:
    return (
        f'<ellipse cx="200" cy="190" rx="128" ry="58" fill="{c.f}" {_stroke(c)}/>'
        f'<ellipse cx="200" cy="196" rx="92" ry="34" fill="{c.l}"/>' + c.decor(126, 232, 148, 10)
    )


def _scratcher(c: _Ink) -> str:
    rope = "".join(
        f'<path d="M178 {106 + 10 * i} h44" stroke="#a88a5a" stroke-width="3"/>' for i in range(12)
    )
    return (
        f'<rect x="120" y="226" width="160" height="24" rx="6" fill="{c.s}"/>'
        '<rect x="178" y="100" width="44" height="128" fill="#d8c39a"/>'
        + rope
        + f'<rect x="146" y="84" width="108" height="20" rx="6" fill="{c.f}" {_stroke(c)}/>'
        '<path d="M240 104 V150" stroke="#777" stroke-width="2"/><circle cx="240" cy="160" r="10" fill="#ec7a64"/>'
    )


def _bone(c: _Ink) -> str:
    ends = "".join(
        f'<circle cx="{x}" cy="{y}" r="26" fill="{c.f}"/>' for x in (110, 290) for y in (150, 194)
    )
    return (
        ends
        + f'<rect x="110" y="148" width="180" height="48" fill="{c.f}"/>'
        + c.decor(130, 152, 140, 40)
    )


def _lead(c: _Ink) -> str:
    return (
        f'<path d="M120 110 q-40 40 0 80 q60 50 120 10 q50 -40 10 -90 q-40 -40 -90 0" fill="none" stroke="{c.f}" stroke-width="12" stroke-linecap="round"/>'
        f'<path d="M250 120 q40 -20 70 10 q10 30 -30 30" fill="none" stroke="{c.s}" stroke-width="12"/>'
        '<rect x="104" y="96" width="22" height="30" rx="6" fill="#9aa3ad"/>'
        '<circle cx="115" cy="134" r="9" fill="none" stroke="#9aa3ad" stroke-width="4"/>'
    )


def _brush(c: _Ink) -> str:
    pins = "".join(
        f'<circle cx="{210 + 14 * (i % 6)}" cy="{146 + 14 * (i // 6)}" r="2.5" fill="#7a828c"/>'
        for i in range(24)
    )
    return (
        f'<rect x="84" y="166" width="130" height="24" rx="12" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="196" y="132" width="100" height="70" rx="14" fill="{c.s}"/>' + pins
    )


def _tent(c: _Ink) -> str:
    return (
        '<path d="M96 246 L70 262 M304 246 L330 262" stroke="#777" stroke-width="2"/>'
        f'<path d="M200 80 L320 248 H80 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M200 80 L248 248 H152 Z" fill="{c.s}"/>'
        '<path d="M200 132 L234 248 H166 Z" fill="#2e2e2e" opacity=".45"/>'
    )


def _sleepingbag(c: _Ink) -> str:
    return (
        f'<path d="M90 150 Q90 110 140 110 H300 Q320 110 320 140 V210 Q320 240 290 240 H140 Q90 240 90 200 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<ellipse cx="128" cy="175" rx="28" ry="48" fill="{c.s}"/>'
        f'<path d="M160 120 V230" stroke="{c.t}" stroke-width="3" stroke-dasharray="6 4"/>'
        + "".join(
            f'<path d="M{190 + 30 * i} 112 V238" stroke="{c.s}" stroke-width="2"/>'
            for i in range(4)
        )
    )


def _backpack(c: _Ink) -> str:
    return (
        f'<path d="M170 92 q30 -36 60 0" fill="none" stroke="{c.s}" stroke-width="10"/>'
        f'<rect x="136" y="88" width="128" height="164" rx="30" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M136 128 q64 -30 128 0 v-10 q-64 -40 -128 0 Z" fill="{c.s}"/>'
        f'<rect x="156" y="178" width="88" height="60" rx="14" fill="{c.s}"/>'
        + c.decor(156, 190, 88, 30)
    )


def _headtorch(c: _Ink) -> str:
    return (
        f'<ellipse cx="200" cy="170" rx="110" ry="54" fill="none" stroke="{c.f}" stroke-width="14"/>'
        '<rect x="160" y="176" width="80" height="60" rx="12" fill="#3d4045"/>'
        '<circle cx="200" cy="206" r="20" fill="#ffe27a" stroke="#c9a75a" stroke-width="4"/>'
    )


def _campchair(c: _Ink) -> str:
    return (
        '<path d="M130 252 L270 150 M270 252 L130 150" stroke="#8f98a2" stroke-width="8"/>'
        f'<path d="M128 150 H272 L262 196 H138 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M140 150 L150 70 H250 L260 150 Z" fill="{c.f}" {_stroke(c)}/>'
        + c.decor(150, 90, 100, 40)
        + f'<rect x="272" y="156" width="20" height="24" rx="4" fill="{c.s}"/>'
    )


def _coffeebag(c: _Ink) -> str:
    return (
        f'<path d="M140 96 H260 L270 254 H130 Z" fill="{c.f}" {_stroke(c)}/>'
        f'<path d="M140 96 L150 76 H250 L260 96 Z" fill="{c.s}"/>'
        '<circle cx="200" cy="170" r="34" fill="#fbfaf6"/>'
        '<ellipse cx="200" cy="170" rx="12" ry="18" fill="#6e4a2f"/>'
        '<path d="M200 154 q-6 16 0 32" stroke="#fbfaf6" stroke-width="2" fill="none"/>'
    )


def _teatin(c: _Ink) -> str:
    return (
        f'<rect x="140" y="96" width="120" height="156" rx="10" fill="{c.f}" {_stroke(c)}/>'
        f'<rect x="136" y="86" width="128" height="28" rx="8" fill="{c.s}"/>'
        '<rect x="154" y="148" width="92" height="56" rx="4" fill="#fbfaf6"/>'
        '<path d="M200 160 q18 12 0 32 q-18 -20 0 -32 Z" fill="#4f8a3c"/>'
    )


def _oilbottle(c: _Ink) -> str:
    return (
        '<rect x="188" y="56" width="24" height="20" rx="3" fill="#c9a75a"/>'
        f'<path d="M190 74 h20 v40 q36 16 36 48 v86 h-92 v-86 q0 -32 36 -48 Z" fill="{c.f}" {_stroke(c)}/>'
        '<rect x="164" y="176" width="72" height="50" rx="4" fill="#fbfaf6"/>'
        '<ellipse cx="200" cy="200" rx="12" ry="16" fill="#7a7d3a"/>'
    )


def _chocbar(c: _Ink) -> str:
    return (
        '<g transform="rotate(-12 200 170)">'
        '<rect x="96" y="116" width="70" height="110" fill="#5a3520"/>'
        + "".join(
            f'<rect x="{102 + 30 * (i % 2)}" y="{122 + 34 * (i // 2)}" width="26" height="30" fill="#6e4a2f"/>'
            for i in range(6)
        )
        + f'<rect x="150" y="110" width="160" height="122" fill="{c.f}" {_stroke(c)}/>'
        '<rect x="144" y="110" width="14" height="122" fill="#c9ced4"/>'
        f'<rect x="180" y="150" width="100" height="44" rx="4" fill="{c.t}" opacity=".85"/></g>'
    )


def _honeyjar(c: _Ink) -> str:
    return (
        '<rect x="136" y="132" width="128" height="120" rx="24" fill="#e8a92a" stroke="#b77f16" stroke-width="3"/>'
        '<rect x="158" y="170" width="84" height="46" rx="4" fill="#fbfaf6"/>'
        f'<path d="M124 126 Q132 104 146 110 Q200 96 254 110 Q268 104 276 126 Q200 140 124 126 Z" fill="{c.f}" {_stroke(c)}/>'
        '<path d="M186 186 l14 -8 14 8 v14 l-14 8 -14 -8 Z" fill="#e8a92a"/>'
    )


def _saucebottle(c: _Ink) -> str:
    return (
        '<rect x="188" y="50" width="24" height="22" rx="4" fill="#2e2e2e"/>'
        f'<path d="M190 70 h20 v50 q30 14 30 40 v92 h-80 v-92 q0 -26 30 -40 Z" fill="{c.f}" {_stroke(c)}/>'
        '<rect x="168" y="178" width="64" height="50" rx="4" fill="#fbfaf6"/>'
        '<path d="M200 188 q14 14 0 32 q-14 -10 -4 -22 q2 8 4 -10 Z" fill="#c8372d"/>'
    )


#: Drawing name -> (function, colours for names that mention none, shadow width).
DRAWINGS: dict[str, tuple[Drawing, tuple[str, ...], int]] = {
    "mug": (_mug, _ANY, 70),
    "campmug": (_campmug, _ANY, 66),
    "teapot": (_teapot, _ANY, 90),
    "pan": (_pan, _ANY, 110),
    "knife": (_knife, _WOOD, 120),
    "board": (_board, _WOOD, 110),
    "bowl": (_bowl, _ANY, 90),
    "petbowl": (_petbowl, _ANY, 100),
    "plantpot": (_plantpot, _ANY, 64),
    "wateringcan": (_wateringcan, _ANY, 90),
    "shears": (_shears, _ANY, 90),
    "birdfeeder": (_birdfeeder, _ANY, 60),
    "trowel": (_trowel, _WOOD, 90),
    "lantern": (_lantern, _ANY, 60),
    "book": (_book, _ANY, 80),
    "atlas": (_atlas, _ANY, 110),
    "blocks": (_blocks, _ANY, 100),
    "puzzle": (_puzzle, _ANY, 90),
    "bear": (_bear, _WOOD, 80),
    "train": (_train, _ANY, 130),
    "kite": (_kite, _ANY, 50),
    "gamebox": (_gamebox, _ANY, 95),
    "headphones": (_headphones, _ANY, 100),
    "speaker": (_speaker, _ANY, 95),
    "powerbank": (_powerbank, _ANY, 70),
    "smartplug": (_smartplug, _ANY, 64),
    "keyboard": (_keyboard, _ANY, 130),
    "desklamp": (_desklamp, _ANY, 90),
    "yogamat": (_yogamat, _ANY, 110),
    "shoe": (_shoe, _ANY, 130),
    "dumbbell": (_dumbbell, _ANY, 110),
    "football": (_football, _ANY, 70),
    "bottle": (_bottle, _ANY, 50),
    "racket": (_racket, _ANY, 40),
    "dropper": (_dropper, _ANY, 52),
    "jar": (_jar, _ANY, 80),
    "lipbalm": (_lipbalm, _ANY, 40),
    "tube": (_tube, _ANY, 50),
    "pumpbottle": (_pumpbottle, _ANY, 52),
    "cushion": (_cushion, _ANY, 100),
    "candle": (_candle, _ANY, 70),
    "vase": (_vase, _ANY, 74),
    "frame": (_frame, _WOOD, 90),
    "clock": (_clock, _ANY, 80),
    "blanket": (_blanket, _ANY, 110),
    "notebook": (_notebook, _ANY, 76),
    "planner": (_planner, _ANY, 80),
    "sketchbook": (_sketchbook, _ANY, 110),
    "pen": (_pen, _ANY, 90),
    "pencils": (_pencils, _ANY, 70),
    "card": (_card, _ANY, 90),
    "dogbed": (_dogbed, _ANY, 130),
    "scratcher": (_scratcher, _ANY, 86),
    "bone": (_bone, _ANY, 110),
    "lead": (_lead, _ANY, 100),
    "brush": (_brush, _WOOD, 110),
    "tent": (_tent, _ANY, 130),
    "sleepingbag": (_sleepingbag, _ANY, 120),
    "backpack": (_backpack, _ANY, 70),
    "headtorch": (_headtorch, _ANY, 100),
    "campchair": (_campchair, _ANY, 90),
    "coffeebag": (_coffeebag, ("#6e4a2f", "#3d4045", "#a4482a", "#d4a23a", "#2f6b3d"), 70),
    "teatin": (_teatin, ("#1f7f80", "#9c2f5c", "#24365c", "#2f6b3d", "#c0643f"), 64),
    "oilbottle": (_oilbottle, ("#7a7d3a", "#2f6b3d", "#5d6b2a"), 50),
    "chocbar": (_chocbar, ("#9c2f5c", "#24365c", "#c0643f", "#1f7f80", "#d4a23a"), 110),
    "honeyjar": (_honeyjar, ("#c8372d", "#24365c", "#2f6b3d", "#f4f4f1"), 70),
    "saucebottle": (_saucebottle, ("#c8372d", "#e77c2c", "#2f6b3d", "#222222"), 44),
}

#: Words in a product's name -> what to draw; the longest match wins ("insulated mug" over "mug").
KEYWORDS: dict[str, str] = {
    "mug": "mug", "cup": "mug", "insulated mug": "campmug", "travel mug": "campmug",
    "teapot": "teapot", "kettle": "teapot", "frying pan": "pan", "saucepan": "pan", "wok": "pan",
    "knife": "knife", "chef's knife": "knife", "chopping board": "board", "cutting board": "board",
    "bowl": "bowl", "mixing bowl": "bowl", "pet bowl": "petbowl", "plant pot": "plantpot",
    "planter": "plantpot", "watering can": "wateringcan", "pruning shears": "shears",
    "shears": "shears", "secateurs": "shears", "bird feeder": "birdfeeder", "trowel": "trowel",
    "garden trowel": "trowel", "lantern": "lantern", "novel": "book", "cookbook": "book",
    "field guide": "book", "poetry collection": "book", "picture book": "book", "book": "book",
    "atlas": "atlas", "building blocks": "blocks", "blocks": "blocks", "jigsaw puzzle": "puzzle",
    "puzzle": "puzzle", "jigsaw": "puzzle", "plush bear": "bear", "teddy": "bear", "bear": "bear",
    "wooden train set": "train", "train set": "train", "kite": "kite", "board game": "gamebox",
    "wireless headphones": "headphones", "headphones": "headphones",
    "bluetooth speaker": "speaker", "speaker": "speaker", "power bank": "powerbank",
    "smart plug": "smartplug", "mechanical keyboard": "keyboard", "keyboard": "keyboard",
    "desk lamp": "desklamp", "lamp": "desklamp", "yoga mat": "yogamat", "running shoes": "shoe",
    "shoes": "shoe", "trainers": "shoe", "dumbbell set": "dumbbell", "dumbbells": "dumbbell",
    "football": "football", "ball": "football", "water bottle": "bottle", "bottle": "bottle",
    "tennis racket": "racket", "racket": "racket", "face serum": "dropper", "serum": "dropper",
    "moisturiser": "jar", "clay mask": "jar", "lip balm": "lipbalm", "hand cream": "tube",
    "shampoo": "pumpbottle", "throw cushion": "cushion", "cushion": "cushion",
    "scented candle": "candle", "candle": "candle", "t-light holder": "candle", "vase": "vase",
    "picture frame": "frame", "photo frame": "frame", "frame": "frame", "wall clock": "clock",
    "clock": "clock", "throw blanket": "blanket", "blanket": "blanket", "notebook": "notebook",
    "journal": "notebook", "fountain pen": "pen", "pen": "pen", "weekly planner": "planner",
    "planner": "planner", "sketchbook": "sketchbook", "pencil set": "pencils",
    "pencils": "pencils", "greeting cards": "card", "card": "card", "cards": "card",
    "dog bed": "dogbed", "pet bed": "dogbed", "cat scratcher": "scratcher", "chew toy": "bone",
    "dog lead": "lead", "lead": "lead", "grooming brush": "brush", "brush": "brush",
    "tent": "tent", "sleeping bag": "sleepingbag", "hiking backpack": "backpack",
    "backpack": "backpack", "rucksack": "backpack", "head torch": "headtorch",
    "camp chair": "campchair", "chair": "campchair", "coffee beans": "coffeebag",
    "coffee": "coffeebag", "loose leaf tea": "teatin", "tea": "teatin", "olive oil": "oilbottle",
    "dark chocolate": "chocbar", "chocolate": "chocbar", "honey": "honeyjar",
    "hot sauce": "saucebottle", "sauce": "saucebottle",
}  # fmt: skip
_KEYWORD_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(KEYWORDS, key=len, reverse=True)) + r")\b"
)
_COLOUR_RE = re.compile(
    r"\b(" + "|".join(re.escape(k.lower()) for k in sorted(COLOURS, key=len, reverse=True)) + r")\b"
)


def _noun(name: str) -> str | None:
    """The longest drawn keyword the name contains ("insulated mug" rather than "mug")."""
    found = [m.group(1) for m in _KEYWORD_RE.finditer(name.lower())]
    return max(found, key=len) if found else None


def drawing_for(name: str) -> str | None:
    """What the picture of a product with this name shows, or None (then it gets a monogram)."""
    noun = _noun(name)
    return KEYWORDS[noun] if noun else None


def colour_for(name: str, choices: tuple[str, ...] = _ANY) -> str:
    """The fill a name asks for ("Sage Speckled Mug"), else one from ``choices`` by the name's digest.

    The product's own noun is not a colour ("Hand Cream", "Olive Oil"); of several colour words the
    one nearest the noun counts (a maker's name comes first).
    """
    text = name.lower()
    noun = _noun(name)
    if noun:
        text = re.sub(rf"\b{re.escape(noun)}\b", " ", text)
    found = _COLOUR_RE.findall(text)
    if found:
        return next(hex_ for colour, hex_ in COLOURS.items() if colour.lower() == found[-1])
    return choices[_digest(name) % len(choices)]


def _frame_svg(name: str, category_name: str | None, body: str) -> str:
    background, shade, accent = PALETTE[tone_for(category_name)]
    category_label = escape((category_name or "").upper()[:30])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(name, {chr(34): "&quot;"})}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{_mix(accent, "#ffffff", 0.55)}"/>'
        f'<stop offset="1" stop-color="{_mix(accent, "#ffffff", 0.2)}"/>'
        f"</linearGradient></defs>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#g)"/>'
        f"{body}"
        f'<text x="16" y="26" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="11" letter-spacing="2" fill="{shade}">{category_label}</text>'
        f"</svg>"
    )


def _monogram(name: str, category_name: str | None) -> str:
    background, _, accent = PALETTE[tone_for(category_name)]
    lines = textwrap.wrap(name, width=26, max_lines=2, placeholder="…")
    label = "".join(
        f'<tspan x="200" dy="{0 if i == 0 else 22}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return (
        f'<circle cx="200" cy="120" r="66" fill="{background}"/>'
        f'<text x="200" y="142" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="58" font-weight="700" fill="#ffffff">{escape(initials(name))}</text>'
        f'<text x="200" y="230" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="18" font-weight="600" fill="{background}">{label}</text>'
    )


def product_svg(name: str, category_name: str | None) -> str:
    """The SVG document for one product (text escaped: names are shop data, not markup)."""
    name = " ".join((name or "").split()) or "Product"
    kind = drawing_for(name)
    if kind is None:
        return _frame_svg(name, category_name, _monogram(name, category_name))
    draw, choices, shadow = DRAWINGS[kind]
    ink = _Ink(colour_for(name, choices), _digest(name) % 4)
    return _frame_svg(name, category_name, _SHADOW.format(rx=shadow) + draw(ink))
