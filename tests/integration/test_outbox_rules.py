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
from sqlalchemy import select, update

from booking import bookings
from booking.extensions import db
from booking.models import Booking, Outbox, PasswordReset, Staff, WaitlistEntry
from booking.notify import messages, outbox
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


@pytest.mark.parametrize("wednesday_first", [True, False], ids=["later-booked-first", "sooner-booked-first"])
def test_each_booking_is_reminded_whatever_the_order_of_the_bookings_and_the_scans(
    mail_app: Flask, wednesday_first: bool
) -> None:
    office = mail_app.extensions["office"]
    if wednesday_first:
        wednesday = book(mail_app, WEDNESDAY_0830, "first@example.org")  # booked first, seen second
        tuesday = book(mail_app, TUESDAY_0830, "second@example.org")
    else:
        tuesday = book(mail_app, TUESDAY_0830, "first@example.org")
        wednesday = book(mail_app, WEDNESDAY_0830, "second@example.org")
    assert outbox.scan_reminders(office, TUESDAY_0830 - DAY_BEFORE) == 1
    assert (reminded(tuesday), reminded(wednesday)) == (True, False)
    assert outbox.scan_reminders(office, WEDNESDAY_0830 - DAY_BEFORE) == 1
    assert reminded(wednesday)


def test_a_booking_confirmed_by_its_email_link_is_reminded_too(mail_app: Flask) -> None:
    from booking import verification

    booking_id = book(mail_app, TUESDAY_0830, "anna@example.org", verify=True)
    booking = db.session.get(Booking, booking_id)
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


def test_each_email_goes_to_the_person_it_is_about(mail_app: Flask, sink: SmtpSink) -> None:
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
    for staff in db.session.scalars(select(Staff).order_by(Staff.id)):
        send_reset(staff, FIXED_NOW)
    rows = list(db.session.scalars(select(Outbox).order_by(Outbox.id)))
    assert len(rows) == 4
    for number, row in enumerate(rows, start=1):  # one at a time: each row's own email, no other
        if row.waitlist_entry_id is not None:
            entry = db.session.get(WaitlistEntry, row.waitlist_entry_id)
            address, link = entry.email, f"/waitlist/confirm/{entry.confirm_token}"
        else:
            reset = db.session.get(PasswordReset, row.password_reset_id)
            address, link = reset.staff.email, messages.reset_url(reset)
        assert outbox.deliver([row.id]) == 1
        received = sink.messages
        assert len(received) == number
        message = received[-1].message
        assert received[-1].rcpt_tos == [address]
        assert message["To"].addresses[0].display_name == address  # the name of the same person
        assert link in message.get_body(("plain",)).get_content()


def test_an_email_is_given_up_exactly_when_its_time_to_try_has_run_out(mail_app: Flask) -> None:
    row_id = row_of(book(mail_app, TUESDAY_0830, "anna@example.org"), "confirm").id
    give_up = timedelta(hours=mail_app.config["MAIL_GIVE_UP_HOURS"])
    outbox.mark_failed(row_id, FIXED_NOW + give_up - timedelta(seconds=1), "451 later")
    assert row_of(book_id := db.session.get(Outbox, row_id).booking_id, "confirm").failed_at is None
    outbox.mark_failed(row_id, FIXED_NOW + give_up, "451 later")
    assert row_of(book_id, "confirm").failed_at == FIXED_NOW + give_up


def test_an_email_retrying_later_is_not_due_before_its_time(mail_app: Flask) -> None:
    row_id = row_of(book(mail_app, TUESDAY_0830, "anna@example.org"), "confirm").id
    assert outbox.due_ids(FIXED_NOW) == [row_id]
    outbox.mark_failed(row_id, FIXED_NOW, "451 later")
    retry_at = FIXED_NOW + outbox.backoff(0)
    assert outbox.due_ids(retry_at - timedelta(seconds=1)) == []
    assert outbox.due_ids(retry_at) == [row_id]


