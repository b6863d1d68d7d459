"""The rules of taking a place (`booking.claims`), one test each, through the service functions
(book, move, reassign, cancel) on SQLite and PostgreSQL alike: an anonymous place is the lowest
free place number of the slot, up to the service's capacity; a counsellor's time is every cell of
it, given to the preferred counsellor first, then to the one with fewer languages, then to the
least busy of the day; a closed time is refused as closed, a full one as full; holds that ran out
are swept by the next claim of their time; a claim that finds its place or cells taken by a
booking written in the same moment tries again, at most twenty times.

Such a race cannot happen on SQLite, which lets one writer at a time: a trigger stands in for the
other booking (`rival_first`), writing the place or cell our claim is about to write.

The clock stands on Friday 26 March 2027; the appointments are on Tuesday 30 March (Wednesday 31
March where a second day is needed), in office time."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

import pytest
from flask import Flask, current_app
from sqlalchemy import delete, select, text

from booking import absences, bookings, closures, places, rota
from booking.extensions import db, on_postgresql, transaction
from booking.models import Booking, CounsellorClaim, SlotClaim, Staff
from booking.office import Office
from booking.refusals import InvalidBooking, SlotFull, unbookable_message
from booking.schedule import Unbookable
from booking.verification import FALLBACK_HOLD_MINUTES
from tests.conftest import FIXED_NOW, SUITE_OFFICE_TEXT, Clock, snapshot

TUESDAY, WEDNESDAY = date(2027, 3, 30), date(2027, 3, 31)
HOLD = timedelta(minutes=FALLBACK_HOLD_MINUTES)  # of a pending booking (verify=True)
# The shipped office ("beratung": 30 minutes, 2 places) and services of every shape a claim meets.
OFFICE_FILE = (
    SUITE_OFFICE_TEXT
    + """
[[services]]
id = "sprechstunde"
name = "Offene Sprechstunde"
duration_minutes = 30
capacity = 2

[[services]]
id = "vorsprache"
name = "Vorsprache"
duration_minutes = 30
capacity = 2

[[services]]
id = "kurz"
name = "Kurze Auskunft"
duration_minutes = 10
step_minutes = 5
capacity = 1

[[services]]
id = "fuenf"
name = "Fünf Minuten"
duration_minutes = 5
capacity = 1
"""
)
P = ParamSpec("P")
T = TypeVar("T")
RESIDENTS = itertools.count()
NAMES = itertools.count()


@pytest.fixture
def office_app(app_with: Callable[..., Flask], tmp_path: Path) -> Iterator[Flask]:
    path = tmp_path / "office.toml"
    path.write_text(OFFICE_FILE, encoding="utf-8")
    app = app_with(OFFICE_CONFIG=str(path))
    with app.app_context():  # for the helpers; each runs in a request of its own
        account("Sabine", role="reception")
        yield app


# --- helpers ---------------------------------------------------------------------------------


def office() -> Office:
    return current_app.extensions["office"]


def now() -> datetime:
    return current_app.config["CLOCK"]()


def local(hhmm: str, day: date = TUESDAY) -> datetime:
    return absences.local(office(), day, time.fromisoformat(hhmm))


def own_request(function: Callable[P, T]) -> Callable[P, T]:
    """Run in a request of its own, with a database session of its own, as each booking, move or
    cancel does (a refused booking leaves its session behind)."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with current_app.app_context(), current_app.test_request_context():
            return function(*args, **kwargs)

    return run


@own_request
def account(
    name: str,
    languages: tuple[str, ...] = ("de",),
    *,
    role: str = "counsellor",
    services: tuple[str, ...] | None = None,
    number: int | None = None,
) -> int:
    """A staff account (`services` None: all of them; `number`: its id), written directly:
    `accounts.create_staff` hashes a password, a tenth of a second each."""
    with transaction():
        staff = Staff(
            id=number,
            email=f"{name.lower()}{next(NAMES)}@ki.example",
            name=name,
            password_hash="-",
            active=True,
            created_at=FIXED_NOW,
            role=role,
            languages=",".join(languages),
            services=None if services is None else ",".join(services),
            custom_hours=False,
        )
        db.session.add(staff)
    return staff.id


def reception() -> Staff:
    """The reception's account (the fixture's), in the session of the request."""
    return db.session.scalars(select(Staff).where(Staff.role == "reception")).one()


