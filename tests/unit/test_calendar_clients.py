"""Our calendar files as real calendar programs read them: ical.js (Thunderbird) and libical
(Evolution, many servers) compute each appointment's start and end from the file's own VTIMEZONE,
in winter and summer, around both DST changes and in a feed spanning two years, and must land on
the UTC time stored; libical's iTIP restriction check (RFC 5546) finds nothing in any file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Timezone

from booking.notify.ics import booking_calendar, feed_calendar
from tests.calendar_clients import icaljs, libical
from tests.unit.test_ics import MANAGE, OFFICE, STAMP, FakeBooking

# Each start in UTC, and what it is in Heinsberg: winter, the days around the change to summer
# time (28 March 2027) and back (31 October 2027), summer, and the same a year later.
STARTS = [
    datetime(2026, 12, 1, 7, 30, tzinfo=UTC),  # Tue 08:30 CET
    datetime(2027, 3, 26, 7, 30, tzinfo=UTC),  # Fri 08:30 CET, before the change
    datetime(2027, 3, 29, 6, 30, tzinfo=UTC),  # Mon 08:30 CEST, the day after
    datetime(2027, 3, 30, 7, 0, tzinfo=UTC),  # Tue 09:00 CEST
    datetime(2027, 7, 13, 12, 0, tzinfo=UTC),  # Tue 14:00 CEST
    datetime(2027, 10, 29, 6, 30, tzinfo=UTC),  # Fri 08:30 CEST, before the change back
    datetime(2027, 11, 2, 13, 0, tzinfo=UTC),  # Tue 14:00 CET, after it
    datetime(2028, 3, 30, 6, 30, tzinfo=UTC),  # Thu 08:30 CEST, the next year
    datetime(2028, 11, 30, 7, 30, tzinfo=UTC),  # Thu 08:30 CET
]


def booking_at(start: datetime, number: int = 0, **changes: object) -> FakeBooking:
    return replace(
        FakeBooking(
            id=number, reference=f"REF-{number}", start_at=start, end_at=start + timedelta(minutes=30)
        ),
        **changes,
    )


def entry(booking: FakeBooking) -> bytes:
    return booking_calendar(booking, OFFICE, manage_url=MANAGE, method="PUBLISH", stamp=STAMP)


def removal(booking: FakeBooking) -> bytes:
    gone = replace(booking, status="cancelled", sequence=booking.sequence + 1)
    return booking_calendar(gone, OFFICE, manage_url=MANAGE, method="CANCEL", stamp=STAMP)


def two_year_feed() -> tuple[list[FakeBooking], bytes]:
    bookings = [booking_at(start, number) for number, start in enumerate(STARTS)]
    data = feed_calendar(bookings, OFFICE, manage_url_for=lambda b: MANAGE, language="de", stamp=STAMP)
    return bookings, data


@pytest.mark.parametrize("start", STARTS, ids=lambda s: f"{s:%Y-%m-%d}")
def test_libical_reads_each_entry_and_removal_at_the_stored_time_and_finds_no_itip_fault(
    start: datetime,
) -> None:
    booking = booking_at(start)
    for data in (entry(booking), removal(booking)):
        result = libical(data)
        assert result.errors == []
        [event] = result.events
        assert (event.start, event.end) == (booking.start_at, booking.end_at)
        assert event.uid == "booking-REF-0@kreis-heinsberg.example"


def test_icaljs_reads_each_entry_and_removal_at_the_stored_time() -> None:
    bookings = [booking_at(start, number) for number, start in enumerate(STARTS)]
    results = icaljs(*(entry(b) for b in bookings), *(removal(b) for b in bookings))
    entries, removals = results[: len(bookings)], results[len(bookings) :]
    for booking, read in zip(bookings, entries, strict=True):
        assert read.method == "PUBLISH" and read.timezones == ["Europe/Berlin"]
        [event] = read.events
        assert (event.start, event.end) == (booking.start_at, booking.end_at), booking.start_at
        assert (event.tzid, event.status, event.attendees) == ("Europe/Berlin", "CONFIRMED", 0)
    for booking, read in zip(bookings, removals, strict=True):
        assert read.method == "CANCEL"
        [event] = read.events
        assert (event.start, event.end) == (booking.start_at, booking.end_at)
        assert (event.status, event.sequence) == ("CANCELLED", booking.sequence + 1)


def test_a_feed_spanning_two_years_shows_30_march_2027_right_in_both_programs() -> None:
    bookings, data = two_year_feed()
    [read] = icaljs(data)
    assert read.method == "PUBLISH"
    assert [(e.start, e.end) for e in read.events] == [(b.start_at, b.end_at) for b in bookings]
    assert all(e.attendees == 0 for e in read.events)
    march_30 = next(e for e in read.events if e.start.date().isoformat() == "2027-03-30")
    assert march_30.start == datetime(2027, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 in Heinsberg
    by_libical = libical(data)
    assert by_libical.errors == []
    assert [(e.start, e.end) for e in by_libical.events] == [(b.start_at, b.end_at) for b in bookings]


def test_the_feed_names_service_and_resident_in_the_staff_language() -> None:
    bookings = [
        booking_at(STARTS[0], 0, language="ar", name="Layla"),
        booking_at(STARTS[1], 1, language="tr"),
    ]
    data = feed_calendar(bookings, OFFICE, manage_url_for=lambda b: MANAGE, language="de", stamp=STAMP)
    [read] = icaljs(data)
    assert [e.summary for e in read.events] == [
        "Integrationsberatung: Layla",
        "Integrationsberatung: Anna Müller",
    ]
    assert [e.summary for e in libical(data).events] == [e.summary for e in read.events]


def test_libicals_restriction_check_is_live_it_reports_an_attendee_in_a_publish() -> None:
    """The check the tests above rely on finds what the old feed had (an ATTENDEE in a PUBLISH)."""
    data = entry(booking_at(STARTS[0]))
    with_attendee = data.replace(b"ORGANIZER", b"ATTENDEE:mailto:anna@example.org\r\nORGANIZER", 1)
    assert any("ATTENDEE" in error for error in libical(with_attendee).errors)


def test_icaljs_misreads_the_rdate_form_we_no_longer_write() -> None:
    """Why the RRULE form: with icalendar's RDATE lists ical.js takes only the first date of each
    list, and a feed over two years shows 30 March 2027 an hour late (what issue 13 found)."""
    bookings, data = two_year_feed()
    head, rest = data.split(b"BEGIN:VTIMEZONE", 1)
    rdate_form = Timezone.from_tzid("Europe/Berlin", first_date=STARTS[0].date(), last_date=STARTS[-1].date())
    old = head + rdate_form.to_ical() + rest.split(b"END:VTIMEZONE\r\n", 1)[1]
    [read] = icaljs(old)
    march_30 = next(e for e in read.events if e.uid == "booking-REF-3@kreis-heinsberg.example")
    assert march_30.start == datetime(2027, 3, 30, 8, 0, tzinfo=UTC)


def test_a_feed_of_every_week_of_two_years_is_right_in_both_programs_every_time() -> None:
    """08:30 and 14:00 office time on every Tuesday of 2027 and 2028, 23:30 on the nights of three
    changes, and half an hour across the change to summer time (01:45 CET to 03:15 CEST), stored in
    UTC as zoneinfo gives it."""
    tuesday = datetime(2027, 1, 5)
    walls = [tuesday + timedelta(weeks=week, hours=hour) for week in range(104) for hour in (8.5, 14)]
    walls += [datetime(2027, 3, 27, 23, 30), datetime(2027, 10, 30, 23, 30), datetime(2028, 10, 28, 23, 30)]
    starts = [wall.replace(tzinfo=OFFICE.timezone).astimezone(UTC) for wall in walls]
    starts.append(datetime(2027, 3, 28, 0, 45, tzinfo=UTC))
    bookings = [booking_at(start, number) for number, start in enumerate(starts)]
    data = feed_calendar(bookings, OFFICE, manage_url_for=lambda b: MANAGE, language="de", stamp=STAMP)
    assert b"DTSTART;TZID=Europe/Berlin:20270328T014500\r\nDTEND;TZID=Europe/Berlin:20270328T031500" in data
    stored = [(b.start_at, b.end_at) for b in bookings]
    [read] = icaljs(data)
    assert [(e.start, e.end) for e in read.events] == stored
    by_libical = libical(data)
    assert by_libical.errors == []
    assert [(e.start, e.end) for e in by_libical.events] == stored
