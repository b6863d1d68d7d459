"""The iCalendar files, parsed back with icalendar: every property the contract names, as a
calendar program reads it. (tests/unit/test_calendar_clients.py reads them with ical.js and libical.)"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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


def invitation(booking: FakeBooking, method: str = "PUBLISH") -> Calendar:
    return parse(booking_calendar(booking, OFFICE, manage_url=MANAGE, method=method, stamp=STAMP))


def feed(bookings: object, language: str = "de") -> Calendar:
    return parse(
        feed_calendar(
            bookings,  # type: ignore[arg-type]
            OFFICE,
            manage_url_for=lambda b: f"{MANAGE}/{b.id}",
            language=language,
            stamp=STAMP,
        )
    )


def cancelled(booking: FakeBooking) -> FakeBooking:
    return replace(booking, status="cancelled", sequence=booking.sequence + 1)


def test_the_entry_carries_every_field_a_calendar_needs() -> None:
    calendar = invitation(FakeBooking())
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//Termine//Appointment booking//EN"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    [event] = calendar.events
    assert str(event["UID"]) == "booking-ABCD-EFGH@kreis-heinsberg.example"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTEND"].params["TZID"] == "Europe/Berlin"
    assert event.start.astimezone(BERLIN).replace(tzinfo=None) == datetime(2027, 3, 29, 8, 30)
    assert event.end - event.start == timedelta(minutes=30)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert str(event["SUMMARY"]) == "Appointment: Integration counselling"
    assert str(event["LOCATION"]) == OFFICE.location
    assert str(event["ORGANIZER"]) == "mailto:termine@kreis-heinsberg.example"
    assert event["ORGANIZER"].params["CN"] == OFFICE.name
    assert str(event["URL"]) == MANAGE
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["TRANSP"]) == "OPAQUE"  # the time shows as busy
    assert event["DTSTAMP"].dt == STAMP
    assert event["CREATED"].dt == STAMP


def test_the_entry_names_no_attendee_so_no_program_offers_to_decline() -> None:
    [event] = invitation(FakeBooking()).events
    assert "ATTENDEE" not in event
    assert "ATTENDEE" not in event.to_ical().decode()


def test_the_residents_description_gives_reference_manage_link_and_phone() -> None:
    [event] = invitation(FakeBooking()).events
    assert str(event["DESCRIPTION"]).split("\n") == [
        "Booking reference: ABCD-EFGH",
        f"To cancel or change your appointment: {MANAGE}",
        f"Phone: {OFFICE.phone}",
    ]


def test_an_office_without_a_phone_gets_no_phone_line() -> None:
    office = replace(OFFICE, phone="")
    data = booking_calendar(FakeBooking(), office, manage_url=MANAGE, method="PUBLISH", stamp=STAMP)
    [event] = parse(data).events
    assert str(event["DESCRIPTION"]).split("\n") == [
        "Booking reference: ABCD-EFGH",
        f"To cancel or change your appointment: {MANAGE}",
    ]


def test_the_entry_reminds_the_resident_one_hour_before() -> None:
    [event] = invitation(FakeBooking()).events
    [alarm] = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm["TRIGGER"].dt == timedelta(hours=-1)
    assert str(alarm["DESCRIPTION"]) == str(event["SUMMARY"])


def test_the_created_stamp_is_when_the_booking_was_made_in_utc() -> None:
    made = datetime(2027, 3, 20, 10, 15, tzinfo=BERLIN)
    data = booking_calendar(
        FakeBooking(created_at=made), OFFICE, manage_url=MANAGE, method="PUBLISH", stamp=STAMP
    )
    assert b"\r\nCREATED:20270320T091500Z\r\n" in data
    [event] = parse(data).events
    assert event["CREATED"].dt == made


def test_the_method_follows_the_booking_entry_while_active_removal_once_cancelled() -> None:
    assert ics.method_for(FakeBooking()) == "PUBLISH"
    assert ics.method_for(FakeBooking(status="pending")) == "PUBLISH"
    assert ics.method_for(cancelled(FakeBooking())) == "CANCEL"


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
    data = booking_calendar(booking, OFFICE, manage_url=MANAGE, method="PUBLISH", stamp=STAMP)
    assert f"DTSTART;TZID=Europe/Berlin:{local:%Y%m%dT%H%M%S}".encode() in data
    [event] = parse(data).events
    assert event.start.time() == time(8, 30)
    assert event.start.utcoffset() == timedelta(hours=offset_hours)
    assert event.start.astimezone(UTC) == start_utc


def test_the_vtimezone_is_one_standard_and_one_daylight_rule_with_rrules() -> None:
    [zone] = invitation(FakeBooking()).walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Berlin"
    [daylight] = zone.walk("DAYLIGHT")
    [standard] = zone.walk("STANDARD")
    assert daylight["RRULE"] == {"FREQ": ["YEARLY"], "BYMONTH": [3], "BYDAY": ["-1SU"]}
    assert standard["RRULE"] == {"FREQ": ["YEARLY"], "BYMONTH": [10], "BYDAY": ["-1SU"]}
    assert daylight["DTSTART"].dt == datetime(1970, 3, 29, 2, 0)  # 02:00 CET becomes 03:00 CEST
    assert standard["DTSTART"].dt == datetime(1970, 10, 25, 3, 0)  # 03:00 CEST becomes 02:00 CET
    assert (daylight["TZOFFSETFROM"].td, daylight["TZOFFSETTO"].td) == (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    assert (standard["TZOFFSETFROM"].td, standard["TZOFFSETTO"].td) == (
        timedelta(hours=2),
        timedelta(hours=1),
    )
    assert "RDATE" not in daylight and "RDATE" not in standard


def vtimezone_bytes(data: bytes) -> bytes:
    return data[data.index(b"BEGIN:VTIMEZONE") : data.index(b"END:VTIMEZONE")]


def test_every_file_and_the_feed_carry_the_same_vtimezone() -> None:
    winter = FakeBooking(
        start_at=datetime(2026, 12, 1, 8, tzinfo=UTC), end_at=datetime(2026, 12, 1, 9, tzinfo=UTC)
    )
    far = FakeBooking(
        id=9,
        reference="FAR",
        start_at=datetime(2031, 7, 1, 6, tzinfo=UTC),
        end_at=datetime(2031, 7, 1, 7, tzinfo=UTC),
    )
    files = [
        booking_calendar(winter, OFFICE, manage_url=MANAGE, method="PUBLISH", stamp=STAMP),
        booking_calendar(far, OFFICE, manage_url=MANAGE, method="PUBLISH", stamp=STAMP),
        booking_calendar(cancelled(far), OFFICE, manage_url=MANAGE, method="CANCEL", stamp=STAMP),
        feed_calendar([winter, far], OFFICE, manage_url_for=lambda b: MANAGE, language="de", stamp=STAMP),
    ]
    assert len({vtimezone_bytes(data) for data in files}) == 1


def test_the_vtimezone_comes_before_the_event() -> None:
    data = booking_calendar(FakeBooking(), OFFICE, manage_url=MANAGE, method="PUBLISH", stamp=STAMP)
    assert data.count(b"BEGIN:VTIMEZONE") == 1
    assert data.index(b"END:VTIMEZONE") < data.index(b"BEGIN:VEVENT")
    assert data.endswith(b"END:VEVENT\r\nEND:VCALENDAR\r\n")


# São Tomé kept GMT but for 2018: +01 (WAT) from 01:00 UTC on 1 January 2018 to 01:00 UTC on
# 1 January 2019, so its rule of today (GMT) holds in any span of years without 2018 and 2019.
SAO_TOME = replace(OFFICE, timezone=ZoneInfo("Africa/Sao_Tome"))


def on(day: date) -> FakeBooking:
    """A half-hour booking at 10:00 UTC on `day`, São Tomé's wall clock outside 2018."""
    start = datetime.combine(day, time(10), UTC)
    return FakeBooking(reference=f"R{day:%Y%m%d}", start_at=start, end_at=start + timedelta(minutes=30))


