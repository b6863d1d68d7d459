"""The one place where bookings change: book, cancel, move, mark attendance.

Who takes the place (a counsellor or an anonymous place) is decided by `booking.places`, whose
claim the database enforces; the audit entry and the email a change causes are written in the
same transaction (`booking.journal`).
"""

from __future__ import annotations

import re
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from booking import booking_statement, claims, journal, no_shows, verification
from booking.addresses import normal_email
from booking.closures import open_slot
from booking.extensions import db, on_postgresql, sql, transaction
from booking.languages import is_known as is_language
from booking.models import Booking, Staff
from booking.office import Office, Service
from booking.phones import normal_phone
from booking.refusals import InvalidBooking, TooLate, invalid_email_message, too_long, unbookable_message
from booking.schedule import Slot, Unbookable, check_start

NAME_MAX = 100
NOTE_MAX = 1000
# Control characters and line separators; lone UTF-16 surrogates (a JSON "\ud800") are no text
# either, and no database driver can encode them.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
assert len(REFERENCE_ALPHABET) == 32  # five random bits a character (`_new_reference`)


@dataclass(frozen=True)
class BookingRequest:
    """What a resident, a staff member or an API client asks for. `language` is that of the
    pages and emails; `counselling_language` the language the counselling should be in (None:
    any), `interpreter` the language an interpreter is needed for; `counsellor_id` (staff only)
    asks for one counsellor."""

    service_id: str
    start: str | datetime
    name: str
    email: str | None
    phone: str | None = None
    note: str | None = None
    language: str = "de"
    counselling_language: str | None = None
    interpreter: str | None = None
    counsellor_id: int | None = None


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
UPCOMING_OF = select(_BOOKINGS.c.id, _BOOKINGS.c.service_id, _BOOKINGS.c.start_at).where(
    _BOOKINGS.c.email == bindparam("email"),
    Booking.taking_place(bindparam("now")),
    _BOOKINGS.c.end_at > bindparam("now"),
)
INSERT_BOOKING = insert(_BOOKINGS).returning(_BOOKINGS.c.id)


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
    if (problem := name_problem(name)) is not None:
        error("name", problem)

    raw_email = request.email.strip() if isinstance(request.email, str) else ""
    email = normal_email(raw_email)
    if raw_email and email is None:
        error("email", invalid_email_message(raw_email))
    elif not raw_email and email_required:
        error("email", _("Please enter your email address."))

    typed_phone = request.phone.strip() if isinstance(request.phone, str) else ""
    phone = normal_phone(typed_phone) if typed_phone else ""
    if phone is None:
        error("phone", _("Please enter a phone number, for example 02452 123456."))

    note = request.note.strip() if isinstance(request.note, str) else ""
    if len(note) > NOTE_MAX:
        error("note", too_long(NOTE_MAX))
    elif CONTROL.search(note.replace("\n", "").replace("\r", "").replace("\t", "")):
        error("note", _("The note contains characters that are not allowed."))

    for field, code in (
        ("counselling_language", request.counselling_language),
        ("interpreter", request.interpreter),
    ):
        if code is not None and not is_language(code):
            error(field, _("Please choose a language from the list."))

    if errors:
        raise InvalidBooking(errors)
    assert service is not None and slot is not None
    language = request.language if request.language in languages else languages[0]
    return (
        service,
        slot,
        {
            "name": name,
            "email": email,
            "phone": phone or None,
            "note": note or None,
            "language": language,
            "counselling_language": request.counselling_language,
            "interpreter": request.interpreter,
        },
    )


def name_problem(name: str) -> str | None:
    """What is wrong with a (stripped) name a resident typed, or None: any script is fine."""
    if not name:
        return _("Please enter your name.")
    if len(name) > NAME_MAX:
        return too_long(NAME_MAX)
    if CONTROL.search(name):
        return _("The name contains characters that are not allowed.")
    return None


