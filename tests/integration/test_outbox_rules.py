"""The outbox's rules one by one: a claim is one worker's until its lease ends, a batch gives back
what it did not try without losing the count of earlier attempts, only reminders are pending
reminders, every booking is reminded once whatever the order of the scans, and each email of a
batch goes to the person it is about. On SQLite, with a real SMTP server where mail is sent.

The clock stands on Friday 26 March 2027, 10:00 in Heinsberg; appointments are on Tuesday 30 and
Wednesday 31 March."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from booking import bookings
from booking.extensions import db
from booking.models import Outbox
from booking.notify import outbox
from booking.staff_sessions import send_reset
from tests.conftest import FIXED_NOW, Clock
from tests.integration.staff_support import create_staff
from tests.mailsink import SmtpSink

TUESDAY_0830 = datetime(2027, 3, 30, 6, 30, tzinfo=UTC)
WEDNESDAY_0830 = datetime(2027, 3, 31, 6, 30, tzinfo=UTC)
DAY_BEFORE = timedelta(hours=24)  # the suite office's reminder_hours_before


@pytest.fixture
def mail_app(app_with, sink: SmtpSink) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = app_with(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_TIMEOUT=5)
    with app.test_request_context():
        yield app


def book(app: Flask, start: datetime, email: str, *, verify: bool | None = None) -> int:
    request = bookings.BookingRequest("beratung", start, "Anna Müller", email, language="en")
    return bookings.book(app.extensions["office"], request, FIXED_NOW, verify=verify).id


def row_of(booking_id: int, kind: str) -> Outbox:
    row = db.session.scalar(select(Outbox).where(Outbox.booking_id == booking_id, Outbox.kind == kind))
    assert row is not None, (booking_id, kind)
    db.session.refresh(row)
    return row


def reminded(booking_id: int) -> bool:
    return (
        db.session.scalar(select(Outbox.id).where(Outbox.booking_id == booking_id, Outbox.kind == "reminder"))
        is not None
    )


# --- claim, lease, release ------------------------------------------------------------------


def test_a_claimed_email_is_no_other_workers_until_its_lease_ends(mail_app: Flask) -> None:
    row_id = row_of(book(mail_app, TUESDAY_0830, "anna@example.org"), "confirm").id
    assert outbox.claim(row_id, FIXED_NOW) is True
    assert outbox.claim(row_id, FIXED_NOW) is False  # a second worker, at the same moment
    lease_end = outbox.lease_end(FIXED_NOW)
    assert outbox.claim(row_id, lease_end - timedelta(seconds=1)) is False
    assert outbox.claim(row_id, lease_end) is True  # the first worker died: the row is due again


def test_an_email_given_back_unattempted_keeps_the_count_of_its_earlier_attempts(mail_app: Flask) -> None:
    row_id = row_of(book(mail_app, TUESDAY_0830, "anna@example.org"), "confirm").id
    assert outbox.claim(row_id, FIXED_NOW)
    outbox.mark_failed(row_id, FIXED_NOW, "421 try again later", held_until=outbox.lease_end(FIXED_NOW))
    retry_at = db.session.get(Outbox, row_id).next_attempt_at
    assert outbox.claim(row_id, retry_at)  # the second attempt ...
    outbox.release([row_id], retry_at, held_until=outbox.lease_end(retry_at))  # ... never made
    row = db.session.get(Outbox, row_id)
    db.session.refresh(row)
    assert (row.attempts, row.next_attempt_at, row.sent_at) == (1, retry_at, None)


def test_an_error_is_kept_to_its_first_thousand_characters(mail_app: Flask) -> None:
    row_id = row_of(book(mail_app, TUESDAY_0830, "anna@example.org"), "confirm").id
    answer = "451 " + "x" * 5000  # a mail server's whole transcript
    outbox.mark_failed(row_id, FIXED_NOW, answer)
    kept = row_of(db.session.get(Outbox, row_id).booking_id, "confirm").last_error
    assert kept == answer[:1000]


# --- the reminder scan ----------------------------------------------------------------------


def test_each_booking_is_reminded_whatever_the_order_of_the_bookings_and_the_scans(mail_app: Flask) -> None:
    office = mail_app.extensions["office"]
    wednesday = book(mail_app, WEDNESDAY_0830, "first@example.org")  # booked first, seen second
    tuesday = book(mail_app, TUESDAY_0830, "second@example.org")
    assert outbox.scan_reminders(office, TUESDAY_0830 - DAY_BEFORE) == 1
    assert (reminded(tuesday), reminded(wednesday)) == (True, False)
    assert outbox.scan_reminders(office, WEDNESDAY_0830 - DAY_BEFORE) == 1
    assert reminded(wednesday)


def test_a_booking_confirmed_by_its_email_link_is_reminded_too(mail_app: Flask) -> None:
    from booking import verification

    booking_id = book(mail_app, TUESDAY_0830, "anna@example.org", verify=True)
    booking = db.session.get(bookings.Booking, booking_id)
    assert verification.confirm(booking, FIXED_NOW)
    assert outbox.scan_reminders(mail_app.extensions["office"], TUESDAY_0830 - DAY_BEFORE) == 1
    assert reminded(booking_id)


def test_an_office_without_reminders_queues_none_and_says_so(mail_app: Flask) -> None:
    office = mail_app.extensions["office"]
    silent = dataclasses.replace(office, rules=dataclasses.replace(office.rules, reminder_hours_before=0))
    booking_id = book(mail_app, TUESDAY_0830, "anna@example.org")
    assert outbox.scan_reminders(silent, TUESDAY_0830 - timedelta(hours=1)) == 0
    assert not reminded(booking_id)


def test_only_reminders_are_pending_reminders(mail_app: Flask, clock: Clock) -> None:
    booking_id = book(mail_app, TUESDAY_0830, "anna@example.org")
    answer = mail_app.test_client().post(
        "/api/v1/waitlist",
        json={
            "service": "beratung",
            "from": "2027-03-30",
            "to": "2027-03-30",
            "name": "W",
            "email": "w@example.org",
        },
    )
    assert answer.status_code == 201  # its request to confirm is a pending email of kind "waitlist"
    outbox.scan_reminders(mail_app.extensions["office"], TUESDAY_0830 - DAY_BEFORE)
    assert outbox.pending_reminder_ids(TUESDAY_0830) == [row_of(booking_id, "reminder").id]


# --- a batch: each email to its own person ------------------------------------------------


def test_each_email_of_a_batch_goes_to_the_person_it_is_about(mail_app: Flask, sink: SmtpSink) -> None:
    client = mail_app.test_client()
    for address in ("one@example.org", "two@example.org"):  # two requests to confirm a waitlist place
        body = {
            "service": "beratung",
            "from": "2027-03-30",
            "to": "2027-03-31",
            "name": address,
            "email": address,
        }
        assert client.post("/api/v1/waitlist", json=body).status_code == 201
    for address in ("reset-one@kreis-heinsberg.example", "reset-two@kreis-heinsberg.example"):
        create_staff(mail_app, address, address)
    for staff in db.session.scalars(select(bookings.Staff).order_by(bookings.Staff.id)):
        send_reset(staff, FIXED_NOW)
    assert outbox.deliver(outbox.due_ids(FIXED_NOW)) == 4
    sent = sorted((m.rcpt_tos[0], m.message["To"].addresses[0].display_name) for m in sink.messages)
    assert [address for address, _name in sent] == [
        "one@example.org",
        "reset-one@kreis-heinsberg.example",
        "reset-two@kreis-heinsberg.example",
        "two@example.org",
    ]
    assert all(name == address for address, name in sent)  # the name of the same person
