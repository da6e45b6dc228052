"""``flask import-retail``: load a real transaction log into the shop."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command("import-retail")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--limit-rows",
    type=click.IntRange(1, None),
    default=None,
    help="Read only the first N rows of the file (quick trials).",
)
@with_appcontext
def import_retail_command(path: Path, limit_rows: int | None) -> None:
    """Import a transaction log in the UCI Online Retail format (CSV, gzipped or plain).

    Columns: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
    Country. Cancellations, fees and other non-product codes, guest orders (no CustomerID) and
    non-positive quantities or prices are skipped and counted. Products are matched by SKU,
    customers by CustomerID and orders by InvoiceNo, so importing the same file twice adds nothing.
    """
    from shop.importers.retail import RetailImportError, import_retail

    try:
        summary = import_retail(path, limit_rows=limit_rows, progress=click.echo)
    except RetailImportError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    click.echo("")
    for line in summary.lines():
        click.echo(line)
    rate = summary.rows_read / summary.seconds if summary.seconds else 0.0
    click.echo(f"Rate                   {rate:>10,.0f} rows/s")


COMMANDS = (import_retail_command,)
