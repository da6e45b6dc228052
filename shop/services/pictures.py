"""Uploaded product pictures: checked by content, re-encoded from pixels, stored by content hash.

An upload is trusted for nothing but its pixels. Pillow reads the header (never the file name or
the browser's content type): JPEG, PNG or WebP only, at most 5 MB and 4,000 x 4,000 pixels,
checked before anything is decoded, so a small file that claims 30,000 x 30,000 pixels (a
decompression bomb) is refused without allocating them. The EXIF orientation is applied, then only
the pixels are written again as WebP in the widths the pages use, so metadata (EXIF, GPS, ICC,
comments) and anything appended to the file (an HTML or PHP "polyglot") are left behind.

Files live in ``SHOP_PICTURE_DIR`` (default ``instance/pictures``), named ``<hash>-<width>.webp``
where the hash is the sha256 of the stored bytes, so a URL never changes its content and can be
cached for a year.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 4000
#: Card thumbnails (about 300 px wide at 2x on a phone, 250 px on a desktop grid) and the
#: product page's picture (up to about 500 px wide, 1000 for 2x screens).
WIDTHS = (400, 1000)
WEBP_QUALITY = 82
NAME_RE = re.compile(r"^(?P<hash>[0-9a-f]{64})-(?P<width>[0-9]{3,4})\.webp$")

# Pillow refuses (DecompressionBombError) images of more than twice this many pixels and warns
# about more than this; the header check below refuses anything past MAX_SIDE x MAX_SIDE first.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE


class PictureRefused(ValueError):
    """An upload that is not a picture the shop will keep; the message says why, for the form."""


def picture_dir() -> Path:
    configured = current_app.config.get("SHOP_PICTURE_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "pictures"


def read_limited(stream: BinaryIO) -> bytes:
    """At most MAX_BYTES + 1 bytes of an upload; more is refused without reading the rest."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PictureRefused("The picture is larger than 5 MB.")
    if not data:
        raise PictureRefused("The file is empty.")
    return data


def _open_checked(data: bytes) -> Image.Image:
    """The decoded picture, or PictureRefused: wrong format, too large, broken or a bomb."""
    not_a_picture = PictureRefused("Upload a JPEG, PNG or WebP picture.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(BytesIO(data), formats=ACCEPTED_FORMATS) as probe:
                width, height = probe.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise PictureRefused(
                        f"The picture is {width:,} x {height:,} pixels; "
                        f"the most is {MAX_SIDE:,} x {MAX_SIDE:,}."
                    )
                probe.verify()
            picture = Image.open(BytesIO(data), formats=ACCEPTED_FORMATS)
            picture.load()
        except PictureRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PictureRefused(
                f"The picture has too many pixels; the most is {MAX_SIDE:,} x {MAX_SIDE:,}."
            ) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise not_a_picture from exc
    if picture.format not in ACCEPTED_FORMATS:
        raise not_a_picture
    return picture


def _pixels_only(picture: Image.Image) -> Image.Image:
    """Upright, in RGB (or RGBA when it has transparency), with no metadata attached."""
    upright = ImageOps.exif_transpose(picture)
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    converted = upright.convert("RGBA" if has_alpha else "RGB")
    return Image.frombytes(converted.mode, converted.size, converted.tobytes())


def encode_variants(data: bytes) -> dict[int, bytes]:
    """The picture re-encoded as WebP in each of WIDTHS (never enlarged), or PictureRefused."""
    picture = _pixels_only(_open_checked(data))
    variants = {}
    for width in WIDTHS:
        scaled = picture
        if picture.width > width:
            height = max(1, round(picture.height * width / picture.width))
            resized = picture.resize((width, height), Image.Resampling.LANCZOS)
            scaled = Image.frombytes(resized.mode, resized.size, resized.tobytes())
        out = BytesIO()
        scaled.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
        variants[width] = out.getvalue()
    return variants


def store(data: bytes) -> str:
    """Check, re-encode and store an upload; returns its hash (Product.image_hash)."""
    variants = encode_variants(data)
    digest = hashlib.sha256()
    for width in WIDTHS:
        digest.update(variants[width])
    picture_hash = digest.hexdigest()
    folder = picture_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for width, content in variants.items():
        target = folder / f"{picture_hash}-{width}.webp"
        if target.exists():
            continue
        # Written beside the target and renamed: a reader never sees half a file.
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    return picture_hash


def file_for(name: str) -> Path | None:
    """The stored file a ``<hash>-<width>.webp`` name points at, or None (unknown or malformed)."""
    match = NAME_RE.match(name)
    if not match or int(match["width"]) not in WIDTHS:
        return None
    path = picture_dir() / name
    return path if path.is_file() else None


def discard(picture_hash: str | None, still_used: bool) -> None:
    """Delete a replaced or removed picture's files unless another product still shows them."""
    if not picture_hash or still_used or not re.fullmatch(r"[0-9a-f]{64}", picture_hash):
        return
    for width in WIDTHS:
        (picture_dir() / f"{picture_hash}-{width}.webp").unlink(missing_ok=True)
