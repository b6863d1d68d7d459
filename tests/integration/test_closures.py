"""Staff close the office for a time (a meeting, a day of training, a week of works) and decide
what happens to the appointments already booked in it: move each, or cancel all at once with one
reason, each resident told once by email, in their own language, through the outbox.

The clock stands on Good Friday, 26 March 2027; the days closed here are Tuesday 30 and
Wednesday 31 March (summer time), Thursday 1 April stays open."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from booking import bookings, closures, journal
from booking.extensions import db
from booking.models import Booking, Closure, Outbox
from booking.notify import tasks
from booking.schedule import Unbookable, check_start
from tests.conftest import FIXED_NOW, Clock
from tests.integration.staff_support import book_at as book
from tests.integration.staff_support import create_counsellor, create_staff, english, get_booking, sign_in
from tests.integration.test_staff_calendar import DAY, DAY_SLOTS, NEXT, book_url, slot_groups
from tests.mailsink import SmtpSink

THURSDAY = "2027-04-01"
TUESDAY_1000 = datetime(2027, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 in Heinsberg


@pytest.fixture
def app(app_with, sink: SmtpSink) -> Flask:  # type: ignore[no-untyped-def]
    """Emails go to a real SMTP server, so the test reads what residents receive."""
    return app_with(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_TIMEOUT=5)


@pytest.fixture
def staff_id(app: Flask, client: FlaskClient) -> int:
    created = create_staff(app)
    english(client)
    assert sign_in(client).status_code == 302
    return created


def slot_starts(client: FlaskClient, day: str) -> list[str]:
    response = client.get(f"/api/v1/slots?service=beratung&from={day}&to={day}")
    return [slot["start"][11:16] for slot in response.json["slots"]]


def close(client: FlaskClient, **fields: str) -> int:
    """Close through the form; the new closure's id."""
    response = client.post("/staff/close", data=fields)
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return len(db.session.scalars(select(model)).all())


def cancel_emails(app: Flask) -> list[Outbox]:
    with app.app_context():
        return list(db.session.scalars(select(Outbox).where(Outbox.kind == "cancel").order_by(Outbox.id)))


def deliver(app: Flask) -> None:
    with app.app_context():
        tasks.relay_outbox()


# --- closing ------------------------------------------------------------------------------


def test_closing_part_of_a_day_stops_new_bookings_and_lists_the_existing_ones(app, client, staff_id):
    booking_id = book(app, f"{DAY}T09:00", name="Carla Conti")
    book(app, f"{DAY}T11:00", name="Outside Closure", email="o@example.org")
    closure_id = close(
        client, start_date=DAY, start_time="09:00", end_time="10:00", reason="Dienstbesprechung"
    )
    page = client.get(f"/staff/closures/{closure_id}")
    assert "Carla Conti" in page.text and "Outside Closure" not in page.text
    assert f"/staff/bookings/{booking_id}/move" in page.text

    starts = slot_starts(client, DAY)
    assert "09:00" not in starts and "09:30" not in starts
    assert "08:30" in starts and "10:00" in starts
    online = client.post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": f"{DAY}T09:30", "name": "A", "email": "new@example.org"},
    )
    assert online.status_code == 422 and "start" in online.json["errors"]
    assert client.get(book_url(f"{DAY}T09:30:00+02:00")).status_code == 302
    with app.app_context():
        office = app.extensions["office"]
        start = datetime(2027, 3, 30, 9, 30, tzinfo=office.timezone)
        day = date(2027, 3, 30)
        found = check_start(
            office, office.service("beratung"), start, FIXED_NOW, closures.closures_between(day, day), False
        )
        assert found is Unbookable.CLOSED
    groups = slot_groups(client.get(f"/staff/?date={DAY}").text)
    assert "Closed" in groups[f"{DAY}T09:00:00+02:00"]
    assert "Book for a caller" not in groups[f"{DAY}T09:30:00+02:00"]
    assert get_booking(app, booking_id).status == "confirmed"  # staff decide what happens to it


