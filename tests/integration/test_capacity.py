"""Capacity holds under concurrency, on SQLite (a file) and PostgreSQL: real threads released
together by a barrier, each with its own test client of one app; the database is checked after."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from booking import rota
from booking.extensions import db
from booking.models import Booking, CounsellorClaim, SlotClaim
from booking.rota import CELL_MINUTES
from tests.conftest import SUITE_OFFICE_TEXT, Clock, make_app
from tests.integration.staff_support import HOUR_LONG, create_counsellor

# FIXED_NOW is Good Friday 2027-03-26; Tuesday 30 March is the first open day (capacity 2).
SLOT = "2027-03-30T08:30:00+02:00"
SLOT_UTC = datetime(2027, 3, 30, 6, 30, tzinfo=UTC)
MORNING = [f"2027-03-30T{h:02d}:{m:02d}:00+02:00" for h in (8, 9, 10, 11) for m in (0, 30)][1:]  # 7 slots


@pytest.fixture(params=["sqlite", "postgresql"])
def race_app_with(request: pytest.FixtureRequest, clock: Clock, tmp_path) -> Iterator[Callable[[str], Flask]]:  # type: ignore[no-untyped-def]
    """Build the race's app (the shipped office plus `services`, TOML) on each database kind; the
    PostgreSQL one skips locally without TEST_DATABASE_URL."""
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        uri = request.getfixturevalue("postgres_url")
    made: list[Flask] = []

    def build(services: str = "") -> Flask:
        office = tmp_path / "office.toml"
        office.write_text(SUITE_OFFICE_TEXT + services, encoding="utf-8")
        app = make_app(uri, clock, str(tmp_path / "instance"), OFFICE_CONFIG=str(office))
        with app.app_context():
            db.drop_all()
            db.create_all()
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture
def race_app(race_app_with: Callable[[str], Flask]) -> Flask:
    return race_app_with("")


def body(start: str = SLOT, email: str = "anna@example.org", name: str = "Anna") -> dict[str, str]:
    return {"service": "beratung", "start": start, "name": name, "email": email}


def together(app: Flask, calls: list[Callable[[Any], Any]]) -> list[tuple[int, Any]]:
    """Run each call with its own test client in its own thread, all released at once;
    the (status, json) of each, in order. An exception in a thread fails the test."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[int, Any] | BaseException | None] = [None] * len(calls)

    def run(index: int, call: Callable[[Any], Any]) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = call(client)
            results[index] = (response.status_code, response.get_json(silent=True))
        except BaseException as exc:  # reported below, in the test's thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def booking_call(payload: dict[str, str]) -> Callable[[Any], Any]:
    return lambda client: client.post("/api/v1/bookings", json=payload)


def claims(app: Flask, start: datetime = SLOT_UTC) -> tuple[int, int]:
    """(places claimed, active bookings) of the slot at `start`."""
    with app.app_context():
        taken = db.session.scalar(select(func.count(SlotClaim.id)).where(SlotClaim.start_at == start))
        active = db.session.scalar(
            select(func.count(Booking.id)).where(Booking.start_at == start, Booking.status == "confirmed")
        )
        return taken, active


def statuses(results: list[tuple[int, Any]]) -> Counter[int]:
    return Counter(status for status, _body in results)


def test_thirty_requests_for_the_last_place_give_one_booking_and_29_conflicts(race_app: Flask):
    client = race_app.test_client()
    assert client.post("/api/v1/bookings", json=body(email="first@example.org")).status_code == 201
    results = together(
        race_app, [booking_call(body(email=f"r{n}@example.org", name=f"Racer {n}")) for n in range(30)]
    )
    assert statuses(results) == {201: 1, 409: 29}
    assert all(
        payload == {"error": "slot_full", "message": payload["message"]} for s, payload in results if s == 409
    )
    assert claims(race_app) == (2, 2)
    with race_app.app_context():
        assert db.session.scalar(select(func.count(Booking.id))) == 2  # the losers left no rows


