"""``flask --app shop assets``: the fingerprinted, compressed copies of ``static/``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from shop import static_files


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


COMMANDS = (assets_command,)
