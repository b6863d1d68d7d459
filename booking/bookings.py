"""The one place where bookings change: book, cancel, move, and the availability they leave.

Capacity is enforced by the database: each booking inserts a row into `slot_claims`
whose unique key (service, start, place) admits at most `capacity` places per slot.
The email that a change causes is written to the outbox in the same transaction.
"""

from __future__ import annotations

import re
import secrets
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import (
    Row,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import make_transient_to_detached

from booking import microcache
from booking.extensions import db, on_postgresql, sql, transaction
from booking.models import AuditEvent, Booking, Outbox, SlotClaim, Staff, UTCDateTime
from booking.models import Closure as ClosureRow
from booking.office import Office, Service
from booking.schedule import Closure, Slot, Unbookable, bookable_slots, check_start, local_bounds, window

NAME_MAX = 100
NOTE_MAX = 1000
PHONE = re.compile(r"^[0-9+()/.\- ]{3,40}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# Listeners called with the ids of outbox rows after their transaction commits
# (the email package registers the one that hands them to Celery).
after_commit_hooks: list[Callable[[list[int]], None]] = []


class InvalidBooking(Exception):
    """Every field problem at once: {field: [messages]} (messages already translated)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


class SlotFull(Exception):
    """Every place of the slot is taken."""


class TooLate(Exception):
    """The appointment has already begun; it can no longer be changed online."""


@dataclass(frozen=True)
class BookingRequest:
    service_id: str
    start: str | datetime
    name: str
    email: str | None
    phone: str | None = None
    note: str | None = None
    language: str = "de"


def unbookable_message(reason: Unbookable) -> str:
    return {
        Unbookable.PAST: _("This time is in the past."),
        Unbookable.TOO_SOON: _("This time is too soon to book online. Please choose a later time."),
        Unbookable.BEYOND_HORIZON: _("This time is too far ahead. Please choose an earlier time."),
        Unbookable.CLOSED: _("The office is closed at this time."),
        Unbookable.OFF_GRID: _("There is no appointment at this time."),
    }[reason]


def parse_start(value: str | datetime, office: Office) -> datetime | None:
    """An aware start from ISO 8601; without an offset it is office local time."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=office.timezone)
    try:  # an offset that pushes the year out of range (9999-12-31T23:59-12:00) is no time either
        moment.astimezone(office.timezone)
    except OverflowError:
        return None
    return moment


_BOOKINGS = Booking.__table__
_CLOSURES = ClosureRow.__table__
CLOSURES_BETWEEN = select(_CLOSURES.c.start_at, _CLOSURES.c.end_at).where(
    _CLOSURES.c.start_at < bindparam("high"), _CLOSURES.c.end_at > bindparam("low")
)
UPCOMING_OF = select(_BOOKINGS.c.id, _BOOKINGS.c.service_id, _BOOKINGS.c.start_at).where(
    _BOOKINGS.c.email == bindparam("email"),
    _BOOKINGS.c.status == "confirmed",
    _BOOKINGS.c.end_at > bindparam("now"),
)
INSERT_BOOKING = insert(_BOOKINGS).returning(_BOOKINGS.c.id)
INSERT_AUDIT = insert(AuditEvent.__table__)
INSERT_OUTBOX = insert(Outbox.__table__).returning(Outbox.__table__.c.id)


def closures_between(first_day: date, last_day: date) -> list[Closure]:
    """Closures entered by staff that touch these days, from one query. The UTC window is a day
    wider on each side than the local days need; `Closure.overlaps` decides per slot exactly."""
    low = datetime.combine(first_day - timedelta(days=1), time(), tzinfo=UTC)
    high = datetime.combine(last_day + timedelta(days=2), time(), tzinfo=UTC)
    return [Closure(start, end) for start, end in sql(CLOSURES_BETWEEN, {"low": low, "high": high})]


def open_slot(
    office: Office, service: Service, start: datetime, now: datetime, *, enforce_notice: bool = True
) -> Slot | Unbookable:
    """The slot starting at `start` if it can be booked now, staff closures included; else why not.
    Closures are read only for an otherwise valid slot (cheaper, and no date arithmetic at the edges
    of the calendar)."""
    found = check_start(office, service, start, now, (), enforce_notice)
    if isinstance(found, Unbookable):
        return found
    return Unbookable.CLOSED if _closed(found) else found


def _closed(slot: Slot) -> bool:
    """Whether staff have closed any part of the slot."""
    day = slot.start.date()
    return any(closure.overlaps(slot) for closure in closures_between(day, day))


def _audit(
    booking_id: int | None, staff: Staff | None, now: datetime, action: str, details: str = ""
) -> None:
    """Record who (None = the resident) did what, inside the caller's transaction."""
    sql(INSERT_AUDIT, _audit_row(booking_id, staff, now, action, details))


def _audit_row(
    booking_id: int | None, staff: Staff | None, now: datetime, action: str, details: str
) -> dict[str, object]:
    return {
        "booking_id": booking_id,
        "staff_id": staff.id if staff is not None else None,
        "at": now,
        "action": action,
        "details": details or None,
    }


def _validate(
    office: Office,
    request: BookingRequest,
    now: datetime,
    *,
    enforce_notice: bool,
    email_required: bool,
    languages: tuple[str, ...],
    staff_closures: bool = True,
) -> tuple[Service, Slot, dict[str, str | None]]:
    """Every field problem at once (`InvalidBooking`), else the service, slot and clean fields.
    `staff_closures=False` leaves the closures entered by staff to the claim of the place."""
    errors: dict[str, list[str]] = {}

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    service = office.service(request.service_id) if isinstance(request.service_id, str) else None
    if service is None:
        error("service", _("Please choose a service."))

    slot: Slot | None = None
    start = parse_start(request.start, office) if request.start else None
    if start is None:
        error("start", _("Please choose a time."))
    elif service is not None:
        found = (
            open_slot(office, service, start, now, enforce_notice=enforce_notice)
            if staff_closures
            else check_start(office, service, start, now, (), enforce_notice)
        )
        if isinstance(found, Unbookable):
            error("start", unbookable_message(found))
        else:
            slot = found

    name = request.name.strip() if isinstance(request.name, str) else ""
    if not name:
        error("name", _("Please enter your name."))
    elif len(name) > NAME_MAX:
        error("name", _("Please enter at most %(max)d characters.", max=NAME_MAX))
    elif CONTROL.search(name):
        error("name", _("The name contains characters that are not allowed."))

    email: str | None = None
    raw_email = request.email.strip() if isinstance(request.email, str) else ""
    if raw_email:
        try:
            # ASCII only: an address needing SMTPUTF8 could be booked but never reached by most servers.
            valid = validate_email(raw_email, check_deliverability=False, allow_smtputf8=False)
            email = valid.ascii_email.lower() if valid.ascii_email else None
        except EmailNotValidError:
            error("email", _("Please enter a valid email address, for example name@example.org."))
    elif email_required:
        error("email", _("Please enter your email address."))

    phone = request.phone.strip() if isinstance(request.phone, str) else ""
    if phone and not PHONE.match(phone):
        error("phone", _("Please enter a phone number with digits only, for example 02452 123456."))

    note = request.note.strip() if isinstance(request.note, str) else ""
    if len(note) > NOTE_MAX:
        error("note", _("Please enter at most %(max)d characters.", max=NOTE_MAX))
    elif CONTROL.search(note.replace("\n", "").replace("\r", "").replace("\t", "")):
        error("note", _("The note contains characters that are not allowed."))

    if errors:
        raise InvalidBooking(errors)
    assert service is not None and slot is not None
    language = request.language if request.language in languages else languages[0]
    return (
        service,
        slot,
        {"name": name, "email": email, "phone": phone or None, "note": note or None, "language": language},
    )


def book(
    office: Office,
    request: BookingRequest,
    now: datetime,
    *,
    enforce_notice: bool = True,
    email_required: bool = True,
    languages: tuple[str, ...] = ("de", "en"),
    staff: Staff | None = None,
) -> Booking:
    """Book a place, or raise `InvalidBooking` / `SlotFull` leaving the database unchanged.
    Staff booking for a caller pass `staff`, `enforce_notice=False`, `email_required=False`."""
    service, slot, fields = _validate(
        office,
        request,
        now,
        enforce_notice=enforce_notice,
        email_required=email_required,
        languages=languages,
        staff_closures=False,  # checked by the claim of the place, in the booking's transaction
    )
    with transaction():
        if fields["email"]:
            _serialise_email(fields["email"])
            upcoming = _upcoming_of(fields["email"], now)
            key = (service.id, slot.start)
            same = next((b.id for b in upcoming if (b.service_id, b.start_at) == key), None)
            if same is not None:  # a double click or a retried request: one place, one email
                return db.session.get_one(Booking, same)
            _check_active_limit(office, upcoming)
        values = {
            "reference": _new_reference(),
            "token": secrets.token_urlsafe(32),
            "service_id": service.id,
            "start_at": slot.start,
            "end_at": slot.end,
            "status": "confirmed",
            "sequence": 0,
            "created_at": now,
            "created_by_staff_id": staff.id if staff is not None else None,
            "cancelled_at": None,
            "attended": None,
            "cancel_reason": None,
            "anonymised_at": None,
            **fields,
        }
        booking = Booking(id=sql(INSERT_BOOKING, values).scalar_one(), **values)
        make_transient_to_detached(booking)  # it is in the database: the session need not insert it
        db.session.add(booking)
        _claim_place(service, slot, booking)
        queued = _record_change(booking, staff, now, "booked", _iso(slot.start), "confirm")
    _after_commit(queued)
    return booking


def _serialise_email(email: str) -> None:
    """Bookings of one address run one after another (PostgreSQL: a transaction-scoped advisory
    lock; SQLite's BEGIN IMMEDIATE already serialises everything)."""
    if on_postgresql():
        sql(LOCK_EMAIL, {"key": zlib.crc32(email.encode())})


def _upcoming_of(email: str, now: datetime) -> Sequence[Row[tuple[int, str, datetime]]]:
    """Id, service and start of the address's confirmed bookings that have not ended
    (call `_serialise_email` first)."""
    return sql(UPCOMING_OF, {"email": email, "now": now}).all()


def _check_active_limit(office: Office, upcoming: Sequence[object]) -> None:
    """At most `max_active_per_email` upcoming bookings per address."""
    limit = office.rules.max_active_per_email
    if len(upcoming) >= limit:
        raise InvalidBooking(
            {
                "email": [
                    _(
                        "This email address already has %(count)d upcoming appointments, the most allowed. "
                        "Please cancel one first.",
                        count=limit,
                    )
                ]
            }
        )


LOCK_EMAIL = text("SELECT pg_advisory_xact_lock(:key)")
# Takes the lowest free place number of a slot in one statement (PostgreSQL and SQLite alike).
# A concurrent insert of the same place ends in ON CONFLICT DO NOTHING: no row comes back.
# No place is taken while staff have closed any part of the slot (the closure check costs no
# statement of its own this way).
CLAIM_FIRST_FREE_PLACE = text("""
WITH RECURSIVE places(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM places WHERE n < :capacity)
INSERT INTO slot_claims (service_id, start_at, place_no, booking_id)
SELECT CAST(:service AS VARCHAR(40)), :start, n, :booking FROM places
WHERE n NOT IN (SELECT place_no FROM slot_claims WHERE service_id = :service AND start_at = :start)
AND NOT EXISTS (SELECT 1 FROM closures WHERE closures.start_at < :end AND closures.end_at > :start)
ORDER BY n LIMIT 1
ON CONFLICT DO NOTHING
RETURNING place_no
""").bindparams(bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime()))


def _claim_place(service: Service, slot: Slot, booking: Booking) -> None:
    """Take the first free place of an open slot; the unique key (service, start, place)
    decides races. Raises `SlotFull`, or `InvalidBooking` when staff have closed the slot."""
    values = {
        "capacity": service.capacity,
        "service": service.id,
        "start": slot.start,
        "end": slot.end,
        "booking": booking.id,
    }
    while sql(CLAIM_FIRST_FREE_PLACE, values).scalar() is None:
        if _closed(slot):
            raise InvalidBooking({"start": [unbookable_message(Unbookable.CLOSED)]})
        taken = db.session.scalar(
            select(func.count(SlotClaim.id)).where(
                SlotClaim.service_id == service.id, SlotClaim.start_at == slot.start
            )
        )
        if taken >= service.capacity:
            raise SlotFull()
        # else another booking took the same place number a moment ago: try the next one


def _new_reference() -> str:
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


# PostgreSQL writes a change's audit entry and its email in one statement (SQLite takes two).
AUDIT_AND_EMAIL = text("""
WITH audit AS (
  INSERT INTO audit_events (booking_id, staff_id, at, action, details)
  VALUES (:booking_id, :staff_id, :at, :action, :details)
)
INSERT INTO outbox (dedupe_key, kind, booking_id, sequence, created_at, next_attempt_at, attempts)
VALUES (:dedupe_key, :kind, :booking_id, :sequence, :created_at, :next_attempt_at, :attempts)
RETURNING id
""").bindparams(*(bindparam(name, type_=UTCDateTime()) for name in ("at", "created_at", "next_attempt_at")))


def _record_change(
    booking: Booking, staff: Staff | None, now: datetime, action: str, details: str, email: str
) -> list[int]:
    """Write the audit entry and the email (none without an address) of a change into its
    transaction; the email's ids go to the workers once that transaction has committed."""
    if not booking.email:
        _audit(booking.id, staff, now, action, details)
        return []
    email_row = Outbox.row(email, booking.id, booking.sequence, now)
    if on_postgresql():
        return [
            sql(
                AUDIT_AND_EMAIL, {**_audit_row(booking.id, staff, now, action, details), **email_row}
            ).scalar_one()
        ]
    _audit(booking.id, staff, now, action, details)
    return [sql(INSERT_OUTBOX, email_row).scalar_one()]


def _after_commit(outbox_ids: list[int]) -> None:
    if outbox_ids:
        for hook in after_commit_hooks:
            hook(outbox_ids)


def get_by_token(token: str) -> Booking | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Booking).where(Booking.token == token))


