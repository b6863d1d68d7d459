"""What every template can use: the office, the language switch, dates in the reader's locale."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app, request
from flask_babel import format_date, format_time, get_locale

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
    "fa": "فارسی",
}
RTL = {"ar", "fa"}


def day_label(moment: datetime) -> str:
    """ "Dienstag, 30. März 2027" in the reader's language, office time zone."""
    return format_date(moment, format="full")


def time_label(moment: datetime) -> str:
    return format_time(moment, format="HH:mm")


def language_name(code: str | None) -> str:
    """A language code named in the reader's language ("ar" on a German page: "Arabisch")."""
    return languages.name(code, str(get_locale() or "de")) if code else ""


def init_app(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(day_label=day_label, time_label=time_label, language_name=language_name)

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
