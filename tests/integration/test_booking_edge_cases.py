"""Edges a real resident or a sloppy client reaches: a double click, an address no mail server can
take, dates at the ends of the calendar, a time staff closed after the week page was shown."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from booking import closures
from booking.extensions import db
from booking.models import Booking, Outbox, SlotClaim, Staff
from tests.integration.staff_support import create_staff, sign_in

START = "2027-03-30T08:30"


def post(client, **fields):  # type: ignore[no-untyped-def]
    body = {"service": "beratung", "start": START, "name": "Ayşe", "email": "a@example.org", **fields}
    return client.post("/api/v1/bookings", json=body)


def counts(app) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return tuple(db.session.scalar(select(func.count(m.id))) for m in (Booking, SlotClaim, Outbox))


def test_a_double_submit_keeps_one_place_and_one_confirmation(app, client):
    first = post(client)
    again = post(client, name="Ayşe Y.")
    assert first.status_code == again.status_code == 201
    assert again.json["token"] == first.json["token"]
    assert counts(app) == (1, 1, 1)
    assert (
        client.get("/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30").json["slots"][0][
            "available"
        ]
        == 1
    )


def test_the_form_posted_twice_lands_on_the_same_booking(app, client):
    url = "/book/beratung/details?start=2027-03-30T08:30:00%2B02:00"
    data = {"name": "Ayşe", "email": "a@example.org", "consent": "y"}
    assert client.post(url, data=data).location == client.post(url, data=data).location
    assert counts(app) == (1, 1, 1)


def test_an_address_that_needs_smtputf8_is_refused_and_changes_nothing(app, client):
    response = post(client, email="jürgen@example.org")
    assert response.status_code == 422 and "email" in response.json["errors"]
    assert counts(app) == (0, 0, 0)


def test_an_international_domain_is_stored_in_its_ascii_form(app, client):
    response = post(client, email="Anna@Exämple.org")
    assert response.status_code == 201
    assert response.json["email"] == "anna@xn--exmple-cua.org"


@pytest.mark.parametrize("start", ["9999-12-31T10:00", "0001-01-01T10:00", "9999-12-31T23:59+14:00"])
def test_a_start_at_the_ends_of_the_calendar_is_a_clear_422(app, client, start):
    response = post(client, start=start)
    assert response.status_code == 422 and "start" in response.json["errors"]
    token = post(client).json["token"]
    moved = client.post(f"/b/{token}/move", data={"start": start})
    assert moved.status_code == 302


@pytest.mark.parametrize(
    "path",
    [
        "/staff/?date=9999-12-31",
        "/staff/?date=0001-01-01",
        "/staff/week?date=9999-12-31",
        "/staff/export.csv?from=9999-12-31&to=9999-12-31",
        "/staff/book?service=beratung&start=9999-12-31T10:00",
    ],
)
def test_staff_pages_survive_dates_at_the_ends_of_the_calendar(app, client, path):
    create_staff(app)
    sign_in(client)
    assert client.get(path).status_code < 500


def test_the_details_page_already_knows_a_time_staff_closed(app, client, clock):
    with app.app_context():
        office, staff = app.extensions["office"], db.session.get(Staff, create_staff(app))
        closures.close(
            office,
            datetime.fromisoformat("2027-03-30T08:00+02:00"),
            datetime.fromisoformat("2027-03-30T12:00+02:00"),
            "Teamsitzung",
            staff,
            clock.now,
        )
    response = client.get(
        "/book/beratung/details?start=2027-03-30T08:30:00%2B02:00",
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "The office is closed at this time." in response.text


def test_a_time_staff_closed_cannot_be_booked_through_the_api_and_takes_no_place(app, client, clock):
    with app.app_context():
        office, staff = app.extensions["office"], db.session.get(Staff, create_staff(app))
        closures.close(
            office,
            datetime.fromisoformat("2027-03-30T08:45+02:00"),  # closes the second half of 08:30-09:00
            datetime.fromisoformat("2027-03-30T10:00+02:00"),
            "Teamsitzung",
            staff,
            clock.now,
        )
    response = client.post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": "2027-03-30T08:30", "name": "Anna", "email": "a@example.org"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["start"] == ["The office is closed at this time."]
    with app.app_context():
        assert db.session.scalar(select(func.count(Booking.id))) == 0
        assert db.session.scalar(select(func.count(SlotClaim.id))) == 0
