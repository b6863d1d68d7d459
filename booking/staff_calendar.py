"""What staff see: the day calendar, a booking's history and emails (the week: `week_grid`). Read-only
queries, one per page; every change goes through `booking.bookings`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking import clock, places, roster, rota
from booking.extensions import db
from booking.models import AuditEvent, Booking, Outbox, Staff
from booking.models import Closure as ClosureRow
from booking.office import Office, Service
from booking.rota import Counsellor
from booking.schedule import Closure, Slot, day_slots, local_bounds


def get_by_id(booking_id: int) -> Booking | None:
    return db.session.get(Booking, booking_id)


def get_closure(closure_id: int) -> ClosureRow | None:
    return db.session.get(ClosureRow, closure_id)


def closures_on(office: Office, first_day: date, last_day: date) -> list[ClosureRow]:
    """The closure rows that touch these local days, for listing and reopening."""
    low, high = local_bounds(office, first_day, last_day)
    return list(
        db.session.scalars(
            select(ClosureRow)
            .where(ClosureRow.start_at < high, ClosureRow.end_at > low)
            .order_by(ClosureRow.start_at)
        )
    )


def bookings_between(
    office: Office,
    first_day: date,
    last_day: date,
    *,
    active_only: bool = False,
    taking_place_at: datetime | None = None,
) -> list[Booking]:
    """Bookings starting on these local days, in time order, from one query: all of them, the
    confirmed ones (`active_only`), or those whose places are taken at `taking_place_at`
    (confirmed, or pending and held)."""
    low, high = local_bounds(office, first_day, last_day)
    query = select(Booking).where(Booking.start_at >= low, Booking.start_at < high)
    if active_only:
        query = query.where(Booking.status == "confirmed")
    if taking_place_at is not None:
        query = query.where(Booking.taking_place(taking_place_at))
    return list(db.session.scalars(query.order_by(Booking.start_at, Booking.service_id, Booking.id)))


@dataclass(frozen=True)
class SlotRow:
    """One slot of the staff day view: its bookings (cancelled ones too) and free places."""

    service: Service | None
    start: datetime
    end: datetime
    bookings: tuple[Booking, ...]
    free: int
    closed: bool
    on_grid: bool = True


@dataclass(frozen=True)
class DayView:
    day: date
    rows: tuple[SlotRow, ...]
    closures: tuple[ClosureRow, ...]
    attended: int
    no_show: int
    active: int
    # Counsellors of the office (for the filter), names of every counsellor a booking names, and
    # what keeps a booking's counsellor from taking it (see `places.assignment_problem`).
    counsellors: tuple[Counsellor, ...] = ()
    names: dict[int, str] = field(default_factory=dict)
    problems: dict[int, str] = field(default_factory=dict)
    counsellor: int | None = None  # the one counsellor shown, None for everyone


def staff_names(ids: set[int]) -> dict[int, str]:
    """Names of these accounts, from one query (also disabled ones: a booking keeps its history)."""
    if not ids:
        return {}
    return {
        staff_id: name
        for staff_id, name in db.session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids)))
    }


def day_view(office: Office, day: date, counsellor: int | None = None) -> DayView:
    """Every slot of `day` for every service in time order with its bookings and free places, from
    a fixed number of queries however full the day is. Bookings off the slot grid (the hours changed
    after they were made) get their own rows, so nothing booked is ever hidden. With `counsellor`:
    only that counsellor's appointments, and a slot is free when that counsellor is."""
    tz = office.timezone
    low, high = local_bounds(office, day, day)
    found = bookings_between(office, day, day)
    closures = closures_on(office, day, day)
    periods = [Closure(c.start_at, c.end_at) for c in closures]
    counsellors = roster.roster()
    now = clock.now()
    taken, _closures = places.occupancy(low, high, None, now)
    shown = [c for c in counsellors if c.id == counsellor] if counsellor is not None else counsellors
    problems = {
        b.id: problem
        for b in found
        if (problem := places.assignment_problem(office, b, counsellors, taken.away)) is not None
    }
    if counsellor is not None:
        found = [b for b in found if b.counsellor_id == counsellor]
    by_slot: dict[tuple[str, datetime], list[Booking]] = {}
    for booking in found:
        by_slot.setdefault((booking.service_id, booking.start_at), []).append(booking)
    rows: list[SlotRow] = []
    for service in office.services:
        given = rota.gives(counsellors, service)
        for slot in day_slots(office, service, day):
            here = by_slot.pop((service.id, slot.start.astimezone(UTC)), [])
            if given:
                free = rota.free_places(office, service, slot.start, slot.end, shown, taken)
            else:
                free = (
                    0
                    if counsellor is not None
                    else max(service.capacity - sum(1 for b in here if b.active or b.holding(now)), 0)
                )
            closed = any(c.overlaps(slot) for c in periods)
            rows.append(
                SlotRow(
                    service=service,
                    start=slot.start,
                    end=slot.end,
                    bookings=tuple(here),
                    free=0 if closed else free,  # a closed time has no place to offer
                    closed=closed,
                )
            )
    for (service_id, start), here in by_slot.items():
        rows.append(
            SlotRow(
                service=office.service(service_id),
                start=start.astimezone(tz),
                end=here[0].end_at.astimezone(tz),
                bookings=tuple(here),
                free=0,
                closed=True,
                on_grid=False,
            )
        )
    rows.sort(key=lambda row: (row.start, row.service.id if row.service else ""))
    active = [b for b in found if b.active]
    return DayView(
        day=day,
        rows=tuple(rows),
        closures=tuple(closures),
        attended=sum(1 for b in active if b.attended is True),
        no_show=sum(1 for b in active if b.attended is False),
        active=len(active),
        counsellors=counsellors,
        names=staff_names(
            {b.counsellor_id for b in found if b.counsellor_id is not None} | {c.id for c in counsellors}
        ),
        problems=problems,
        counsellor=counsellor,
    )


def now_position(rows: tuple[SlotRow, ...], now: datetime) -> int:
    """Where the day's "now" line goes: before the first row that starts after `now`
    (after the last row when every one has begun)."""
    return next((index for index, row in enumerate(rows) if row.start > now), len(rows))


def audit_trail(booking: Booking) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.booking_id == booking.id)
            .options(selectinload(AuditEvent.staff))
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def staff_free_slots(office: Office, booking: Booking, day: date, now: datetime) -> list[tuple[Slot, int]]:
    """Times of `day` the booking can move to: open, not begun, inside the horizon, with a free
    place (a counsellor who speaks its language); staff may go inside the minimum notice."""
    service = office.service(booking.service_id)
    if service is None:
        return []
    found = places.availability(
        office,
        service,
        day,
        day,
        now,
        language=booking.counselling_language,
        apart_from=booking.id,
        enforce_notice=False,
    )
    return [(slot, free) for slot, free in found if free and slot.start != booking.start_at]


def emails_of(booking: Booking) -> list[Outbox]:
    """Every email this booking caused, with its delivery state, oldest first."""
    return list(db.session.scalars(select(Outbox).where(Outbox.booking_id == booking.id).order_by(Outbox.id)))