def test_thirty_requests_for_an_empty_slot_fill_exactly_its_capacity(race_app: Flask):
    results = together(race_app, [booking_call(body(email=f"r{n}@example.org")) for n in range(30)])
    assert statuses(results) == {201: 2, 409: 28}
    assert claims(race_app) == (2, 2)
    with race_app.app_context():
        places = set(db.session.scalars(select(SlotClaim.place_no)))
    assert places == {1, 2}


def test_concurrent_bookings_across_several_slots_all_succeed(race_app: Flask):
    calls = [
        booking_call(body(start=start, email=f"{i}-{n}@example.org"))
        for i, start in enumerate(MORNING)
        for n in range(2)
    ]
    results = together(race_app, calls)
    assert statuses(results) == {201: len(calls)}
    for start in MORNING:
        assert claims(race_app, datetime.fromisoformat(start).astimezone(UTC)) == (2, 2)


def test_a_cancel_frees_the_place_for_exactly_one_of_many(race_app: Flask):
    client = race_app.test_client()
    tokens = [
        client.post("/api/v1/bookings", json=body(email=f"{n}@example.org")).json["token"] for n in range(2)
    ]
    assert client.post("/api/v1/bookings", json=body(email="late@example.org")).status_code == 409
    assert client.delete(f"/api/v1/bookings/{tokens[0]}").status_code == 200
    results = together(race_app, [booking_call(body(email=f"r{n}@example.org")) for n in range(12)])
    assert statuses(results) == {201: 1, 409: 11}
    assert claims(race_app) == (2, 2)


def test_cancels_racing_bookings_never_overfill(race_app: Flask):
    client = race_app.test_client()
    tokens = [
        client.post("/api/v1/bookings", json=body(email=f"{n}@example.org")).json["token"] for n in range(2)
    ]
    cancels = [lambda c, t=token: c.delete(f"/api/v1/bookings/{t}") for token in tokens]
    results = together(race_app, cancels + [booking_call(body(email=f"r{n}@example.org")) for n in range(10)])
    assert all(status < 500 for status, _ in results)
    assert [status for status, _ in results[:2]] == [200, 200]
    booked = sum(1 for status, _ in results[2:] if status == 201)
    assert 0 <= booked <= 2
    taken, active = claims(race_app)
    assert taken == active == booked


def test_cancelling_twice_at_once_is_harmless(race_app: Flask):
    client = race_app.test_client()
    token = client.post("/api/v1/bookings", json=body()).json["token"]
    results = together(race_app, [lambda c: c.delete(f"/api/v1/bookings/{token}") for _ in range(8)])
    assert statuses(results) == {200: 8}
    assert claims(race_app) == (0, 0)
    with race_app.app_context():
        booking = db.session.scalar(select(Booking))
        assert booking.status == "cancelled" and booking.sequence == 1


def test_the_per_email_limit_holds_under_concurrency(race_app: Flask):
    calls = [booking_call(body(start=start, email="same@example.org")) for start in MORNING]
    results = together(race_app, calls)
    assert statuses(results) == {201: 3, 422: len(MORNING) - 3}
    assert all("email" in payload["errors"] for status, payload in results if status == 422)
    with race_app.app_context():
        active = db.session.scalar(
            select(func.count(Booking.id)).where(
                Booking.email == "same@example.org", Booking.status == "confirmed"
            )
        )
        assert active == 3
        assert db.session.scalar(select(func.count(SlotClaim.id))) == 3


# --- counsellors: the places are people ------------------------------------------------------


def test_thirty_requests_for_one_time_with_two_counsellors_give_exactly_two_bookings(race_app: Flask):
    create_counsellor(race_app, "anna@ki.example", "Anna", ("de",))
    create_counsellor(race_app, "yusuf@ki.example", "Yusuf", ("de", "ar"))
    results = together(race_app, [booking_call(body(email=f"r{n}@example.org")) for n in range(30)])
    assert statuses(results) == {201: 2, 409: 28}
    with race_app.app_context():
        counsellors = db.session.scalars(
            select(Booking.counsellor_id).where(Booking.status == "confirmed")
        ).all()
        assert sorted(counsellors) == sorted(set(counsellors)) and len(counsellors) == 2
        assert db.session.scalar(select(func.count(CounsellorClaim.minute))) == 2 * 30 // CELL_MINUTES
        assert db.session.scalar(select(func.count(SlotClaim.id))) == 0