def test_the_backoff_counts_every_attempt_even_of_a_row_loaded_before(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    row_id = row_of(book(mail_app, TUESDAY_0830, "anna@example.org"), "confirm").id
    sink.stop()  # the mail server is down
    assert outbox.deliver([row_id]) == 0
    first_retry = row_of(db.session.get(Outbox, row_id).booking_id, "confirm").next_attempt_at
    assert first_retry == FIXED_NOW + outbox.backoff(1)
    clock.now = first_retry
    assert outbox.deliver([row_id]) == 0  # the second attempt, the row still loaded in this session
    row = db.session.get(Outbox, row_id)
    db.session.refresh(row)
    assert (row.attempts, row.next_attempt_at) == (2, first_retry + outbox.backoff(2))


def test_a_batch_sends_while_half_its_lease_is_left_and_gives_back_the_rest(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    from tests.mailsink import Handler

    lease = timedelta(seconds=mail_app.config["MAIL_LEASE_SECONDS"])

    class TakesTwoFifths(Handler):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            clock.now += lease * 2 / 5
            return await super().handle_DATA(server, session, envelope)

    ids = [
        row_of(book(mail_app, TUESDAY_0830 + timedelta(minutes=30 * n), f"r{n}@example.org"), "confirm").id
        for n in range(3)
    ]
    sink.serve_with(TakesTwoFifths)
    assert outbox.deliver(ids) == 2  # the second starts with 3/5 of the lease left, the third would not
    assert len(sink.messages) == 2


def test_a_batch_stops_at_a_failing_server_and_does_not_try_the_rest(mail_app: Flask, sink: SmtpSink) -> None:
    from tests.mailsink import Handler

    tried: list[str] = []

    class Refusing(Handler):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            tried.append(envelope.rcpt_tos[0])
            return "451 Try again later"

    ids = [
        row_of(book(mail_app, TUESDAY_0830 + timedelta(minutes=30 * n), f"r{n}@example.org"), "confirm").id
        for n in range(3)
    ]
    sink.serve_with(Refusing)
    assert outbox.deliver(ids) == 0
    assert tried == ["r0@example.org"]


def test_reminders_go_to_confirmed_bookings_whose_moment_has_come_and_not_begun(mail_app: Flask) -> None:
    office = mail_app.extensions["office"]
    pending = book(
        mail_app, TUESDAY_0830 + timedelta(hours=2), "pending@example.org", verify=True
    )  # never confirmed
    over = book(mail_app, TUESDAY_0830, "over@example.org")
    begun = book(mail_app, TUESDAY_0830 + timedelta(minutes=30), "begun@example.org")
    assert outbox.scan_reminders(office, TUESDAY_0830 + timedelta(minutes=30)) == 0  # begun at this moment
    assert not any(reminded(b) for b in (pending, over, begun))


def test_a_booking_made_at_its_reminder_moment_is_not_reminded_but_the_others_are(mail_app: Flask) -> None:
    office = mail_app.extensions["office"]
    moment = TUESDAY_0830 - DAY_BEFORE
    request = bookings.BookingRequest("beratung", TUESDAY_0830, "Late", "late@example.org", language="en")
    late = bookings.book(office, request, moment).id  # booked at the reminder moment: first in the scan
    early = book(mail_app, TUESDAY_0830 + timedelta(minutes=30), "early@example.org")
    assert outbox.scan_reminders(office, moment + timedelta(minutes=30)) == 1
    assert (reminded(late), reminded(early)) == (False, True)


def test_an_office_reminding_one_hour_before_reminds_one_hour_before(mail_app: Flask) -> None:
    office = mail_app.extensions["office"]
    hourly = dataclasses.replace(office, rules=dataclasses.replace(office.rules, reminder_hours_before=1))
    booking_id = book(mail_app, TUESDAY_0830, "anna@example.org")
    assert outbox.scan_reminders(hourly, TUESDAY_0830 - timedelta(hours=1, seconds=1)) == 0
    assert outbox.scan_reminders(hourly, TUESDAY_0830 - timedelta(hours=1)) == 1
    assert reminded(booking_id)


def test_a_relay_takes_the_oldest_two_hundred_due_emails_and_leaves_the_rest_for_the_next(
    mail_app: Flask,
) -> None:
    booking_id = book(mail_app, TUESDAY_0830, "anna@example.org")
    for n in range(201):  # a backlog after a long outage (one booking's rows, for speed)
        row = Outbox.row("reminder", booking_id, n + 1, FIXED_NOW + timedelta(seconds=n))
        db.session.add(Outbox(**row))
    db.session.commit()
    due = outbox.due_ids(FIXED_NOW + timedelta(hours=1))
    oldest = list(db.session.scalars(select(Outbox.id).order_by(Outbox.next_attempt_at, Outbox.id)))
    assert due == oldest[:200]


def test_an_email_that_cannot_be_written_is_given_up_shown_and_the_batch_goes_on(
    mail_app: Flask, sink: SmtpSink
) -> None:
    broken = book(mail_app, TUESDAY_0830, "anna@example.org")
    fine = book(mail_app, TUESDAY_0830 + timedelta(minutes=30), "bernd@example.org")
    # An address stored before today's checks, with a line break that could add a header.
    db.session.execute(update(Booking).where(Booking.id == broken).values(email="a@b.de\r\nBcc: x@y.z"))
    db.session.commit()
    assert outbox.deliver([row_of(broken, "confirm").id, row_of(fine, "confirm").id]) == 1
    assert [m.rcpt_tos for m in sink.messages] == [["bernd@example.org"]]
    row = row_of(broken, "confirm")
    assert row.failed_at is not None and row.sent_at is None
    assert (row.last_error or "").startswith("cannot build the message")
