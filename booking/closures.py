"""Times staff closed (a staff meeting, a day of training): no new bookings inside them. Entering
and removing a closure, and whether a slot is open once they are counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from booking import journal
from booking.extensions import db, sql, transaction
from booking.models import Booking, Staff
from booking.models import Closure as ClosureRow
from booking.office import Office, Service
from booking.refusals import InvalidClosure, stretch_errors
from booking.schedule import Closure, Slot, Unbookable, check_start

_CLOSURES = ClosureRow.__table__
CLOSURES_BETWEEN = select(_CLOSURES.c.start_at, _CLOSURES.c.end_at).where(
    _CLOSURES.c.start_at < bindparam("high"), _CLOSURES.c.end_at > bindparam("low")
)


def closures_between(first_day: date, last_day: date) -> list[Closure]:
    """Closures entered by staff that touch these days, from one query. The UTC window is a day
    wider on each side than the local days need; `Closure.overlaps` decides per slot exactly."""
    low = datetime.combine(first_day - timedelta(days=1), time(), tzinfo=UTC)
    high = datetime.combine(last_day + timedelta(days=2), time(), tzinfo=UTC)
    return [Closure(start, end) for start, end in sql(CLOSURES_BETWEEN, {"low": low, "high": high})]


def closed_between(start: datetime, end: datetime) -> bool:
    """Whether staff have closed any moment from `start` to `end` (an appointment's time)."""
    return (
        db.session.scalar(
            select(ClosureRow.id).where(ClosureRow.start_at < end, ClosureRow.end_at > start).limit(1)
        )
        is not None
    )


def is_closed(slot: Slot) -> bool:
    """Whether staff have closed any part of the slot."""
    day = slot.start.date()
    return any(closure.overlaps(slot) for closure in closures_between(day, day))


def open_slot(
    office: Office, service: Service, start: datetime, now: datetime, *, enforce_notice: bool = True
) -> Slot | Unbookable:
    """The slot starting at `start` if it can be booked now, staff closures included; else why not.
    Closures are read only for an otherwise valid slot (cheaper, and no date arithmetic at the edges
    of the calendar)."""
    found = check_start(office, service, start, now, (), enforce_notice)
    if isinstance(found, Unbookable):
        return found
    return Unbookable.CLOSED if is_closed(found) else found


def close(
    office: Office, start: datetime, end: datetime, reason: str, staff: Staff, now: datetime
) -> ClosureRow:
    """Close the office from `start` to `end` for new bookings. Existing bookings stay; the
    closure's page lists the active ones inside so staff can move or cancel them (one by one, or
    all with one reason: `bookings.cancel_all`)."""
    errors = stretch_errors(start, end)
    reason = reason.strip() if reason else ""
    if not reason:
        errors["reason"] = [_("Please enter a reason.")]
    if errors:
        raise InvalidClosure(errors)
    with transaction():
        closure = ClosureRow(start_at=start, end_at=end, reason=reason, created_by=staff.id, created_at=now)
        db.session.add(closure)
        db.session.flush()
        journal.audit(None, staff, now, "closed", f"{_span(office, start, end)}: {reason}")
    return closure


def reopen(office: Office, closure_id: int, staff: Staff, now: datetime) -> bool:
    """Remove a closure entered by mistake; False when it no longer exists."""
    closure = db.session.get(ClosureRow, closure_id)
    if closure is None:
        return False
    with transaction():
        span = _span(office, closure.start_at, closure.end_at)
        journal.audit(None, staff, now, "reopened", f"{span}: {closure.reason}")
        db.session.delete(closure)
    return True


def _span(office: Office, start: datetime, end: datetime) -> str:
    return f"{journal.moment(start, office)} – {journal.moment(end, office)}"


def upcoming(now: datetime) -> list[ClosureRow]:
    """Closures that have not ended, soonest first."""
    return list(
        db.session.scalars(select(ClosureRow).where(ClosureRow.end_at > now).order_by(ClosureRow.start_at))
    )


def bookings_in(start: datetime, end: datetime) -> list[Booking]:
    """Active bookings that overlap the stretch from `start` to `end`, in time order."""
    return list(
        db.session.scalars(
            select(Booking)
            .where(Booking.status == "confirmed", Booking.start_at < end, Booking.end_at > start)
            .order_by(Booking.start_at, Booking.id)
        )
    )
