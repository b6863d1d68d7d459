"""The iCalendar files, parsed back with icalendar itself: what a calendar program will read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

import pytest
from icalendar import Calendar

from booking.notify import ics
from booking.notify.ics import booking_calendar, feed_calendar
from booking.office import load_office

OFFICE = load_office()
BERLIN = OFFICE.timezone
STAMP = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)
MANAGE = "https://termine.example/b/secret-token"


@dataclass
class FakeBooking:
    id: int = 7
    reference: str = "ABCD-EFGH"
    service_id: str = "beratung"
    start_at: datetime = datetime(2027, 3, 29, 6, 30, tzinfo=UTC)  # Monday 08:30 CEST
    end_at: datetime = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    name: str = "Anna Müller"
    email: str | None = "anna@example.org"
    language: str = "en"
    status: str = "confirmed"
    sequence: int = 0
    created_at: datetime = STAMP


def parse(data: bytes) -> Calendar:
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    return Calendar.from_ical(data)


def invitation(booking: FakeBooking, method: str = "REQUEST") -> Calendar:
    return parse(booking_calendar(booking, OFFICE, manage_url=MANAGE, method=method, stamp=STAMP))


def test_invitation_carries_every_field_a_calendar_needs() -> None:
    calendar = invitation(FakeBooking())
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["VERSION"]) == "2.0"
    [event] = calendar.events
    assert str(event["UID"]) == "booking-ABCD-EFGH@kreis-heinsberg.example"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTEND"].params["TZID"] == "Europe/Berlin"
    assert event.start.astimezone(BERLIN).replace(tzinfo=None) == datetime(2027, 3, 29, 8, 30)
    assert event.end - event.start == timedelta(minutes=30)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert "Integration counselling" in str(event["SUMMARY"])
    assert str(event["LOCATION"]) == OFFICE.location
    assert str(event["ORGANIZER"]) == "mailto:termine@kreis-heinsberg.example"
    assert event["ORGANIZER"].params["CN"] == OFFICE.name
    assert str(event["ATTENDEE"]) == "mailto:anna@example.org"
    assert event["ATTENDEE"].params["CN"] == "Anna Müller"
    assert MANAGE in str(event["DESCRIPTION"])
    assert "ABCD-EFGH" in str(event["DESCRIPTION"])
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["DTSTAMP"].dt == STAMP
    [alarm] = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm["TRIGGER"].dt < timedelta(0)


@pytest.mark.parametrize(
    ("start_utc", "local", "offset_hours"),
    [
        (datetime(2027, 3, 26, 7, 30, tzinfo=UTC), datetime(2027, 3, 26, 8, 30), 1),  # Friday, CET
        (datetime(2027, 3, 29, 6, 30, tzinfo=UTC), datetime(2027, 3, 29, 8, 30), 2),  # Monday, CEST
        (datetime(2027, 10, 29, 6, 30, tzinfo=UTC), datetime(2027, 10, 29, 8, 30), 2),  # Friday, CEST
        (datetime(2027, 11, 1, 7, 30, tzinfo=UTC), datetime(2027, 11, 1, 8, 30), 1),  # Monday, CET
    ],
)
def test_half_past_eight_stays_half_past_eight_on_both_sides_of_a_dst_change(
    start_utc: datetime, local: datetime, offset_hours: int
) -> None:
    booking = FakeBooking(start_at=start_utc, end_at=start_utc + timedelta(minutes=30))
    data = booking_calendar(booking, OFFICE, manage_url=MANAGE, method="REQUEST", stamp=STAMP)
    assert f"DTSTART;TZID=Europe/Berlin:{local:%Y%m%dT%H%M%S}".encode() in data
    [event] = parse(data).events
    assert event.start.time() == time(8, 30)
    assert event.start.utcoffset() == timedelta(hours=offset_hours)
    assert event.start.astimezone(UTC) == start_utc


def test_the_vtimezone_describes_the_change_to_summer_time() -> None:
    [zone] = invitation(FakeBooking()).walk("VTIMEZONE")
    daylight = zone.walk("DAYLIGHT")
    assert daylight
    assert {d["TZOFFSETTO"].td for d in daylight} == {timedelta(hours=2)}
    assert {s["TZOFFSETTO"].td for s in zone.walk("STANDARD")} == {timedelta(hours=1)}


def test_summary_names_the_service_in_the_bookings_language() -> None:
    [german] = invitation(FakeBooking(language="de")).events
    [english] = invitation(FakeBooking(language="en")).events
    assert "Integrationsberatung" in str(german["SUMMARY"])
    assert "Integration counselling" in str(english["SUMMARY"])


def test_cancellation_keeps_the_uid_raises_the_sequence_and_is_cancelled() -> None:
    booked = FakeBooking()
    cancelled = replace(booked, status="cancelled", sequence=1)
    [before] = invitation(booked).events
    calendar = invitation(cancelled, method="CANCEL")
    [after] = calendar.events
    assert str(calendar["METHOD"]) == "CANCEL"
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert str(after["STATUS"]) == "CANCELLED"
    assert after.start == before.start
    assert not after.walk("VALARM")


def test_a_moved_appointment_keeps_the_uid_with_new_times_and_a_higher_sequence() -> None:
    booked = FakeBooking()
    new_start = datetime(2027, 3, 30, 12, 0, tzinfo=UTC)  # Tuesday 14:00 CEST
    moved = replace(booked, start_at=new_start, end_at=new_start + timedelta(minutes=30), sequence=1)
    [before] = invitation(booked).events
    calendar = invitation(moved)
    [after] = calendar.events
    assert str(calendar["METHOD"]) == "REQUEST"
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] == 1
    assert after.start.astimezone(BERLIN).replace(tzinfo=None) == datetime(2027, 3, 30, 14, 0)
    assert str(after["STATUS"]) == "CONFIRMED"


def test_a_name_with_quotes_and_line_breaks_cannot_add_a_property() -> None:
    booking = FakeBooking(name='Eve"\r\nATTENDEE:mailto:mallory@evil.example\r\nX')
    data = booking_calendar(booking, OFFICE, manage_url=MANAGE, method="REQUEST", stamp=STAMP)
    assert b"mallory" not in data.split(b"ATTENDEE", 1)[0]
    [event] = parse(data).events
    attendees = event["ATTENDEE"]
    assert not isinstance(attendees, list)
    assert str(attendees) == "mailto:anna@example.org"
    assert "\n" not in attendees.params["CN"] and '"' not in attendees.params["CN"]


def test_only_request_and_cancel_are_offered_for_one_booking() -> None:
    with pytest.raises(ValueError):
        booking_calendar(FakeBooking(), OFFICE, manage_url=MANAGE, method="PUBLISH")


def test_the_feed_publishes_one_event_per_booking() -> None:
    first = FakeBooking()
    second = FakeBooking(id=8, reference="JKLM-NPQR", name="Ben", status="cancelled", sequence=1)
    calendar = parse(
        feed_calendar([first, second], OFFICE, manage_url_for=lambda b: f"{MANAGE}/{b.id}", stamp=STAMP)
    )
    assert str(calendar["METHOD"]) == "PUBLISH"
    events = calendar.events
    assert [str(e["UID"]) for e in events] == [
        "booking-ABCD-EFGH@kreis-heinsberg.example",
        "booking-JKLM-NPQR@kreis-heinsberg.example",
    ]
    assert "Anna Müller" in str(events[0]["SUMMARY"])
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CANCELLED"]
    assert f"{MANAGE}/8" in str(events[1]["DESCRIPTION"])
    assert not any(e.walk("VALARM") for e in events)  # staff do not want an alarm per appointment
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_an_empty_feed_is_still_a_calendar() -> None:
    calendar = parse(feed_calendar([], OFFICE, manage_url_for=lambda b: "", stamp=STAMP))
    assert calendar.events == []


def summer_time_years(calendar: Calendar) -> set[int]:
    """The years whose change to summer time the calendar's VTIMEZONE describes."""
    years = set()
    for daylight in calendar.walk("DAYLIGHT"):
        years.add(daylight["DTSTART"].dt.year)
        rdates = daylight.get("RDATE")
        for rdate in rdates if isinstance(rdates, list) else [rdates] if rdates else []:
            years.update(d.dt.year for d in rdate.dts)
    return years