def book(
    office: Office,
    request: BookingRequest,
    now: datetime,
    *,
    enforce_notice: bool = True,
    email_required: bool = True,
    languages: tuple[str, ...] = ("de", "en"),
    staff: Staff | None = None,
    verify: bool | None = None,
    offer_to: int | None = None,
) -> Booking:
    """Book a place, or raise `InvalidBooking` / `SlotFull` leaving the database unchanged (also
    for an address the no-show rule blocks online). Staff booking for a caller pass `staff`,
    `enforce_notice=False`, `email_required=False`. An online booking is pending (it holds its
    place until its email link confirms it) when the office file asks for verification, or
    `verify` is True (a form sent without the proof of work); staff bookings are confirmed at once.
    `offer_to`: a waitlist entry; the booking is its offer, held `waitlist_hold_minutes` for it."""
    service, slot, fields = _validate(
        office,
        request,
        now,
        enforce_notice=enforce_notice,
        email_required=email_required,
        languages=languages,
        staff_closures=False,  # checked by the claim of the place, in the booking's transaction
    )
    hold = verification.hold_minutes(office, verify) if staff is None and fields["email"] else 0
    if offer_to is not None:
        hold = office.rules.waitlist_hold_minutes
    hold_until = now + timedelta(minutes=hold) if hold else None
    with transaction():
        if staff is None:  # staff may still book a blocked address for a caller
            no_shows.refuse_if_blocked(office, fields["email"], now)
        values = {
            "reference": _new_reference(),
            "token": secrets.token_urlsafe(32),
            "service_id": service.id,
            "start_at": slot.start,
            "end_at": slot.end,
            "status": "pending" if hold_until else "confirmed",
            "hold_until": hold_until,
            "confirm_token": secrets.token_urlsafe(32) if hold_until else None,
            "waitlist_entry_id": offer_to,
            "sequence": 0,
            "created_at": now,
            "created_by_staff_id": staff.id if staff is not None else None,
            "cancelled_at": None,
            "attended": None,
            "cancel_reason": None,
            "anonymised_at": None,
            **fields,
        }
        wish = request.counsellor_id if staff is not None else None
        details = journal.moment(slot.start)
        email_kind = "offer" if offer_to is not None else "verify" if hold_until else "confirm"
        if on_postgresql():  # one statement: the checks, the booking, its place, audit entry and email
            booked = booking_statement.book(
                office,
                service,
                slot,
                values,
                journal.booked_values(staff, now, details, bool(fields["email"]), email_kind),
                language=fields["counselling_language"],
                counsellor_id=wish,
                limit=office.rules.max_active_per_email,  # no address: no bookings of it to count
                lock=_email_lock(fields["email"]),
            )
            if booked.same is not None:  # a double click or a retried request: one place, one email
                return _repeated(booked.same)
            if booked.booking_id is None:
                raise _limit_reached(office)
            booking = Booking(id=booked.booking_id, counsellor_id=booked.counsellor, **values)
            make_transient_to_detached(booking)  # it is in the database: the session need not insert it
            db.session.add(booking)
            queued = booked.emails
        else:  # SQLite: BEGIN IMMEDIATE has serialised every booking already
            if fields["email"]:
                upcoming = _upcoming_of(fields["email"], now)
                key = (service.id, slot.start)
                same = next((b.id for b in upcoming if (b.service_id, b.start_at) == key), None)
                if same is not None:  # a double click or a retried request: one place, one email
                    return _repeated(same)
                if len(upcoming) >= office.rules.max_active_per_email:
                    raise _limit_reached(office)
            booking = Booking(id=sql(INSERT_BOOKING, values).scalar_one(), counsellor_id=None, **values)
            make_transient_to_detached(booking)
            db.session.add(booking)
            _take_place(office, service, slot, booking, now, wish)
            queued = journal.record_change(booking, staff, now, "booked", details, email_kind)
    journal.after_commit(queued)
    return booking


def _repeated(booking_id: int) -> Booking:
    """The booking the same request made before (`repeated`: nothing new was booked)."""
    booking = db.session.get_one(Booking, booking_id)
    booking.repeated = True
    return booking


def _take_place(
    office: Office,
    service: Service,
    slot: Slot,
    booking: Booking,
    now: datetime,
    counsellor_id: int | None = None,
    prefer: int | None = None,
) -> None:
    """Claim the place of the booking at `slot` (after freeing the holds that ran out there)
    and record its counsellor (None: anonymous)."""
    counsellor = claims.claim(
        office,
        service,
        slot.start,
        slot.end,
        booking.id,
        now,
        language=booking.counselling_language,
        counsellor_id=counsellor_id,
        prefer=prefer,
        hold_until=booking.hold_until,
    )
    if counsellor != booking.counsellor_id:
        sql(claims.SET_COUNSELLOR, {"booking": booking.id, "counsellor": counsellor})
        set_committed_value(booking, "counsellor_id", counsellor)  # written: the ORM need not


