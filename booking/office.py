"""Read and validate an office file (TOML) into frozen dataclasses.

Pure: no Flask, no database, no clock. A bad file raises `OfficeFileError`
naming the key and, where it can be found, the line, so that start-up stops
with a message an administrator can act on.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

DEFAULT_OFFICE_FILE = Path(__file__).parent / "offices" / "ki-kreis-heinsberg.toml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PERIOD = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
OFFICE_KEYS = {
    "name",
    "timezone",
    "location",
    "postal_address",
    "phone",
    "email",
    "holidays",
    "closures",
    "intro",
}
BOOKING_KEYS = {
    "horizon_days",
    "min_notice_minutes",
    "reminder_hours_before",
    "max_active_per_email",
    "retention_days",
    "verify_email_minutes",
    "proof_of_work",
    "no_show_limit",
    "no_show_block_days",
    "waitlist_hold_minutes",
    "release_delay_minutes",
}
SERVICE_KEYS = {"id", "name", "duration_minutes", "capacity", "step_minutes"}
# Tables of the legal pages (privacy notice, accessibility statement), read by booking/legal_texts.py.
LEGAL_TABLES = {"privacy", "accessibility"}


class OfficeFileError(ValueError):
    """The office file cannot be used; the message names the key and line."""


@dataclass(frozen=True, order=True)
class Period:
    """One opening period of a weekday, in local wall-clock time."""

    start: time
    end: time


@dataclass(frozen=True, eq=False)  # identity: hashable, so schedules can be cached per service
class Service:
    """Something a resident can book."""

    id: str
    names: dict[str, str]
    duration_minutes: int
    capacity: int
    step_minutes: int

    def name(self, language: str) -> str:
        """The name in `language`, else German, else the first one given."""
        return self.names.get(language) or self.names.get("de") or next(iter(self.names.values()))


@dataclass(frozen=True)
class BookingRules:
    horizon_days: int = 56
    min_notice_minutes: int = 120
    reminder_hours_before: int = 24
    max_active_per_email: int = 3
    retention_days: int = 90
    # Fair access (each off by default): how long an unconfirmed online booking holds its place
    # (0: bookings are confirmed at once), an ALTCHA challenge on the public form and API, how
    # many no-shows in a year block an address for how many days (0: never), how long a freed
    # place is kept for the person on the waitlist it was offered to, and the longest random
    # delay before a cancelled place is bookable again (0: at once).
    verify_email_minutes: int = 0
    proof_of_work: bool = False
    no_show_limit: int = 0
    no_show_block_days: int = 90
    waitlist_hold_minutes: int = 30
    release_delay_minutes: int = 0


@dataclass(frozen=True, eq=False)  # identity: hashable, so schedules can be cached per office
class Office:
    name: str
    timezone: ZoneInfo
    location: str
    postal_address: str
    phone: str
    email: str
    holiday_country: str | None
    holiday_subdivision: str | None
    closures: frozenset[date]
    hours: dict[int, tuple[Period, ...]]
    rules: BookingRules
    services: tuple[Service, ...]
    intro: dict[str, str] = field(default_factory=dict)

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def intro_text(self, language: str) -> str:
        return in_language(self.intro, language)


def read_office_file(path: str | Path | None = None) -> tuple[str, str]:
    """The text of the office file at `path` (default: the shipped KI Kreis Heinsberg file) and
    the name its messages give it."""
    path = Path(path) if path else DEFAULT_OFFICE_FILE
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise OfficeFileError(f"{path}: cannot read the office file: {exc.strerror}") from exc


def in_language(texts: dict[str, str], language: str) -> str:
    """A text given per language, in `language`, else in German, else empty."""
    return texts.get(language) or texts.get("de", "")


def load_office(path: str | Path | None = None) -> Office:
    """Read the office file at `path` (default: the shipped KI Kreis Heinsberg file)."""
    text, source = read_office_file(path)
    return parse_office(text, source=source)


def parse_office(text: str, source: str = "<office file>") -> Office:
    """Parse and validate the TOML `text` of an office file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OfficeFileError(f"{source}: not valid TOML: {exc}") from exc
    return _Parser(text, source).office(data)