def sao_tome_feed(*days: date) -> bytes:
    return feed_calendar(
        [on(day) for day in days], SAO_TOME, manage_url_for=lambda b: MANAGE, language="de", stamp=STAMP
    )


def offset_in_file(data: bytes, wall: datetime) -> timedelta | None:
    """The UTC offset at the wall-clock time `wall` as the file's own VTIMEZONE gives it (read by
    dateutil without looking the zone up, as a calendar program without tzdata would)."""
    [zone] = parse(data).walk("VTIMEZONE")
    return wall.replace(tzinfo=zone.to_tz(lookup_tzid=False)).utcoffset()


def todays_rule() -> bytes:
    """São Tomé's VTIMEZONE as every file of these years has it: one STANDARD at GMT."""
    return vtimezone_bytes(sao_tome_feed(date(2026, 6, 1)))


def test_the_feed_time_zone_covers_the_whole_year_a_year_before_its_first_booking() -> None:
    # A year (366 days) before 2020-12-31 is 2019-12-31: all of 2019, whose first hours São Tomé
    # still kept +01 (until 02:00 on its wall clock), must be right in the file.
    reaching_2019 = sao_tome_feed(date(2021, 3, 1), date(2020, 12, 31))
    assert offset_in_file(reaching_2019, datetime(2019, 1, 1, 0, 30)) == timedelta(hours=1)
    assert offset_in_file(reaching_2019, datetime(2019, 6, 1, 12)) == timedelta(0)
    # A year before 2021-01-01 is 2020-01-01: from 2020 on today's rule holds, as in every file.
    from_2020 = sao_tome_feed(date(2021, 3, 1), date(2021, 1, 1))
    assert vtimezone_bytes(from_2020) == todays_rule()


