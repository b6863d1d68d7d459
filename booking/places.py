"""Who takes a place: the claim when a booking is made, moved or reassigned, the free places of a
stretch of days, and which appointments need a counsellor.

A service that counsellors give has, at a time, as many places as counsellors who give it, are
on duty for the whole appointment, are not away and are in no overlapping appointment of any
service (`booking.rota`). A booking claims every cell of its counsellor's time that it covers
(`counsellor_claims`, primary key (counsellor, minute)), so the database refuses a second
overlapping appointment of one counsellor, whatever the race. A service no counsellor gives keeps
its `capacity` anonymous places (`slot_claims`, unique (service, start, place)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, literal, or_, select, union_all, update
from sqlalchemy.orm.attributes import set_committed_value

from booking import clock, journal, microcache, rota
from booking.claims import claim, release_all
from booking.extensions import db, sql, transaction
from booking.models import Absence, Booking, CounsellorClaim, SlotClaim, Staff, UTCDateTime
from booking.models import Closure as ClosureRow
from booking.office import Office, Service
from booking.refusals import InvalidBooking, SlotFull, TooLate
from booking.roster import DEFAULT_LANGUAGE, roster
from booking.rota import Counsellor, Occupancy
from booking.schedule import Closure, Slot, bookable_slots, local_bounds, window

# --- free places ----------------------------------------------------------------------------


def _held(table: type[CounsellorClaim] | type[SlotClaim], now: datetime) -> ColumnElement[bool]:
    """A claim that takes its place: for good, or held by a pending booking whose hold runs on."""
    return or_(table.hold_until.is_(None), table.hold_until > now)


def occupancy(
    low: datetime, high: datetime, apart_from: int | None, now: datetime | None = None
) -> tuple[Occupancy, list[Closure]]:
    """The counsellors' taken cells and absences and the staff closures between `low` and `high`,
    from one query; the cells of booking `apart_from` (one being moved) do not count, nor those
    whose hold ran out by `now` (default: the clock's)."""
    now = now or clock.now()

    def query() -> tuple[Occupancy, list[Closure]]:
        cells = rota.cells(low, high)
        claims = select(
            CounsellorClaim.counsellor_id,
            CounsellorClaim.minute,
            literal(None, UTCDateTime()),
            literal(None, UTCDateTime()),
        ).where(  # by counsellor: a range of the primary key each, however long the history
            CounsellorClaim.counsellor_id.in_([c.id for c in roster()]),
            CounsellorClaim.minute >= cells.start,
            CounsellorClaim.minute < cells.stop,
            _held(CounsellorClaim, now),
        )
        if apart_from is not None:
            claims = claims.where(CounsellorClaim.booking_id != apart_from)
        away = select(Absence.staff_id, literal(None), Absence.start_at, Absence.end_at).where(
            Absence.start_at < high, Absence.end_at > low
        )
        closed = select(literal(None), literal(None), ClosureRow.start_at, ClosureRow.end_at).where(
            ClosureRow.start_at < high, ClosureRow.end_at > low
        )
        busy: dict[int, set[int]] = {}
        absent: dict[int, list[tuple[datetime, datetime]]] = {}
        closures: list[Closure] = []
        for counsellor, minute, start, end in db.session.execute(union_all(claims, away, closed)):
            if minute is not None:
                busy.setdefault(counsellor, set()).add(minute)
            elif counsellor is not None:
                absent.setdefault(counsellor, []).append((start, end))
            else:
                closures.append(Closure(start, end))
        return Occupancy(busy, absent), closures

    return microcache.cached(("counsellors", low, high, apart_from), query)


def _anonymous_occupancy(
    service: Service, low: datetime, high: datetime, now: datetime
) -> tuple[dict[datetime, int], list[Closure]]:
    """Taken places per slot start (holds that ran out by `now` left out) and the staff closures
    between `low` and `high`: one query."""

    def query() -> tuple[dict[datetime, int], list[Closure]]:
        claims = (
            select(SlotClaim.start_at, func.count(SlotClaim.id), literal(None, UTCDateTime()))
            .where(
                SlotClaim.service_id == service.id,
                SlotClaim.start_at >= low,
                SlotClaim.start_at < high,
                _held(SlotClaim, now),
            )
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
    office: Office,
    service: Service,
    first_day: date,
    last_day: date,
    now: datetime,
    *,
    language: str | None = None,
    apart_from: int | None = None,
    enforce_notice: bool = True,
) -> list[tuple[Slot, int]]:
    """Each bookable slot of these days with its free places (for `language`: places with a
    counsellor who speaks it). One query brings what is taken and closed; the slots come from the
    pure schedule, the free counsellors from the pure rota. `apart_from`: a booking being moved,
    whose own time does not count as taken. Staff pass `enforce_notice=False`."""
    earliest, horizon = window(office, now)
    earliest = earliest if enforce_notice else now
    first_day = max(first_day, earliest.astimezone(office.timezone).date())
    last_day = min(last_day, horizon)
    if first_day > last_day:
        return []
    low, high = local_bounds(office, first_day, last_day)
    counsellors = roster()
    if not rota.gives(counsellors, service):
        taken, closures = _anonymous_occupancy(service, low, high, now)
        slots = bookable_slots(office, service, first_day, last_day, now, closures, enforce_notice)
        if language not in (None, DEFAULT_LANGUAGE):
            return [(slot, 0) for slot in slots]
        return [(slot, max(service.capacity - taken.get(slot.start_utc, 0), 0)) for slot in slots]
    taken_cells, closures = occupancy(low, high, apart_from, now)
    return [
        (slot, rota.free_places(office, service, slot.start, slot.end, counsellors, taken_cells, language))
        for slot in bookable_slots(office, service, first_day, last_day, now, closures, enforce_notice)
    ]


def first_free_day(
    office: Office, service: Service, now: datetime, language: str | None = None
) -> date | None:
    """The day of the earliest free slot inside the booking window."""
    today = now.astimezone(office.timezone).date()
    last = today + timedelta(days=office.rules.horizon_days)
    for slot, free in availability(office, service, today, last, now, language=language):
        if free:
            return slot.start.date()
    return None


# --- appointments that need a counsellor ---------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """An appointment of a counsellor-given service with what is wrong with its counsellor."""

    booking: Booking
    problem: str  # "none" (no counsellor yet), "away", "off_duty", "inactive", "cannot" (service/language)


def assignment_problem(
    office: Office,
    booking: Booking,
    counsellors: Iterable[Counsellor],
    away: Mapping[int, Sequence[tuple[datetime, datetime]]],
) -> str | None:
    """What keeps the booking's counsellor from taking it, or None when all is well (also for
    anonymous services and cancelled bookings). `away`: the counsellors' absences by id."""
    service = office.service(booking.service_id)
    counsellors = list(counsellors)
    if not booking.active or service is None or not rota.gives(counsellors, service):
        return None
    if booking.counsellor_id is None:
        return "none"
    counsellor = next((c for c in counsellors if c.id == booking.counsellor_id), None)
    if counsellor is None:
        return "inactive"
    if not (counsellor.gives(service.id) and counsellor.speaks(booking.counselling_language)):
        return "cannot"
    if not rota.is_free(counsellor, booking.start_at, booking.end_at, Occupancy(away=away)):
        return "away"
    if not rota.on_duty(office, counsellor, booking.start_at, booking.end_at):
        return "off_duty"
    return None


def needing_counsellor(
    office: Office, now: datetime, bookings: Iterable[Booking] | None = None
) -> list[Assignment]:
    """Upcoming appointments (or those of `bookings`) whose counsellor is missing or cannot take
    them: none assigned yet (booked before the service had counsellors), away, off duty, disabled."""
    counsellors = roster()
    if bookings is None:
        services = [s.id for s in office.services if rota.gives(counsellors, s)]
        if not services:
            return []
        bookings = db.session.scalars(
            select(Booking)
            .where(Booking.status == "confirmed", Booking.end_at > now, Booking.service_id.in_(services))
            .order_by(Booking.start_at, Booking.id)
        ).all()
    bookings = list(bookings)
    if not bookings:
        return []
    low, high = min(b.start_at for b in bookings), max(b.end_at for b in bookings)
    away: dict[int, list[tuple[datetime, datetime]]] = {}
    for absence in db.session.scalars(select(Absence).where(Absence.start_at < high, Absence.end_at > low)):
        away.setdefault(absence.staff_id, []).append((absence.start_at, absence.end_at))
    found = []
    for booking in bookings:
        problem = assignment_problem(office, booking, counsellors, away)
        if problem is not None:
            found.append(Assignment(booking, problem))
    return found


def free_counsellors(office: Office, bookings: Iterable[Booking]) -> dict[int, list[Counsellor]]:
    """Who could take each booking instead: gives its service, speaks its language, is on duty,
    not away and free at its time; from one query however many bookings (a booking's own time
    is its own counsellor's, who is no candidate, so it need not be left out)."""
    bookings = list(bookings)
    if not bookings:
        return {}
    counsellors = roster()
    taken, _closures = occupancy(min(b.start_at for b in bookings), max(b.end_at for b in bookings), None)
    found: dict[int, list[Counsellor]] = {}
    for booking in bookings:
        service = office.service(booking.service_id)
        able = (
            rota.eligible(
                office, service, booking.start_at, booking.end_at, counsellors, booking.counselling_language
            )
            if service is not None
            else []
        )
        found[booking.id] = [
            c
            for c in able
            if c.id != booking.counsellor_id and rota.is_free(c, booking.start_at, booking.end_at, taken)
        ]
    return found


def reassign(
    office: Office, booking: Booking, staff: Staff, now: datetime, counsellor_id: int | None = None
) -> int:
    """Give the appointment to another counsellor, that one or the best free one, in one
    transaction; the time stays, so the resident's calendar entry stays and no email goes out.
    Raises `SlotFull` when nobody is free (nothing changes), `TooLate` once it has begun."""
    if not booking.active:
        raise InvalidBooking({"counsellor": [_("This appointment is cancelled.")]})
    if booking.start_at <= now:
        raise TooLate()
    service = office.service(booking.service_id)
    if service is None or not rota.gives(roster(), service):
        raise InvalidBooking({"counsellor": [_("No counsellor gives this service.")]})
    before = booking.counsellor_id
    with transaction():
        # The guarded update locks the booking: a cancel or move at the same moment waits for us.
        changed = sql(
            update(Booking.__table__)
            .where(
                Booking.id == booking.id, Booking.status == "confirmed", Booking.sequence == booking.sequence
            )
            .values(counsellor_id=None)
        ).rowcount
        if not changed:
            raise InvalidBooking(
                {"counsellor": [_("This appointment was changed meanwhile. Please reload.")]}
            )
        release_all(booking.id)
        chosen = claim(
            office,
            service,
            booking.start_at,
            booking.end_at,
            booking.id,
            now,
            language=booking.counselling_language,
            counsellor_id=counsellor_id,
            closures=False,  # it is booked already; a closure stops only new bookings
        )
        sql(update(Booking.__table__).where(Booking.id == booking.id).values(counsellor_id=chosen))
        journal.audit(booking.id, staff, now, "reassigned", f"{_name_of(before)} -> {_name_of(chosen)}")
    set_committed_value(booking, "counsellor_id", chosen)  # written above; nothing left to flush
    assert chosen is not None
    return chosen


def _name_of(counsellor_id: int | None) -> str:
    found = db.session.get(Staff, counsellor_id) if counsellor_id is not None else None
    return found.name if found is not None else "–"


def reassign_all(office: Office, bookings: Iterable[Booking], staff: Staff, now: datetime) -> list[Booking]:
    """Reassign each appointment to the best free counsellor, each in its own transaction;
    returns those nobody could take (to be moved or cancelled)."""
    left = []
    for booking in bookings:
        try:
            reassign(office, booking, staff, now)
        except (SlotFull, InvalidBooking, TooLate):
            left.append(booking)
    return left
