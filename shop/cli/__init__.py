"""Command-line commands: ``flask --app shop <command>``. One module per area."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Attach every command group to ``app.cli``."""
    from shop.cli import (
        assets_cmd,
        catalogue_cmd,
        engine_cmd,
        experiments_cmd,
        report_cmd,
        retail_cmd,
        seed_cmd,
        worker_cmd,
    )

    for command in (
        *assets_cmd.COMMANDS,
        *catalogue_cmd.COMMANDS,
        *engine_cmd.COMMANDS,
        *experiments_cmd.COMMANDS,
        *retail_cmd.COMMANDS,
        *report_cmd.COMMANDS,
        *seed_cmd.COMMANDS,
        *worker_cmd.COMMANDS,
    ):
        app.cli.add_command(command)