def test_closing_a_whole_day_and_reopening_it(app, client, staff_id):
    closure_id = close(client, start_date=DAY, reason="Rosenmontag")
    assert slot_starts(client, DAY) == []
    assert "Rosenmontag" in client.get(f"/staff/?date={DAY}").text
    assert client.post(f"/staff/closures/{closure_id}/reopen").status_code == 302
    assert len(slot_starts(client, DAY)) == len(DAY_SLOTS)


def test_closing_several_whole_days_closes_each_of_them_and_nothing_after(app, client, staff_id):
    closure_id = close(client, start_date=DAY, end_date=NEXT, reason="Umzug ins Dienstgebäude")
    assert slot_starts(client, DAY) == [] and slot_starts(client, NEXT) == []
    assert slot_starts(client, THURSDAY)[0] == "08:30"
    page = client.get(f"/staff/closures/{closure_id}")
    assert "Tuesday, March 30, 2027 to Wednesday, March 31, 2027, whole days" in page.text
    listing = client.get("/staff/close").text
    assert "Umzug ins Dienstgebäude" in listing and f"/staff/closures/{closure_id}" in listing


def test_a_closure_from_a_time_on_one_day_to_a_time_on_the_next(app, client, staff_id):
    close(client, start_date=DAY, end_date=NEXT, start_time="14:00", end_time="10:00", reason="Klausur")
    assert slot_starts(client, DAY) == DAY_SLOTS[: DAY_SLOTS.index("14:00")]  # the morning stays open
    assert slot_starts(client, NEXT) == ["10:00", "10:30", "11:00", "11:30"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"start_date": DAY, "reason": ""}, "reason", "Please enter a reason."),
        (
            {"start_date": NEXT, "end_date": DAY, "reason": "x"},
            "end_date",
            "The end must be after the start.",
        ),
        (
            {"start_date": DAY, "start_time": "11:00", "end_time": "09:00", "reason": "x"},
            "end_time",
            "The end must be after the start.",
        ),
        (
            {"start_date": DAY, "start_time": "11:00", "reason": "x"},
            "end_time",
            "Give both times for part of a day, or neither for whole days.",
        ),
        ({"start_date": "9999-12-31", "reason": "x"}, "start_date", "Please enter a real date."),
        ({"start_date": "30.03.2027", "reason": "x"}, "start_date", "Not a valid date value."),
    ],
    ids=["no reason", "days backwards", "times backwards", "one time", "end of the calendar", "not a date"],
)
def test_a_closure_that_cannot_be_is_refused_at_its_field_and_closes_nothing(
    app, client, staff_id, fields, field, message
):
    response = client.post("/staff/close", data=fields)
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in response.text.replace("\n", "")
    assert count(app, Closure) == 0
    assert len(slot_starts(client, DAY)) == len(DAY_SLOTS)


# --- cancelling all appointments inside ---------------------------------------------------