@own_request
def book(
    hhmm: str,
    service: str = "beratung",
    *,
    day: date = TUESDAY,
    language: str | None = None,
    counsellor: int | None = None,
    verify: bool | None = None,
    office_now: Office | None = None,
) -> int:
    """A new resident's booking online; with `counsellor`, staff booking that counsellor for a
    caller. `office_now`: the office as its file says now."""
    request = bookings.BookingRequest(
        service,
        local(hhmm, day),
        "Resident",
        f"resident{next(RESIDENTS)}@example.org",
        counselling_language=language,
        counsellor_id=counsellor,
    )
    if counsellor is None:
        return bookings.book(office_now or office(), request, now(), verify=verify).id
    return bookings.book(
        office(), request, now(), staff=reception(), enforce_notice=False, email_required=False
    ).id


@own_request
def move(booking_id: int, hhmm: str) -> None:
    bookings.move(office(), db.session.get_one(Booking, booking_id), local(hhmm), now())


@own_request
def cancel(booking_id: int, release_after: timedelta = timedelta(0)) -> bool:
    return bookings.cancel(db.session.get_one(Booking, booking_id), now(), release_after=release_after)


@own_request
def reassign(booking_id: int, counsellor: int | None = None) -> int:
    """Staff give the appointment to `counsellor` (None: the best free one)."""
    return places.reassign(office(), db.session.get_one(Booking, booking_id), reception(), now(), counsellor)


@own_request
def close(start: str, end: str) -> None:
    closures.close(office(), local(start), local(end), "Teamsitzung", reception(), now())


@own_request
def away(counsellor: int, start: str, end: str) -> None:
    absences.add(office(), counsellor, local(start), local(end), "Arzttermin", None, now())


@own_request
def status_of(booking_id: int) -> str:
    return db.session.get_one(Booking, booking_id).status


@own_request
def counsellor_of(booking_id: int) -> int | None:
    return db.session.scalar(select(Booking.counsellor_id).where(Booking.id == booking_id))


@own_request
def cells_held(booking_id: int) -> set[tuple[int, int]]:
    """The (counsellor, cell) the booking holds."""
    rows = select(CounsellorClaim.counsellor_id, CounsellorClaim.minute).where(
        CounsellorClaim.booking_id == booking_id
    )
    return {(counsellor, minute) for counsellor, minute in db.session.execute(rows)}


def time_of(counsellor: int, start: str, end: str) -> set[tuple[int, int]]:
    """The cells of the counsellor's time from `start` to `end` (Tuesday, office time)."""
    return {(counsellor, minute) for minute in rota.cells(local(start), local(end))}


@own_request
def place_of(booking_id: int) -> int | None:
    return db.session.scalar(select(SlotClaim.place_no).where(SlotClaim.booking_id == booking_id))


@own_request
def free(hhmm: str, service: str = "beratung", *, at: datetime | None = None) -> int:
    """Free places of Tuesday's slot at `hhmm` as residents see them (at `at`: by then)."""
    found = places.availability(office(), office().service(service), TUESDAY, TUESDAY, at or now())
    return {slot.start.strftime("%H:%M"): count for slot, count in found}[hhmm]


@own_request
def in_flight(booking_id: int) -> None:
    """The booking's row is written, its place not yet (a booking at the moment of its claim)."""
    with transaction():
        db.session.execute(delete(SlotClaim).where(SlotClaim.booking_id == booking_id))


@own_request
def rival_first(table: str, rival: int, when: str) -> None:
    """Another booking written in the same moment as ours, which SQLite never lets happen: just
    before our claim writes a row of `table` (slot_claims or counsellor_claims) matching `when`
    (SQL on NEW), booking `rival` writes that place or cell, so ours finds it taken."""
    columns = {
        "slot_claims": ("service_id", "start_at", "place_no"),
        "counsellor_claims": ("counsellor_id", "minute"),
    }
    names = ", ".join(columns[table])
    insert = (
        f"INSERT INTO {table} ({names}, booking_id) "
        f"VALUES ({', '.join(f'NEW.{c}' for c in columns[table])}, {rival})"
    )
    condition = f"NEW.booking_id <> {rival} AND {when}"
    if on_postgresql():
        statements = [
            f"CREATE OR REPLACE FUNCTION rival_first_{table}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF {condition} THEN {insert}; END IF; RETURN NEW; END $$",
            f"CREATE TRIGGER rival_first BEFORE INSERT ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION rival_first_{table}()",
        ]
    else:
        statements = [
            f"CREATE TRIGGER rival_first BEFORE INSERT ON {table} WHEN {condition} BEGIN {insert}; END"
        ]
    with transaction():
        for statement in statements:
            db.session.execute(text(statement))


