"""The pages a German public body must publish beside the booking: the privacy notice (GDPR
Art. 13), the accessibility statement (BGG NRW / BITV) and how to book in Leichte Sprache. The
office-specific parts come from the office file (`booking.legal_texts`)."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import format_date

from booking.legal_texts import LegalTexts
from booking.web.public import bp


def _texts() -> LegalTexts:
    return current_app.extensions["legal_texts"]


@bp.get("/privacy")
def privacy() -> str:
    return render_template("public/privacy.html", privacy=_texts().privacy)


@bp.get("/accessibility")
def accessibility() -> str:
    statement = _texts().accessibility
    made_on = format_date(statement.statement_date, format="long") if statement.statement_date else None
    return render_template("public/accessibility.html", statement=statement, made_on=made_on)


@bp.get("/leichte-sprache")
def leichte_sprache() -> str:
    """German only (Leichte Sprache is a form of German); other languages show it with a note."""
    return render_template("public/leichte_sprache.html")