def test_cancel_all_cancels_each_appointment_once_and_tells_each_resident_in_their_language(
    app, client, staff_id, sink
):
    german = book(app, f"{DAY}T09:00", name="Anna Müller", email="anna@example.org", language="de")
    turkish = book(app, f"{NEXT}T10:00", name="Ayşe Yılmaz", email="ayse@example.org", language="tr")
    caller = book(app, f"{NEXT}T11:00", name="Bernd Berger", email=None, phone="02452 1234")
    outside = book(app, f"{THURSDAY}T09:00", name="Outside", email="out@example.org")
    deliver(app)
    confirmations = len(sink.messages)
    closure_id = close(client, start_date=DAY, end_date=NEXT, reason="Wasserschaden")
    page = client.get(f"/staff/closures/{closure_id}")
    assert "Cancel all 3 appointments" in page.text
    reason_field = r'<textarea[^>]*name="reason"[^>]*>\s*Wasserschaden</textarea>'  # the closure's reason
    assert re.search(reason_field, page.text)

    response = client.post(
        f"/staff/closures/{closure_id}/cancel-all", data={"reason": "Wasserschaden im Dienstgebäude"}
    )
    assert response.status_code == 302
    shown = client.get(response.headers["Location"]).text
    assert "3 appointments cancelled. 2 residents are told by email." in shown
    assert "Cancel all" not in shown
    for booking_id in (german, turkish, caller):
        booking = get_booking(app, booking_id)
        assert (booking.status, booking.cancel_reason) == ("cancelled", "Wasserschaden im Dienstgebäude")
    assert get_booking(app, outside).status == "confirmed"

    # A second press (a double click, a colleague on the same page) cancels and emails nobody again.
    again = client.post(f"/staff/closures/{closure_id}/cancel-all", data={"reason": "noch einmal"})
    assert (
        "There are no appointments left to cancel in this time." in client.get(again.headers["Location"]).text
    )
    assert get_booking(app, german).cancel_reason == "Wasserschaden im Dienstgebäude"
    assert [row.booking_id for row in cancel_emails(app)] == [german, turkish]

    deliver(app)
    deliver(app)
    cancellations = sink.messages[confirmations:]
    received = {m.rcpt_tos[0]: m.message for m in cancellations}
    assert len(cancellations) == 2 and set(received) == {"anna@example.org", "ayse@example.org"}
    assert received["anna@example.org"]["Content-Language"] == "de"
    assert received["anna@example.org"]["Subject"].startswith("Abgesagt")
    assert received["ayse@example.org"]["Content-Language"] == "tr"
    assert "Ayşe Yılmaz" in received["ayse@example.org"].get_body(("plain",)).get_content()
    assert received["ayse@example.org"]["Subject"] != received["anna@example.org"]["Subject"]


def test_cancel_all_leaves_the_appointments_that_have_begun(app, client, clock: Clock, staff_id):
    begun = book(app, f"{DAY}T08:30", name="Begun")
    later = book(app, f"{DAY}T11:00", name="Later")
    closure_id = close(client, start_date=DAY, reason="Stromausfall")
    clock.now = TUESDAY_1000
    assert "Cancel this appointment" in client.get(f"/staff/closures/{closure_id}").text
    client.post(f"/staff/closures/{closure_id}/cancel-all", data={"reason": "Stromausfall"})
    assert get_booking(app, begun).status == "confirmed"  # to be marked attended or not
    assert get_booking(app, later).status == "cancelled"


def test_cancel_all_needs_a_reason_and_then_changes_nothing(app, client, staff_id):
    booking_id = book(app, f"{DAY}T09:00")
    closure_id = close(client, start_date=DAY, reason="Betriebsausflug")
    response = client.post(f"/staff/closures/{closure_id}/cancel-all", data={"reason": "  "})
    assert response.status_code == 422
    assert 'id="reason-error">Please enter a reason.' in response.text.replace("\n", "")
    assert get_booking(app, booking_id).status == "confirmed"
    assert cancel_emails(app) == []