def cancel(
    booking: Booking,
    now: datetime,
    *,
    allow_past: bool = False,
    reason: str | None = None,
    staff: Staff | None = None,
) -> bool:
    """Cancel and free the place at once; False when it was already cancelled (harmless)."""
    if not allow_past and booking.start_at <= now and booking.active:
        raise TooLate()
    reason = (reason or "").strip() or None
    with transaction():
        changed = db.session.execute(
            update(Booking)
            .where(Booking.id == booking.id, Booking.status == "confirmed")
            .values(status="cancelled", cancelled_at=now, sequence=Booking.sequence + 1, cancel_reason=reason)
        ).rowcount
        if not changed:
            return False
        db.session.execute(SlotClaim.__table__.delete().where(SlotClaim.booking_id == booking.id))
        db.session.refresh(booking)
        queued = _record_change(booking, staff, now, "cancelled", reason or "", "cancel")
    _after_commit(queued)
    return True


def _taken_and_closures(
    service: Service, low: datetime, high: datetime
) -> tuple[dict[datetime, int], list[Closure]]:
    """Taken places per slot start and the staff closures between `low` and `high`: one query
    (reused for a moment by the many who look at once, see `booking.microcache`)."""

    def query() -> tuple[dict[datetime, int], list[Closure]]:
        claims = (
            select(SlotClaim.start_at, func.count(SlotClaim.id), literal(None, UTCDateTime()))
            .where(SlotClaim.service_id == service.id, SlotClaim.start_at >= low, SlotClaim.start_at < high)
            .group_by(SlotClaim.start_at)
        )
        closed = select(ClosureRow.start_at, literal(0), ClosureRow.end_at).where(
            ClosureRow.start_at < high, ClosureRow.end_at > low
        )
        taken: dict[datetime, int] = {}
        closures: list[Closure] = []
        for start, count, end in db.session.execute(union_all(claims, closed)):
            if end is None:
                taken[start] = count
            else:
                closures.append(Closure(start, end))
        return taken, closures

    return microcache.cached(("occupancy", service.id, low, high), query)


