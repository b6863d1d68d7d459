"""Command-line entry points: `flask --app booking init-db` and friends."""

from __future__ import annotations

import click
from flask import Flask
from flask_migrate import upgrade


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db() -> None:
        """Create or upgrade the tables to the newest migration (safe to run again)."""
        upgrade()
        click.echo("Database is up to date.")
