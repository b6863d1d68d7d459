"""The office file's tables for the legal pages: read from the same TOML, bad keys named with
their line, everything optional."""

from __future__ import annotations

from datetime import date

import pytest

from booking.legal_texts import load_legal_texts, parse_legal_texts
from booking.office import DEFAULT_OFFICE_FILE, OfficeFileError, parse_office

SHIPPED = DEFAULT_OFFICE_FILE.read_text(encoding="utf-8")


def test_the_shipped_file_names_the_real_bodies_and_flags_what_is_still_a_placeholder():
    texts = load_legal_texts()
    assert texts.privacy.authority.startswith("Landesbeauftragte für Datenschutz und Informationsfreiheit")
    assert texts.accessibility.enforcement.startswith(
        "Ombudsstelle für barrierefreie Informationstechnik des Landes Nordrhein-Westfalen"
    )
    assert texts.accessibility.statement_date == date(2026, 12, 1)
    assert "privacy.dpo_email" in texts.placeholders()
    assert "privacy.authority" not in texts.placeholders()
    parse_office(SHIPPED)  # the office's own parser lets the two tables through


def test_an_office_file_without_the_tables_has_empty_defaults():
    texts = parse_legal_texts('[office]\nname = "Amt"\n')
    assert texts.privacy.dpo_email == "" and texts.accessibility.status == "partial"
    assert texts.placeholders() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[privacy]\ncontroler = "Kreis"\n', "line 2: 'privacy.controler' is not a known setting"),
        (
            '[accessibility]\nstatus = "mostly"\n',
            "line 2: 'accessibility.status' must be one of full, partial, none",
        ),
        (
            "[accessibility]\nstatement_date = 2026-12-01T10:00:00\n",
            "'accessibility.statement_date' must be a date",
        ),
        ("[privacy]\ndpo_email = 3\n", "line 2: 'privacy.dpo_email' must be a string"),
        (
            "[privacy]\nrecipients = [1]\n",
            "'privacy.recipients' must be a text or a table of texts per language",
        ),
        ('privacy = "x"\n', "'privacy' must be a table"),
    ],
)
def test_a_bad_key_stops_start_up_naming_it(text: str, message: str):
    with pytest.raises(OfficeFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_legal_texts(text, source="ki.toml")


def test_texts_per_language_fall_back_to_german():
    texts = parse_legal_texts('[privacy]\nrecipients = { de = "Rechenzentrum", en = "Data centre" }\n')
    assert texts.privacy.recipients_text("en") == "Data centre"
    assert texts.privacy.recipients_text("ar") == "Rechenzentrum"
