"""Text comparisons the staff search needs, the same on SQLite and PostgreSQL: lower case for
every script (SQLite's own `lower()` knows only ASCII, so "ÖZTÜRK" would not find "Öztürk"), names
folded as a German keyboard types them ("Öztürk", "ozturk" and "oeztuerk" are one name, "Yılmaz"
is "yilmaz") and the digits of a phone number ("02452 / 12-34" is "024521234"). PostgreSQL builds
each from its own functions (`normalize` needs a UTF8 database); SQLite gets small Python functions
on each connection (`register_sqlite_functions`), the same code that folds the query."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from typing import Any

from sqlalchemy import String, func, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

NOT_DIGITS = re.compile(r"\D+")
# Letters NFKD leaves whole, as a German keyboard types them (after lower case).
LETTERS = {"ß": "ss", "ı": "i", "ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "ς": "σ"}
# The combining marks taken off after NFKD: accents of the Latin, Greek and Cyrillic letters and
# the Arabic vowel signs and hamza ("Öztürk" is "ozturk", "أحمد" is "احمد").
MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
ANY_MARK = re.compile(f"[{MARKS}]")
UMLAUT = re.compile("([aou])\u0308")  # ä, ö, ü after NFKD
# In a query, ä/ae, ö/oe and ü/ue each match the folded name's a, o, u and ae, oe, ue.
DIGRAPH = re.compile("([aou])e")


def lower_text(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def digits_text(value: str | None) -> str | None:
    return NOT_DIGITS.sub("", value) if value is not None else None


def _decomposed(value: str) -> str:
    """Lower case, the letters of LETTERS replaced, then NFKD: base letters and their marks apart."""
    lowered_value = value.lower()
    for letter, plain in LETTERS.items():
        lowered_value = lowered_value.replace(letter, plain)
    return unicodedata.normalize("NFKD", lowered_value)


def fold_text(value: str | None) -> str | None:
    """A name as it is compared: lower case, without accents ("Jürgen Öztürk" is "jurgen ozturk")."""
    return ANY_MARK.sub("", _decomposed(value)) if value is not None else None


def name_pattern(word: str) -> str:
    """A regular expression (the same for Python and PostgreSQL) that finds `word` in a folded
    name: "öztürk", "ozturk" and "oeztuerk" each find "ozturk" and "oeztuerk"; "" for a word
    that folds to nothing (only marks)."""
    text = ANY_MARK.sub("", UMLAUT.sub(r"\1e", _decomposed(word)))
    parts = DIGRAPH.split(text)  # text, letter, text, letter, ...: a letter stood before an "e"
    return "".join(re.escape(part) if index % 2 == 0 else f"{part}e?" for index, part in enumerate(parts))


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Called for every new SQLite connection (`booking._tune_sqlite`)."""
    connection.create_function("termine_lower", 1, lower_text, deterministic=True)
    connection.create_function("termine_digits", 1, digits_text, deterministic=True)
    connection.create_function("termine_fold", 1, fold_text, deterministic=True)


class lowered(FunctionElement[str]):  # noqa: N801 (SQL function names are lower case)
    """`lowered(column)`: the text in lower case, any script."""

    type = String()
    inherit_cache = True


class folded(FunctionElement[str]):  # noqa: N801
    """`folded(column)`: the text as `fold_text` makes it."""

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


@compiles(folded)
def _folded(element: folded, compiler: Any, **kw: Any) -> str:
    """`fold_text` in PostgreSQL's functions, step by step."""
    text: Any = func.lower(*element.clauses)
    for letter, plain in LETTERS.items():
        text = func.replace(text, letter, plain)
    text = func.normalize(text, literal_column("NFKD"))
    return compiler.process(func.regexp_replace(text, f"[{MARKS}]", "", "g"), **kw)


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"termine_fold({compiler.process(element.clauses, **kw)})"


@compiles(digits)
def _digits(element: digits, compiler: Any, **kw: Any) -> str:
    return f"regexp_replace({compiler.process(element.clauses, **kw)}, '[^0-9]', '', 'g')"


@compiles(digits, "sqlite")
def _digits_sqlite(element: digits, compiler: Any, **kw: Any) -> str:
    return f"termine_digits({compiler.process(element.clauses, **kw)})"