def test_overlapping_hour_long_bookings_racing_for_two_counsellors_never_overlap(race_app_with):
    """Starts half an hour apart share half their cells: a claim can lose the race for some cells
    of one counsellor and win the others; it must give those back before it tries the next one."""
    app = race_app_with(HOUR_LONG)
    create_counsellor(app, "anna@ki.example", "Anna", ("de",))
    create_counsellor(app, "yusuf@ki.example", "Yusuf", ("de",))
    results = []
    for day in ("2027-03-30", "2027-03-31", "2027-04-01", "2027-04-02", "2027-04-05", "2027-04-06"):
        calls = [
            booking_call(
                {
                    **body(email=f"{day}-{n}@example.org"),
                    "service": "lang",
                    "start": f"{day}T{('09:00', '09:30')[n % 2]}",
                }
            )
            for n in range(12)
        ]
        results += together(app, calls)
    assert all(status in (201, 409) for status, _ in results)
    with app.app_context():
        taken = db.session.execute(
            select(Booking.id, Booking.counsellor_id, Booking.start_at, Booking.end_at).where(
                Booking.status == "confirmed"
            )
        ).all()
        assert len(taken) == 6 * 2  # each day: 09:00 and 09:30, each with another counsellor
        for a, b in itertools.combinations(taken, 2):
            overlap = a.start_at < b.end_at and b.start_at < a.end_at
            assert not (overlap and a.counsellor_id == b.counsellor_id), "one counsellor, two at once"
        claimed = db.session.execute(
            select(CounsellorClaim.booking_id, CounsellorClaim.counsellor_id, func.count()).group_by(
                CounsellorClaim.booking_id, CounsellorClaim.counsellor_id
            )
        ).all()
        assert sorted(tuple(row) for row in claimed) == sorted(
            (row.id, row.counsellor_id, 60 // CELL_MINUTES) for row in taken
        )
    assert sum(1 for status, _ in results if status == 201) == len(taken)


def test_a_claim_that_loses_one_cell_to_a_concurrent_booking_gives_the_rest_back(race_app_with):
    """Deterministic: another transaction holds Anna's 10:00 cell, not yet committed, while a
    booking 09:30-10:30 chooses Anna (it cannot see that cell). Its insert waits for that cell,
    loses it when the other commits, and must give back the eleven cells it got, then take Ben."""
    app = race_app_with(HOUR_LONG)
    anna = create_counsellor(app, "anna@ki.example", "Anna", ("de",))
    ben = create_counsellor(app, "ben@ki.example", "Ben", ("de",))
    client = app.test_client()
    other = client.post("/api/v1/bookings", json=body(start="2027-03-31T08:30", email="z@example.org")).json
    with app.app_context():
        other_id = db.session.scalar(select(Booking.id).where(Booking.token == other["token"]))
        ten = rota.cells(
            datetime(2027, 3, 30, 8, 0, tzinfo=UTC), datetime(2027, 3, 30, 8, 5, tzinfo=UTC)
        ).start
        holder = db.engine.connect()
    holding = holder.begin()
    holder.execute(
        insert(CounsellorClaim.__table__).values(counsellor_id=anna, minute=ten, booking_id=other_id)
    )
    result: list[Any] = []
    payload = {**body(email="x@example.org"), "service": "lang", "start": "2027-03-30T09:30"}
    thread = threading.Thread(
        target=lambda: result.append(app.test_client().post("/api/v1/bookings", json=payload))
    )
    thread.start()
    time.sleep(1.0)  # the booking is waiting for Anna's 10:00 cell (PostgreSQL) or for the lock (SQLite)
    holding.commit()
    holder.close()
    thread.join(timeout=60)
    assert result and result[0].status_code == 201, result
    with app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.token == result[0].json["token"]))
        assert booking.counsellor_id == ben
        mine = db.session.execute(
            select(CounsellorClaim.counsellor_id, func.count())
            .where(CounsellorClaim.booking_id == booking.id)
            .group_by(CounsellorClaim.counsellor_id)
        ).all()
        assert [tuple(row) for row in mine] == [(ben, 60 // CELL_MINUTES)]  # nothing of Anna's kept
