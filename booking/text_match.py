"""Text comparisons the staff search needs, the same on SQLite and PostgreSQL: lower case for
every script (SQLite's own `lower()` knows only ASCII, so "ÖZTÜRK" would not find "Öztürk") and
the digits of a phone number ("02452 / 12-34" is "024521234"). PostgreSQL has both built in;
SQLite gets two small functions on each connection (`register_sqlite_functions`)."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

NOT_DIGITS = re.compile(r"\D+")


def lower_text(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def digits_text(value: str | None) -> str | None:
    return NOT_DIGITS.sub("", value) if value is not None else None


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Called for every new SQLite connection (`booking._tune_sqlite`)."""
    connection.create_function("termine_lower", 1, lower_text, deterministic=True)
    connection.create_function("termine_digits", 1, digits_text, deterministic=True)


class lowered(FunctionElement[str]):  # noqa: N801 (SQL function names are lower case)
    """`lowered(column)`: the text in lower case, any script."""

    type = String()
    inherit_cache = True


class digits(FunctionElement[str]):  # noqa: N801
    """`digits(column)`: only the digits of the text."""

    type = String()
    inherit_cache = True


@compiles(lowered)
def _lowered(element: lowered, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lowered, "sqlite")
def _lowered_sqlite(element: lowered, compiler: Any, **kw: Any) -> str:
    return f"termine_lower({compiler.process(element.clauses, **kw)})"


@compiles(digits)
def _digits(element: digits, compiler: Any, **kw: Any) -> str:
    return f"regexp_replace({compiler.process(element.clauses, **kw)}, '[^0-9]', '', 'g')"


@compiles(digits, "sqlite")
def _digits_sqlite(element: digits, compiler: Any, **kw: Any) -> str:
    return f"termine_digits({compiler.process(element.clauses, **kw)})"
