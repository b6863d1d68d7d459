"""The staff week as a grid a receptionist reads at a glance and prints on one page: days as
columns, times as rows, in each cell the residents booked and the places still free, one line
per counsellor where counsellors give the service. Read-only, from a fixed number of queries
(the bookings of the week and the counsellors' taken time) however full the week is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from booking import places, roster, rota
from booking.models import Booking
from booking.office import Office, Service
from booking.rota import Counsellor, Occupancy
from booking.schedule import Slot, day_slots, local_bounds
from booking.staff_calendar import bookings_between


@dataclass(frozen=True)
class Resident:
    """A booked resident in a cell: the booking to link to and the name to show."""

    booking_id: int
    name: str
    pending: bool = False  # waiting for the resident's email link; the place is held


@dataclass(frozen=True)
class Line:
    """One line of a cell: a counsellor (None for a service without counsellors, or a booking
    no counsellor of the roster has), the residents booked and the places left free."""

    counsellor: str | None
    residents: tuple[Resident, ...]
    free: int


@dataclass(frozen=True)
class GridCell:
    service: Service
    start: datetime
    end: datetime
    closed: bool
    lines: tuple[Line, ...]
    past: bool = False  # begun before now: nobody can be booked there any more

    @property
    def free(self) -> int:
        return 0 if self.closed or self.past else sum(line.free for line in self.lines)

    @property
    def residents(self) -> tuple[Resident, ...]:
        return tuple(r for line in self.lines for r in line.residents)


@dataclass(frozen=True)
class WeekGrid:
    monday: date
    days: tuple[date, ...]  # the columns: Monday to Friday, and a weekend day the office opens
    times: tuple[time, ...]  # the rows: every start time of the week in office time
    cells: dict[tuple[date, time], tuple[GridCell, ...]]
    today: date
    services: int  # how many services the week shows (their names are shown when more than one)

    def at(self, day: date, start: time) -> tuple[GridCell, ...]:
        return self.cells.get((day, start), ())

    def is_open(self, day: date) -> bool:
        return any(key[0] == day for key in self.cells)


def _resident(booking: Booking, now: datetime) -> Resident:
    return Resident(booking.id, booking.name, pending=booking.holding(now))


def _lines(
    office: Office,
    service: Service,
    slot: Slot,
    here: list[Booking],
    counsellors: tuple[Counsellor, ...],
    taken: Occupancy,
    now: datetime,
) -> tuple[Line, ...]:
    if not rota.gives(counsellors, service):
        residents = tuple(_resident(b, now) for b in here)
        return (Line(None, residents, max(service.capacity - len(here), 0)),)
    lines = []
    placed: set[int] = set()
    for counsellor in rota.eligible(office, service, slot.start, slot.end, counsellors):
        theirs = [b for b in here if b.counsellor_id == counsellor.id]
        placed.update(b.id for b in theirs)
        free = rota.free_places(office, service, slot.start, slot.end, (counsellor,), taken)
        lines.append(Line(counsellor.name, tuple(_resident(b, now) for b in theirs), free))
    rest = tuple(_resident(b, now) for b in here if b.id not in placed)
    if rest:  # no counsellor yet, or one no longer on duty then: never hidden
        lines.append(Line(None, rest, 0))
    return tuple(lines)


def week_grid(office: Office, monday: date, now: datetime, today: date) -> WeekGrid:
    """The grid of the week starting `monday`; `now` decides which pending bookings still hold a
    place and which times are past (no free places: as in the day view, nobody is booked into a
    time gone), `today` which column is marked."""
    low, high = local_bounds(office, monday, monday + timedelta(days=6))
    found = bookings_between(office, monday, monday + timedelta(days=6), taking_place_at=now)
    counsellors = roster.roster()
    taken, periods = places.occupancy(low, high, None, now)
    by_slot: dict[tuple[str, datetime], list[Booking]] = {}
    for booking in found:
        by_slot.setdefault((booking.service_id, booking.start_at), []).append(booking)
    cells: dict[tuple[date, time], list[GridCell]] = {}
    shown_services: set[str] = set()
    for offset in range(7):
        day = monday + timedelta(days=offset)
        for service in office.services:
            for slot in day_slots(office, service, day):
                here = by_slot.get((service.id, slot.start.astimezone(UTC)), [])
                local = slot.start.astimezone(office.timezone)
                cells.setdefault((day, local.time().replace(tzinfo=None)), []).append(
                    GridCell(
                        service=service,
                        start=slot.start,
                        end=slot.end,
                        closed=any(c.overlaps(slot) for c in periods),
                        lines=_lines(office, service, slot, here, counsellors, taken, now),
                        past=slot.start < now,
                    )
                )
                shown_services.add(service.id)
    days = tuple(
        d
        for d in (monday + timedelta(days=n) for n in range(7))
        if d.weekday() < 5 or any(key[0] == d for key in cells)
    )
    return WeekGrid(
        monday=monday,
        days=days,
        times=tuple(sorted({key[1] for key in cells})),
        cells={key: tuple(sorted(value, key=lambda c: c.service.id)) for key, value in cells.items()},
        today=today,
        services=len(shown_services),
    )
