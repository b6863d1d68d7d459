"""Every kind of email as it leaves through SMTP, with its calendar part read by the parsers real
calendar programs use (ical.js: Thunderbird; libical: Evolution and many servers), around both
DST changes, compared with the UTC time stored; and the staff feed as a subscribed calendar reads it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask_babel import force_locale

from booking import bookings
from booking.extensions import db
from booking.models import Booking
from booking.notify import outbox, tasks
from booking.web.templating import day_label, time_label
from tests.calendar_clients import icaljs, libical
from tests.conftest import Clock
from tests.integration.staff_support import book_at, create_staff, english, sign_in
from tests.mailsink import SmtpSink

OFFICE_ADDRESS = "termine@kreis-heinsberg.example"
# Office time: Tue 23 March 2027 08:30 CET, then summer time from Sunday 28 March; Fri 29 October
# 08:30 CEST, then winter time from Sunday 31 October.
SPRING_BEFORE = datetime(2027, 3, 23, 7, 30, tzinfo=UTC)
SPRING_AFTER = datetime(2027, 3, 30, 12, 0, tzinfo=UTC)  # Tue 14:00 CEST
SPRING_OTHER = datetime(2027, 3, 31, 6, 30, tzinfo=UTC)  # Wed 08:30 CEST
AUTUMN_BEFORE = datetime(2027, 10, 29, 6, 30, tzinfo=UTC)
AUTUMN_AFTER = datetime(2027, 11, 2, 13, 0, tzinfo=UTC)  # Tue 14:00 CET


@pytest.fixture
def mail_app(app_with, sink: SmtpSink) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = app_with(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_TIMEOUT=5)
    with app.app_context():
        yield app


def book(app: Flask, clock: Clock, start: datetime, language: str = "en") -> Booking:
    request = bookings.BookingRequest("beratung", start, "Anna Müller", "anna@example.org", language=language)
    return bookings.book(app.extensions["office"], request, clock.now)


def kind_of(message) -> str:  # type: ignore[no-untyped-def]
    return message["Message-ID"].split(".")[1]


def calendar_parts(message) -> tuple[bytes, bytes] | None:  # type: ignore[no-untyped-def]
    """The inline calendar alternative and the attachment, or None when the email has neither."""
    alternative = next(p for p in message.walk() if p.get_content_type() == "multipart/alternative")
    inline = [p for p in alternative.iter_parts() if p.get_content_type() == "text/calendar"]
    attached = [p for p in message.iter_parts() if p.get_filename() == "invite.ics"]
    if not inline and not attached:
        return None
    [part] = inline
    [attachment] = attached
    assert [p.get_content_type() for p in alternative.iter_parts()][
        -1
    ] == "text/calendar"  # the last alternative
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content_disposition() == "attachment"
    return part.get_payload(decode=True), attachment.get_payload(decode=True)


def vtimezone_of(data: bytes) -> bytes:
    return data[data.index(b"BEGIN:VTIMEZONE") : data.index(b"END:VTIMEZONE")]


def test_every_email_around_both_dst_changes_is_read_at_the_stored_time_by_icaljs_and_libical(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    office = mail_app.extensions["office"]
    clock.now = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
    spring = book(mail_app, clock, SPRING_BEFORE)
    gone = book(mail_app, clock, SPRING_OTHER)
    tasks.relay_outbox()
    bookings.move(office, spring, SPRING_AFTER, clock.now)  # across the change to summer time
    bookings.cancel(gone, clock.now)
    tasks.relay_outbox()
    clock.now = SPRING_AFTER - timedelta(hours=20)
    assert outbox.scan_reminders(office, clock.now) == 1
    tasks.relay_outbox()

    clock.now = datetime(2027, 10, 20, 9, 0, tzinfo=UTC)
    autumn = book(mail_app, clock, AUTUMN_BEFORE)
    tasks.relay_outbox()
    bookings.move(office, autumn, AUTUMN_AFTER, clock.now)  # across the change back to winter time
    tasks.relay_outbox()

    # What each email's calendar part must show: (method, booking, start and end in UTC).
    expected = [
        ("confirm", "PUBLISH", spring.id, SPRING_BEFORE),
        ("confirm", "PUBLISH", gone.id, SPRING_OTHER),
        ("move", "PUBLISH", spring.id, SPRING_AFTER),
        ("cancel", "CANCEL", gone.id, SPRING_OTHER),
        ("reminder", None, spring.id, SPRING_AFTER),
        ("confirm", "PUBLISH", autumn.id, AUTUMN_BEFORE),
        ("move", "PUBLISH", autumn.id, AUTUMN_AFTER),
    ]
    messages = [received.message for received in sink.messages]
    assert [kind_of(m) for m in messages] == [kind for kind, *_ in expected]

    files, wanted = [], []
    for message, (kind, method, booking_id, start) in zip(messages, expected, strict=True):
        parts = calendar_parts(message)
        if method is None:  # the reminder leaves the calendar entry alone
            assert parts is None, kind
            continue
        assert parts is not None, kind
        inline, attached = parts
        assert inline == attached
        calendar_type = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        assert calendar_type.get_param("method") == method
        booking = db.session.get(Booking, booking_id)
        assert booking is not None
        files.append(inline)
        wanted.append((kind, method, booking, start))

    assert len({vtimezone_of(data) for data in files}) == 1  # one definition in every email
    for data, read, (kind, method, booking, start) in zip(files, icaljs(*files), wanted, strict=True):
        [event] = read.events
        assert read.method == method, kind
        assert (event.start, event.end) == (start, start + timedelta(minutes=30)), kind
        assert event.uid == f"booking-{booking.reference}@kreis-heinsberg.example"
        assert event.attendees == (1 if method == "CANCEL" else 0), kind  # no Decline to offer
        assert event.status == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
        by_libical = libical(data)
        assert by_libical.errors == [], kind
        [same] = by_libical.events
        assert (same.start, same.end) == (event.start, event.end), kind
    sequences = {read.events[0].uid: [] for read in icaljs(*files)}
    for read in icaljs(*files):
        sequences[read.events[0].uid].append(read.events[0].sequence)
    assert all(seq == sorted(set(seq)) for seq in sequences.values())  # every change raises it


def test_the_move_email_names_the_old_and_the_new_time(mail_app: Flask, clock: Clock, sink: SmtpSink) -> None:
    office = mail_app.extensions["office"]
    clock.now = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
    booking = book(mail_app, clock, SPRING_BEFORE)
    bookings.move(office, booking, SPRING_AFTER, clock.now)
    tasks.relay_outbox()
    moved = next(r.message for r in sink.messages if kind_of(r.message) == "move")
    with force_locale("en"):
        old = f"on {day_label(SPRING_BEFORE)} at {time_label(SPRING_BEFORE)} has been moved"
        new_day, new_time = day_label(SPRING_AFTER), time_label(SPRING_AFTER)
    assert old == "on Tuesday, March 23, 2027 at 08:30 has been moved"
    for subtype in ("plain", "html"):
        text = moved.get_body((subtype,)).get_content()
        assert old in text
        assert new_day in text and new_time in text
        assert text.index(old) < text.rindex(new_day)  # the old time first, then the details


def test_the_emails_say_how_to_cancel_and_that_replies_reach_the_office_it_names_in_reply_to(
    mail_app: Flask, clock: Clock, sink: SmtpSink
) -> None:
    clock.now = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
    booking = book(mail_app, clock, SPRING_BEFORE)
    tasks.relay_outbox()
    [received] = sink.messages
    message = received.message
    assert [a.addr_spec for a in message["Reply-To"].addresses] == [OFFICE_ADDRESS]
    for subtype in ("plain", "html"):
        text = re.sub(r"\s+", " ", message.get_body((subtype,)).get_content())
        assert "To cancel or change your appointment, open this link:" in text
        assert f"/b/{booking.token}" in text
        assert "Deleting the appointment from your calendar does not cancel it." in text
        assert "If you reply, your message goes to the office." in text
        assert "do not reply" not in text


def test_the_staff_feed_is_in_the_staff_language_without_attendees_and_says_how_often_to_refresh(
    app: Flask,
    client,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    create_staff(app)
    english(client)
    assert sign_in(client).status_code == 302
    with app.app_context():
        office = app.extensions["office"]
        for start, name, language in (
            ("2027-03-30T09:00", "Layla", "ar"),
            ("2027-03-31T09:00", "Emre", "tr"),
        ):
            booking_id = book_at(app, start, name=name, email=f"{name.lower()}@example.org")
            booking = db.session.get(Booking, booking_id)
            assert booking is not None
            booking.language = language
        db.session.commit()
        stored = [
            (b.start_at, b.end_at) for b in db.session.scalars(db.select(Booking).order_by(Booking.start_at))
        ]
    client.post("/staff/feed/rotate")
    page = client.get("/staff/feed").text
    url = re.search(r'value="(https?://[^"]+\.ics)"', page).group(1)  # type: ignore[union-attr]
    data = app.test_client().get(url.split("termine.test", 1)[1]).data

    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT30M\r\n" in data
    assert b"\r\nX-PUBLISHED-TTL:PT30M\r\n" in data
    assert f"\r\nX-WR-CALNAME:{office.name}\r\n".encode() in data
    assert b"Buchungsnummer" in data  # the description too is in German
    [read] = icaljs(data)
    assert read.method == "PUBLISH"
    assert [e.summary for e in read.events] == ["Integrationsberatung: Layla", "Integrationsberatung: Emre"]
    assert [e.attendees for e in read.events] == [0, 0]
    assert [(e.start, e.end) for e in read.events] == stored
    by_libical = libical(data)
    assert by_libical.errors == []
    assert [(e.start, e.end) for e in by_libical.events] == stored
