"""Which appointment slots exist, and which of them can be booked at a given moment.

Pure: no Flask, no database, no clock. `now` is always passed in (aware). Slots are
laid on the office's local wall clock (08:30 stays 08:30 across a DST change) and
carried as aware datetimes, so converting them to UTC for storage is exact. Where
opening hours cross a DST change, a wall time the clock skips is no slot, and every
appointment lasts its real duration (its end is worked out in UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from functools import cached_property, lru_cache

import holidays as holidays_lib

from booking.office import Office, Service


@dataclass(frozen=True, order=True)
class Slot:
    """One bookable start of a service; `start` and `end` are aware, in the office zone."""

    start: datetime
    end: datetime

    # Computed once per slot: slots are cached, and pages and the API ask for these often.
    @cached_property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @cached_property
    def start_iso(self) -> str:
        return self.start.isoformat()

    @cached_property
    def end_iso(self) -> str:
        return self.end.isoformat()


@dataclass(frozen=True)
class Closure:
    """A closed stretch of time (aware datetimes), e.g. a staff meeting."""

    start: datetime
    end: datetime

    def overlaps(self, slot: Slot) -> bool:
        return self.start < slot.end and slot.start < self.end


class Unbookable(Enum):
    """Why a requested start is not an open slot."""

    PAST = "past"
    TOO_SOON = "too_soon"
    BEYOND_HORIZON = "beyond_horizon"
    CLOSED = "closed"
    OFF_GRID = "off_grid"


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays_lib.country_holidays(country, subdiv=subdivision, years=year))


def is_holiday(office: Office, day: date) -> bool:
    if not office.holiday_country:
        return False
    return day in _holidays(office.holiday_country, office.holiday_subdivision, day.year)


def is_open_day(office: Office, day: date) -> bool:
    """Open = the weekday has hours and the day is neither a holiday nor a closure day."""
    return day.weekday() in office.hours and day not in office.closures and not is_holiday(office, day)


@lru_cache(maxsize=8192)
def day_slots(office: Office, service: Service, day: date) -> tuple[Slot, ...]:
    """Every slot of `service` on `day` from the opening hours, ignoring the booking window.
    Cached: it depends only on its arguments, and every page and API call asks for it."""
    if not is_open_day(office, day):
        return ()
    tz = office.timezone
    duration = timedelta(minutes=service.duration_minutes)
    step = timedelta(minutes=service.step_minutes)
    slots = []
    for period in office.hours[day.weekday()]:
        wall = datetime.combine(day, period.start)  # naive: the office's wall clock
        close = datetime.combine(day, period.end)
        while wall < close:
            start = wall.replace(tzinfo=tz)
            end = (start.astimezone(UTC) + duration).astimezone(tz)  # real minutes, not wall minutes
            if exists(start) and end.replace(tzinfo=None) <= close:
                slots.append(Slot(start, end))
            wall += step
    return tuple(slots)


def exists(moment: datetime) -> bool:
    """Whether the wall time of `moment` is one its zone's clock shows (not skipped by a DST gap)."""
    return moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None) == moment.replace(
        tzinfo=None
    )


def local_today(office: Office, now: datetime) -> date:
    return now.astimezone(office.timezone).date()


def local_bounds(office: Office, first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """Local midnight of `first_day` to local midnight after `last_day` (exact across DST)."""
    low = datetime.combine(first_day, time(), tzinfo=office.timezone)
    high = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=office.timezone)
    return low, high


def window(office: Office, now: datetime) -> tuple[datetime, date]:
    """The earliest bookable start and the last bookable day at `now`."""
    earliest = now + timedelta(minutes=office.rules.min_notice_minutes)
    last_day = local_today(office, now) + timedelta(days=office.rules.horizon_days)
    return earliest, last_day


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def bookable_slots(
    office: Office,
    service: Service,
    first_day: date,
    last_day: date,
    now: datetime,
    closures: Iterable[Closure] = (),
    enforce_notice: bool = True,
) -> list[Slot]:
    """Slots of the days `first_day`..`last_day` (inclusive) inside the booking window at `now`
    (staff, `enforce_notice=False`, may book inside the minimum notice, never in the past)."""
    earliest, horizon = window(office, now)
    if not enforce_notice:
        earliest = now
    first_day = max(first_day, earliest.astimezone(office.timezone).date())
    last_day = min(last_day, horizon)
    closures = list(closures)
    earliest = earliest.astimezone(UTC)  # compared with start_utc: same zone, the fast comparison
    found = []
    for day in days(first_day, last_day):
        for slot in day_slots(office, service, day):
            if slot.start_utc >= earliest and not (closures and any(c.overlaps(slot) for c in closures)):
                found.append(slot)
    return found


def check_start(
    office: Office,
    service: Service,
    start: datetime,
    now: datetime,
    closures: Iterable[Closure] = (),
    enforce_notice: bool = True,
) -> Slot | Unbookable:
    """The slot that begins at `start`, or the reason it cannot be booked at `now`. A wall time
    the clock skips (02:30 on the day DST begins) begins none; instants are compared in UTC, so an
    hour the clock shows twice is told apart by its offset."""
    start = start.astimezone(office.timezone)
    if not exists(start):
        return Unbookable.OFF_GRID
    earliest, horizon = window(office, now)
    if start < now:
        return Unbookable.PAST
    if enforce_notice and start < earliest:
        return Unbookable.TOO_SOON
    if start.date() > horizon:
        return Unbookable.BEYOND_HORIZON
    if not is_open_day(office, start.date()):
        return Unbookable.CLOSED
    instant = start.astimezone(UTC)
    slot = next((s for s in day_slots(office, service, start.date()) if s.start_utc == instant), None)
    if slot is None:
        return Unbookable.OFF_GRID
    if any(c.overlaps(slot) for c in closures):
        return Unbookable.CLOSED
    return slot
