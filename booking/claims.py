"""Taking a place, decided by the database: a counsellor's time or an anonymous place.

A counsellor's appointment claims every cell of their time it covers (`counsellor_claims`, primary
key (counsellor, minute)), so a second overlapping appointment of one counsellor cannot be
inserted, whatever the race; an anonymous place is a row of `slot_claims` with the unique key
(service, start, place). Each claim is one INSERT … SELECT … ON CONFLICT DO NOTHING: no
check-then-insert. On PostgreSQL a new booking is written together with its place, its audit
entry and its email in one statement (`book`): a round trip is most of what a booking costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from sqlalchemy import TextClause, bindparam, delete, func, select, text, update

from booking import rota
from booking.closures import is_closed
from booking.extensions import db, sql
from booking.models import Booking, CounsellorClaim, SlotClaim, UTCDateTime
from booking.office import Office, Service
from booking.refusals import InvalidBooking, SlotFull, unbookable_message
from booking.roster import DEFAULT_LANGUAGE, roster
from booking.rota import Counsellor
from booking.schedule import Slot, Unbookable, local_bounds

# How often a claim starts again after losing a race for a counsellor it saw free (each loss
# shows one more counsellor taken, so this bounds nothing a real office reaches).
CLAIM_ROUNDS = 20

NOT_CLOSED = "NOT EXISTS (SELECT 1 FROM closures WHERE closures.start_at < :end AND closures.end_at > :start)"
# The lowest free place number of the slot (taken by a concurrent insert: no row comes back).
PLACES = "places(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM places WHERE n < :capacity)"


def anonymous_insert(booking: str, sources: str = "") -> str:
    return f"""INSERT INTO slot_claims (service_id, start_at, place_no, booking_id, hold_until)
SELECT CAST(:service AS VARCHAR(40)), :start, n, {booking}, :hold_until FROM places{sources}
WHERE n NOT IN (SELECT place_no FROM slot_claims WHERE service_id = :service AND start_at = :start)
AND {NOT_CLOSED}
ORDER BY n LIMIT 1
ON CONFLICT DO NOTHING
RETURNING place_no"""


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


def counsellor_ctes(count: int) -> str:
    """The cells of the time, the candidates, and the one chosen: the first of them who is neither
    away nor in an appointment in any of the cells (the preferred one first, then by weight, then
    the least busy of the day)."""
    step = rota.CELL_MINUTES
    return f"""cells(minute) AS (
  SELECT CAST(:first AS INTEGER) UNION ALL SELECT minute + {step} FROM cells
  WHERE minute + {step} < CAST(:last AS INTEGER)
),
{_candidates(count)},
chosen(counsellor) AS (
  SELECT counsellor FROM candidates WHERE {_CANDIDATE_FREE}
  ORDER BY CASE WHEN candidates.counsellor = CAST(:prefer AS INTEGER) THEN 0 ELSE 1 END, weight,
    (SELECT COUNT(*) FROM counsellor_claims busy WHERE busy.counsellor_id = candidates.counsellor
     AND busy.minute >= CAST(:day_first AS INTEGER) AND busy.minute < CAST(:day_last AS INTEGER)),
    pos
  LIMIT 1
)"""


def counsellor_insert(booking: str, closures: bool, sources: str = "") -> str:
    """The chosen one takes every cell, unless staff closed the time. A concurrent claim of a
    shared cell ends in ON CONFLICT DO NOTHING for that cell: fewer rows than cells come back."""
    where = f"WHERE {NOT_CLOSED}" if closures else "WHERE 1 = 1"  # SQLite wants a WHERE here
    return f"""INSERT INTO counsellor_claims (counsellor_id, minute, booking_id, hold_until)
SELECT chosen.counsellor, cells.minute, {booking}, :hold_until FROM chosen, cells{sources}
{where}
ORDER BY cells.minute
ON CONFLICT DO NOTHING
RETURNING counsellor_id"""


TIMES = ("start", "end", "hold_until", "now")


def with_times(statement: TextClause) -> TextClause:
    """The statement's times bound as UTCDateTime (those it names)."""
    named = [name for name in TIMES if f":{name}" in statement.text]
    return statement.bindparams(*(bindparam(name, type_=UTCDateTime()) for name in named))


# Holds that ran out (pending bookings never confirmed) in the cells or the slot a claim needs:
# deleted by the claim's own transaction (first on SQLite; on PostgreSQL when the one-statement
# booking found the time taken), so no task has to run on time for the place to come back.
# Availability ignores them already (`places.occupancy`).
SWEEP_COUNSELLOR_CELLS = with_times(
    text(
        "DELETE FROM counsellor_claims WHERE hold_until IS NOT NULL AND hold_until <= :now"
        " AND minute >= CAST(:first AS INTEGER) AND minute < CAST(:last AS INTEGER)"
    )
)
SWEEP_SLOT = with_times(
    text(
        "DELETE FROM slot_claims WHERE hold_until IS NOT NULL AND hold_until <= :now"
        " AND service_id = :service AND start_at = :start"
    )
)


# Whether such holds are in the way (for the one-statement booking on PostgreSQL to say).
EXPIRED_IN_CELLS = (
    "EXISTS (SELECT 1 FROM counsellor_claims WHERE hold_until IS NOT NULL AND hold_until <= :j_at"
    " AND minute >= CAST(:first AS INTEGER) AND minute < CAST(:last AS INTEGER))"
)
EXPIRED_IN_SLOT = (
    "EXISTS (SELECT 1 FROM slot_claims WHERE hold_until IS NOT NULL AND hold_until <= :j_at"
    " AND service_id = :service AND start_at = :start)"
)


