"""A resident moves an appointment from the manage page: the new place is taken and the old one
freed in one transaction, the moved event is queued, and the pages speak the booking's language."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Booking, Outbox, SlotClaim

FIRST = "2027-03-30T08:30:00+02:00"
SECOND = "2027-03-31T10:00:00+02:00"


def book(client, start=FIRST, email="a@example.org", language="de"):  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": start, "name": "Ayşe", "email": email, "language": language},
    )
    assert response.status_code == 201, response.json
    return response.json


def claims(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        return sorted(start.isoformat() for start in db.session.scalars(select(SlotClaim.start_at)))


def test_moving_takes_the_new_place_frees_the_old_and_queues_the_moved_event(app, client):
    booking = book(client)
    page = client.get(f"/b/{booking['token']}/move")
    assert page.status_code == 200 and f'value="{SECOND}"' in page.text
    response = client.post(f"/b/{booking['token']}/move", data={"start": SECOND})
    assert response.status_code == 302
    assert claims(app) == ["2027-03-31T08:00:00+00:00"]
    with app.app_context():
        moved = db.session.scalar(select(Booking))
        assert moved.sequence == 1 and moved.start_at.isoformat() == "2027-03-31T08:00:00+00:00"
        keys = set(db.session.scalars(select(Outbox.dedupe_key)))
        assert keys == {f"confirm:{moved.id}", f"move:{moved.id}:1"}
    slots = client.get("/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30").json["slots"]
    assert slots[0]["start"] == FIRST and slots[0]["available"] == 2


def test_moving_to_a_full_time_changes_nothing(app, client):
    book(client, SECOND, "x@example.org")
    book(client, SECOND, "y@example.org")
    booking = book(client)
    response = client.post(f"/b/{booking['token']}/move", data={"start": SECOND})
    assert response.status_code == 302 and response.location.endswith("/move")
    assert claims(app).count("2027-03-30T06:30:00+00:00") == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(Outbox.id)).where(Outbox.kind == "move")) == 0


@pytest.mark.parametrize("start", ["2027-03-30T08:31:00+02:00", "2027-03-28T10:00:00+02:00", "nonsense"])
def test_moving_to_no_open_slot_is_refused_with_a_message(app, client, start):
    booking = book(client)
    response = client.post(
        f"/b/{booking['token']}/move",
        data={"start": start},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "notice-error" in response.text
    assert claims(app) == ["2027-03-30T06:30:00+00:00"]


def test_a_cancelled_appointment_cannot_be_moved(client):
    booking = book(client)
    client.delete(f"/api/v1/bookings/{booking['token']}")
    assert client.get(f"/b/{booking['token']}/move").status_code == 404


def test_manage_pages_speak_the_language_of_the_booking(client):
    booking = book(client, language="ar")
    page = client.get(f"/b/{booking['token']}", headers={"Accept-Language": "de"})
    assert '<html lang="ar" dir="rtl"' in page.text
    client.get("/language/en?next=/")  # an explicit choice wins
    page = client.get(f"/b/{booking['token']}", headers={"Accept-Language": "de"})
    assert '<html lang="en"' in page.text
