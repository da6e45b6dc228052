"""``flask --app shop report``: the dashboard's key figures in the terminal (or as JSON)."""

from __future__ import annotations

import json
import math

import click
import pandas as pd

from shop.services import analytics


def _pct(value) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{100 * value:.1f}%"
    )


def _jsonable(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    return json.loads(clean.to_json(orient="records", date_format="iso"))


def gather(rng: analytics.DateRange, n: int = 5) -> dict[str, pd.DataFrame]:
    return {
        "most_clicked": analytics.most_clicked(n, rng),
        "best_sellers": analytics.best_sellers(n, rng),
        "funnel": analytics.funnel(rng),
        "conversion_by_category": analytics.conversion_by_category(rng),
        "rating_distribution": analytics.rating_distribution(rng),
    }


def render(figures: dict[str, pd.DataFrame], rng: analytics.DateRange) -> str:
    lines = [f"Shop report: {rng.describe()}", ""]

    def ranking(title: str, frame: pd.DataFrame, unit: str) -> None:
        lines.append(title)
        if frame.empty:
            lines.append("  (no data)")
        for i, row in enumerate(frame.itertuples(index=False), start=1):
            lines.append(f"  {i}. {row.name[:50]:<50} {int(row.value):>8,} {unit}")
        lines.append("")

    ranking("Top 5 most clicked", figures["most_clicked"], "clicks")
    ranking("Best sellers", figures["best_sellers"], "units")

    lines.append("Funnel")
    lines.append(f"  {'step':<16}{'events':>10}{'step rate':>12}{'of views':>10}")
    for row in figures["funnel"].itertuples(index=False):
        lines.append(
            f"  {row.step:<16}{int(row.events):>10,}{_pct(row.step_rate):>12}{_pct(row.overall_rate):>10}"
        )
    lines.append("")

    lines.append("Conversion by category")
    lines.append(
        f"  {'category':<24}{'clicks':>8}{'carts':>8}{'bought':>8}{'cart/click':>12}{'buy/click':>11}"
    )
    for row in figures["conversion_by_category"].itertuples(index=False):
        lines.append(
            f"  {row.category[:24]:<24}{int(row.click):>8,}{int(row.add_to_cart):>8,}"
            f"{int(row.purchase):>8,}{_pct(row.cart_rate):>12}{_pct(row.purchase_rate):>11}"
        )
    lines.append("")

    lines.append("Rating distribution")
    for row in figures["rating_distribution"].itertuples(index=False):
        lines.append(f"  {int(row.stars)}★ {int(row.ratings):>8,}  {_pct(row.share)}")
    return "\n".join(lines)


@click.command("report")
@click.option("--start", help="First day to include, YYYY-MM-DD.")
@click.option("--end", help="Last day to include, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def report(start: str | None, end: str | None, as_json: bool) -> None:
    """Print the shop's key figures: most clicked, best sellers, funnel, conversion, ratings."""
    try:
        rng = analytics.DateRange.parse(start, end)
    except analytics.DateRangeError as exc:
        raise click.BadParameter(str(exc)) from exc
    figures = gather(rng)
    if as_json:
        payload = {
            "range": {
                "start": rng.start.isoformat() if rng.start else None,
                "end": rng.end.isoformat() if rng.end else None,
            },
            **{name: _jsonable(frame) for name, frame in figures.items()},
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(render(figures, rng))


COMMANDS = (report,)
