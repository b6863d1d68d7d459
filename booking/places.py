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
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from flask_babel import gettext as _
from sqlalchemy import TextClause, bindparam, delete, func, literal, select, text, union_all, update
from sqlalchemy.orm.attributes import set_committed_value

from booking import journal, microcache, rota
from booking.closures import is_closed
from booking.extensions import db, sql, transaction
from booking.models import Absence, Booking, CounsellorClaim, CounsellorHours, SlotClaim, Staff, UTCDateTime
from booking.models import Closure as ClosureRow
from booking.office import Office, Period, Service
from booking.refusals import InvalidBooking, SlotFull, TooLate, unbookable_message
from booking.rota import Counsellor, Occupancy
from booking.schedule import Closure, Slot, Unbookable, bookable_slots, local_bounds, window

# A service without counsellors is counselled in German: its places count for no other language.
DEFAULT_LANGUAGE = "de"
# How often a claim starts again after losing a race for a counsellor it saw free (each loss
# shows one more counsellor taken, so this bounds nothing a real office reaches).
CLAIM_ROUNDS = 20


# --- the roster ---------------------------------------------------------------------------


def roster() -> tuple[Counsellor, ...]:
    """The active counsellors with their hours, from one query, reused for a moment by every
    request of this process (bookings commit all the time, accounts seldom: only a change of
    accounts empties it, see `accounts._changing_roster`; other processes see it within
    AVAILABILITY_CACHE_SECONDS)."""
    return microcache.cached(("roster",), _load_roster, lasting=True)


def _load_roster() -> tuple[Counsellor, ...]:
    rows = db.session.execute(
        select(
            Staff.id,
            Staff.name,
            Staff.languages,
            Staff.services,
            Staff.custom_hours,
            CounsellorHours.weekday,
            CounsellorHours.start_minute,
            CounsellorHours.end_minute,
        )
        .outerjoin(CounsellorHours, CounsellorHours.staff_id == Staff.id)
        .where(Staff.role == "counsellor", Staff.active.is_(True))
        .order_by(Staff.id, CounsellorHours.weekday, CounsellorHours.start_minute)
    ).all()
    found: dict[int, tuple[object, ...]] = {}
    hours: dict[int, list[list[Period]]] = {}
    for staff_id, name, languages, services, custom, weekday, start, end in rows:
        found.setdefault(staff_id, (name, languages, services, custom))
        week = hours.setdefault(staff_id, [[] for _ in range(7)])
        if weekday is not None:
            week[weekday].append(Period(_clock(start), _clock(end)))
    return tuple(
        Counsellor(
            id=staff_id,
            name=str(name),
            languages=tuple(code for code in str(languages or "").split(",") if code) or (DEFAULT_LANGUAGE,),
            services=None if services is None else frozenset(s for s in str(services).split(",") if s),
            hours=tuple(tuple(day) for day in hours[staff_id]) if custom else None,
        )
        for staff_id, (name, languages, services, custom) in found.items()
    )


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def counsellor_service(service: Service, counsellors: Iterable[Counsellor] | None = None) -> bool:
    """Whether counsellors give this service (else its places are anonymous)."""
    return rota.gives(roster() if counsellors is None else counsellors, service)


def languages(service: Service) -> tuple[str, ...]:
    """The languages of counselling this service is offered in."""
    return rota.languages_of(roster(), service)


def capacity(service: Service) -> int:
    """Parallel places at best: its counsellors, else the office file's `capacity`."""
    counsellors = [c for c in roster() if c.gives(service.id)]
    return len(counsellors) if counsellors else service.capacity


# --- free places ----------------------------------------------------------------------------


