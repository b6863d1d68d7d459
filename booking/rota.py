"""Who can take an appointment: counsellors with their services, languages and weekly hours, and
the cells of time an appointment takes from its counsellor.

Pure: no Flask, no database, no clock. The database enforces that a counsellor never holds two
overlapping appointments by a unique key on (counsellor, cell): an appointment claims every
`CELL_MINUTES` cell it covers, counted in minutes since the Unix epoch (UTC, so a DST change
cannot make two cells one). Appointments whose times fall on 5-minute marks, as every real
office's do, share a cell exactly when they overlap; one with other times covers the cells it
touches, so it may keep a touching neighbour out, never let an overlapping one in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from enum import Enum

from booking.office import Office, Period, Service

CELL_MINUTES = 5
_CELL_SECONDS = CELL_MINUTES * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PERIOD = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-–]\s*(\d{1,2})[:.](\d{2})\s*$")


@dataclass(frozen=True)
class Counsellor:
    """An active counsellor account as the schedule sees it. `services` None gives every service;
    `hours` None works the office's opening hours, else one tuple of periods per weekday (0 = Monday)."""

    id: int
    name: str
    languages: tuple[str, ...] = ("de",)
    services: frozenset[str] | None = None
    hours: tuple[tuple[Period, ...], ...] | None = None

    def gives(self, service_id: str) -> bool:
        return self.services is None or service_id in self.services

    def speaks(self, language: str | None) -> bool:
        """Any counsellor serves a booking without a language wish."""
        return language is None or language in self.languages

    def periods(self, office: Office, weekday: int) -> tuple[Period, ...]:
        if self.hours is None:
            return office.hours.get(weekday, ())
        return self.hours[weekday]


@dataclass(frozen=True)
class Occupancy:
    """What the database holds for a stretch of days: the cells each counsellor's appointments
    take, and when each counsellor is away (aware start, end)."""

    busy: Mapping[int, frozenset[int] | set[int]] = field(default_factory=dict)
    away: Mapping[int, Sequence[tuple[datetime, datetime]]] = field(default_factory=dict)


def cells(start: datetime, end: datetime) -> range:
    """The cells (epoch minutes, multiples of CELL_MINUTES) that [start, end) covers or touches."""
    first = int((start - _EPOCH).total_seconds()) // _CELL_SECONDS
    last = -(-int((end - _EPOCH).total_seconds()) // _CELL_SECONDS)  # ceiling
    return range(first * CELL_MINUTES, last * CELL_MINUTES, CELL_MINUTES)


def _wall(office: Office, start: datetime, end: datetime) -> tuple[int, time, time] | None:
    """(weekday, start, end) on the office's wall clock, None unless within one day."""
    local_start, local_end = start.astimezone(office.timezone), end.astimezone(office.timezone)
    if local_end.date() != local_start.date() or local_end <= local_start:
        return None
    return local_start.weekday(), local_start.time(), local_end.time()


def _holds(periods: tuple[Period, ...], begin: time, finish: time) -> bool:
    return any(p.start <= begin and finish <= p.end for p in periods)


def on_duty(office: Office, counsellor: Counsellor, start: datetime, end: datetime) -> bool:
    """Whether one of the counsellor's periods of that weekday holds the whole appointment
    (office wall-clock time, so 08:30 stays 08:30 across DST)."""
    wall = _wall(office, start, end)
    return wall is not None and _holds(counsellor.periods(office, wall[0]), wall[1], wall[2])


def is_free(
    counsellor: Counsellor, start: datetime, end: datetime, occupancy: Occupancy, span: range | None = None
) -> bool:
    """Not away at any moment of [start, end) and in no appointment that shares a cell with it
    (`span`: the cells of [start, end), when the caller has them already)."""
    away = occupancy.away.get(counsellor.id, ())
    if any(away_from < end and start < away_to for away_from, away_to in away):
        return False
    busy = occupancy.busy.get(counsellor.id)
    return not busy or busy.isdisjoint(cells(start, end) if span is None else span)


def eligible(
    office: Office,
    service: Service,
    start: datetime,
    end: datetime,
    roster: Iterable[Counsellor],
    language: str | None = None,
) -> list[Counsellor]:
    """Counsellors who give the service, speak the language and are on duty for the whole time;
    whether they are free is the database's to say (or `is_free` on an `Occupancy`)."""
    wall = _wall(office, start, end)
    if wall is None:
        return []
    weekday, begin, finish = wall
    return [
        c
        for c in roster
        if c.gives(service.id) and c.speaks(language) and _holds(c.periods(office, weekday), begin, finish)
    ]


def free_places(
    office: Office,
    service: Service,
    start: datetime,
    end: datetime,
    roster: Iterable[Counsellor],
    occupancy: Occupancy,
    language: str | None = None,
) -> int:
    """How many counsellors could take this appointment: the places of a counsellor-given service.
    Called for every slot of the weeks shown, so the wall clock and the cells are worked out once."""
    span = cells(start, end)
    able = eligible(office, service, start, end, roster, language)
    return sum(1 for c in able if is_free(c, start, end, occupancy, span))


def gives(roster: Iterable[Counsellor], service: Service) -> bool:
    """Whether counsellors give this service (else it keeps its anonymous `capacity` places)."""
    return any(c.gives(service.id) for c in roster)


def languages_of(roster: Iterable[Counsellor], service: Service) -> tuple[str, ...]:
    """The languages the service is offered in: German first, then the others by code; a service
    without counsellors is offered in German."""
    spoken = {language for c in roster if c.gives(service.id) for language in c.languages}
    if not spoken:
        return ("de",)
    return tuple(sorted(spoken, key=lambda code: (code != "de", code)))


class HoursProblem(Enum):
    """Why weekly hours cannot be used."""

    NOT_A_PERIOD = "not_a_period"  # not like 08:30-12:00, or ends before it starts
    OUTSIDE = "outside"  # not inside one of the office's opening periods of that weekday
    OVERLAP = "overlap"  # two periods of one weekday overlap


def parse_periods(text: str) -> tuple[list[Period], list[str]]:
    """Periods from "08:30-12:00, 14:00-17:00" (commas, semicolons or new lines between them):
    (the periods in order, the parts that are no period)."""
    periods: list[Period] = []
    bad: list[str] = []
    for part in re.split(r"[,;\n]+", text):
        if not part.strip():
            continue
        match = _PERIOD.match(part)
        try:
            if not match:
                raise ValueError(part)
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            period = Period(time(h1, m1), time(h2, m2))
            if period.end <= period.start:
                raise ValueError(part)
        except ValueError:
            bad.append(part.strip())
            continue
        periods.append(period)
    return sorted(periods), bad


def check_hours(office: Office, weekday: int, periods: Sequence[Period]) -> HoursProblem | None:
    """Whether these periods can be a counsellor's hours on `weekday`: each inside one of the
    office's opening periods of that day, none overlapping another."""
    ordered = sorted(periods)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end:
            return HoursProblem.OVERLAP
    opening = office.hours.get(weekday, ())
    for period in ordered:
        if not any(o.start <= period.start and period.end <= o.end for o in opening):
            return HoursProblem.OUTSIDE
    return None


def format_periods(periods: Iterable[Period]) -> str:
    """ "08:30-12:00, 14:00-17:00": the form `parse_periods` reads."""
    return ", ".join(f"{p.start:%H:%M}-{p.end:%H:%M}" for p in periods)