def availability(
    office: Office, service: Service, first_day: date, last_day: date, now: datetime
) -> list[tuple[Slot, int]]:
    """Each bookable slot of these days with its free places. One query brings both the taken
    places and the staff closures of the days; the slots themselves come from the pure schedule."""
    earliest, horizon = window(office, now)
    first_day = max(first_day, earliest.astimezone(office.timezone).date())
    last_day = min(last_day, horizon)
    if first_day > last_day:
        return []
    taken, closures = _taken_and_closures(service, *local_bounds(office, first_day, last_day))
    slots = bookable_slots(office, service, first_day, last_day, now, closures)
    return [(slot, max(service.capacity - taken.get(slot.start_utc, 0), 0)) for slot in slots]


def first_free_day(office: Office, service: Service, now: datetime) -> date | None:
    """The day of the earliest free slot inside the booking window."""
    today = now.astimezone(office.timezone).date()
    last = today + timedelta(days=office.rules.horizon_days)
    for slot, free in availability(office, service, today, last, now):
        if free:
            return slot.start.date()
    return None


def move(
    office: Office,
    booking: Booking,
    new_start: str | datetime,
    now: datetime,
    *,
    enforce_notice: bool = True,
    staff: Staff | None = None,
    reason: str | None = None,
) -> Booking:
    """Move to another slot of the same service in one transaction: the new place is taken
    and the old one freed together, or nothing changes (`InvalidBooking`, `SlotFull`, `TooLate`)."""
    old_start = booking.start_at
    if not booking.active:
        raise InvalidBooking({"start": [_("This appointment is cancelled.")]})
    if booking.start_at <= now:
        raise TooLate()
    service = office.service(booking.service_id)
    start = parse_start(new_start, office)
    if service is None or start is None:
        raise InvalidBooking({"start": [_("Please choose a time.")]})
    slot = open_slot(office, service, start, now, enforce_notice=enforce_notice)
    if isinstance(slot, Unbookable):
        raise InvalidBooking({"start": [unbookable_message(slot)]})
    if slot.start == booking.start_at:
        raise InvalidBooking({"start": [_("This is already the time of your appointment.")]})
    with transaction():
        changed = db.session.execute(
            update(Booking)
            .where(
                Booking.id == booking.id, Booking.status == "confirmed", Booking.sequence == booking.sequence
            )
            .values(start_at=slot.start, end_at=slot.end, sequence=Booking.sequence + 1)
        ).rowcount
        if not changed:  # cancelled or moved by someone else meanwhile
            raise InvalidBooking({"start": [_("This appointment was changed meanwhile. Please reload.")]})
        db.session.execute(SlotClaim.__table__.delete().where(SlotClaim.booking_id == booking.id))
        _claim_place(service, slot, booking)
        details = f"{_iso(old_start, office)} -> {_iso(slot.start, office)}"
        reason = (reason or "").strip()
        db.session.refresh(booking)
        queued = _record_change(
            booking, staff, now, "moved", f"{details}: {reason}" if reason else details, "move"
        )
    _after_commit(queued)
    return booking


