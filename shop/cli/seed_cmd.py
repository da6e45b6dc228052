"""``flask --app shop seed`` and ``flask --app shop create-admin``.

``seed.py`` at the top of the repository runs the same ``seed`` command object, so the two entry points
can never drift apart. Mistakes the user can fix end with a one-line ``Error: ...`` and exit status 2,
never a traceback.
"""

from __future__ import annotations

import sys

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from shop.extensions import db
from shop.models import ORDER_STATUSES
from shop.seeding import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    SeedError,
    SeedOptions,
    check_schema,
    promote_admin,
    seed_database,
)
from shop.services.caches import forget_shop_figures

MIN_PASSWORD_LENGTH = 8
PROGRESS_FROM_EVENTS = 20_000


class CommandError(click.ClickException):
    """A usage mistake: printed as one ``Error:`` line, exit status 2 like click's own errors."""

    exit_code = 2


def _valid_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise CommandError(f"{value!r} is not a valid email address: {exc}") from None


def _valid_password(value: str, option: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise CommandError(f"{option} must be at least {MIN_PASSWORD_LENGTH} characters long.")
    return value


@click.command("seed")
@click.option(
    "--users", type=click.IntRange(min=1), default=SeedOptions.users, show_default=True,
    help="Shoppers to create (the demo shopper is one of them).",
)  # fmt: skip
@click.option(
    "--products", type=click.IntRange(min=1), default=SeedOptions.products, show_default=True,
    help="Products, spread over 8-12 categories and their product types.",
)  # fmt: skip
@click.option(
    "--events", type=click.IntRange(min=1), default=SeedOptions.events, show_default=True,
    help="Views, clicks, add-to-carts and purchases in total.",
)  # fmt: skip
@click.option(
    "--seed", "seed_value", type=click.IntRange(min=0), default=42, show_default=True,
    help="Random seed: the same seed gives the same shop.",
)  # fmt: skip
@click.option("--reset", is_flag=True, help="Delete all shop data first (users included).")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has products.")
@click.option("--admin-email", help="Also create (or promote) this admin account.")
@click.option("--admin-password", help=f"The admin's password ({MIN_PASSWORD_LENGTH}+ characters).")
@click.option(
    "--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Events end the day before this date (UTC); default today. Fix it for identical reruns.",
)  # fmt: skip
@click.option("--days", type=click.IntRange(min=1, max=3650), default=120, show_default=True,
              help="How many days of history before --as-of.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--with-experiment", is_flag=True,
    help="Also simulate a finished demo A/B experiment (hybrid vs popularity) from the seeded "
    "shoppers' hidden tastes, for the admin pages.",
)  # fmt: skip
@with_appcontext
def seed_command(
    users: int,
    products: int,
    events: int,
    seed_value: int,
    reset: bool,
    if_empty: bool,
    admin_email: str | None,
    admin_password: str | None,
    as_of,
    days: int,
    quiet: bool,
    with_experiment: bool,
) -> None:
    """Fill the shop with synthetic shoppers, products and a realistic event history.

    Shoppers have hidden tastes and products a hidden quality, so the recommendation engine has real
    structure to find. Every product gets a counted stock with its ledger (a few low, a few sold
    out, two hidden) and the orders move through every status, each with its history. Refuses a
    database that already has products unless --reset or --if-empty.
    """
    if bool(admin_email) != bool(admin_password):
        raise CommandError("Give --admin-email and --admin-password together.")
    if admin_email:
        admin_email = _valid_email(admin_email)
        _valid_password(admin_password, "--admin-password")
    options = SeedOptions(
        users=users,
        products=products,
        events=events,
        seed=seed_value,
        as_of=as_of.date() if as_of else None,
        days=days,
    )
    show_progress = not quiet and events >= PROGRESS_FROM_EVENTS and sys.stderr.isatty()
    try:
        report = seed_database(
            options,
            reset=reset,
            if_empty=if_empty,
            admin_email=admin_email,
            admin_password=admin_password,
            show_progress=show_progress,
            with_experiment=with_experiment,
        )
    except SeedError as exc:
        raise CommandError(str(exc)) from None
    except OperationalError as exc:
        raise CommandError(f"The database refused the seed: {exc.orig}") from None
    if report.skipped:
        click.echo(report.message)
        return
    c = report.counts
    f = report.funnel
    click.echo(
        f"Seeded {c['users']:,} users, {c['products']:,} products in {c['categories']} categories, "
        f"{c['events']:,} events, {c['orders']:,} orders ({c['order_lines']:,} lines), "
        f"{c['ratings']:,} ratings, {c['likes']:,} likes, {c['cart_items']:,} open cart items."
    )
    click.echo(
        f"Funnel: {f['click_rate']:.0%} of views clicked, {f['cart_rate']:.0%} of clicks added to "
        f"cart, {f['purchase_rate']:.0%} of cart adds bought."
    )
    if "hidden" in c:
        click.echo(
            f"Stock: every product counted, {c['low']} low, {c['sold_out']} sold out, "
            f"{c['hidden']} hidden. Order statuses: "
            + ", ".join(f"{c[f'orders_{s}']:,} {s}" for s in ORDER_STATUSES)
            + "."
        )
    click.echo(f"Demo shopper: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    if reset:
        click.echo("Any trained model describes the old data: run `flask --app shop train`.")
    if admin_email:
        click.echo(f"Admin: {admin_email}")
    click.echo(
        f"Done in {report.seconds:.2f} s ({report.cpu_seconds:.2f} s CPU): "
        f"{report.events_per_second:,.0f} events/s (seed {seed_value})."
    )
    if report.experiment_id is not None:
        click.echo(
            f"Demo experiment: {report.experiment_name} (see /admin/experiments/"
            f"{report.experiment_id}), simulated in {report.experiment_seconds:.1f} s."
        )
    forget_shop_figures()


@click.command("create-admin")
@click.argument("email")
@click.option(
    "--password",
    help="The password. Without it you are asked (a new account needs one; an existing "
    "user keeps theirs if you leave it empty).",
)
@with_appcontext
def create_admin_command(email: str, password: str | None) -> None:
    """Create an admin account with EMAIL, or make the existing user with EMAIL an admin."""
    email = _valid_email(email)
    try:
        check_schema()
        if password is None:
            password = click.prompt(
                "Password (empty keeps an existing user's)",
                hide_input=True,
                confirmation_prompt=True,
                default="",
                show_default=False,
            )
        if password:
            _valid_password(password, "The password")
        user, created = promote_admin(email, password or None)
        db.session.commit()
    except SeedError as exc:
        db.session.rollback()
        raise CommandError(str(exc)) from None
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise CommandError(f"The database refused the change: {exc}") from None
    click.echo(f"{'Created' if created else 'Promoted'} admin {user.email}.")


COMMANDS = (seed_command, create_admin_command)