def _email_lock(email: str | None) -> int | None:
    """The key of the advisory lock that makes bookings of one address run one after another
    on PostgreSQL (None without an address: nothing of it to count)."""
    return zlib.crc32(email.encode()) if email else None


def _upcoming_of(email: str, now: datetime) -> Sequence[Row[tuple[int, str, datetime]]]:
    """Id, service and start of the address's confirmed bookings that have not ended (SQLite,
    inside the booking's BEGIN IMMEDIATE transaction)."""
    return sql(UPCOMING_OF, {"email": email, "now": now}).all()


def _limit_reached(office: Office) -> InvalidBooking:
    """At most `max_active_per_email` upcoming bookings per address."""
    return InvalidBooking(
        {
            "email": [
                _(
                    "This email address already has %(count)d upcoming appointments, the most allowed. "
                    "Please cancel one first.",
                    count=office.rules.max_active_per_email,
                )
            ]
        }
    )


def _new_reference() -> str:
    """Eight characters of the alphabet, uniformly random: 40 random bits, 5 (one of 32) for each,
    from one draw of the system's random source (a draw per character cost a system call each)."""
    number = int.from_bytes(secrets.token_bytes(5), "big")
    code = ""
    for _position in range(8):
        code += REFERENCE_ALPHABET[number & 31]
        number >>= 5
    return f"{code[:4]}-{code[4:]}"


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
    release_after: timedelta = timedelta(0),
) -> bool:
    """Cancel and free the place (at once, or after `release_after`: see `release_delay`);
    False when it was already cancelled (harmless)."""
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
        if release_after:  # the place stays taken until then: a hold of the cancelled booking
            claims.hold_until(booking.id, now + release_after)
        else:
            claims.release_all(booking.id)
        db.session.refresh(booking)
        queued = journal.record_change(booking, staff, now, "cancelled", reason or "", "cancel")
    journal.after_commit(queued)
    return True


def cancel_all(found: Sequence[Booking], now: datetime, reason: str, staff: Staff) -> list[Booking]:
    """Cancel each booking that has not begun, with one reason (a closure's "cancel all"); returns
    those cancelled now. Each is its own transaction, so a fault keeps the ones already done, and
    a second run (a double click, two receptionists) cancels and emails nobody twice."""
    return [
        booking
        for booking in found
        if booking.start_at > now and cancel(booking, now, reason=reason, staff=staff)
    ]


def release_delay(office: Office) -> timedelta:
    """How long a place cancelled online stays taken: a random time up to the office's
    `release_delay_minutes`, so that "cancel and rebook it for a buyer" cannot be timed."""
    longest = office.rules.release_delay_minutes * 60
    return timedelta(seconds=secrets.randbelow(longest + 1)) if longest else timedelta(0)


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
    and the old one freed together, or nothing changes (`InvalidBooking`, `SlotFull`, `TooLate`).
    The counselling language stays; the counsellor too when free at the new time."""
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
        claims.release_all(booking.id)
        db.session.refresh(booking)
        _take_place(office, service, slot, booking, now, prefer=booking.counsellor_id)
        details = f"{journal.moment(old_start, office)} -> {journal.moment(slot.start, office)}"
        reason = (reason or "").strip()
        queued = journal.record_change(
            booking, staff, now, "moved", f"{details}: {reason}" if reason else details, "move", old_start
        )
    journal.after_commit(queued)
    return booking


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
        journal.audit(booking.id, staff, now, action)


def check_request(
    office: Office, request: BookingRequest, now: datetime, *, languages: tuple[str, ...] = ("de", "en")
) -> None:
    """Raise `InvalidBooking` with every field problem of `request`, booking nothing
    (so a form shows all its errors at once, even when another check failed first)."""
    _validate(office, request, now, enforce_notice=True, email_required=True, languages=languages)