def _iso(moment: datetime, office: Office | None = None) -> str:
    """A moment for the audit trail, in office time when the office is known."""
    local = moment.astimezone(office.timezone) if office is not None else moment
    return local.isoformat(timespec="minutes")


# --- Staff: attendance, closures and the calendar views -------------------------------------


class InvalidClosure(InvalidBooking):
    """A closure that cannot be entered: every field problem at once, as for a booking."""


def mark_attendance(
    office: Office, booking: Booking, attended: bool | None, staff: Staff, now: datetime
) -> None:
    """Record attended (True), no-show (False) or not recorded (None) for a booking of today or
    earlier; a later one has not happened yet, a cancelled one cannot be attended."""
    if not booking.active:
        raise InvalidBooking({"attended": [_("This appointment is cancelled.")]})
    if booking.start_at.astimezone(office.timezone).date() > now.astimezone(office.timezone).date():
        raise InvalidBooking({"attended": [_("This appointment has not taken place yet.")]})
    action = {True: "attended", False: "no_show", None: "attendance_cleared"}[attended]
    with transaction():
        booking.attended = attended
        _audit(booking.id, staff, now, action)


def close(
    office: Office, start: datetime, end: datetime, reason: str, staff: Staff, now: datetime
) -> ClosureRow:
    """Close the office from `start` to `end` for new bookings. Existing bookings stay; the
    closure's page lists the active ones inside so staff can move or cancel them."""
    errors: dict[str, list[str]] = {}
    reason = reason.strip() if reason else ""
    if not reason:
        errors.setdefault("reason", []).append(_("Please enter a reason."))
    if end <= start:
        errors.setdefault("end", []).append(_("The end must be after the start."))
    if errors:
        raise InvalidClosure(errors)
    with transaction():
        closure = ClosureRow(start_at=start, end_at=end, reason=reason, created_by=staff.id, created_at=now)
        db.session.add(closure)
        db.session.flush()
        _audit(None, staff, now, "closed", f"{_iso(start, office)} – {_iso(end, office)}: {reason}")
    return closure


def reopen(office: Office, closure_id: int, staff: Staff, now: datetime) -> bool:
    """Remove a closure entered by mistake; False when it no longer exists."""
    closure = db.session.get(ClosureRow, closure_id)
    if closure is None:
        return False
    with transaction():
        _audit(
            None,
            staff,
            now,
            "reopened",
            f"{_iso(closure.start_at, office)} – {_iso(closure.end_at, office)}: {closure.reason}",
        )
        db.session.delete(closure)
    return True


def bookings_in(start: datetime, end: datetime) -> list[Booking]:
    """Active bookings that overlap the stretch from `start` to `end`, in time order."""
    return list(
        db.session.scalars(
            select(Booking)
            .where(Booking.status == "confirmed", Booking.start_at < end, Booking.end_at > start)
            .order_by(Booking.start_at, Booking.id)
        )
    )


def check_request(
    office: Office, request: BookingRequest, now: datetime, *, languages: tuple[str, ...] = ("de", "en")
) -> None:
    """Raise `InvalidBooking` with every field problem of `request`, booking nothing
    (so a form shows all its errors at once, even when another check failed first)."""
    _validate(office, request, now, enforce_notice=True, email_required=True, languages=languages)