def occupancy(low: datetime, high: datetime, apart_from: int | None) -> tuple[Occupancy, list[Closure]]:
    """The counsellors' taken cells and absences and the staff closures between `low` and `high`,
    from one query; the cells of booking `apart_from` (one being moved) do not count."""

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
    service: Service, low: datetime, high: datetime
) -> tuple[dict[datetime, int], list[Closure]]:
    """Taken places per slot start and the staff closures between `low` and `high`: one query."""

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
        taken, closures = _anonymous_occupancy(service, low, high)
        slots = bookable_slots(office, service, first_day, last_day, now, closures, enforce_notice)
        if language not in (None, DEFAULT_LANGUAGE):
            return [(slot, 0) for slot in slots]
        return [(slot, max(service.capacity - taken.get(slot.start_utc, 0), 0)) for slot in slots]
    taken_cells, closures = occupancy(low, high, apart_from)
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


# --- claiming a place -------------------------------------------------------------------------

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

_CANDIDATE_FREE = """
  NOT EXISTS (SELECT 1 FROM counsellor_claims taken WHERE taken.counsellor_id = candidates.counsellor
              AND taken.minute >= CAST(:first AS INTEGER) AND taken.minute < CAST(:last AS INTEGER))
  AND NOT EXISTS (SELECT 1 FROM absences WHERE absences.staff_id = candidates.counsellor
                  AND absences.start_at < :end AND absences.end_at > :start)"""


def _candidates(count: int) -> str:
    """The candidates as rows (counsellor, weight, pos): the weight is the number of languages
    they speak, so a booking any of them could take goes first to one who speaks fewer and the
    counsellors with rarer languages stay free for those who need them."""
    rows = ", ".join(f"(CAST(:c{n} AS INTEGER), CAST(:w{n} AS INTEGER), {n})" for n in range(count))
    return f"candidates(counsellor, weight, pos) AS (VALUES {rows})"


def _times(statement: TextClause) -> TextClause:
    return statement.bindparams(
        bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
    )


@lru_cache(maxsize=64)
def _claim_counsellor(count: int, closures: bool) -> TextClause:
    """One statement: the first of `count` candidates who is neither away nor in an appointment in
    any of the cells (the preferred one first, then by weight, then the least busy of the day)
    takes every cell, unless staff closed the time. A concurrent claim of a shared cell ends in ON
    CONFLICT DO NOTHING for that cell: fewer rows than cells come back (see `claim`)."""
    closed = (
        "WHERE NOT EXISTS (SELECT 1 FROM closures"
        " WHERE closures.start_at < :end AND closures.end_at > :start)"
        if closures
        else "WHERE 1 = 1"  # SQLite needs a WHERE before ON CONFLICT after a SELECT
    )
    return _times(
        text(f"""
WITH RECURSIVE cells(minute) AS (
  SELECT CAST(:first AS INTEGER) UNION ALL SELECT minute + {rota.CELL_MINUTES} FROM cells
  WHERE minute + {rota.CELL_MINUTES} < CAST(:last AS INTEGER)
),
{_candidates(count)},
chosen(counsellor) AS (
  SELECT counsellor FROM candidates WHERE {_CANDIDATE_FREE}
  ORDER BY CASE WHEN candidates.counsellor = CAST(:prefer AS INTEGER) THEN 0 ELSE 1 END, weight,
    (SELECT COUNT(*) FROM counsellor_claims busy WHERE busy.counsellor_id = candidates.counsellor
     AND busy.minute >= CAST(:day_first AS INTEGER) AND busy.minute < CAST(:day_last AS INTEGER)),
    pos
  LIMIT 1
)
INSERT INTO counsellor_claims (counsellor_id, minute, booking_id)
SELECT chosen.counsellor, cells.minute, CAST(:booking AS INTEGER) FROM chosen, cells
{closed}
ORDER BY cells.minute
ON CONFLICT DO NOTHING
RETURNING counsellor_id
""")
    )


@lru_cache(maxsize=64)
def _any_free(count: int) -> TextClause:
    """Whether one of `count` candidates is free now (after a claim that inserted nothing)."""
    return _times(
        text(f"WITH {_candidates(count)} SELECT counsellor FROM candidates WHERE {_CANDIDATE_FREE} LIMIT 1")
    )


RELEASE_COUNSELLOR = delete(CounsellorClaim).where(
    CounsellorClaim.booking_id == bindparam("booking"),
    CounsellorClaim.counsellor_id == bindparam("counsellor"),
)