def test_a_fault_in_the_middle_keeps_what_was_cancelled_and_the_rest_can_be_cancelled_after(
    app, client, staff_id, monkeypatch
):
    first = book(app, f"{DAY}T09:00", email="first@example.org")
    second = book(app, f"{DAY}T10:00", email="second@example.org")
    closure_id = close(client, start_date=DAY, reason="Fortbildung")
    record = journal.record_change
    calls: list[int] = []

    def fails_the_second_time(booking: Booking, *args: object, **kwargs: object) -> list[int]:
        calls.append(booking.id)
        if len(calls) == 2:
            raise ConnectionError("the database went away")
        return record(booking, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(journal, "record_change", fails_the_second_time)
    app.testing = False  # the fault becomes the 500 page a receptionist would see
    assert client.post(f"/staff/closures/{closure_id}/cancel-all", data={"reason": "r"}).status_code == 500
    assert (get_booking(app, first).status, get_booking(app, second).status) == ("cancelled", "confirmed")
    assert [row.booking_id for row in cancel_emails(app)] == [first]

    monkeypatch.setattr(journal, "record_change", record)
    page = client.get(f"/staff/closures/{closure_id}").text
    assert "Cancel this appointment" in page  # the one left
    client.post(f"/staff/closures/{closure_id}/cancel-all", data={"reason": "r"})
    assert get_booking(app, second).status == "cancelled"
    assert [row.booking_id for row in cancel_emails(app)] == [first, second]


def test_only_staff_who_may_cancel_can_cancel_all(app, client, staff_id):
    booking_id = book(app, f"{DAY}T09:00")
    closure_id = close(client, start_date=DAY, reason="Betriebsausflug")
    create_counsellor(app, "berater@kreis-heinsberg.example", "Clara Becker")
    counsellor = app.test_client()
    english(counsellor)
    sign_in(counsellor, "berater@kreis-heinsberg.example")
    assert (
        counsellor.post(f"/staff/closures/{closure_id}/cancel-all", data={"reason": "x"}).status_code == 403
    )
    stranger = app.test_client()
    refused = stranger.post(f"/staff/closures/{closure_id}/cancel-all", data={"reason": "x"})
    assert refused.status_code == 302 and "/staff/login" in refused.headers["Location"]
    assert get_booking(app, booking_id).status == "confirmed"


def test_the_cancellation_email_says_whether_the_office_or_the_resident_cancelled(
    app, client, staff_id, sink
):
    own = book(app, f"{DAY}T09:00", email="own@example.org", language="en")
    book(app, f"{NEXT}T09:00", email="closed@example.org", language="en")  # inside the closure
    with app.test_request_context():
        bookings.cancel(db.session.get(Booking, own), FIXED_NOW)  # from the link in the email
    closure_id = close(client, start_date=NEXT, reason="Fortbildung")
    client.post(f"/staff/closures/{closure_id}/cancel-all", data={"reason": "Fortbildung"})
    deliver(app)
    bodies = {
        m.rcpt_tos[0]: m.message.get_body(("plain",)).get_content()
        for m in sink.messages
        if m.message["Subject"].startswith("Cancelled")
    }
    assert "The time is free again for others." in bodies["own@example.org"]
    assert "the office had to cancel your appointment" in bodies["closed@example.org"]
    assert "free again for others" not in bodies["closed@example.org"]


def test_a_booking_waiting_for_its_email_link_cannot_be_confirmed_once_its_time_is_closed(
    app, client, staff_id
):
    with app.test_request_context():
        request = bookings.BookingRequest(
            "beratung", f"{DAY}T09:00", "Anna", "anna@example.org", language="en"
        )
        pending = bookings.book(app.extensions["office"], request, FIXED_NOW, verify=True)
        token, booking_id = pending.confirm_token, pending.id
    close(client, start_date=DAY, reason="Wasserschaden")
    resident = app.test_client()
    english(resident)
    page = resident.get(f"/confirm/{token}")  # a mail scanner may open it: this changes nothing
    assert page.status_code == 409 and "This time is no longer available" in page.text
    assert get_booking(app, booking_id).status == "pending"

    answer = resident.post(f"/confirm/{token}")
    assert answer.status_code == 409 and "Nothing was booked" in answer.text
    assert get_booking(app, booking_id).status == "cancelled"  # its place is given back at once
    with app.app_context():
        kinds = set(db.session.scalars(select(Outbox.kind).where(Outbox.booking_id == booking_id)))
    assert kinds == {"verify"}  # no confirmation of a closed time
    assert resident.post(f"/confirm/{token}").status_code != 200  # and a second press books nothing
