"""What every template can use: the office, the language switch, dates in the reader's locale."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import format_skeleton
from flask import Flask, current_app, request
from flask_babel import format_date, format_time, get_locale
from markupsafe import Markup

from booking import languages

# Each language named in itself, so a reader finds their own.
LANGUAGE_NAMES = {
    "de": "Deutsch",
    "en": "English",
    "tr": "Türkçe",
    "ar": "العربية",
    "uk": "Українська",
    "ru": "Русский",
    "pl": "Polski",
    "fa": "فارسی / دری",  # Persian and Dari: one catalogue, both names, so Dari speakers find it
}
RTL = {"ar", "fa"}


def day_label(moment: datetime) -> str:
    """ "Dienstag, 30. März 2027" in the reader's language, office time zone."""
    return format_date(moment, format="full")


def weekday_label(day: date) -> str:
    """ "Dienstag, 30. März" in the reader's language: a column head of the staff week."""
    return format_skeleton("MMMMEEEEd", day, locale=get_locale())


def time_label(moment: datetime) -> str:
    return format_time(moment, format="HH:mm")


def numeric_date(moment: date) -> str:
    """ "30.03.2027" in every language: Latin digits everyone reads, whatever the month names of
    the reader's calendar (Persian names the Iranian months, Dari speakers know others)."""
    return format_date(moment, format="dd.MM.yyyy")


def resident_day(moment: date) -> Markup:
    """A date as residents read it: the words, and the digits isolated left to right beside them
    ("Dienstag, 30. März 2027 (30.03.2027)"), for pages and HTML emails."""
    return Markup('{} <bdi dir="ltr">({})</bdi>').format(day_label(moment), numeric_date(moment))


def ltr(value: object) -> Markup:
    """Numbers, times, references, phone numbers and links keep their order in a right-to-left
    line: isolated, left to right (HTML)."""
    return Markup('<bdi dir="ltr">{}</bdi>').format(value)


def bdi(value: object) -> Markup:
    """Text someone typed (a name, a note), isolated: its own direction, and no RTL override or
    other control character in it can reorder the line around it."""
    return Markup("<bdi>{}</bdi>").format(value)


def ltr_text(value: object) -> str:
    """`ltr` for plain text: between LEFT-TO-RIGHT ISOLATE and POP DIRECTIONAL ISOLATE."""
    return f"\u2066{value}\u2069"


def language_name(code: str | None) -> str:
    """A language code named in the reader's language ("ar" on a German page: "Arabisch")."""
    return languages.name(code, str(get_locale() or "de")) if code else ""


def init_app(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(
        day_label=day_label,
        time_label=time_label,
        weekday_label=weekday_label,
        numeric_date=numeric_date,
        resident_day=resident_day,
        language_name=language_name,
    )
    app.jinja_env.filters.update(ltr=ltr, ltr_text=ltr_text, bdi=bdi)

    @app.context_processor
    def inject() -> dict[str, Any]:
        language = str(get_locale() or current_app.config["LANGUAGES"][0])
        return {
            "office": current_app.extensions["office"],
            "language": language,
            "text_direction": "rtl" if language in RTL else "ltr",
            "languages": language_choices(),
            "current_path": request.full_path.rstrip("?") if request else "/",
        }


def language_choices() -> list[tuple[str, str]]:
    """Each language of the service with its name in that language."""
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]]