def test_the_feed_time_zone_covers_the_whole_year_a_year_after_its_last_booking() -> None:
    # A year (366 days) after 2016-12-31 is 2018-01-01: all of 2018, at +01, must be right.
    reaching_2018 = sao_tome_feed(date(2015, 6, 1), date(2016, 12, 31))
    assert offset_in_file(reaching_2018, datetime(2018, 6, 15, 12)) == timedelta(hours=1)
    assert offset_in_file(reaching_2018, datetime(2016, 12, 31, 12)) == timedelta(0)
    # A year after 2016-12-30 is 2017-12-31: until the end of 2017 today's rule holds.
    until_2017 = sao_tome_feed(date(2015, 6, 1), date(2016, 12, 30))
    assert vtimezone_bytes(until_2017) == todays_rule()


def test_summary_names_the_service_in_the_bookings_language() -> None:
    [german] = invitation(FakeBooking(language="de")).events
    [english] = invitation(FakeBooking(language="en")).events
    assert "Integrationsberatung" in str(german["SUMMARY"])
    assert "Integration counselling" in str(english["SUMMARY"])


def test_an_unknown_service_is_named_by_its_id() -> None:
    [event] = invitation(FakeBooking(service_id="gone")).events
    assert str(event["SUMMARY"]) == "Appointment: gone"


def test_cancellation_keeps_the_uid_raises_the_sequence_and_is_cancelled() -> None:
    booked = FakeBooking()
    calendar = invitation(cancelled(booked), method="CANCEL")
    [before] = invitation(booked).events
    [after] = calendar.events
    assert str(calendar["METHOD"]) == "CANCEL"
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert str(after["STATUS"]) == "CANCELLED"
    assert after.start == before.start
    assert not after.walk("VALARM")


def test_a_cancellation_names_the_resident_it_removes_and_asks_no_answer() -> None:
    [event] = invitation(cancelled(FakeBooking()), method="CANCEL").events
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:anna@example.org"
    assert dict(attendee.params) == {
        "CN": "Anna Müller",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "ACCEPTED",
        "RSVP": "FALSE",
    }


def test_a_cancellation_of_a_booking_without_email_names_no_attendee() -> None:
    [event] = invitation(cancelled(FakeBooking(email=None)), method="CANCEL").events
    assert "ATTENDEE" not in event


def test_a_moved_appointment_keeps_the_uid_with_new_times_and_a_higher_sequence() -> None:
    booked = FakeBooking()
    new_start = datetime(2027, 3, 30, 12, 0, tzinfo=UTC)  # Tuesday 14:00 CEST
    moved = replace(booked, start_at=new_start, end_at=new_start + timedelta(minutes=30), sequence=1)
    [before] = invitation(booked).events
    calendar = invitation(moved)
    [after] = calendar.events
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] == 1
    assert after.start.astimezone(BERLIN).replace(tzinfo=None) == datetime(2027, 3, 30, 14, 0)
    assert str(after["STATUS"]) == "CONFIRMED"


def test_a_name_with_quotes_and_line_breaks_cannot_add_a_property() -> None:
    booking = cancelled(FakeBooking(name='Eve"\r\nATTENDEE:mailto:mallory@evil.example\r\nX'))
    data = booking_calendar(booking, OFFICE, manage_url=MANAGE, method="CANCEL", stamp=STAMP)
    assert b"mallory" not in data.split(b"ATTENDEE", 1)[0]
    [event] = parse(data).events
    attendees = event["ATTENDEE"]
    assert not isinstance(attendees, list)
    assert str(attendees) == "mailto:anna@example.org"
    assert "\n" not in attendees.params["CN"] and '"' not in attendees.params["CN"]


