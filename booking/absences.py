"""A counsellor's absences (ill, on leave, at a training): entering and removing them, and the
appointments an absence leaves to be given to another counsellor, moved or cancelled."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Protocol

from flask_babel import gettext as _
from sqlalchemy import select

from booking import journal
from booking.extensions import db, transaction
from booking.models import Absence, Booking, Staff
from booking.office import Office
from booking.refusals import InvalidAbsence, stretch_errors, too_long

REASON_MAX = 500


def whole_days(office: Office, first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """From local midnight of `first` to local midnight after `last` (default: `first`)."""
    last = last or first
    start = datetime.combine(first, time(), tzinfo=office.timezone)
    return start, datetime.combine(last + timedelta(days=1), time(), tzinfo=office.timezone)


class Stretch(Protocol):
    """An absence or a closure: a start and an end."""

    start_at: datetime
    end_at: datetime


def days_of(office: Office, stretch: Stretch) -> tuple[date, date] | None:
    """The first and last day of a stretch of whole days (local midnight to local midnight),
    None for part of a day; so pages can say "Tuesday to Friday" instead of two midnights."""
    start, end = stretch.start_at.astimezone(office.timezone), stretch.end_at.astimezone(office.timezone)
    if start.time() != time() or end.time() != time() or end.date() <= start.date():
        return None
    return start.date(), end.date() - timedelta(days=1)


def local(office: Office, day: date, moment: time) -> datetime:
    """Office wall time as an aware moment (a time in the spring gap gets its real offset)."""
    return datetime.combine(day, moment, tzinfo=office.timezone).astimezone(office.timezone)


def add(
    office: Office,
    counsellor_id: int | None,
    start: datetime,
    end: datetime,
    reason: str | None,
    staff: Staff | None,
    now: datetime,
) -> Absence:
    """Enter an absence; `InvalidAbsence` names every field that is wrong (counsellor, start,
    end, reason) and nothing changes.
    Appointments inside it keep their counsellor until staff reassign them (`affected`)."""
    errors = stretch_errors(start, end)
    counsellor = db.session.get(Staff, counsellor_id) if counsellor_id is not None else None
    if counsellor is None or counsellor.role != "counsellor":
        errors["counsellor"] = [_("Please choose a counsellor.")]
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        errors["reason"] = [too_long(REASON_MAX)]
    if errors:
        raise InvalidAbsence(errors)
    assert counsellor is not None
    with transaction():
        absence = Absence(
            staff_id=counsellor.id,
            start_at=start,
            end_at=end,
            reason=reason or None,
            created_by=staff.id if staff is not None else None,
            created_at=now,
        )
        db.session.add(absence)
        db.session.flush()
        journal.audit(None, staff, now, "absence", _describe(office, counsellor, absence))
    return absence


def remove(office: Office, absence_id: int, staff: Staff, now: datetime) -> bool:
    """Remove an absence (entered by mistake, or the counsellor is back); False when it is gone."""
    absence = db.session.get(Absence, absence_id)
    if absence is None:
        return False
    with transaction():
        journal.audit(None, staff, now, "absence_removed", _describe(office, absence.counsellor, absence))
        db.session.delete(absence)
    return True


def _describe(office: Office, counsellor: Staff, absence: Absence) -> str:
    span = f"{journal.moment(absence.start_at, office)} – {journal.moment(absence.end_at, office)}"
    return f"{counsellor.name}: {span}" + (f": {absence.reason}" if absence.reason else "")


def get(absence_id: int) -> Absence | None:
    return db.session.get(Absence, absence_id)


def upcoming(now: datetime) -> list[Absence]:
    """Absences that have not ended, soonest first."""
    return list(db.session.scalars(select(Absence).where(Absence.end_at > now).order_by(Absence.start_at)))


def affected(absence: Absence, now: datetime) -> list[Booking]:
    """The counsellor's upcoming appointments inside the absence, in time order."""
    return list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.counsellor_id == absence.staff_id,
                Booking.status == "confirmed",
                Booking.start_at < absence.end_at,
                Booking.end_at > absence.start_at,
                Booking.end_at > now,
            )
            .order_by(Booking.start_at, Booking.id)
        )
    )
