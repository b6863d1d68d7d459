"""Languages of counselling and of interpreters: which codes exist and what each is called in
the reader's language (names from Babel's CLDR data, so no list of names of our own to translate).

Pure: no Flask, no database. A code is one Babel knows a name for (ISO 639, e.g. "ar", "ti",
"ckb", or with a region where that names another language, e.g. "fa_AF" for Dari).
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale, UnknownLocaleError

# Offered in the forms (interpreters, a counsellor's languages), besides those already in use:
# the languages most often needed in German counselling of people with a migration history.
COMMON = (
    "de", "ar", "tr", "uk", "ru", "pl", "fa", "fa_AF", "ps", "ku", "ckb", "ti", "am", "so",
    "ro", "bg", "sq", "sr", "hr", "bs", "el", "it", "es", "fr", "en", "ur", "hi", "ta", "vi", "zh",
)  # fmt: skip


@lru_cache(maxsize=32)
def _names(reader: str) -> dict[str, str]:
    try:
        return dict(Locale.parse(reader).languages)
    except (UnknownLocaleError, ValueError):
        return dict(Locale("en").languages)


def is_known(code: object) -> bool:
    """Whether `code` names a language (as Babel spells its codes)."""
    return isinstance(code, str) and code in _names("en")


def name(code: str, reader: str) -> str:
    """`code` named in the `reader`'s language ("ar" for a German reader: "Arabisch"), with a
    capital as at the start of a line of a list (Russian and Polish write them in lower case)."""
    return _capital(_names(reader).get(code) or _names("en").get(code) or code)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


@lru_cache(maxsize=256)
def endonym(code: str) -> str | None:
    """The language named in itself ("ar": "العربية"), for a reader who cannot read the page;
    None when CLDR has no such name."""
    try:
        text = Locale.parse(code).languages.get(code)
    except (UnknownLocaleError, ValueError):
        return None
    return _capital(text) if text else None


def labels(codes: tuple[str, ...] | list[str], reader: str) -> list[tuple[str, str, str | None]]:
    """(code, name in the reader's language, name in itself when that differs) per language."""
    found = []
    for code in codes:
        own = endonym(code)
        found.append((code, name(code, reader), own if own != name(code, reader) else None))
    return found


def parse_list(text: str) -> tuple[list[str], list[str]]:
    """Codes from "de, ar tr" (commas or spaces): (known codes in order without repeats, unknown)."""
    known: list[str] = []
    unknown: list[str] = []
    for code in text.replace(",", " ").split():
        (known if is_known(code) else unknown).append(code)
    return list(dict.fromkeys(known)), unknown


def choices(reader: str, codes: tuple[str, ...] | list[str] = COMMON) -> list[tuple[str, str]]:
    """(code, name) pairs in the reader's language, sorted by name as the reader reads them."""
    return sorted(((code, name(code, reader)) for code in dict.fromkeys(codes)), key=lambda pair: pair[1])
