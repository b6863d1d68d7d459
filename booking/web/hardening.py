"""What a crafted request must not turn into a server error, for every route at once.

- JSON nested deeper than the parser's recursion (`[[[[…` 10,000 times) raised RecursionError;
  now it is a body that is not JSON (the API's 400).
- A row id in a URL past what the id columns hold ("out of range" from the driver: PostgreSQL's
  `integer` past 2**31 - 1, SQLite past 2**63 - 1) now matches no route: 404, like any id that
  does not exist. Every `<int:…>` in the app is such an id.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, Map

LARGEST_ID = 2**31 - 1  # every id column is an `Integer`: PostgreSQL's 32-bit integer


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with nesting too deep for the parser reported as invalid JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


class RowIdConverter(IntegerConverter):
    """`<int:…>`: a non-negative integer a database id can hold (werkzeug's `max`)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before any route is added: the converter applies to the routes registered after it."""
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = RowIdConverter


def row_id(value: str | None) -> int | None:
    """An id typed into a query or form field (`?counsellor=7`), or None when it cannot be one
    (not ASCII digits: `"²".isdigit()` is true, yet `int("²")` fails; too large for the column)."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= LARGEST_ID else None
