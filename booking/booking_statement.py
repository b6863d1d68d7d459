"""PostgreSQL writes a whole new booking in one statement: the address's limit and a repeated
request checked, the booking row, its place (a counsellor's cells or an anonymous place, the
claims' own SQL), its audit entry and its email. A round trip to the database is most of what a
booking costs; SQLite takes the statements one by one (`bookings.book`).

The address's advisory lock comes first, and BEGIN, the lock and the statement travel to the
server together (libpq's pipeline mode): one round trip. The server still runs them one after
the other, so the statement's snapshot is taken once the lock is granted and sees every booking
of the address that committed before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, Row, TextClause, bindparam, text
from sqlalchemy.exc import DBAPIError

from booking import claims, journal, rota
from booking.closures import is_closed
from booking.extensions import db, sql
from booking.models import Booking, UTCDateTime
from booking.office import Office, Service
from booking.refusals import InvalidBooking, SlotFull, unbookable_message
from booking.roster import DEFAULT_LANGUAGE, roster
from booking.schedule import Slot, Unbookable

# The address's upcoming bookings: the same one again (a double click) or how many there are.
_GATE = """mine AS (
  SELECT id, service_id, start_at FROM bookings
  WHERE email = :b_email AND end_at > :j_at
    AND (status = 'confirmed' OR (status = 'pending' AND hold_until > :j_at))
),
gate AS (
  SELECT (SELECT id FROM mine WHERE service_id = :b_service_id AND start_at = :b_start_at LIMIT 1) AS same,
         (SELECT COUNT(*) FROM mine) AS active
)"""


@dataclass(frozen=True)
class Booked:
    """What the statement did: the new booking (None when the gate refused it) with its
    counsellor and emails, or the same booking made before, or the address's number of
    upcoming bookings (which the caller compares with the limit)."""

    booking_id: int | None
    counsellor: int | None
    emails: list[int]
    same: int | None
    active: int


@lru_cache(maxsize=64)
def _statement(columns: tuple[str, ...], candidates: int | None) -> TextClause:
    """`candidates` None: an anonymous place; else a counsellor among that many. Besides the place
    it answers whether the time is closed, how many anonymous places were taken and whether
    holds that ran out are in the way (then they are swept and the statement runs again), so
    that a refusal needs no query of its own."""
    table = Booking.__table__
    if candidates is None:
        ctes, claimed = claims.PLACES, claims.anonymous_insert("b.id", ", b")
        counsellor = "CAST(NULL AS INTEGER)"
        taken = "(SELECT COUNT(*) FROM slot_claims WHERE service_id = :service AND start_at = :start)"
        free = f"{taken} < CAST(:capacity AS INTEGER)"
        expired = claims.EXPIRED_IN_SLOT
    else:
        ctes, claimed = claims.counsellor_ctes(candidates), claims.counsellor_insert("b.id", True, ", b")
        counsellor = "(SELECT counsellor FROM chosen)"
        taken, free = "0", "EXISTS (SELECT 1 FROM chosen)"
        expired = claims.EXPIRED_IN_CELLS
    # Nothing is written for a request that will be refused (the same booking again, the limit,
    # a closed or full time): the statement says which, and the transaction has nothing to undo.
    values = ", ".join(f":b_{c}" for c in columns)
    insert = (
        f"b AS (INSERT INTO bookings ({', '.join(columns)}, counsellor_id) SELECT {values}, {counsellor} "
        "FROM gate WHERE gate.same IS NULL AND gate.active < CAST(:limit AS INTEGER) "
        f"AND {claims.NOT_CLOSED} AND {free} RETURNING id, counsellor_id)"
    )
    statement = text(f"""WITH RECURSIVE {ctes},
{_GATE},
{insert},
claimed AS ({claimed}),
{journal.BOOKED_CTES}
SELECT b.id, b.counsellor_id, (SELECT COUNT(*) FROM claimed), (SELECT id FROM mail),
  NOT {claims.NOT_CLOSED}, {taken}, gate.same, gate.active, b.id IS NULL AND {expired}
