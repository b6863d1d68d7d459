"""The figures the office reports to the county: the bookings, how each ended (OUTCOMES) and the
languages, per ISO week or calendar month of the office's wall clock. A booking counts on the day
of its appointment (a moved one where it went), once; every booking is exactly one of attended,
no-show, not yet recorded or cancelled, so those four add up to the bookings. Pending bookings
never confirmed and waitlist offers given back are not bookings.

`tally` and `periods` are pure (rows and days in, figures out); `report` is their one query."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select

from booking.extensions import db
from booking.models import AuditEvent, Booking
from booking.office import Office
from booking.schedule import local_bounds

Grouping = Literal["week", "month"]
GROUPINGS: tuple[Grouping, ...] = ("week", "month")
MAX_DAYS = 732  # two years and a leap day: a year compared with the one before
# How a booking ended, as `Figures` counts it: one order for the chart, the tables and the CSV.
OUTCOMES = ("attended", "no_show", "open", "cancelled")


@dataclass(frozen=True)
class Row:
    """What counting needs of a booking (no personal data)."""

    start_at: datetime  # aware
    status: str  # "confirmed" or "cancelled"
    attended: bool | None
    language: str
    counselling_language: str | None


@dataclass(frozen=True)
class Period:
    """An ISO week (`key` = (ISO year, week)) or a month (`key` = (year, month)), cut to the
    days asked for: the first and last week or month may be partial."""

    by: Grouping
    key: tuple[int, int]
    first: date
    last: date


@dataclass
class Figures:
    bookings: int = 0
    attended: int = 0
    no_show: int = 0
    open: int = 0  # confirmed, attendance not (yet) recorded
    cancelled: int = 0
    page_languages: Counter[str] = field(default_factory=Counter)
    # None: the resident did not choose a language of counselling
    counselling_languages: Counter[str | None] = field(default_factory=Counter)

    def add(self, row: Row) -> None:
        self.bookings += 1
        if row.status == "cancelled":
            self.cancelled += 1
        elif row.attended is True:
            self.attended += 1
        elif row.attended is False:
            self.no_show += 1
        else:
            self.open += 1
        self.page_languages[row.language] += 1
        self.counselling_languages[row.counselling_language] += 1


@dataclass(frozen=True)
class Report:
    by: Grouping
    first: date
    last: date
    periods: tuple[tuple[Period, Figures], ...]
    total: Figures
    # The languages that occur, most frequent first (ties by code), for the columns.
    page_languages: tuple[str, ...]
    counselling_languages: tuple[str | None, ...]


def period_key(day: date, by: Grouping) -> tuple[int, int]:
    if by == "week":
        iso = day.isocalendar()
        return iso.year, iso.week
    return day.year, day.month


def _period_end(day: date, by: Grouping) -> date:
    if by == "week":
        return day + timedelta(days=6 - day.weekday())
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def periods(first: date, last: date, by: Grouping) -> list[Period]:
    """The weeks or months from `first` to `last` (inclusive), in order, each cut to them."""
    found: list[Period] = []
    day = first
    while day <= last:
        end = min(_period_end(day, by), last)
        found.append(Period(by, period_key(day, by), day, end))
        day = end + timedelta(days=1)
    return found


def _ranked(counter: Counter[str] | Counter[str | None]) -> tuple[str | None, ...]:
    return tuple(sorted(counter, key=lambda code: (-counter[code], code is None, code or "")))


def tally(rows: Iterable[Row], timezone: ZoneInfo, first: date, last: date, by: Grouping) -> Report:
    """Count `rows` into the periods of `first`..`last` by the local day of their start; rows
    outside those days are left out."""
    spans = periods(first, last, by)
    figures = {period.key: Figures() for period in spans}
    total = Figures()
    for row in rows:
        day = row.start_at.astimezone(timezone).date()
        if first <= day <= last:
            figures[period_key(day, by)].add(row)
            total.add(row)
    return Report(
        by=by,
        first=first,
        last=last,
        periods=tuple((period, figures[period.key]) for period in spans),
        total=total,
        page_languages=tuple(code for code in _ranked(total.page_languages) if code is not None),
        counselling_languages=_ranked(total.counselling_languages),
    )


def report(office: Office, first: date, last: date, by: Grouping) -> Report:
    """The figures of these local days from one query over the bookings' counting columns."""
    low, high = local_bounds(office, first, last)
    given_back = exists().where(AuditEvent.booking_id == Booking.id, AuditEvent.action == "withdrawn")
    query = select(
        Booking.start_at, Booking.status, Booking.attended, Booking.language, Booking.counselling_language
    ).where(
        Booking.start_at >= low,
        Booking.start_at < high,
        or_(Booking.status == "confirmed", and_(Booking.status == "cancelled", ~given_back)),
    )
    rows = (Row(*values) for values in db.session.execute(query))
    return tally(rows, office.timezone, first, last, by)
