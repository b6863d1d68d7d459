"""What staff see: the day and week calendars, a booking's history and emails. Read-only
queries, one per page; every change goes through `booking.bookings`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import AuditEvent, Booking, Outbox
from booking.models import Closure as ClosureRow
from booking.office import Office, Service
from booking.schedule import Closure, day_slots, local_bounds, window


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
    office: Office, first_day: date, last_day: date, *, active_only: bool = False
) -> list[Booking]:
    """Bookings starting on these local days, in time order, from one query."""
    low, high = local_bounds(office, first_day, last_day)
    query = select(Booking).where(Booking.start_at >= low, Booking.start_at < high)
    if active_only:
        query = query.where(Booking.status == "confirmed")
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


def day_view(office: Office, day: date) -> DayView:
    """Every slot of `day` for every service in time order with its bookings, from one
    query for bookings and one for closures. Bookings off the slot grid (the hours changed
    after they were made) get their own rows, so nothing booked is ever hidden."""
    tz = office.timezone
    found = bookings_between(office, day, day)
    closures = closures_on(office, day, day)
    periods = [Closure(c.start_at, c.end_at) for c in closures]
    by_slot: dict[tuple[str, datetime], list[Booking]] = {}
    for booking in found:
        by_slot.setdefault((booking.service_id, booking.start_at), []).append(booking)
    rows: list[SlotRow] = []
    for service in office.services:
        for slot in day_slots(office, service, day):
            here = by_slot.pop((service.id, slot.start.astimezone(UTC)), [])
            taken = sum(1 for b in here if b.active)
            rows.append(
                SlotRow(
                    service=service,
                    start=slot.start,
                    end=slot.end,
                    bookings=tuple(here),
                    free=max(service.capacity - taken, 0),
                    closed=any(c.overlaps(slot) for c in periods),
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
    )


@dataclass(frozen=True)
class WeekCell:
    service: Service
    start: datetime
    booked: int
    free: int
    closed: bool


def week_view(office: Office, monday: date) -> list[tuple[date, list[WeekCell]]]:
    """Per day of the week, each slot with its booked and free count, from one grouped query."""
    last = monday + timedelta(days=6)
    low, high = local_bounds(office, monday, last)
    counts = {
        (service_id, start): count
        for service_id, start, count in db.session.execute(
            select(Booking.service_id, Booking.start_at, func.count(Booking.id))
            .where(Booking.status == "confirmed", Booking.start_at >= low, Booking.start_at < high)
            .group_by(Booking.service_id, Booking.start_at)
        ).all()
    }
    periods = [Closure(c.start_at, c.end_at) for c in closures_on(office, monday, last)]
    week: list[tuple[date, list[WeekCell]]] = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        cells = []
        for service in office.services:
            for slot in day_slots(office, service, day):
                booked = counts.get((service.id, slot.start.astimezone(UTC)), 0)
                cells.append(
                    WeekCell(
                        service=service,
                        start=slot.start,
                        booked=booked,
                        free=max(service.capacity - booked, 0),
                        closed=any(c.overlaps(slot) for c in periods),
                    )
                )
        cells.sort(key=lambda cell: (cell.start, cell.service.id))
        week.append((day, cells))
    return week


def audit_trail(booking: Booking) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.booking_id == booking.id)
            .options(selectinload(AuditEvent.staff))
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def staff_free_slots(office: Office, service: Service, day: date, now: datetime) -> list[SlotRow]:
    """Slots of `service` on `day` that staff can still fill: free, open, not begun, and inside
    the horizon. Staff may book within the minimum notice, never beyond the capacity."""
    _earliest, horizon = window(office, now)
    if day > horizon:
        return []
    return [
        row
        for row in day_view(office, day).rows
        if row.service is not None
        and row.service.id == service.id
        and row.on_grid
        and not row.closed
        and row.free > 0
        and row.start >= now
    ]


def emails_of(booking: Booking) -> list[Outbox]:
    """Every email this booking caused, with its delivery state, oldest first."""
    return list(db.session.scalars(select(Outbox).where(Outbox.booking_id == booking.id).order_by(Outbox.id)))