def closed_message() -> dict[str, list[str]]:
    return {"start": [unbookable_message(Unbookable.CLOSED)]}


# --- anonymous places ------------------------------------------------------------------------


def test_a_place_a_rival_took_a_moment_ago_sends_the_claim_to_the_next_place_of_the_slot(office_app):
    """Only the slot's own places count: those of other services at that time and those of other
    times of this service leave the place the rival did not take free."""
    for hhmm, service in [
        ("09:00", "beratung"),
        ("09:00", "vorsprache"),
        ("08:30", "sprechstunde"),
        ("09:30", "sprechstunde"),
    ]:
        for _place in range(2):
            book(hhmm, service)
    rival = book("09:00", "sprechstunde")
    in_flight(rival)
    rival_first("slot_claims", rival, "NEW.service_id = 'sprechstunde' AND NEW.place_no = 1")
    mine = book("09:00", "sprechstunde")
    assert (place_of(rival), place_of(mine)) == (1, 2)
    assert counsellor_of(mine) is None


def test_a_capacity_of_two_gives_exactly_two_places_the_lowest_free_first(office_app):
    first, second = book("09:00"), book("09:00")
    assert (place_of(first), place_of(second)) == (1, 2)
    before = snapshot(office_app)
    with pytest.raises(SlotFull):
        book("09:00")
    assert snapshot(office_app) == before
    assert cancel(first)
    third = book("09:00")
    assert place_of(third) == 1 and place_of(second) == 2
    assert free("09:00") == 0 and free("08:30") == 2


def test_a_slot_holding_more_places_than_a_lowered_capacity_is_full(office_app):
    for _place in range(2):
        book("09:00", "sprechstunde")
    services = tuple(
        dataclasses.replace(s, capacity=1) if s.id == "sprechstunde" else s for s in office().services
    )
    lowered = dataclasses.replace(office(), services=services)  # the office file changed since
    with pytest.raises(SlotFull):
        book("09:00", "sprechstunde", office_now=lowered)
    assert place_of(book("09:30", "sprechstunde", office_now=lowered)) == 1


def test_a_closed_time_of_an_anonymous_service_is_refused_as_closed_not_as_full(office_app):
    close("09:00", "10:00")
    before = snapshot(office_app)
    with pytest.raises(InvalidBooking) as refused:
        book("09:30")
    assert refused.value.errors == closed_message()
    assert snapshot(office_app) == before
    assert place_of(book("10:00")) == 1


def test_an_anonymous_place_has_no_other_language_and_no_counsellor_to_ask_for(office_app):
    anna = account("Anna", ("de", "uk"), services=("beratung",))  # not the open consultation
    with pytest.raises(SlotFull):
        book("09:00", "sprechstunde", language="uk")
    with pytest.raises(SlotFull):
        book("09:00", "sprechstunde", counsellor=anna)
    assert place_of(book("09:00", "sprechstunde", language="de")) == 1
    assert place_of(book("09:00", "sprechstunde")) == 2


def test_an_expired_hold_in_an_anonymous_slot_is_swept_so_the_place_can_be_booked(office_app, clock: Clock):
    held = [book("09:00", verify=True), book("09:00", verify=True)]
    assert [status_of(b) for b in held] == ["pending", "pending"]
    with pytest.raises(SlotFull):
        book("09:00")
    clock.now = FIXED_NOW + HOLD
    mine = book("09:00")
    assert place_of(mine) == 1
    assert [place_of(b) for b in held] == [None, None]  # both holds swept, not only the one needed


# --- a counsellor's time ---------------------------------------------------------------------


def test_a_booking_goes_to_the_counsellor_with_fewer_languages_first(office_app):
    yusuf = account("Yusuf", ("de", "ar", "tr"))
    anna = account("Anna", ("de",))
    first = book("09:00")
    assert counsellor_of(first) == anna
    assert cells_held(first) == time_of(anna, "09:00", "09:30")
    assert counsellor_of(book("09:00")) == yusuf
    assert counsellor_of(book("10:00", language="ar")) == yusuf


def test_a_move_tries_the_counsellor_the_appointment_has_first(office_app):
    anna = account("Anna", ("de",))
    yusuf = account("Yusuf", ("de", "ar"))
    moving = book("09:00", counsellor=yusuf)
    move(moving, "10:00")
    assert counsellor_of(moving) == yusuf  # though Anna speaks fewer languages
    assert cells_held(moving) == time_of(yusuf, "10:00", "10:30")
    assert counsellor_of(book("10:30")) == anna


