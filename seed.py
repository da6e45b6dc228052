"""Seed the shop with synthetic data from the command line.

    python seed.py --users 300 --products 150 --events 30000 --seed 42 [--reset] [--if-empty]
    python seed.py --users 100 --products 20      # the original prototype's scale

A thin wrapper: it builds the app (``DATABASE_URL`` and friends from the environment) and runs the very
same command as ``flask --app shop seed``; ``python seed.py --help`` lists every option.
"""

from __future__ import annotations

from shop import create_app
from shop.cli.seed_cmd import seed_command


def main(argv: list[str] | None = None) -> None:
    app = create_app()
    with app.app_context():
        seed_command.main(args=argv, prog_name="seed.py")


if __name__ == "__main__":
    main()
