"""``flask import-catalogue``: create and update products from a catalogue CSV, by SKU."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command("import-catalogue")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@with_appcontext
def import_catalogue_command(path: Path, dry_run: bool) -> None:
    """Import a catalogue CSV (the admin area's export format), matching products by SKU.

    Columns: sku, name, price (required), description, category, brand, stock,
    low_stock_threshold, listed. Unknown categories are created; stock changes are written to the
    stock ledger as "import". A file with any bad line imports nothing and each bad line is named.
    """
    from shop.extensions import db
    from shop.services import catalogue_csv

    try:
        plan = catalogue_csv.plan(path.read_bytes())
    except catalogue_csv.CatalogueError as exc:
        click.echo(f"Nothing imported: {exc.total} bad line(s).", err=True)
        for number, reason in exc.errors:
            click.echo(f"  line {number}: {reason}", err=True)
        sys.exit(2)
    counts = plan.counts
    if dry_run:
        db.session.rollback()
        click.echo("Dry run: nothing was changed.")
        for _, line, changes in plan.updates[:50]:
            click.echo(f"  {line.sku}: {', '.join(sorted(changes))}")
    else:
        catalogue_csv.apply(plan, source=path.name)
        db.session.commit()
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{counts['created']} products {verb} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged; {counts['categories_created']} categories {verb} "
        "created"
        + (f" ({', '.join(plan.new_categories[:20])})" if plan.new_categories else "")
        + "."
    )


COMMANDS = (import_catalogue_command,)