def test_the_least_busy_counsellor_of_the_day_is_chosen_among_equals(office_app):
    anna, ben = account("Anna"), account("Ben")
    for hhmm in ("09:00", "10:00"):
        book(hhmm, day=WEDNESDAY, counsellor=anna)
    assert counsellor_of(book("08:30")) == anna  # Wednesday does not count on Tuesday
    assert counsellor_of(book("09:30")) == ben
    assert counsellor_of(book("10:30")) == anna  # one appointment each: the first of them


def test_staff_asking_for_a_counsellor_with_a_large_id_get_that_counsellor(office_app):
    """Ids above 256 (CPython keeps one object only for small numbers) and counsellors with fewer
    languages on either side of the one asked for, who would be chosen otherwise."""
    anna = account("Anna")
    yusuf = account("Yusuf", ("de", "ar", "tr"), number=1000)
    ben = account("Ben", number=2000)
    asked = book("09:00", counsellor=1000)
    assert counsellor_of(asked) == yusuf
    assert cells_held(asked) == time_of(yusuf, "09:00", "09:30")
    assert {counsellor_of(book("09:00")), counsellor_of(book("09:00"))} == {anna, ben}
    with pytest.raises(SlotFull):
        book("09:00", counsellor=2000)


def test_a_counsellor_away_or_in_an_overlapping_appointment_is_passed_over_then_the_time_is_full(office_app):
    anna, ben, carla = account("Anna"), account("Ben"), account("Carla", ("de", "uk"))
    away(anna, "09:15", "09:20")
    book("09:25", "kurz", counsellor=ben)
    mine = book("09:00")
    assert counsellor_of(mine) == carla
    before = snapshot(office_app)
    with pytest.raises(SlotFull):
        book("09:00")
    assert snapshot(office_app) == before


def test_a_closed_time_of_counsellors_is_refused_as_closed_even_when_nobody_speaks_the_language(office_app):
    for name in ("Anna", "Ben"):
        account(name)
    close("09:00", "10:00")
    before = snapshot(office_app)
    with pytest.raises(InvalidBooking) as refused:
        book("09:30")
    assert refused.value.errors == closed_message()
    with pytest.raises(InvalidBooking) as refused:
        book("09:30", language="fa")
    assert refused.value.errors == closed_message()
    assert snapshot(office_app) == before


def test_staff_may_reassign_an_appointment_inside_a_closure_but_not_to_a_busy_counsellor(office_app):
    anna, ben = account("Anna"), account("Ben")
    moving, other = book("09:00"), book("09:00")
    assert (counsellor_of(moving), counsellor_of(other)) == (anna, ben)
    close("08:30", "10:00")
    with pytest.raises(SlotFull):  # Ben is busy: full, not closed (the closure stops only new bookings)
        reassign(moving, ben)
    assert counsellor_of(moving) == anna and cells_held(moving) == time_of(anna, "09:00", "09:30")
    assert reassign(moving) == anna
    assert cells_held(moving) == time_of(anna, "09:00", "09:30")


def test_an_appointment_of_one_cell_takes_its_counsellor(office_app):
    anna = account("Anna")
    mine = book("09:00", "fuenf")
    assert counsellor_of(mine) == anna
    assert cells_held(mine) == time_of(anna, "09:00", "09:05")


@pytest.mark.parametrize("first", [0, 1], ids=["lower id lost", "higher id lost"])
def test_a_claim_that_loses_part_of_a_counsellors_time_gives_back_what_it_got_and_takes_the_next(
    office_app, first: int
):
    """A rival writes the second cell of the ten minutes a moved appointment wants of its
    counsellor: the first cell goes back, the appointment goes to the other counsellor, and
    nobody else's cells or counsellor change (bookings made before and after it included)."""
    ids = [account("Anna"), account("Ben")]
    lost, other = ids[first], ids[1 - first]
    earlier = book("08:30", "kurz", counsellor=lost)
    moving = book("10:00", "kurz", counsellor=lost)
    rival = book("11:00", "kurz", counsellor=lost)
    second = min(rota.cells(local("09:05"), local("09:10")))
    rival_first(
        "counsellor_claims",
        rival,
        f"NEW.booking_id = {moving} AND NEW.counsellor_id = {lost} AND NEW.minute = {second}",
    )
    move(moving, "09:00")
    assert counsellor_of(moving) == other
    assert cells_held(moving) == time_of(other, "09:00", "09:10")
    assert cells_held(rival) == time_of(lost, "11:00", "11:10") | {(lost, second)}
    assert cells_held(earlier) == time_of(lost, "08:30", "08:40")
    assert counsellor_of(earlier) == counsellor_of(rival) == lost


