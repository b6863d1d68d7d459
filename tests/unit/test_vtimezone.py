"""The VTIMEZONE in the RRULE form: tzdata's own rule, right for every moment of the years a file
covers, and icalendar's RDATE form only for zones whose rule cannot be written as RRULEs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from booking.notify.vtimezone import Onset, agrees, parse_posix_tz, vtimezone, zone_rule

ZONES_WITH_A_RULE = sorted(z for z in available_timezones() if zone_rule(z) is not None)


def zone(tzid: str) -> Calendar:
    return Calendar.from_ical(b"BEGIN:VCALENDAR\r\n" + vtimezone(tzid, 2026, 2029) + b"END:VCALENDAR\r\n")


def test_berlins_rule_is_the_last_sunday_of_march_and_of_october() -> None:
    rule = parse_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3")
    assert rule is not None and rule.changes is not None
    assert rule.standard == timedelta(hours=1) and rule.standard_name == "CET"
    away, back = rule.changes
    assert away == Onset(3, 5, 0, timedelta(hours=2), timedelta(hours=2), "CEST")
    assert back == Onset(10, 5, 0, timedelta(hours=3), timedelta(hours=1), "CET")
    assert away.day(2027) == date(2027, 3, 28) and back.day(2027) == date(2027, 10, 31)
    assert away.rrule() == {"freq": "yearly", "bymonth": 3, "byday": "-1SU"}


def test_the_posix_forms_that_rrules_cannot_carry_are_refused() -> None:
    assert parse_posix_tz("IST-2IDT,M3.4.4/26,M10.5.0") is None  # 26:00 of a Thursday
    assert parse_posix_tz("<-02>2<-01>,M3.5.0/-1,M10.5.0/0") is None  # the day before
    assert parse_posix_tz("EST5EDT") is None  # summer time without its rule
    assert parse_posix_tz("XXX3YYY,J60,J300") is None  # by day of the year
    assert parse_posix_tz("not a zone") is None


def test_offsets_with_minutes_names_in_brackets_and_the_default_summer_offset() -> None:
    chatham = parse_posix_tz("<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45")
    assert chatham is not None and chatham.changes is not None
    assert chatham.standard == timedelta(hours=12, minutes=45) and chatham.standard_name == "+1245"
    assert chatham.changes[0].to == timedelta(hours=13, minutes=45)
    assert chatham.changes[0].at == timedelta(hours=2, minutes=45)
    default = parse_posix_tz("AAA3BBB,M3.2.0,M11.1.0")
    assert default is not None and default.changes is not None
    assert default.changes[0].to == timedelta(hours=-2)  # one hour ahead of standard
    assert default.changes[0].at == timedelta(hours=2)  # the default time of a change
    assert parse_posix_tz("JST-9") == parse_posix_tz("JST-9")
    tokyo = parse_posix_tz("JST-9")
    assert tokyo is not None and tokyo.changes is None and tokyo.standard == timedelta(hours=9)


def test_a_zone_without_summer_time_is_one_standard_component() -> None:
    [tokyo] = zone("Asia/Tokyo").walk("VTIMEZONE")
    assert [c.name for c in tokyo.subcomponents] == ["STANDARD"]
    assert tokyo.subcomponents[0]["TZOFFSETTO"].td == timedelta(hours=9)


def test_the_southern_hemisphere_changes_in_october_and_april() -> None:
    [sydney] = zone("Australia/Sydney").walk("VTIMEZONE")
    [daylight] = sydney.walk("DAYLIGHT")
    [standard] = sydney.walk("STANDARD")
    assert daylight["RRULE"]["BYMONTH"] == [10] and standard["RRULE"]["BYMONTH"] == [4]
    assert daylight["TZOFFSETTO"].td == timedelta(hours=11)


def test_a_zone_whose_tzdata_calls_winter_the_exception_still_has_summer_as_daylight() -> None:
    [dublin] = zone("Europe/Dublin").walk("VTIMEZONE")
    [daylight] = dublin.walk("DAYLIGHT")
    [standard] = dublin.walk("STANDARD")
    assert daylight["TZOFFSETTO"].td == timedelta(hours=1) and daylight["RRULE"]["BYMONTH"] == [3]
    assert standard["TZOFFSETTO"].td == timedelta(0) and standard["RRULE"]["BYMONTH"] == [10]


@pytest.mark.parametrize("tzid", ["Asia/Jerusalem", "Africa/Casablanca"])
def test_a_zone_without_a_usable_rule_gets_icalendars_own_vtimezone_over_a_fixed_span(tzid: str) -> None:
    written = vtimezone(tzid, 2026, 2028)
    assert b"RDATE" in written and b"RRULE" not in written
    assert written == vtimezone(tzid, 2030, 2031)  # the same in every file all the same


def test_moroccos_listed_changes_are_not_its_rule() -> None:
    rule = zone_rule("Africa/Casablanca")
    assert rule is not None
    assert not agrees(rule, ZoneInfo("Africa/Casablanca"), 2026, 2028)


@settings(max_examples=300, deadline=None)
@given(
    tzid=st.sampled_from(ZONES_WITH_A_RULE),
    moment=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
    ),
)
def test_the_rule_gives_zoneinfos_offset_at_every_moment_where_it_is_used(
    tzid: str, moment: datetime
) -> None:
    rule = zone_rule(tzid)
    assert rule is not None
    if agrees(rule, ZoneInfo(tzid), moment.year, moment.year):
        assert rule.offset_at(moment) == moment.astimezone(ZoneInfo(tzid)).utcoffset()


def last_sunday(year: int, month: int) -> date:
    return max(date(year, month, day) for day in range(25, 32) if date(year, month, day).weekday() == 6)


@pytest.mark.parametrize("year", range(2026, 2046))
def test_the_office_zones_rule_changes_at_one_utc_on_the_last_sundays_of_march_and_october(year: int) -> None:
    rule = zone_rule("Europe/Berlin")
    assert rule is not None
    second = timedelta(seconds=1)
    spring = datetime.combine(last_sunday(year, 3), datetime.min.time(), UTC) + timedelta(hours=1)
    autumn = datetime.combine(last_sunday(year, 10), datetime.min.time(), UTC) + timedelta(hours=1)
    assert [rule.offset_at(m) for m in (spring - second, spring, autumn - second, autumn)] == [
        timedelta(hours=h) for h in (1, 2, 2, 1)
    ]