class _Parser:
    """Validates the decoded TOML, remembering the text to point at lines."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def fail(self, key: str, problem: str, occurrence: int = 0) -> OfficeFileError:
        """`occurrence` picks the n-th table of an array of tables such as [[services]]."""
        line = _line_of(self.lines, key, occurrence)
        where = f"{self.source}, line {line}" if line else self.source
        return OfficeFileError(f"{where}: '{key}' {problem}")

    def table(self, data: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def text(self, data: dict[str, Any], key: str, required: bool = True) -> str:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def integer(
        self, data: dict[str, Any], key: str, default: int, low: int, high: int, occurrence: int = 0
    ) -> int:
        value = data.get(key.rsplit(".", 1)[-1], default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"must be a whole number from {low} to {high}", occurrence)
        return value

    def boolean(self, data: dict[str, Any], key: str, default: bool) -> bool:
        value = data.get(key.rsplit(".", 1)[-1], default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def known(self, data: dict[str, Any], section: str, allowed: set[str], occurrence: int = 0) -> None:
        """Refuse a key the format does not know: a misspelt one would silently mean a default."""
        unknown = sorted(set(data) - allowed)
        if unknown:
            key = f"{section}.{unknown[0]}" if section else unknown[0]
            raise self.fail(key, f"is not a known setting (known: {', '.join(sorted(allowed))})", occurrence)

    def office(self, data: dict[str, Any]) -> Office:
        self.known(data, "", {"office", "hours", "booking", "services", *LEGAL_TABLES})
        office = self.table(data, "office")
        self.known(office, "office", OFFICE_KEYS)
        tz_name = self.text(office, "office.timezone")
        try:
            timezone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise self.fail("office.timezone", f"names no known time zone: {tz_name!r}") from exc
        country, subdivision = self.holidays(office)
        hours = self.hours(self.table(data, "hours"))
        booking = self.table(data, "booking", required=False)
        self.known(booking, "booking", BOOKING_KEYS)
        rules = BookingRules(
            horizon_days=self.integer(booking, "booking.horizon_days", 56, 1, 730),
            min_notice_minutes=self.integer(booking, "booking.min_notice_minutes", 120, 0, 60 * 24 * 30),
            reminder_hours_before=self.integer(booking, "booking.reminder_hours_before", 24, 0, 24 * 14),
            max_active_per_email=self.integer(booking, "booking.max_active_per_email", 3, 1, 100),
            retention_days=self.integer(booking, "booking.retention_days", 90, 1, 3650),
            verify_email_minutes=self.integer(booking, "booking.verify_email_minutes", 0, 0, 60 * 24),
            proof_of_work=self.boolean(booking, "booking.proof_of_work", False),
            no_show_limit=self.integer(booking, "booking.no_show_limit", 0, 0, 100),
            no_show_block_days=self.integer(booking, "booking.no_show_block_days", 90, 1, 3650),
            waitlist_hold_minutes=self.integer(booking, "booking.waitlist_hold_minutes", 30, 5, 60 * 24),
            release_delay_minutes=self.integer(booking, "booking.release_delay_minutes", 0, 0, 60 * 24),
        )
        return Office(
            name=self.text(office, "office.name"),
            timezone=timezone,
            location=self.text(office, "office.location"),
            postal_address=self.text(office, "office.postal_address", required=False),
            phone=self.text(office, "office.phone", required=False),
            email=self.email(office),
            holiday_country=country,
            holiday_subdivision=subdivision,
            closures=self.closures(office),
            hours=hours,
            rules=rules,
            services=self.services(data, hours),
            intro=self.translations(office, "office.intro", required=False),
        )

    def email(self, office: dict[str, Any]) -> str:
        value = self.text(office, "office.email", required=False) or "termine@localhost"
        if "@" not in value or any(c in value for c in "\r\n"):
            raise self.fail("office.email", "must be an email address")
        return value

    def holidays(self, office: dict[str, Any]) -> tuple[str | None, str | None]:
        spec = office.get("holidays")
        if spec is None:
            return None, None
        if not isinstance(spec, dict):
            raise self.fail("office.holidays", 'must be a table like { country = "DE", subdivision = "NW" }')
        self.known(spec, "office.holidays", {"country", "subdivision"})
        country = self.text(spec, "office.holidays.country")
        subdivision = self.text(spec, "office.holidays.subdivision", required=False) or None
        try:
            holidays_lib.country_holidays(country, years=2026)
        except NotImplementedError as exc:
            raise self.fail("office.holidays.country", f"names an unknown country: {country!r}") from exc
        try:
            holidays_lib.country_holidays(country, subdiv=subdivision, years=2026)
        except Exception as exc:  # the library raises several types for a bad subdivision
            raise self.fail(
                "office.holidays.subdivision", f"names no subdivision of {country!r}: {subdivision!r}"
            ) from exc
        return country, subdivision

    def closures(self, office: dict[str, Any]) -> frozenset[date]:
        values = office.get("closures", [])
        if not isinstance(values, list):
            raise self.fail("office.closures", 'must be a list of dates like "2026-12-24"')
        days = set()
        for value in values:
            if isinstance(value, date):
                days.add(value)
                continue
            try:
                days.add(date.fromisoformat(str(value)))
            except ValueError as exc:
                raise self.fail(
                    "office.closures", f'has {value!r}, which is no date like "2026-12-24"'
                ) from exc
        return frozenset(days)

    def hours(self, table: dict[str, Any]) -> dict[int, tuple[Period, ...]]:
        unknown = set(table) - set(WEEKDAYS)
        if unknown:
            key = sorted(unknown)[0]
            raise self.fail(f"hours.{key}", "is no weekday (use mon, tue, wed, thu, fri, sat, sun)")
        hours: dict[int, tuple[Period, ...]] = {}
        for index, day in enumerate(WEEKDAYS):
            values = table.get(day, [])
            key = f"hours.{day}"
            if not isinstance(values, list):
                raise self.fail(key, 'must be a list of periods like "08:30-12:00"')
            periods = sorted(self.period(value, key) for value in values)
            for before, after in zip(periods, periods[1:], strict=False):
                if after.start < before.end:
                    raise self.fail(key, "has overlapping periods")
            if periods:
                hours[index] = tuple(periods)
        if not hours:
            raise self.fail("hours", "must give opening periods for at least one weekday")
        return hours

    def period(self, value: Any, key: str) -> Period:
        match = PERIOD.match(value) if isinstance(value, str) else None
        try:
            if not match:
                raise ValueError
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            start, end = time(h1, m1), time(h2, m2)
        except ValueError as exc:
            raise self.fail(key, f'has {value!r}, which is no period like "08:30-12:00"') from exc
        if end <= start:
            raise self.fail(key, f"has {value!r}, which ends before it starts")
        return Period(start, end)

    def translations(
        self, data: dict[str, Any], key: str, required: bool = True, occurrence: int = 0
    ) -> dict[str, str]:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None and not required:
            return {}
        if isinstance(value, str) and value.strip():
            return {"de": value.strip()}
        if not isinstance(value, dict) or not value:
            raise self.fail(
                key, 'must be a text or a table of texts per language, like { de = "…" }', occurrence
            )
        for language, text in value.items():
            if not isinstance(text, str) or not text.strip():
                raise self.fail(key, f"has an empty text for {language!r}", occurrence)
        return {language: text.strip() for language, text in value.items()}

    def services(self, data: dict[str, Any], hours: dict[int, tuple[Period, ...]]) -> tuple[Service, ...]:
        values = data.get("services")
        if not isinstance(values, list) or not values:
            raise self.fail("services", "must list at least one service as [[services]]")
        longest = max(
            (p.end.hour * 60 + p.end.minute) - (p.start.hour * 60 + p.start.minute)
            for periods in hours.values()
            for p in periods
        )
        services: list[Service] = []
        for n, item in enumerate(values):
            if not isinstance(item, dict):
                raise self.fail("services", "must be tables written as [[services]]")
            self.known(item, "services", SERVICE_KEYS, n)
            service_id = item.get("id")
            if not isinstance(service_id, str) or not SERVICE_ID.match(service_id):
                raise self.fail(
                    "services.id", f"has {service_id!r}; use lowercase letters, digits, - and _", n
                )
            if any(s.id == service_id for s in services):
                raise self.fail("services.id", f"has {service_id!r} twice", n)
            duration = self.integer(item, "services.duration_minutes", 0, 5, 8 * 60, n)
            if duration > longest:
                raise self.fail(
                    "services.duration_minutes", f"of {service_id!r} is longer than every opening period", n
                )
            services.append(
                Service(
                    id=service_id,
                    names=self.translations(item, "services.name", occurrence=n),
                    duration_minutes=duration,
                    capacity=self.integer(item, "services.capacity", 1, 1, 1000, n),
                    step_minutes=self.integer(item, "services.step_minutes", duration, 5, 8 * 60, n),
                )
            )
        return tuple(services)


def _line_of(lines: list[str], key: str, occurrence: int = 0) -> int | None:
    """Best-effort line number of a dotted `key` (the key's own line, else its table's, else the
    header of the table it is missing from); `occurrence` counts the tables of an array such as
    [[services]] from 0."""
    parts = key.split(".")
    table, last = parts[:-1], parts[-1]
    current: list[str] = []
    seen = 0  # how many headers of `table` came so far
    table_line = None
    own_header = None  # the header of the `occurrence`-th table the key belongs in
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?$", line)
        if header:
            current = [p.strip() for p in header.group(1).split(".")]
            if current == parts:
                table_line = table_line or number
            if current == table:
                seen += 1
                if seen - 1 == occurrence:
                    own_header = number
            continue
        assignment = re.match(r"^([A-Za-z0-9_-]+)\s*=", line)
        here = not table or seen - 1 == occurrence
        if assignment and current == table and assignment.group(1) == last and here:
            return number
        if assignment and current + [assignment.group(1)] == table and table_line is None:
            table_line = number  # inline table such as holidays = { ... }
    return table_line or own_header
