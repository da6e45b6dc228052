"""Command-line commands: ``flask --app shop <command>``. One module per area."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Attach every command group to ``app.cli``."""