@pytest.mark.parametrize("method", ["REQUEST", "REPLY", "COUNTER", ""])
def test_only_publish_and_cancel_are_offered_for_one_booking(method: str) -> None:
    with pytest.raises(ValueError):
        booking_calendar(FakeBooking(), OFFICE, manage_url=MANAGE, method=method)


def test_the_feed_publishes_one_event_per_booking_without_attendees() -> None:
    first = FakeBooking()
    second = FakeBooking(id=8, reference="JKLM-NPQR", name="Ben", status="cancelled", sequence=1)
    calendar = feed([first, second])
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["PRODID"]) == "-//Termine//Appointment booking//EN"
    events = calendar.events
    assert [str(e["UID"]) for e in events] == [
        "booking-ABCD-EFGH@kreis-heinsberg.example",
        "booking-JKLM-NPQR@kreis-heinsberg.example",
    ]
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CANCELLED"]
    assert [str(e["URL"]) for e in events] == [f"{MANAGE}/7", f"{MANAGE}/8"]
    assert not any("ATTENDEE" in e for e in events)
    assert all(str(e["ORGANIZER"]) == "mailto:termine@kreis-heinsberg.example" for e in events)
    assert not any(e.walk("VALARM") for e in events)  # staff do not want an alarm per appointment
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_the_feed_names_appointments_in_the_staff_language_whatever_the_resident_booked_in() -> None:
    arabic = FakeBooking(language="ar", name="Layla")
    turkish = FakeBooking(id=8, reference="JKLM-NPQR", language="tr", name="Emre")
    german = feed([arabic, turkish], language="de").events
    english = feed([arabic, turkish], language="en").events
    assert [str(e["SUMMARY"]) for e in german] == [
        "Integrationsberatung: Layla",
        "Integrationsberatung: Emre",
    ]
    assert [str(e["SUMMARY"]) for e in english] == [
        "Integration counselling: Layla",
        "Integration counselling: Emre",
    ]


def test_the_feed_describes_a_booking_for_staff_with_its_page_and_no_phone_line() -> None:
    [event] = feed([FakeBooking()]).events
    assert str(event["DESCRIPTION"]).split("\n") == [
        "Booking reference: ABCD-EFGH",
        f"Details: {MANAGE}/7",
    ]


def test_the_feed_is_named_after_the_office_and_says_how_often_to_refresh() -> None:
    calendar = feed([FakeBooking()])
    assert str(calendar["NAME"]) == OFFICE.name
    assert str(calendar["X-WR-CALNAME"]) == OFFICE.name
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(minutes=30)
    assert calendar["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT30M"
    assert "REFRESH-INTERVAL" not in invitation(FakeBooking())  # a booking's file is no feed


def test_the_feed_takes_its_bookings_from_any_iterable() -> None:
    bookings = [FakeBooking(), FakeBooking(id=8, reference="JKLM-NPQR")]
    from_generator = feed(booking for booking in bookings)
    assert [str(e["UID"]) for e in from_generator.events] == [
        "booking-ABCD-EFGH@kreis-heinsberg.example",
        "booking-JKLM-NPQR@kreis-heinsberg.example",
    ]
    assert [tz["TZID"] for tz in from_generator.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_an_empty_feed_is_still_a_calendar_without_a_vtimezone() -> None:
    data = feed_calendar([], OFFICE, manage_url_for=lambda b: "", language="de", stamp=STAMP)
    assert parse(data).events == []
    assert b"VTIMEZONE" not in data


def test_a_file_whose_times_are_in_utc_needs_no_vtimezone() -> None:
    office = replace(OFFICE, timezone=ZoneInfo("UTC"))
    data = booking_calendar(FakeBooking(), office, manage_url=MANAGE, method="PUBLISH", stamp=STAMP)
    assert b"VTIMEZONE" not in data
    [event] = parse(data).events
    assert event.start == FakeBooking().start_at


def test_without_a_stamp_the_files_are_stamped_with_the_moment_they_are_written() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    [entry] = parse(booking_calendar(FakeBooking(), OFFICE, manage_url=MANAGE, method="PUBLISH")).events
    fed_file = feed_calendar([FakeBooking()], OFFICE, manage_url_for=lambda b: MANAGE, language="de")
    [fed] = parse(fed_file).events
    after = datetime.now(UTC)
    for event in (entry, fed):
        assert before <= event["DTSTAMP"].dt <= after
