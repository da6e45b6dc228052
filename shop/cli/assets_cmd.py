"""``flask --app shop assets``: the fingerprinted, compressed copies of ``static/``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from shop import css_purge, static_files

BOOTSTRAP = "vendor/bootstrap/bootstrap.min.css"
TRIMMED = "vendor/bootstrap/bootstrap.shop.min.css"
#: Where the classes the shop uses are written, relative to the repository.
CLASS_SOURCES = ("templates", "static/js", "shop")


def trimmed_bootstrap(static_folder: Path) -> str:
    """Bootstrap's stylesheet with only the rules the shop's sources can use (shop.css_purge)."""
    root = static_folder.parent
    used = css_purge.used_classes(css_purge.source_texts(root, CLASS_SOURCES))
    return css_purge.purge((static_folder / BOOTSTRAP).read_text(encoding="utf-8"), used)


@click.command("assets")
@with_appcontext
def assets_command() -> None:
    """Build the fingerprinted, gzip and Brotli copies of static/ (once per change of static/).

    The shop also builds them at start when they are missing; running this first (make run does)
    keeps that second or two out of the first request after a deploy.
    """
    version = static_files.build(
        Path(current_app.static_folder), Path(current_app.config["SHOP_STATIC_BUILD_DIR"])
    )
    names = static_files.read_manifest(version)
    compressed = sum(1 for _ in version.rglob("*.br"))
    click.echo(f"{len(names)} static files in {version} ({compressed} with Brotli copies)")


@click.command("trim-bootstrap")
@with_appcontext
def trim_bootstrap_command() -> None:
    """Write static/vendor/bootstrap/bootstrap.shop.min.css: Bootstrap with only the rules whose
    classes the templates, scripts and code use. Run it after using a Bootstrap class the shop
    did not use before (a test says when)."""
    folder = Path(current_app.static_folder)
    css = trimmed_bootstrap(folder)
    (folder / TRIMMED).write_text(css, encoding="utf-8")
    full = (folder / BOOTSTRAP).stat().st_size
    click.echo(f"{TRIMMED}: {len(css.encode()):,} bytes (Bootstrap's own: {full:,})")


COMMANDS = (assets_command, trim_bootstrap_command)
