"""The office-specific parts of the legal pages (privacy notice, accessibility statement): the
optional tables `[privacy]` and `[accessibility]` of the office file.

Pure: no Flask, no database, no clock. `booking.office` reads the rest of the file and lets these
two tables through; this module reads them from the same TOML text, so a bad key stops start-up
with a message naming the key and its line, as the rest of the office file does."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from booking.office import OfficeFileError, in_language, read_office_file

PRIVACY_KEYS = {
    "controller",
    "controller_address",
    "controller_email",
    "dpo",
    "dpo_address",
    "dpo_email",
    "law",
    "recipients",
    "authority",
    "authority_address",
    "authority_email",
    "authority_url",
}
ACCESSIBILITY_KEYS = {
    "status",
    "statement_date",
    "law",
    "known_gaps",
    "contact_email",
    "contact_phone",
    "enforcement",
    "enforcement_address",
    "enforcement_email",
    "enforcement_url",
}
STATUSES = ("full", "partial", "none")  # BITV: fully, partly or not compliant
# Values that still say they are to be replaced before going live (the shipped file marks them so).
PLACEHOLDER_MARKS = ("PLATZHALTER", ".example")


@dataclass(frozen=True)
class Privacy:
    """Who is responsible, whom to ask and where to complain (GDPR Art. 13). Empty: not given
    (the page then points at the office itself)."""

    controller: str = ""
    controller_address: str = ""
    controller_email: str = ""
    dpo: str = ""
    dpo_address: str = ""
    dpo_email: str = ""
    law: str = ""  # the national law beside Art. 6(1)(e) GDPR, e.g. "§ 3 DSG NRW"
    recipients: dict[str, str] = field(default_factory=dict)  # per language: who else gets the data
    authority: str = ""
    authority_address: str = ""
    authority_email: str = ""
    authority_url: str = ""

    def recipients_text(self, language: str) -> str:
        return in_language(self.recipients, language)


@dataclass(frozen=True)
class Accessibility:
    """The office's accessibility statement (BITV): how far the site complies, since when,
    whom to tell about a barrier, and the body to turn to when that does not help."""

    status: str = "partial"
    statement_date: date | None = None
    law: str = ""
    known_gaps: dict[str, str] = field(default_factory=dict)  # per language, beside the built-in ones
    contact_email: str = ""
    contact_phone: str = ""
    enforcement: str = ""
    enforcement_address: str = ""
    enforcement_email: str = ""
    enforcement_url: str = ""

    def gaps_text(self, language: str) -> str:
        return in_language(self.known_gaps, language)


@dataclass(frozen=True)
class LegalTexts:
    privacy: Privacy
    accessibility: Accessibility

    def placeholders(self) -> list[str]:
        """The keys whose values still say they are placeholders (to warn at start-up)."""
        found = []
        for table, part in (("privacy", self.privacy), ("accessibility", self.accessibility)):
            for name, value in vars(part).items():
                values = value.values() if isinstance(value, dict) else [value]
                if any(isinstance(v, str) and any(m in v for m in PLACEHOLDER_MARKS) for v in values):
                    found.append(f"{table}.{name}")
        return found


def load_legal_texts(path: str | Path | None = None) -> LegalTexts:
    """The legal tables of the office file at `path` (default: the shipped KI file)."""
    text, source = read_office_file(path)
    return parse_legal_texts(text, source=source)


def parse_legal_texts(text: str, source: str = "<office file>") -> LegalTexts:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OfficeFileError(f"{source}: not valid TOML: {exc}") from exc
    reader = _Reader(text.splitlines(), source)
    privacy = reader.table(data, "privacy", PRIVACY_KEYS)
    accessibility = reader.table(data, "accessibility", ACCESSIBILITY_KEYS)
    status = reader.text(accessibility, "accessibility", "status") or "partial"
    if status not in STATUSES:
        raise reader.fail("accessibility", "status", f"must be one of {', '.join(STATUSES)}")
    statement_date = accessibility.get("statement_date")
    if statement_date is not None and type(statement_date) is not date:  # not a date-time
        raise reader.fail("accessibility", "statement_date", "must be a date such as 2026-12-01")
    return LegalTexts(
        privacy=Privacy(
            **{key: reader.text(privacy, "privacy", key) for key in PRIVACY_KEYS - {"recipients"}},
            recipients=reader.translations(privacy, "privacy", "recipients"),
        ),
        accessibility=Accessibility(
            status=status,
            statement_date=statement_date,
            known_gaps=reader.translations(accessibility, "accessibility", "known_gaps"),
            **{
                key: reader.text(accessibility, "accessibility", key)
                for key in ACCESSIBILITY_KEYS - {"status", "statement_date", "known_gaps"}
            },
        ),
    )


class _Reader:
    """Checks the two tables, pointing at the line of a bad key."""

    def __init__(self, lines: list[str], source: str) -> None:
        self.lines = lines
        self.source = source

    def fail(self, table: str, key: str, problem: str) -> OfficeFileError:
        line = self.line_of(table, key)
        where = f"{self.source}, line {line}" if line else self.source
        return OfficeFileError(f"{where}: '{table}.{key}' {problem}")

    def line_of(self, table: str, key: str) -> int | None:
        inside = False
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            if line.startswith("["):
                inside = line.strip("[] ") == table
            elif inside and line.split("=", 1)[0].strip() == key:
                return number
        return None

    def table(self, data: dict[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise OfficeFileError(f"{self.source}: '{name}' must be a table")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(name, unknown[0], f"is not a known setting (known: {', '.join(sorted(allowed))})")
        return value

    def text(self, data: dict[str, Any], table: str, key: str) -> str:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise self.fail(table, key, "must be a string")
        return value.strip()

    def translations(self, data: dict[str, Any], table: str, key: str) -> dict[str, str]:
        value = data.get(key, {})
        if isinstance(value, str):  # one text for every language
            return {"de": value.strip()} if value.strip() else {}
        if not isinstance(value, dict) or not all(
            isinstance(code, str) and isinstance(text, str) for code, text in value.items()
        ):
            raise self.fail(table, key, "must be a text or a table of texts per language")
        return {code: text.strip() for code, text in value.items() if text.strip()}