FROM gate LEFT JOIN b ON true""")
    return claims.with_times(statement).bindparams(
        *(bindparam(f"b_{c}", type_=table.c[c].type) for c in columns),
        *(bindparam(name, type_=UTCDateTime()) for name in journal.BOOKED_TIMES),
    )


_compiled: dict[TextClause, str] = {}


def _compiled_for(connection: Connection, statement: TextClause) -> str:
    query = _compiled.get(statement)
    if query is None:
        query = _compiled[statement] = str(statement.compile(dialect=connection.dialect))
    return query


def _run(statement: TextClause, params: dict[str, object], lock: int | None) -> Row[tuple[object, ...]]:
    """BEGIN (psycopg's own), the lock and the statement in one round trip, on the session's
    connection and inside its transaction. The statement goes to psycopg as SQLAlchemy compiled
    it; its parameters need no conversion on PostgreSQL (UTCDateTime passes aware times on)."""
    connection = db.session.connection()
    query = _compiled_for(connection, statement)
    driver = connection.connection.driver_connection
    try:
        with driver.cursor() as locking, driver.cursor() as cursor:
            with driver.pipeline():
                if lock is not None:
                    locking.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                cursor.execute(query, params)
            found = cursor.fetchone()
    except connection.dialect.loaded_dbapi.Error as error:
        # Raised as SQLAlchemy raises it for every other statement (a unique key: IntegrityError),
        # so that callers catch the same error on PostgreSQL as on SQLite.
        raise DBAPIError.instance(query, params, error, connection.dialect.loaded_dbapi.Error) from error
    assert found is not None
    return found  # type: ignore[return-value]


def book(
    office: Office,
    service: Service,
    slot: Slot,
    values: dict[str, object],
    journal_values: dict[str, object],
    *,
    language: str | None,
    counsellor_id: int | None,
    limit: int,
    lock: int | None,
) -> Booked:
    """Insert the booking (`values`: its columns but the counsellor) with its place, audit entry and
    email (`journal.booked_values`) inside the caller's transaction, unless the address has the same
    booking already or `limit` upcoming ones. When the place went to another booking in the same
    moment the booking row is written all the same and `claims.claim` decides the place; a refusal
    (`SlotFull`, `InvalidBooking`) leaves the caller's transaction to undo it all. `lock`: the key
    of the address's advisory lock (None: no address)."""
    given = rota.gives(roster(), service)
    if not given and (language not in (None, DEFAULT_LANGUAGE) or counsellor_id is not None):
        raise SlotFull()
    candidates = (
        claims.candidates_for(office, service, slot.start, slot.end, language, counsellor_id) if given else []
    )
    if given and not candidates:  # nobody could take it: no statement needed to know
        if is_closed(slot):
            raise InvalidBooking({"start": [unbookable_message(Unbookable.CLOSED)]})
        raise SlotFull()
    params: dict[str, object] = {f"b_{column}": value for column, value in values.items()}
    params.update(journal_values, limit=limit, hold_until=values["hold_until"], now=journal_values["j_at"])
    if given:
        params.update(claims.counsellor_params(office, slot.start, slot.end, candidates, None))
    else:
        params.update(
            {"capacity": service.capacity, "service": service.id, "start": slot.start, "end": slot.end}
        )
    statement = _statement(tuple(values), len(candidates) if given else None)
    now = journal_values["j_at"]
    assert isinstance(now, datetime)
    row = _run(statement, params, lock)
    booking_id, counsellor, claimed, mail, closed, taken, same, active, expired = row
    if booking_id is None:
        if same is not None or active >= limit:
            return Booked(None, None, [], same, active)
        if closed:
            raise InvalidBooking({"start": [unbookable_message(Unbookable.CLOSED)]})
        if not expired:
            raise SlotFull()  # nobody (no place) was free
        # Held by pending bookings whose holds ran out: swept only now, so that the common booking
        # pays no statement for them; then once more (also when another booking swept them a
        # moment ago, its DELETE taking the rows from ours, and left a place free).
        claims.sweep(service, slot.start, slot.end, now)
        booking_id, counsellor, claimed, mail, *_rest = _run(statement, params, None)
        if booking_id is None:
            raise SlotFull()
    emails = [mail] if mail is not None else []
    if claimed == (len(rota.cells(slot.start, slot.end)) if given else 1):
        return Booked(booking_id, counsellor, emails, None, active)
    # A race lost for a place another booking took in the same moment: the claim decides, in
    # this transaction (a refusal there makes the caller's transaction undo the booking row).
    if claimed:
        sql(claims.RELEASE_COUNSELLOR, {"booking": booking_id, "counsellor": counsellor})
    found = claims.claim(
        office,
        service,
        slot.start,
        slot.end,
        booking_id,
        now,
        language=language,
        counsellor_id=counsellor_id,
        hold_until=values["hold_until"],  # type: ignore[arg-type]
    )
    if found != counsellor:
        sql(claims.SET_COUNSELLOR, {"booking": booking_id, "counsellor": found})
    return Booked(booking_id, found, emails, None, active)