def rivals_take(lost: int) -> tuple[list[int], int, int, set[tuple[int, int]]]:
    """21 counsellors, Tuesday 09:00 booked with the first; when that booking is reassigned each
    of the first `lost` counsellors is taken whole by a rival in the moment the claim chose them
    (one booking row stands in for the rivals). The team, the rival, the booking and the rival's
    own cells."""
    team = [account(f"C{n:02d}") for n in range(1, 22)]
    rival = book("09:00", day=WEDNESDAY)
    moving = book("09:00")
    assert counsellor_of(moving) == team[0]
    taken = ", ".join(str(c) for c in team[:lost])
    rival_first("counsellor_claims", rival, f"NEW.booking_id = {moving} AND NEW.counsellor_id IN ({taken})")
    return team, rival, moving, cells_held(rival)


def test_after_each_lost_race_the_claim_tries_the_next_counsellor_up_to_its_twentieth_try(office_app):
    team, rival, moving, rivals = rivals_take(19)
    assert reassign(moving) == team[19]
    assert cells_held(moving) == time_of(team[19], "09:00", "09:30")
    assert cells_held(rival) == rivals.union(*(time_of(c, "09:00", "09:30") for c in team[:19]))


def test_after_twenty_lost_races_the_claim_gives_up_though_a_counsellor_is_free(office_app):
    team, rival, moving, rivals = rivals_take(20)
    with pytest.raises(SlotFull):
        reassign(moving)
    assert counsellor_of(moving) == team[0]  # nothing changed
    assert cells_held(moving) == time_of(team[0], "09:00", "09:30")
    assert cells_held(rival) == rivals


def test_an_expired_hold_of_a_counsellors_time_is_swept_so_the_time_can_be_booked(office_app, clock: Clock):
    anna = account("Anna")
    pending = book("09:00", verify=True)
    assert cells_held(pending) == time_of(anna, "09:00", "09:30")
    with pytest.raises(SlotFull):
        book("09:00")
    clock.now = FIXED_NOW + HOLD
    mine = book("09:00")
    assert counsellor_of(mine) == anna and cells_held(mine) == time_of(anna, "09:00", "09:30")
    assert cells_held(pending) == set()


# --- giving places back ----------------------------------------------------------------------


def both_kinds() -> dict[str, list[int]]:
    """Anna gives "beratung", nobody "sprechstunde" (anonymous, 2 places): at 08:30, 09:00 and
    09:30 a booking of each, made in turns (so the ids of one kind lie between the other's)."""
    account("Anna", services=("beratung",))
    made: dict[str, list[int]] = {"beratung": [], "sprechstunde": []}
    for hhmm in ("08:30", "09:00", "09:30"):
        for service, ids in made.items():
            ids.append(book(hhmm, service))
    return made


def places_left(at: datetime | None = None) -> dict[str, list[int]]:
    return {
        service: [free(hhmm, service, at=at) for hhmm in ("08:30", "09:00", "09:30")]
        for service in ("beratung", "sprechstunde")
    }


def test_a_cancel_frees_the_place_of_either_kind_and_only_its_own(office_app):
    made = both_kinds()
    assert places_left() == {"beratung": [0, 0, 0], "sprechstunde": [1, 1, 1]}
    for ids in made.values():
        assert cancel(ids[1])
    assert places_left() == {"beratung": [0, 1, 0], "sprechstunde": [1, 2, 1]}


def test_a_place_held_after_a_cancel_is_free_from_that_moment_on_and_only_that_place(office_app):
    made = both_kinds()
    later = timedelta(minutes=10)
    for ids in made.values():
        assert cancel(ids[1], later)
    assert places_left() == {"beratung": [0, 0, 0], "sprechstunde": [1, 1, 1]}
    assert places_left(now() + later - timedelta(seconds=1)) == {
        "beratung": [0, 0, 0],
        "sprechstunde": [1, 1, 1],
    }
    assert places_left(now() + later) == {"beratung": [0, 1, 0], "sprechstunde": [1, 2, 1]}
