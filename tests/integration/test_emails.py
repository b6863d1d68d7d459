"""Emails end to end inside one process: the outbox, the tasks run in-process, and a real SMTP
server (aiosmtpd) receiving them. The clock is pinned (Friday 2027-03-26 09:00 UTC)."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from icalendar import Calendar
from sqlalchemy import Connection, func, select, update

from booking import bookings
from booking.extensions import db
from booking.models import AuditEvent, Booking, Outbox
from booking.notify import ledger, outbox, tasks
from booking.web.templating import day_label
from tests.conftest import FIXED_NOW, Clock, make_app
from tests.mailsink import Handler, Received, SmtpSink, free_port

# Tuesday after Easter, 08:30 in Heinsberg, in the first week of summer time.
TUESDAY_0830 = datetime(2027, 3, 30, 6, 30, tzinfo=UTC)
REMINDER_MOMENT = TUESDAY_0830 - timedelta(hours=24)
UID = "booking-{reference}@kreis-heinsberg.example"


@pytest.fixture
def mail_app(app_with, sink: SmtpSink) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = app_with(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_TIMEOUT=5)
    with app.app_context():
        yield app


def book(
    app: Flask,
    clock: Clock,
    *,
    language: str = "en",
    start: datetime = TUESDAY_0830,
    name: str = "Anna Müller",
    email: str = "anna@example.org",
) -> Booking:
    request = bookings.BookingRequest("beratung", start, name, email, language=language)
    return bookings.book(app.extensions["office"], request, clock.now)


def outbox_row(key: str) -> Outbox:
    row = db.session.scalar(select(Outbox).where(Outbox.dedupe_key == key))
    assert row is not None, key
    return row


def relay() -> int:
    return tasks.relay_outbox()


def calendar_of(message: EmailMessage) -> tuple[Calendar, EmailMessage]:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True)), part  # type: ignore[return-value]


def text_of(message: EmailMessage, subtype: str) -> str:
    body = message.get_body((subtype,))
    assert body is not None
    return body.get_content()


@pytest.mark.parametrize(
    ("language", "date_text"),
    [("en", "Tuesday, March 30, 2027"), ("de", "Dienstag, 30. März 2027")],
)
def test_confirmation_brings_time_place_links_and_an_invitation_in_the_bookings_language(
    mail_app: Flask, clock: Clock, sink: SmtpSink, language: str, date_text: str
) -> None:
    booking = book(mail_app, clock, language=language)
    assert tasks.send_email(outbox_row(f"confirm:{booking.id}").id) == 1

    [received] = sink.messages
    assert received.rcpt_tos == ["anna@example.org"]
    message = received.message
    assert message["To"].addresses[0].addr_spec == "anna@example.org"
    assert message["From"].addresses[0].addr_spec == "termine@kreis-heinsberg.example"
    assert message["Content-Language"] == language
    assert "08:30" in message["Subject"]
    assert (
        message["Message-ID"] == f"<termine.confirm.{booking.id}.{booking.reference}@kreis-heinsberg.example>"
    )
    manage_url = f"http://termine.test/b/{booking.token}"
    office = mail_app.extensions["office"]
    for body in (text_of(message, "plain"), text_of(message, "html")):
        assert date_text in body
        assert "08:30" in body and "09:00" in body
        assert office.location in body
        assert office.phone in body
        assert manage_url in body
        assert booking.reference in body
    service_name = {"de": "Integrationsberatung", "en": "Integration counselling"}[language]
    assert service_name in text_of(message, "plain")

    calendar, part = calendar_of(message)
    assert part.get_param("method") == "PUBLISH"
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.events
    assert str(event["UID"]) == UID.format(reference=booking.reference)
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.start.astimezone(office.timezone).strftime("%H:%M") == "08:30"
    assert event["SEQUENCE"] == 0
    assert manage_url in str(event["DESCRIPTION"])
    assert str(event["LOCATION"]) == office.location


def test_sending_a_row_again_sends_nothing_more(mail_app: Flask, clock: Clock, sink: SmtpSink) -> None:
    booking = book(mail_app, clock)
    row_id = outbox_row(f"confirm:{booking.id}").id
    assert tasks.send_email(row_id) == 1
    assert tasks.send_email(row_id) == 0
    assert relay() == 0
    assert len(sink.messages) == 1
    assert outbox_row(f"confirm:{booking.id}").sent_at == FIXED_NOW


def test_cancellation_sends_method_cancel_with_the_same_uid_and_a_higher_sequence(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    booking = book(mail_app, clock)
    relay()
    assert bookings.cancel(booking, clock.now)
    assert relay() == 1

    confirmation, cancellation = (r.message for r in sink.messages)
    [booked] = calendar_of(confirmation)[0].events
    calendar, part = calendar_of(cancellation)
    assert part.get_param("method") == "CANCEL"
    assert str(calendar["METHOD"]) == "CANCEL"
    [cancelled] = calendar.events
    assert cancelled["UID"] == booked["UID"]
    assert cancelled["SEQUENCE"] == 1 > booked["SEQUENCE"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert "08:30" in cancellation["Subject"]


def test_a_moved_appointment_sends_the_new_times_under_the_same_uid(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    booking = book(mail_app, clock)
    relay()
    thursday_1400 = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)
    bookings.move(mail_app.extensions["office"], booking, thursday_1400, clock.now)
    assert relay() == 1

    confirmation, moved = (r.message for r in sink.messages)
    [before] = calendar_of(confirmation)[0].events
    calendar, part = calendar_of(moved)
    assert part.get_param("method") == "PUBLISH"
    [after] = calendar.events
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] == 1
    assert after.start.astimezone(UTC) == thursday_1400
    assert "14:00" in text_of(moved, "plain")


def test_a_reminder_goes_out_once_when_its_moment_has_come(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    booking = book(mail_app, clock)
    relay()
    office = mail_app.extensions["office"]
    clock.now = REMINDER_MOMENT - timedelta(minutes=1)
    assert outbox.scan_reminders(office, clock.now) == 0
    clock.now = REMINDER_MOMENT + timedelta(minutes=1)
    assert tasks.scan_reminders() == 1
    assert outbox.scan_reminders(office, clock.now) == 0
    assert relay() == 1
    clock.now += timedelta(hours=1)
    assert outbox.scan_reminders(office, clock.now) == 0
    assert relay() == 0

    confirmation, reminder = (r.message for r in sink.messages)
    assert (
        reminder["Message-ID"]
        == f"<termine.reminder.{booking.id}.0.{booking.reference}@kreis-heinsberg.example>"
    )
    assert "08:30" in reminder["Subject"]
    # No calendar part: re-sent with the entry's UID and SEQUENCE it could bring back an entry
    # the resident deleted; the reminder leaves the calendar as it is.
    assert not [
        p for p in reminder.walk() if "calendar" in p.get_content_type() or "ics" in p.get_content_type()
    ]


def test_a_moved_booking_is_reminded_of_its_new_time_and_not_of_the_old(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    booking = book(mail_app, clock)
    office = mail_app.extensions["office"]
    clock.now = REMINDER_MOMENT + timedelta(minutes=1)
    assert outbox.scan_reminders(office, clock.now) == 1  # queued, not yet sent
    a_week_later = TUESDAY_0830 + timedelta(days=7)
    bookings.move(office, booking, a_week_later, clock.now)
    relay()  # the move goes out; the stale reminder is skipped
    kinds = [r.message["Message-ID"].split(".")[1] for r in sink.messages]
    assert kinds == ["confirm", "move"]
    clock.now = a_week_later - timedelta(hours=23)
    assert outbox.scan_reminders(office, clock.now) == 1
    relay()
    reminder = sink.messages[-1].message
    assert reminder["Message-ID"].startswith(f"<termine.reminder.{booking.id}.1.")
    with force_locale(booking.language):
        assert day_label(a_week_later) in reminder["Subject"]


def test_two_scans_at_the_same_moment_queue_one_reminder(mail_app: Flask, clock: Clock) -> None:
    book(mail_app, clock)
    clock.now = REMINDER_MOMENT + timedelta(minutes=5)
    office = mail_app.extensions["office"]
    start = threading.Barrier(4)
    added: list[int] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            with mail_app.app_context():
                start.wait(timeout=10)
                added.append(outbox.scan_reminders(office, clock.now))
        except BaseException as error:  # reported below, a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sum(added) == 1
    assert db.session.scalar(select(func.count(Outbox.id)).where(Outbox.kind == "reminder")) == 1


def test_a_booking_made_after_its_reminder_moment_gets_no_reminder(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    clock.now = REMINDER_MOMENT + timedelta(hours=2)  # Monday 10:30 in Heinsberg, 22 hours ahead
    book(mail_app, clock)
    clock.now = TUESDAY_0830 - timedelta(hours=1)
    assert outbox.scan_reminders(mail_app.extensions["office"], clock.now) == 0
    relay()
    assert [r.message["Message-ID"].split(".")[1] for r in sink.messages] == ["confirm"]


def test_a_cancelled_booking_gets_no_reminder(mail_app: Flask, clock: Clock) -> None:
    booking = book(mail_app, clock)
    bookings.cancel(booking, clock.now)
    clock.now = REMINDER_MOMENT + timedelta(minutes=1)
    assert outbox.scan_reminders(mail_app.extensions["office"], clock.now) == 0


def test_a_reminder_queued_before_a_cancellation_is_skipped_not_sent(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    booking = book(mail_app, clock)
    relay()
    clock.now = REMINDER_MOMENT + timedelta(minutes=1)
    assert outbox.scan_reminders(mail_app.extensions["office"], clock.now) == 1
    bookings.cancel(booking, clock.now)
    relay()
    kinds = sorted(r.message["Message-ID"].split(".")[1] for r in sink.messages)
    assert kinds == ["cancel", "confirm"]
    reminder = outbox_row(f"reminder:{booking.id}:0")
    assert reminder.sent_at is not None
    assert "skipped" in (reminder.last_error or "")


def test_smtp_down_retries_with_backoff_and_sends_exactly_one_after_it_returns(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    sink.stop()
    booking = book(mail_app, clock)
    key = f"confirm:{booking.id}"

    assert relay() == 0
    row = outbox_row(key)
    assert (row.attempts, row.next_attempt_at) == (1, FIXED_NOW + timedelta(minutes=1))
    assert row.last_error and row.failed_at is None
    assert [f.outbox_id for f in outbox.failed_emails()] == [row.id]

    assert relay() == 0  # not due again yet: no attempt at all
    db.session.expire_all()
    assert outbox_row(key).attempts == 1

    clock.now += timedelta(minutes=1)
    assert relay() == 0
    db.session.expire_all()
    row = outbox_row(key)
    assert (row.attempts, row.next_attempt_at) == (2, clock.now + timedelta(minutes=2))

    sink.start()
    clock.now += timedelta(minutes=2)
    assert relay() == 1
    assert relay() == 0
    clock.now += timedelta(hours=2)
    assert relay() == 0
    assert len(sink.messages) == 1
    assert outbox.failed_emails() == []


def test_backoff_doubles_up_to_an_hour() -> None:
    app = Flask(__name__)
    app.config.update(MAIL_RETRY_SECONDS=60, MAIL_RETRY_MAX_SECONDS=3600)
    with app.app_context():
        delays = [outbox.backoff(n) for n in range(1, 10)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == timedelta(hours=1)


def test_an_email_is_given_up_only_after_two_days_and_shown_to_staff(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    sink.stop()
    booking = book(mail_app, clock, start=datetime(2027, 4, 6, 6, 30, tzinfo=UTC))
    relay()
    clock.now += timedelta(hours=47)
    relay()
    assert outbox.failed_emails()[0].failed_at is None  # still trying
    clock.now += timedelta(hours=2)
    relay()
    [failed] = outbox.failed_emails()
    assert (failed.reference, failed.kind, failed.failed_at) == (booking.reference, "confirm", clock.now)
    assert "Connection" in (failed.last_error or "") or "refused" in (failed.last_error or "").lower()
    sink.start()
    clock.now += timedelta(days=1)
    assert relay() == 0
    assert sink.messages == []


def test_a_line_break_in_the_name_adds_no_recipient_and_no_header(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    booking = book(mail_app, clock)
    # The booking form refuses control characters; this pins the second line of defence.
    db.session.execute(
        update(Booking)
        .where(Booking.id == booking.id)
        .values(name="Eve\r\nBcc: mallory@evil.example\r\nX-Injected: yes")
    )
    db.session.commit()
    relay()

    [received] = sink.messages
    assert received.rcpt_tos == ["anna@example.org"]
    message = received.message
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["anna@example.org"]
    headers = received.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in headers and b"\r\nX-Injected:" not in headers


def test_a_refused_recipient_is_given_up_at_once(mail_app: Flask, clock: Clock, sink: SmtpSink) -> None:
    class Refusing(Handler):
        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]  # noqa: N802
            return "550 No such user"

    sink.serve_with(Refusing)
    book(mail_app, clock)
    assert relay() == 0
    [failed] = outbox.failed_emails()
    assert failed.failed_at == FIXED_NOW
    assert "550" in (failed.last_error or "")


def test_the_file_backend_writes_one_eml_per_email_and_a_retry_replaces_it(app: Flask, clock: Clock) -> None:
    with app.app_context():
        booking = book(app, clock)
        assert relay() == 1
        folder = Path(app.instance_path) / "outbox"
        [written] = list(folder.glob("*.eml"))
        db.session.execute(update(Outbox).values(sent_at=None))  # as if the worker died before marking it
        db.session.commit()
        clock.now += timedelta(minutes=5)
        assert relay() == 1
        assert list(folder.glob("*.eml")) == [written]
        message = Received("", [], written.read_bytes()).message
        assert message["To"].addresses[0].addr_spec == "anna@example.org"
        [event] = calendar_of(message)[0].events
        assert str(event["UID"]) == UID.format(reference=booking.reference)
        assert not list(folder.glob(".tmp-*"))


def test_the_booking_is_kept_when_the_broker_is_unreachable(app_with) -> None:  # type: ignore[no-untyped-def]
    app = app_with(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        started = time.monotonic()
        response = app.test_client().post(
            "/api/v1/bookings",
            json={
                "service": "beratung",
                "start": "2027-03-30T08:30",
                "name": "Anna",
                "email": "a@example.org",
            },
        )
        assert response.status_code == 201
        assert time.monotonic() - started < 10
        with app.app_context():
            [row] = db.session.scalars(select(Outbox)).all()
            assert row.sent_at is None and row.next_attempt_at == FIXED_NOW  # the relay will send it
    finally:
        tasks._broker_down_until.clear()


def test_after_commit_the_email_is_handed_to_the_embedded_broker(app: Flask, clock: Clock) -> None:
    queue = Path(app.instance_path) / "broker" / "queue"
    before = set(queue.glob("*.msg"))
    with app.app_context():
        book(app, clock)
    assert tasks.publisher(app.extensions["celery"]).flush()
    assert len(set(queue.glob("*.msg")) - before) == 1


def queued_batches(app: Flask, before: set[Path]) -> list[list[int]]:
    """The id lists of the send_email tasks that reached the embedded broker since `before`."""
    queue = Path(app.instance_path) / "broker" / "queue"
    found = []
    for path in sorted(set(queue.glob("*.msg")) - before, key=lambda p: p.stat().st_mtime_ns):
        body = json.loads(base64.b64decode(json.loads(path.read_bytes())["body"]))
        found.append(body[0][0])
    return found


def test_a_burst_of_bookings_travels_in_one_task_per_fifty(app: Flask) -> None:
    queue = Path(app.instance_path) / "broker" / "queue"
    before = set(queue.glob("*.msg"))
    with app.app_context():
        assert tasks.enqueue(range(1, 121)) == 120
    batches = queued_batches(app, before)
    assert [len(b) for b in batches] == [50, 50, 20]
    assert sorted(i for b in batches for i in b) == list(range(1, 121))


def test_emails_committed_while_a_publish_is_under_way_share_the_next_task(app: Flask) -> None:
    queue = Path(app.instance_path) / "broker" / "queue"
    before = set(queue.glob("*.msg"))
    publisher = tasks.publisher(app.extensions["celery"])
    with publisher.condition:  # the publishing thread waits here, as if busy with a slow broker
        publisher.submit([7])
        publisher.submit([8])
        publisher.submit([9, 10])
    assert publisher.flush()
    assert queued_batches(app, before) == [[7, 8, 9, 10]]
    publisher.submit([11])
    assert publisher.flush()
    assert queued_batches(app, before) == [[7, 8, 9, 10], [11]]


def test_send_reminders_queues_due_reminders_once_and_says_how_many(app: Flask, clock: Clock) -> None:
    with app.app_context():
        booking_id = book(app, clock).id
        relay()
    runner = app.test_cli_runner()
    too_early = runner.invoke(args=["send-reminders", "--as-of", "2027-03-29T08:00+02:00"])
    assert too_early.exit_code == 0, too_early.output
    assert too_early.output.startswith("Reminders due and not sent yet: 0 ")

    first = runner.invoke(args=["send-reminders", "--as-of", "2027-03-29T08:31+02:00"])
    second = runner.invoke(args=["send-reminders", "--as-of", "2027-03-29T08:31+02:00"])
    assert first.exit_code == second.exit_code == 0
    assert first.output.startswith("Reminders due and not sent yet: 1 ") and "(1 new)" in first.output
    assert "(0 new)" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Outbox.id)).where(Outbox.kind == "reminder")) == 1
        assert relay() == 1
        assert outbox_row(f"reminder:{booking_id}:0").sent_at is not None
    after = runner.invoke(args=["send-reminders", "--as-of", "2027-03-29T09:00+02:00"])
    assert after.output.startswith("Reminders due and not sent yet: 0 ")


def test_send_reminders_refuses_a_moment_that_is_no_iso_date(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["send-reminders", "--as-of", "tomorrow"])
    assert result.exit_code != 0
    assert "ISO 8601" in result.output


def test_the_calendar_download_is_the_same_invitation(app: Flask, client, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        booking = book(app, clock)
        token, reference = booking.token, booking.reference
    page = client.get(f"/b/{token}")
    assert f"/b/{token}/calendar.ics" in page.get_data(as_text=True)
    response = client.get(f"/b/{token}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.events
    assert str(event["UID"]) == UID.format(reference=reference)
    assert f"/b/{token}" in str(event["DESCRIPTION"])
    assert client.get("/b/not-a-token/calendar.ics").status_code == 404

    with app.app_context():
        bookings.cancel(bookings.get_by_token(token), clock.now)
    cancelled = Calendar.from_ical(client.get(f"/b/{token}/calendar.ics").data)
    assert str(cancelled["METHOD"]) == "CANCEL"
    assert [str(e["STATUS"]) for e in cancelled.events] == ["CANCELLED"]


def test_a_relay_sends_its_batch_over_one_smtp_connection(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    book_three(mail_app, clock)
    assert relay() == 3
    peers = {r.peer for r in sink.messages}
    assert len(sink.messages) == 3 and len(peers) == 1


def book_three(app: Flask, clock: Clock) -> list[int]:
    """Three bookings by three residents; the ids of their confirmation rows."""
    found = []
    for n in range(3):
        booking = book(
            app, clock, email=f"resident{n}@example.org", start=TUESDAY_0830 + timedelta(minutes=30 * n)
        )
        found.append(outbox_row(f"confirm:{booking.id}").id)
    return found


def test_a_task_sends_its_whole_batch_over_one_connection(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    ids = book_three(mail_app, clock)
    assert tasks.send_email(ids) == 3
    assert tasks.send_email(ids) == 0
    assert len({r.peer for r in sink.messages}) == 1
    assert sorted(r.rcpt_tos[0] for r in sink.messages) == [f"resident{n}@example.org" for n in range(3)]


def test_a_batch_stops_at_a_failing_server_and_gives_the_rest_back_unattempted(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    class FailingSecond(Handler):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            if self.sink.messages:
                return "451 Try again later"
            return await super().handle_DATA(server, session, envelope)

    ids = book_three(mail_app, clock)
    sink.serve_with(FailingSecond)
    assert tasks.send_email(ids) == 1
    db.session.expire_all()
    first, second, third = (db.session.get(Outbox, i) for i in ids)
    assert first.sent_at == FIXED_NOW
    assert second.attempts == 1 and second.next_attempt_at == FIXED_NOW + timedelta(minutes=1)
    assert "451" in (second.last_error or "")
    assert (third.attempts, third.next_attempt_at, third.last_error) == (0, FIXED_NOW, None)

    sink.serve_with(Handler)
    assert relay() == 1  # the third at once; the second after its backoff
    clock.now += timedelta(minutes=1)
    assert relay() == 1
    assert len(sink.messages) == 3


def test_a_batch_that_has_used_half_its_lease_gives_the_rest_back(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    lease = timedelta(seconds=mail_app.config["MAIL_LEASE_SECONDS"])

    class Slow(Handler):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            clock.now += lease / 2  # each message takes half the lease
            return await super().handle_DATA(server, session, envelope)

    ids = book_three(mail_app, clock)
    sink.serve_with(Slow)
    assert tasks.send_email(ids) == 1
    db.session.expire_all()
    rest = [db.session.get(Outbox, i) for i in ids[1:]]
    assert [(r.sent_at, r.attempts, r.next_attempt_at) for r in rest] == [(None, 0, clock.now)] * 2
    assert tasks.send_email(ids) == 1  # the next task takes them up again, with a fresh lease


def test_a_late_batch_gives_back_only_the_rows_it_still_holds(mail_app: Flask, clock: Clock) -> None:
    ids = book_three(mail_app, clock)
    first_claim = clock.now
    assert outbox.claim_many(ids, first_claim) == ids  # worker A, which then stalls
    clock.now += timedelta(seconds=mail_app.config["MAIL_LEASE_SECONDS"])
    assert outbox.claim_many(ids[1:], clock.now) == ids[1:]  # B takes two once A's lease ran out

    outbox.release(ids, clock.now, outbox.lease_end(first_claim))  # A wakes and gives its rest back
    outbox.mark_failed(ids[1], clock.now, "late", held_until=outbox.lease_end(first_claim))
    db.session.expire_all()
    rows = [db.session.get(Outbox, i) for i in ids]
    assert (rows[0].attempts, rows[0].next_attempt_at) == (0, clock.now)  # still A's: given back
    assert [(r.attempts, r.next_attempt_at, r.last_error) for r in rows[1:]] == [
        (2, outbox.lease_end(clock.now), None)
    ] * 2  # B's: untouched


def test_a_sent_email_is_recorded_even_when_the_batch_connection_died(
    mail_app: Flask, clock: Clock, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = ledger.Ledger._open
    deaths = []

    def dying_open(self: ledger.Ledger) -> Connection:
        connection = opened(self)
        if not deaths:  # the batch's first connection dies, as if the database restarted meanwhile
            deaths.append(connection)
            connection.connection.dbapi_connection.close()  # type: ignore[union-attr]
        return connection

    monkeypatch.setattr(ledger.Ledger, "_open", dying_open)
    ids = book_three(mail_app, clock)
    assert tasks.send_email(ids) == 3
    assert deaths
    assert relay() == 0
    assert len(sink.messages) == 3


def test_a_booking_stands_when_no_publishing_thread_can_start(
    app: Flask, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_start(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    publisher = tasks.publisher(app.extensions["celery"])
    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", cannot_start)
        with app.app_context():
            booking = book(app, clock)
    assert not publisher.busy  # the next booking publishes again
    with app.app_context():
        assert outbox_row(f"confirm:{booking.id}").sent_at is None  # left to the relay
        book(app, clock, email="other@example.org")
    assert publisher.flush()


def test_an_email_held_by_a_worker_that_died_is_sent_when_its_lease_ends(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    booking = book(mail_app, clock)
    row_id = outbox_row(f"confirm:{booking.id}").id
    assert outbox.claim(row_id, clock.now)  # a worker took it and was killed before sending
    assert tasks.send_email(row_id) == 0  # the redelivered message finds it leased
    assert relay() == 0
    clock.now += timedelta(seconds=mail_app.config["MAIL_LEASE_SECONDS"])
    assert relay() == 1
    assert len(sink.messages) == 1


@contextmanager
def booked_through(app_with, clock: Clock, server: SmtpSink, **smtp: object) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """One booking in an app that sends to `server` with these SMTP settings; the server stops
    afterwards."""
    app = app_with(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, **smtp)
    try:
        with app.app_context():
            book(app, clock)
            yield app
    finally:
        server.stop()


def password_checker(logins: list[object], record: Callable[[Any], object]) -> Callable[..., Any]:
    """An aiosmtpd authenticator that notes each login and accepts the password "s3cret"."""
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]
        logins.append(record(data))
        return AuthResult(success=data.password == b"s3cret")

    return authenticator


def test_smtp_login_is_used_when_configured(app_with, clock: Clock) -> None:
    logins: list[object] = []
    checker = password_checker(logins, lambda data: (data.login, data.password))
    server = SmtpSink(authenticator=checker, auth_require_tls=False).start()
    with booked_through(app_with, clock, server, SMTP_USERNAME="termine", SMTP_PASSWORD="s3cret"):
        assert relay() == 1
    assert logins == [(b"termine", b"s3cret")]
    assert len(server.messages) == 1


def test_a_reminder_whose_appointment_has_begun_is_skipped(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    booking = book(mail_app, clock)
    relay()
    clock.now = REMINDER_MOMENT + timedelta(minutes=1)
    outbox.scan_reminders(mail_app.extensions["office"], clock.now)
    clock.now = TUESDAY_0830 + timedelta(minutes=5)  # the workers were away all that time
    assert relay() == 0
    assert "skipped" in (outbox_row(f"reminder:{booking.id}:0").last_error or "")
    assert len(sink.messages) == 1


def test_the_daily_anonymisation_task_runs_the_retention_service(app: Flask) -> None:
    with app.app_context():
        assert tasks.anonymise_expired() == 0


def self_signed_tls(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1 made by openssl, and a server context that presents it."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


def test_smtp_starttls_and_login_are_used_when_configured(
    app_with, clock: Clock, tmp_path: Path, monkeypatch
):
    """A server that insists on STARTTLS before AUTH, with a certificate the test makes and trusts."""
    cert, server_tls = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts exactly this certificate
    logins: list[object] = []
    server = SmtpSink(
        authenticator=password_checker(logins, lambda data: data.login),
        tls_context=server_tls,
        require_starttls=True,
        auth_require_tls=True,
    ).start()
    with booked_through(
        app_with, clock, server, SMTP_STARTTLS=True, SMTP_USERNAME="termine", SMTP_PASSWORD="s3cret"
    ):
        assert relay() == 1
    assert logins == [b"termine"]
    assert len(server.messages) == 1


def test_without_starttls_a_server_that_requires_it_gets_nothing(app_with, clock: Clock, tmp_path: Path):
    _cert, server_tls = self_signed_tls(tmp_path)
    server = SmtpSink(tls_context=server_tls, require_starttls=True).start()
    with booked_through(app_with, clock, server):
        assert relay() == 0  # refused, kept for a retry
        row = db.session.scalar(select(Outbox))
        assert row.sent_at is None and row.last_error
    assert server.messages == []


def test_on_the_laptop_database_too_each_change_writes_its_audit_entry_and_email(
    clock: Clock, tmp_path: Path
) -> None:
    """`make run` uses SQLite, where the audit entry and the email take two statements (CI runs
    the rest of this suite on PostgreSQL, where they take one)."""
    app = make_app(f"sqlite:///{tmp_path / 'laptop.db'}", clock, str(tmp_path / "instance"))
    with app.app_context():
        db.create_all()
        booking = book(app, clock)
        office = app.extensions["office"]
        bookings.move(office, booking, TUESDAY_0830 + timedelta(minutes=30), clock.now)
        bookings.cancel(booking, clock.now)
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.booking_id == booking.id).order_by(AuditEvent.id)
        ).all()
        keys = db.session.scalars(select(Outbox.dedupe_key).order_by(Outbox.id)).all()
    assert actions == ["booked", "moved", "cancelled"]
    assert keys == [f"confirm:{booking.id}", f"move:{booking.id}:1", f"cancel:{booking.id}:2"]


EXITING_PROCESS = """
import sys
from datetime import UTC, datetime
from booking import bookings, create_app
from booking.extensions import db

now = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "INSTANCE_PATH": sys.argv[2],
                  "SECRET_KEY": "test", "CLOCK": lambda: now})
with app.app_context():
    db.create_all()
    request = bookings.BookingRequest("beratung", datetime(2027, 3, 30, 6, 30, tzinfo=UTC), "Anna",
                                      "anna@example.org")
    bookings.book(app.extensions["office"], request, now)
"""  # books and exits at once, inside the publisher's linger


def test_a_process_that_exits_right_after_a_booking_still_hands_its_email_over(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    subprocess.run(
        [sys.executable, "-c", EXITING_PROCESS, f"sqlite:///{tmp_path / 'exit.db'}", str(instance)],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert len(list((instance / "broker" / "queue").glob("*.msg"))) == 1
