"""The one place where bookings change: book, cancel, move, and the availability they leave.

Capacity is enforced by the database: each booking inserts a row into `slot_claims`
whose unique key (service, start, place) admits at most `capacity` places per slot.
The email that a change causes is written to the outbox in the same transaction.
"""

from __future__ import annotations

import re
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from booking.extensions import db
from booking.models import Booking, Outbox, SlotClaim
from booking.office import Office, Service
from booking.schedule import Closure, Slot, Unbookable, bookable_slots, check_start

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
    return moment


def closures_between(first_day: date, last_day: date) -> list[Closure]:
    """Closures entered by staff that touch these days (none until staff pages exist)."""
    return []


def _validate(
    office: Office,
    request: BookingRequest,
    now: datetime,
    *,
    enforce_notice: bool,
    email_required: bool,
    languages: tuple[str, ...],
) -> tuple[Service, Slot, dict[str, str | None]]:
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
        day = start.astimezone(office.timezone).date()
        found = check_start(office, service, start, now, closures_between(day, day), enforce_notice)
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
            email = validate_email(raw_email, check_deliverability=False).normalized.lower()
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
) -> Booking:
    """Book a place, or raise `InvalidBooking` / `SlotFull` leaving the database unchanged."""
    service, slot, fields = _validate(
        office,
        request,
        now,
        enforce_notice=enforce_notice,
        email_required=email_required,
        languages=languages,
    )
    try:
        if fields["email"]:
            _check_active_limit(office, fields["email"], now)
        booking = Booking(
            reference=_new_reference(),
            token=secrets.token_urlsafe(32),
            service_id=service.id,
            start_at=slot.start,
            end_at=slot.end,
            status="confirmed",
            sequence=0,
            created_at=now,
            **fields,
        )
        db.session.add(booking)
        db.session.flush()
        _claim_place(service, slot.start, booking)
        outbox = _queue_email(booking, "confirm", now) if booking.email else None
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    _after_commit([outbox.id] if outbox else [])
    return booking


def _check_active_limit(office: Office, email: str, now: datetime) -> None:
    """At most `max_active_per_email` upcoming bookings per address, safe under concurrency."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Serialises bookings of one address; SQLite's BEGIN IMMEDIATE already does.
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(email.encode())})
    active = db.session.scalar(
        select(func.count(Booking.id)).where(
            Booking.email == email, Booking.status == "confirmed", Booking.end_at > now
        )
    )
    limit = office.rules.max_active_per_email
    if active >= limit:
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


def _claim_place(service: Service, start: datetime, booking: Booking) -> None:
    """Insert the first free place number; a unique violation means someone else has it."""
    taken = set(
        db.session.scalars(
            select(SlotClaim.place_no).where(SlotClaim.service_id == service.id, SlotClaim.start_at == start)
        )
    )
    for place in range(1, service.capacity + 1):
        if place in taken:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(
                    SlotClaim(service_id=service.id, start_at=start, place_no=place, booking_id=booking.id)
                )
            return
        except IntegrityError:
            continue
    raise SlotFull()


def _new_reference() -> str:
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def _queue_email(booking: Booking, kind: str, now: datetime) -> Outbox:
    # A confirmation or reminder exists once per booking; a cancellation or move once per change.
    once = kind in ("confirm", "reminder")
    key = f"{kind}:{booking.id}" if once else f"{kind}:{booking.id}:{booking.sequence}"
    row = Outbox(
        dedupe_key=key,
        kind=kind,
        booking_id=booking.id,
        sequence=booking.sequence,
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _after_commit(outbox_ids: list[int]) -> None:
    if outbox_ids:
        for hook in after_commit_hooks:
            hook(outbox_ids)


def get_by_token(token: str) -> Booking | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Booking).where(Booking.token == token))


def cancel(booking: Booking, now: datetime, *, allow_past: bool = False) -> bool:
    """Cancel and free the place at once; False when it was already cancelled (harmless)."""
    if not allow_past and booking.start_at <= now and booking.active:
        raise TooLate()
    try:
        changed = db.session.execute(
            update(Booking)
            .where(Booking.id == booking.id, Booking.status == "confirmed")
            .values(status="cancelled", cancelled_at=now, sequence=Booking.sequence + 1)
        ).rowcount
        if not changed:
            db.session.rollback()
            return False
        db.session.execute(SlotClaim.__table__.delete().where(SlotClaim.booking_id == booking.id))
        db.session.refresh(booking)
        outbox = _queue_email(booking, "cancel", now) if booking.email else None
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    _after_commit([outbox.id] if outbox else [])
    return True


def availability(
    office: Office, service: Service, first_day: date, last_day: date, now: datetime
) -> list[tuple[Slot, int]]:
    """Each bookable slot of these days with its free places, from one query."""
    slots = bookable_slots(office, service, first_day, last_day, now, closures_between(first_day, last_day))
    if not slots:
        return []
    rows = db.session.execute(
        select(SlotClaim.start_at, func.count(SlotClaim.id))
        .where(
            SlotClaim.service_id == service.id,
            SlotClaim.start_at >= slots[0].start,
            SlotClaim.start_at <= slots[-1].start,
        )
        .group_by(SlotClaim.start_at)
    ).all()
    taken = {start: count for start, count in rows}
    return [(slot, max(service.capacity - taken.get(slot.start, 0), 0)) for slot in slots]


def first_free_day(office: Office, service: Service, now: datetime) -> date | None:
    """The day of the earliest free slot inside the booking window."""
    today = now.astimezone(office.timezone).date()
    last = today + timedelta(days=office.rules.horizon_days)
    for slot, free in availability(office, service, today, last, now):
        if free:
            return slot.start.date()
    return None


def move(
    office: Office, booking: Booking, new_start: str | datetime, now: datetime, *, enforce_notice: bool = True
) -> Booking:
    """Move to another slot of the same service in one transaction: the new place is taken
    and the old one freed together, or nothing changes (`InvalidBooking`, `SlotFull`, `TooLate`)."""
    if not booking.active:
        raise InvalidBooking({"start": [_("This appointment is cancelled.")]})
    if booking.start_at <= now:
        raise TooLate()
    service = office.service(booking.service_id)
    start = parse_start(new_start, office)
    if service is None or start is None:
        raise InvalidBooking({"start": [_("Please choose a time.")]})
    day = start.astimezone(office.timezone).date()
    slot = check_start(office, service, start, now, closures_between(day, day), enforce_notice)
    if isinstance(slot, Unbookable):
        raise InvalidBooking({"start": [unbookable_message(slot)]})
    if slot.start == booking.start_at:
        raise InvalidBooking({"start": [_("This is already the time of your appointment.")]})
    try:
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
        _claim_place(service, slot.start, booking)
        db.session.refresh(booking)
        outbox = _queue_email(booking, "move", now) if booking.email else None
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    _after_commit([outbox.id] if outbox else [])
    return booking