def claim(
    office: Office,
    service: Service,
    start: datetime,
    end: datetime,
    booking_id: int,
    *,
    language: str | None = None,
    counsellor_id: int | None = None,
    prefer: int | None = None,
    closures: bool = True,
) -> int | None:
    """Take a place for the booking inside the caller's transaction: a counsellor's time (returns
    the counsellor's id) or an anonymous place (returns None). `counsellor_id` asks for that one
    counsellor, `prefer` tries one first (a move keeps its counsellor when free). Raises `SlotFull`
    when no matching counsellor or place is free, `InvalidBooking` when staff closed the time
    (unless `closures` is False: staff reassigning an appointment already inside a closure)."""
    counsellors = roster()
    if not rota.gives(counsellors, service):
        if language not in (None, DEFAULT_LANGUAGE) or counsellor_id is not None:
            raise SlotFull()
        _claim_anonymous(service, Slot(start, end), booking_id)
        return None
    candidates = [
        c
        for c in rota.eligible(office, service, start, end, counsellors, language)
        if counsellor_id is None or c.id == counsellor_id
    ]
    cells = rota.cells(start, end)
    day_low, day_high = local_bounds(office, *(2 * [start.astimezone(office.timezone).date()]))
    day = rota.cells(day_low, day_high)
    values: dict[str, object] = {
        "first": cells.start,
        "last": cells.stop,
        "start": start,
        "end": end,
        "prefer": prefer,
        "day_first": day.start,
        "day_last": day.stop,
        "booking": booking_id,
    }
    for _round in range(CLAIM_ROUNDS):
        if not candidates:
            break
        params = dict(values)
        for n, candidate in enumerate(candidates):
            params[f"c{n}"], params[f"w{n}"] = candidate.id, len(candidate.languages)
        got = sql(_claim_counsellor(len(candidates), closures), params).scalars().all()
        if len(got) == len(cells):
            return got[0]
        if got:  # a concurrent booking took one of these cells of this counsellor a moment ago
            sql(RELEASE_COUNSELLOR, {"booking": booking_id, "counsellor": got[0]})
            candidates = [c for c in candidates if c.id != got[0]]
        elif closures and is_closed(Slot(start, end)):
            raise InvalidBooking({"start": [unbookable_message(Unbookable.CLOSED)]})
        elif sql(_any_free(len(candidates)), params).first() is None:
            break  # nobody free: not a lost race
    if closures and is_closed(Slot(start, end)):
        raise InvalidBooking({"start": [unbookable_message(Unbookable.CLOSED)]})
    raise SlotFull()


def _claim_anonymous(service: Service, slot: Slot, booking_id: int) -> None:
    """Take the first free place of an open slot; the unique key (service, start, place)
    decides races. Raises `SlotFull`, or `InvalidBooking` when staff have closed the slot."""
    values = {
        "capacity": service.capacity,
        "service": service.id,
        "start": slot.start,
        "end": slot.end,
        "booking": booking_id,
    }
    while sql(CLAIM_FIRST_FREE_PLACE, values).scalar() is None:
        if is_closed(slot):
            raise InvalidBooking({"start": [unbookable_message(Unbookable.CLOSED)]})
        taken = db.session.scalar(
            select(func.count(SlotClaim.id)).where(
                SlotClaim.service_id == service.id, SlotClaim.start_at == slot.start
            )
        )
        if taken >= service.capacity:
            raise SlotFull()
        # else another booking took the same place number a moment ago: try the next one


def release(booking: Booking) -> None:
    """Free whatever place the booking holds, inside the caller's transaction."""
    table = CounsellorClaim if booking.counsellor_id is not None else SlotClaim
    sql(delete(table).where(table.booking_id == booking.id))


def release_all(booking_id: int) -> None:
    """Free both kinds of place (an old anonymous booking that gets a counsellor)."""
    sql(delete(SlotClaim).where(SlotClaim.booking_id == booking_id))
    sql(delete(CounsellorClaim).where(CounsellorClaim.booking_id == booking_id))


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
    if service is None or not counsellor_service(service):
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