def sweep(service: Service, start: datetime, end: datetime, now: datetime) -> int:
    """Free the places whose holds ran out at this time, inside the caller's transaction; how
    many claim rows went."""
    cells = rota.cells(start, end)
    if rota.gives(roster(), service):
        return sql(SWEEP_COUNSELLOR_CELLS, {"now": now, "first": cells.start, "last": cells.stop}).rowcount
    return sql(SWEEP_SLOT, {"now": now, "service": service.id, "start": start}).rowcount


CLAIM_FIRST_FREE_PLACE = with_times(text(f"WITH RECURSIVE {PLACES}\n{anonymous_insert(':booking')}"))


@lru_cache(maxsize=64)
def _claim_counsellor(count: int, closures: bool) -> TextClause:
    insert = counsellor_insert("CAST(:booking AS INTEGER)", closures)
    return with_times(text(f"WITH RECURSIVE {counsellor_ctes(count)}\n{insert}"))


@lru_cache(maxsize=64)
def _any_free(count: int) -> TextClause:
    """Whether one of `count` candidates is free now (after a claim that inserted nothing)."""
    return with_times(
        text(f"WITH {_candidates(count)} SELECT counsellor FROM candidates WHERE {_CANDIDATE_FREE} LIMIT 1")
    )


RELEASE_COUNSELLOR = delete(CounsellorClaim).where(
    CounsellorClaim.booking_id == bindparam("booking"),
    CounsellorClaim.counsellor_id == bindparam("counsellor"),
)
SET_COUNSELLOR = (
    update(Booking.__table__)
    .where(Booking.__table__.c.id == bindparam("booking"))
    .values(counsellor_id=bindparam("counsellor"))
)


def candidates_for(
    office: Office,
    service: Service,
    start: datetime,
    end: datetime,
    language: str | None,
    counsellor_id: int | None,
) -> list[Counsellor]:
    return [
        c
        for c in rota.eligible(office, service, start, end, roster(), language)
        if counsellor_id is None or c.id == counsellor_id
    ]


def counsellor_params(
    office: Office, start: datetime, end: datetime, candidates: Sequence[Counsellor], prefer: int | None
) -> dict[str, object]:
    cells = rota.cells(start, end)
    day = rota.cells(*local_bounds(office, *(2 * [start.astimezone(office.timezone).date()])))
    params: dict[str, object] = {
        "first": cells.start,
        "last": cells.stop,
        "start": start,
        "end": end,
        "prefer": prefer,
        "day_first": day.start,
        "day_last": day.stop,
    }
    for n, candidate in enumerate(candidates):
        params[f"c{n}"], params[f"w{n}"] = candidate.id, len(candidate.languages)
    return params


def claim(
    office: Office,
    service: Service,
    start: datetime,
    end: datetime,
    booking_id: int,
    now: datetime,
    *,
    language: str | None = None,
    counsellor_id: int | None = None,
    prefer: int | None = None,
    closures: bool = True,
    hold_until: datetime | None = None,
) -> int | None:
    """Take a place for the booking inside the caller's transaction: a counsellor's time (returns
    the counsellor's id) or an anonymous place (returns None). `counsellor_id` asks for that one
    counsellor, `prefer` tries one first (a move keeps its counsellor when free). Raises `SlotFull`
    when no matching counsellor or place is free, `InvalidBooking` when staff closed the time
    (unless `closures` is False: staff reassigning an appointment already inside a closure).
    `hold_until`: the place is only held until then (a pending booking). Holds that ran out by
    `now` at this time are swept first."""
    sweep(service, start, end, now)
    if not rota.gives(roster(), service):
        if language not in (None, DEFAULT_LANGUAGE) or counsellor_id is not None:
            raise SlotFull()
        _claim_anonymous(service, Slot(start, end), booking_id, hold_until)
        return None
    candidates = candidates_for(office, service, start, end, language, counsellor_id)
    cells = rota.cells(start, end)
    for _round in range(CLAIM_ROUNDS):
        if not candidates:
            break
        params = {
            **counsellor_params(office, start, end, candidates, prefer),
            "booking": booking_id,
            "hold_until": hold_until,
        }
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


def _claim_anonymous(service: Service, slot: Slot, booking_id: int, hold_until: datetime | None) -> None:
    """Take the first free place of an open slot; the unique key (service, start, place)
    decides races. Raises `SlotFull`, or `InvalidBooking` when staff have closed the slot."""
    values = {
        "capacity": service.capacity,
        "service": service.id,
        "start": slot.start,
        "end": slot.end,
        "booking": booking_id,
        "hold_until": hold_until,
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


def hold_until(booking_id: int, until: datetime) -> None:
    """Keep the booking's place taken only until `until` (then it is free, as an expired hold)."""
    sql(update(SlotClaim).where(SlotClaim.booking_id == booking_id).values(hold_until=until))
    sql(update(CounsellorClaim).where(CounsellorClaim.booking_id == booking_id).values(hold_until=until))


def release_all(booking_id: int) -> None:
    """Free whatever place the booking holds, of either kind, inside the caller's transaction."""
    sql(delete(SlotClaim).where(SlotClaim.booking_id == booking_id))
    sql(delete(CounsellorClaim).where(CounsellorClaim.booking_id == booking_id))
