"""Static files: fingerprinted names cached for a year, precompressed copies (shop.static_files)."""

import os
from pathlib import Path

import brotli
from flask import url_for

from shop import css_purge, static_files
from shop.cli import assets_cmd

IMMUTABLE = "max-age=31536000, public, immutable"


def fetch(client, url: str, encoding: str = "br, gzip"):
    with client.get(url, headers={"Accept-Encoding": encoding}) as response:
        response.direct_passthrough = False  # WhiteNoise's file wrapper, read and closed here
        return response, response.get_data()


def test_pages_name_the_fingerprinted_files(app, client):
    with app.test_request_context():
        css = url_for("static", filename="css/shop.css")
    assert (
        css.startswith("/static/css/shop.")
        and css.endswith(".css")
        and css != "/static/css/shop.css"
    )
    html = client.get("/").get_data(as_text=True)
    assert f'href="{css}"' in html
    assert "bootstrap.bundle.min.js" not in html  # every static link is fingerprinted


def test_a_fingerprinted_file_is_immutable_for_a_year_and_brotli_compressed(app, client):
    with app.test_request_context():
        css = url_for("static", filename="css/shop.css")
    plain, plain_body = fetch(client, css, encoding="identity")
    assert plain.headers["Cache-Control"] == IMMUTABLE
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert plain.headers["Content-Type"].startswith("text/css")
    assert "Content-Encoding" not in plain.headers
    br, br_body = fetch(client, css)
    assert br.headers["Content-Encoding"] == "br"
    assert br.headers["Cache-Control"] == IMMUTABLE
    assert brotli.decompress(br_body) == plain_body
    assert len(br_body) < len(plain_body) / 2
    gz, _ = fetch(client, css, encoding="gzip")
    assert gz.headers["Content-Encoding"] == "gzip"


def test_a_plain_name_is_still_served_for_a_minute(client):
    response, body = fetch(client, "/static/css/shop.css", encoding="identity")
    assert response.status_code == 200 and b"{" in body
    assert response.headers["Cache-Control"] == "max-age=60, public"


def test_a_changed_file_gets_a_new_name_and_the_old_build_stays_for_cached_pages(tmp_path):
    source, dest = tmp_path / "static", tmp_path / "build"
    (source / "css").mkdir(parents=True)
    (source / "img" / "products").mkdir(parents=True)
    (source / "css" / "site.css").write_text("body { color: #111; }" * 50)
    (source / "img" / "products" / "A-1.svg").write_text("<svg/>")
    first = static_files.build(source, dest)
    names = static_files.read_manifest(first)
    assert list(names) == ["css/site.css"]  # the seeder's pictures are not part of a build
    assert static_files.build(source, dest) == first  # nothing changed: nothing rebuilt
    assert (first / (names["css/site.css"] + ".br")).is_file()
    (source / "css" / "site.css").write_text("body { color: #222; }" * 50)
    second = static_files.build(source, dest)
    assert second != first and first.is_dir()
    assert static_files.read_manifest(second)["css/site.css"] != names["css/site.css"]


def test_the_fingerprint_goes_before_every_suffix():
    name = static_files.fingerprinted_name("vendor/chartjs/chart.umd.min.js", b"x")
    folder, _, base = name.rpartition("/")
    stem, digest, *rest = base.split(".")
    assert (folder, stem, rest) == ("vendor/chartjs", "chart", ["umd", "min", "js"])
    assert len(digest) == static_files.HASH_CHARS


def test_the_seeders_pictures_are_served_for_a_day(app, client):
    folder = os.path.join(app.static_folder, "img", "products")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "TEST-static-files-00.svg")
    with open(path, "w") as out:
        out.write('<svg xmlns="http://www.w3.org/2000/svg"/>')
    try:
        response, body = fetch(client, "/static/img/products/TEST-static-files-00.svg")
        assert response.status_code == 200 and body.startswith(b"<svg")
        assert response.headers["Cache-Control"] == "max-age=86400, public"
    finally:
        os.remove(path)
    missing, _ = fetch(client, "/static/img/products/../css/nothing.css")
    assert missing.status_code == 404


def test_the_assets_command_reports_the_build(runner):
    result = runner.invoke(args=["assets"])
    assert result.exit_code == 0, result.output
    assert "static files in" in result.output and "Brotli" in result.output


def test_purge_keeps_the_rules_whose_classes_the_sources_use():
    css = (
        '@charset "UTF-8";/*! licence */:root{--bs-x:1}body{margin:0}'
        ".btn{color:red}.modal{top:0}.btn:not(.modal){x:1}.alert-info,.alert-dark{y:2}"
        '.navbar .show{z:3}[data-bs-theme=dark] .btn{c:1}.btn[title="{x}"]{q:1}'
        "@media (min-width:768px){.modal{a:1}.col-md-6{b:2}}@keyframes spin{to{rotate:1turn}}"
    )
    used = css_purge.used_classes(
        ['<a class="btn alert-{{ kind }}">', "flash('saved', 'info')", "<nav class=navbar>"]
    )
    assert css_purge.purge(css, used) == (
        '@charset "UTF-8";/*! licence */:root{--bs-x:1}body{margin:0}'
        '.btn{color:red}.btn:not(.modal){x:1}.alert-info{y:2}.navbar .show{z:3}.btn[title="{x}"]{q:1}'
        "@keyframes spin{to{rotate:1turn}}"
    )


def test_the_committed_trimmed_bootstrap_matches_the_templates(app):
    """A template that starts using a Bootstrap class the trimmed file dropped fails here: run
    ``flask --app shop trim-bootstrap`` and commit the file."""
    folder = Path(app.static_folder)
    committed = (folder / assets_cmd.TRIMMED).read_text(encoding="utf-8")
    assert committed == assets_cmd.trimmed_bootstrap(folder)
