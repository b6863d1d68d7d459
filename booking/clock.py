"""The current time, the one impure input of the schedule; tests replace it via config."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app


def now() -> datetime:
    """Aware UTC now, or `app.config["CLOCK"]()` when a test pins the time."""
    clock = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(UTC)