def test_the_vtimezone_comes_before_the_event_and_covers_a_year_either_side() -> None:
    data = booking_calendar(FakeBooking(), OFFICE, manage_url=MANAGE, method="REQUEST", stamp=STAMP)
    assert data.count(b"BEGIN:VTIMEZONE") == 1
    assert data.index(b"END:VTIMEZONE") < data.index(b"BEGIN:VEVENT")
    assert data.endswith(b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert summer_time_years(parse(data)) == {2026, 2027, 2028}


def test_invitations_in_the_same_years_share_one_written_vtimezone() -> None:
    first = FakeBooking()
    later = FakeBooking(
        id=8, start_at=datetime(2027, 10, 4, 6, 30, tzinfo=UTC), end_at=datetime(2027, 10, 4, 7, tzinfo=UTC)
    )
    booking_calendar(first, OFFICE, manage_url=MANAGE, method="REQUEST", stamp=STAMP)
    hits = ics._vtimezone.cache_info().hits
    data = booking_calendar(later, OFFICE, manage_url=MANAGE, method="REQUEST", stamp=STAMP)
    assert ics._vtimezone.cache_info().hits == hits + 1
    [event] = parse(data).events
    assert event.start.astimezone(BERLIN).replace(tzinfo=None) == datetime(2027, 10, 4, 8, 30)


def test_the_feed_vtimezone_covers_every_booking_year() -> None:
    first = FakeBooking()
    far = FakeBooking(
        id=9,
        reference="FAR",
        start_at=datetime(2030, 7, 1, 6, 30, tzinfo=UTC),
        end_at=datetime(2030, 7, 1, 7, tzinfo=UTC),
    )
    data = feed_calendar([first, far], OFFICE, manage_url_for=lambda b: MANAGE, stamp=STAMP)
    assert data.count(b"BEGIN:VTIMEZONE") == 1
    assert data.index(b"END:VTIMEZONE") < data.index(b"BEGIN:VEVENT")
    assert summer_time_years(parse(data)) == set(range(2026, 2032))


def test_an_empty_feed_has_no_vtimezone() -> None:
    assert b"VTIMEZONE" not in feed_calendar([], OFFICE, manage_url_for=lambda b: "", stamp=STAMP)
