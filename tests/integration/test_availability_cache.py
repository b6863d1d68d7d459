"""Availability reads may be reused for AVAILABILITY_CACHE_SECONDS within one process; any commit
in the process forgets them, and booking itself never relies on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from booking.extensions import db
from booking.models import Booking, SlotClaim

DAY = "/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30"


@pytest.fixture
def cached(app_with):  # type: ignore[no-untyped-def]
    return app_with(AVAILABILITY_CACHE_SECONDS=60)


def free_at_0830(client) -> int:  # type: ignore[no-untyped-def]
    return client.get(DAY).json["slots"][0]["available"]


def take_a_place_from_another_process(app) -> None:  # type: ignore[no-untyped-def]
    """Insert a booking and its place with plain SQL, not through this process's session."""
    start = datetime(2027, 3, 30, 6, 30, tzinfo=UTC)
    with app.app_context(), db.engine.begin() as connection:
        booking_id = connection.execute(
            insert(Booking.__table__)
            .values(
                reference="OTHR-PROC",
                token="t" * 43,
                service_id="beratung",
                start_at=start,
                end_at=start + timedelta(minutes=30),
                name="Other",
                email="o@example.org",
                language="de",
                status="confirmed",
                sequence=0,
                created_at=start - timedelta(days=3),
            )
            .returning(Booking.__table__.c.id)
        ).scalar_one()
        connection.execute(
            insert(SlotClaim.__table__).values(
                service_id="beratung", start_at=start, place_no=1, booking_id=booking_id
            )
        )


def test_a_write_from_another_process_shows_after_the_cache_time_and_a_local_commit_at_once(cached):
    client = cached.test_client()
    assert free_at_0830(client) == 2
    take_a_place_from_another_process(cached)
    assert free_at_0830(client) == 2  # reused within the cache time
    booked = client.post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": "2027-03-30T08:30", "name": "A", "email": "a@example.org"},
    )
    assert booked.status_code == 201  # the database decides: the last place
    assert free_at_0830(client) == 0  # the commit emptied the cache
    full = client.post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": "2027-03-30T08:30", "name": "B", "email": "b@example.org"},
    )
    assert full.status_code == 409


def test_without_a_cache_time_every_look_reads_the_database(app, client):
    assert free_at_0830(client) == 2
    take_a_place_from_another_process(app)
    assert free_at_0830(client) == 1


def test_a_cached_answer_never_offers_a_time_that_left_the_booking_window(cached, clock):
    client = cached.test_client()
    url = "/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30"
    # 08:30 local (06:30 UTC) is bookable until 06:30 UTC minus the 120 minutes' notice.
    clock.now = datetime(2027, 3, 30, 4, 29, 59, 500000, tzinfo=UTC)
    assert client.get(url).json["slots"][0]["start"] == "2027-03-30T08:30:00+02:00"
    clock.now = datetime(2027, 3, 30, 4, 30, 0, 500000, tzinfo=UTC)
    assert client.get(url).json["slots"][0]["start"] == "2027-03-30T09:00:00+02:00"


def test_the_counsellors_kept_across_commits_are_read_anew_after_any_change_of_accounts(cached):
    """The roster outlives the commits of bookings, never a change of accounts in this process."""
    from booking import accounts
    from booking.models import Staff
    from tests.integration.staff_support import create_counsellor

    client = cached.test_client()
    assert free_at_0830(client) == 2  # no counsellors: the office file's two places
    anna = create_counsellor(cached, "anna@ki.example", "Anna", ("de",))
    assert free_at_0830(client) == 1  # one counsellor is one place, at once
    assert (
        client.post(
            "/api/v1/bookings",
            json={"service": "beratung", "start": "2027-03-30T09:00", "name": "A", "email": "a@example.org"},
        ).status_code
        == 201
    )
    with cached.app_context():
        office = cached.extensions["office"]
        accounts.set_hours(office, db.session.get(Staff, anna), {0: []})  # Mondays only, no hours
    assert free_at_0830(client) == 0
    with cached.app_context():
        accounts.set_hours(office, db.session.get(Staff, anna), None)
        accounts.set_active(db.session.get(Staff, anna), False)
    assert free_at_0830(client) == 2  # nobody active gives it: anonymous places again
