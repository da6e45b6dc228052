"""Product picture uploads: checked by content, re-encoded without metadata, served by hash."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from shop.extensions import db
from shop.models import AuditEntry, Product
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def as_admin(client, auth, admin_user):
    auth.login(email="admin@example.com", password="admin-password")
    return client


@pytest.fixture
def product(app):
    return factories.make_product("Blue Kettle")


@pytest.fixture
def picture_dir(app) -> Path:
    return Path(app.config["SHOP_PICTURE_DIR"])


def _stored(folder: Path) -> list[Path]:
    return sorted(folder.glob("*")) if folder.exists() else []


def _image(fmt: str = "JPEG", size=(1200, 900), colour=(200, 40, 40), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt, **save)
    return out.getvalue()


def _upload(post, product, data: bytes, filename: str, **extra):
    return post(
        f"/admin/products/{product.id}/picture",
        {"picture": (io.BytesIO(data), filename), **extra},
        content_type="multipart/form-data",
    )


def _upload_big(client, product, data: bytes, filename: str):
    """As _upload, closing the temporary file the test client spools a large body to (a server
    refusing the body unread would otherwise leave it to the garbage collector)."""
    builder = EnvironBuilder(
        path=f"/admin/products/{product.id}/picture",
        method="POST",
        data={"csrf_token": csrf_token(client, "/"), "picture": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def _hash_of(product) -> str | None:
    db.session.expire_all()
    return db.session.get(Product, product.id).image_hash


def test_a_jpeg_is_stored_as_webp_in_two_widths_and_shown_on_the_cards_and_page(
    as_admin, post, client, product, picture_dir
):
    response = _upload(post, product, _image(), "kettle.jpg")
    assert response.status_code == 302
    image_hash = _hash_of(product)
    assert re.fullmatch(r"[0-9a-f]{64}", image_hash)
    names = [p.name for p in _stored(picture_dir)]
    assert names == [f"{image_hash}-1000.webp", f"{image_hash}-400.webp"]
    for width in (400, 1000):
        with Image.open(picture_dir / f"{image_hash}-{width}.webp") as stored:
            assert stored.format == "WEBP" and stored.size == (width, width * 3 // 4)
    page = client.get(f"/products/{product.id}").get_data(as_text=True)
    assert f"/pictures/{image_hash}-1000.webp" in page
    listing = client.get("/products").get_data(as_text=True)
    assert f"/pictures/{image_hash}-400.webp" in listing
    served = client.get(f"/pictures/{image_hash}-400.webp")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    served.close()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "product.picture"))
    assert entry.after == {"image_hash": image_hash}


def test_a_png_named_jpg_is_read_as_png_and_stored_re_encoded(as_admin, post, product, picture_dir):
    png = _image("PNG", size=(300, 200))
    assert _upload(post, product, png, "photo.jpg").status_code == 302
    stored = _stored(picture_dir)
    assert stored and all(p.suffix == ".webp" for p in stored)
    assert all(p.read_bytes() != png and not p.read_bytes().startswith(b"\x89PNG") for p in stored)


def test_exif_and_gps_are_gone_and_the_orientation_is_applied(as_admin, post, product, picture_dir):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show upright
    exif[0x010F] = "SpyCam"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 0.0)
    jpeg = _image(size=(800, 400), exif=exif.tobytes())
    with Image.open(io.BytesIO(jpeg)) as sent:
        assert sent.getexif().get_ifd(0x8825)  # the upload does carry GPS
    assert _upload(post, product, jpeg, "holiday.jpg").status_code == 302
    image_hash = _hash_of(product)
    for path in _stored(picture_dir):
        data = path.read_bytes()
        assert b"Exif" not in data and b"SpyCam" not in data and b"EXIF" not in data
        with Image.open(path) as stored:
            assert dict(stored.getexif()) == {}
            assert "exif" not in stored.info and "icc_profile" not in stored.info
    with Image.open(picture_dir / f"{image_hash}-400.webp") as stored:
        assert stored.size == (400, 800)  # portrait: the orientation was applied


def test_html_appended_to_a_jpeg_is_not_stored(as_admin, post, product, picture_dir):
    polyglot = _image() + b"<html><script>alert(document.cookie)</script></html>"
    assert _upload(post, product, polyglot, "kettle.jpg").status_code == 302
    stored = _stored(picture_dir)
    assert stored
    for path in stored:
        data = path.read_bytes()
        assert b"<script" not in data and b"<html" not in data


def _refused(post, product, picture_dir, data, filename, status=422, client=None):
    if client is not None:
        response = _upload_big(client, product, data, filename)
    else:
        response = _upload(post, product, data, filename)
    assert response.status_code == status
    assert _stored(picture_dir) == []
    assert _hash_of(product) is None
    assert db.session.scalar(select(AuditEntry)) is None
    return response.get_data(as_text=True)


def test_an_svg_with_a_script_is_refused(as_admin, post, product, picture_dir):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = _refused(post, product, picture_dir, svg, "logo.svg")
    assert "Upload a JPEG, PNG or WebP picture." in html
    assert 'id="picture-error"' in html


def test_a_php_file_is_refused(as_admin, post, product, picture_dir):
    html = _refused(post, product, picture_dir, b"<?php system($_GET['c']); ?>", "shell.php")
    assert "Upload a JPEG, PNG or WebP picture." in html


def test_a_gif_is_refused_though_it_is_a_picture(as_admin, post, product, picture_dir):
    html = _refused(post, product, picture_dir, _image("GIF", size=(50, 50)), "anim.gif")
    assert "Upload a JPEG, PNG or WebP picture." in html


def test_a_20_mb_file_is_refused_with_a_clear_message(as_admin, post, product, picture_dir):
    huge = _image() + b"\0" * (20 * 1024 * 1024)
    html = _refused(post, product, picture_dir, huge, "huge.jpg", status=413, client=as_admin)
    assert "The picture is larger than 5 MB." in html


def test_a_file_just_over_5_mb_is_refused(as_admin, post, product, picture_dir):
    big = _image() + b"\0" * (5 * 1024 * 1024)
    html = _refused(post, product, picture_dir, big, "big.jpg", client=as_admin)
    assert "The picture is larger than 5 MB." in html


def test_a_decompression_bomb_is_refused_before_it_is_decoded(as_admin, post, product, picture_dir):
    out = io.BytesIO()
    Image.new("1", (30_000, 30_000), 0).save(out, "PNG", optimize=True)
    bomb = out.getvalue()
    assert len(bomb) < 1024 * 1024  # small on disk, 900 million pixels decoded
    html = _refused(post, product, picture_dir, bomb, "bomb.png")
    assert "the most is 4,000 x 4,000" in html


def test_a_picture_over_4000_pixels_is_refused(as_admin, post, product, picture_dir):
    html = _refused(post, product, picture_dir, _image("PNG", size=(4001, 10)), "wide.png")
    assert "4,001 x 10 pixels" in html


def test_replacing_and_removing_a_picture(as_admin, post, client, product, picture_dir):
    _upload(post, product, _image(colour=(0, 0, 200)), "one.jpg")
    first = _hash_of(product)
    _upload(post, product, _image(colour=(0, 200, 0)), "two.jpg")
    second = _hash_of(product)
    assert second != first
    assert {p.name.split("-")[0] for p in _stored(picture_dir)} == {second}
    response = post(
        f"/admin/products/{product.id}/picture",
        {"remove": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert _hash_of(product) is None and _stored(picture_dir) == []
    page = client.get(f"/products/{product.id}").get_data(as_text=True)
    assert f"/products/{product.id}/image.svg" in page  # the drawn picture again


@pytest.mark.parametrize(
    "name",
    [
        "../../config.py",
        "..%2F..%2Fconfig.py",
        "a" * 64 + "-400.png",
        "a" * 64 + "-500.webp",
        "A" * 64 + "-400.webp",
        "a" * 64 + "-400.webp",
        "shop.db",
    ],
)
def test_unknown_or_malformed_picture_names_are_404(client, name):
    assert client.get(f"/pictures/{name}").status_code == 404
