"""The VTIMEZONE in the RRULE form: tzdata's own rule, right for every moment of the years a file
covers, and icalendar's RDATE form only for zones whose rule cannot be written as RRULEs."""

from __future__ import annotations

import sys
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from booking.notify.vtimezone import Onset, agrees, parse_posix_tz, rrule_timezone, vtimezone, zone_rule

ZONES_WITH_A_RULE = sorted(z for z in available_timezones() if zone_rule(z) is not None)
SECOND = timedelta(seconds=1)


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
    assert parse_posix_tz("<-04>4<-03>,M9.1.6/24,M4.1.6/24") is None  # Chile: 24:00, the next day
    assert parse_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3,M1.1.0") is None  # a third change
    assert parse_posix_tz("AAA3BBB,M0.1.0,M11.1.0") is None  # no month 0
    assert parse_posix_tz("AAA3BBB,M3.2.0,M13.1.0") is None  # no month 13
    assert parse_posix_tz("not a zone") is None


def test_a_change_at_midnight_is_a_rule_as_havanas() -> None:
    havana = zone_rule("America/Havana")  # CST5CDT,M3.2.0/0,M11.1.0/1
    assert havana is not None and havana.changes is not None
    assert havana.changes[0].at == timedelta(0)
    [daylight] = zone("America/Havana").walk("DAYLIGHT")
    assert daylight["DTSTART"].dt == datetime(1970, 3, 8, 0, 0)  # the second Sunday of March 1970


def test_a_summer_offset_written_out_is_read_with_posixs_sign() -> None:
    lord_howe = zone_rule("Australia/Lord_Howe")  # <+1030>-10:30<+11>-11: half an hour more in summer
    assert lord_howe is not None and lord_howe.changes is not None
    assert lord_howe.standard == timedelta(hours=10, minutes=30)
    assert lord_howe.changes[0].to == timedelta(hours=11)


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


def test_a_zone_rule_cannot_be_changed_once_read() -> None:
    """A rule is what tzdata says of the zone: a value, which nothing may change in passing."""
    rule = zone_rule("Europe/Berlin")
    assert rule is not None and rule.changes is not None
    for thing, field in [(rule, "standard"), (rule.changes[0], "to")]:
        with pytest.raises(FrozenInstanceError):
            setattr(thing, field, timedelta(0))


def test_a_change_on_another_weekday_than_sunday_falls_on_that_weekday() -> None:
    # April 2027 begins on a Thursday: its first Friday is the 2nd, its third Thursday the 15th.
    first_friday = Onset(4, 1, 5, timedelta(0), timedelta(hours=3), "X")
    third_thursday = Onset(4, 3, 4, timedelta(0), timedelta(hours=3), "X")
    assert (first_friday.day(2027), third_thursday.day(2027)) == (date(2027, 4, 2), date(2027, 4, 15))
    assert (first_friday.rrule()["byday"], third_thursday.rrule()["byday"]) == ("1FR", "3TH")


def test_the_fifth_sunday_a_december_does_not_have_is_its_last() -> None:
    last_sunday_of_december = Onset(12, 5, 0, timedelta(hours=2), timedelta(hours=1), "X")
    assert last_sunday_of_december.day(2025) == date(2025, 12, 28)  # four Sundays, the 7th to the 28th
    assert last_sunday_of_december.day(2023) == date(2023, 12, 31)  # five


def test_a_change_early_on_new_years_day_east_of_greenwich_falls_in_the_utc_year_before() -> None:
    # Summer time (+14) until 01:00 on the first Sunday of January: on 1 January 2023, which is
    # 11:00 UTC on New Year's Eve 2022.
    rule = parse_posix_tz("<+13>-13<+14>,M11.1.0,M1.1.0/1")
    assert rule is not None
    change = datetime(2022, 12, 31, 11, tzinfo=UTC)
    assert [rule.offset_at(m) for m in (change - SECOND, change)] == [
        timedelta(hours=14),
        timedelta(hours=13),
    ]


def test_a_change_late_on_new_years_eve_west_of_greenwich_falls_in_the_next_utc_year() -> None:
    # Summer time (-02) until 23:00 on the last Sunday of December: on 31 December 2023, which is
    # 01:00 UTC on 1 January 2024.
    rule = parse_posix_tz("<-03>3<-02>,M10.1.0,M12.5.0/23")
    assert rule is not None
    change = datetime(2024, 1, 1, 1, tzinfo=UTC)
    assert [rule.offset_at(m) for m in (change - SECOND, change)] == [
        timedelta(hours=-2),
        timedelta(hours=-3),
    ]


def test_the_rules_start_in_1970_as_in_every_vtimezone_of_the_rrule_form() -> None:
    [berlin] = zone("Europe/Berlin").walk("VTIMEZONE")
    assert [c["DTSTART"].dt for c in berlin.subcomponents] == [
        datetime(1970, 3, 29, 2),
        datetime(1970, 10, 25, 3),
    ]
    [tokyo] = zone("Asia/Tokyo").walk("VTIMEZONE")
    assert tokyo.subcomponents[0]["DTSTART"].dt == datetime(1970, 1, 1)


def test_a_rule_by_the_nth_weekday_keeps_its_number_in_the_rrule() -> None:
    [new_york] = zone("America/New_York").walk("VTIMEZONE")
    assert new_york.walk("DAYLIGHT")[0]["RRULE"]["BYDAY"] == ["2SU"]  # the second Sunday of March
    assert new_york.walk("STANDARD")[0]["RRULE"]["BYDAY"] == ["1SU"]  # the first of November


def test_a_change_that_keeps_the_offset_is_no_summer_time() -> None:
    rule = parse_posix_tz("<+01>-1<+01>-1,M3.5.0,M10.5.0/3")
    assert rule is not None
    assert [c.name for c in rrule_timezone("Etc/Same", rule).subcomponents] == ["STANDARD", "STANDARD"]


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


def test_a_rule_holds_only_in_a_span_of_years_the_zone_kept_it_throughout() -> None:
    """São Tomé went to +01 at 01:00 UTC on 1 January 2018 and back to GMT at 01:00 UTC on
    1 January 2019: its rule of today, GMT, holds until 2017 and from 2020 on."""
    rule, zone = zone_rule("Africa/Sao_Tome"), ZoneInfo("Africa/Sao_Tome")
    assert rule is not None
    assert agrees(rule, zone, 2016, 2017) and agrees(rule, zone, 2020, 2021)
    assert not agrees(rule, zone, 2017, 2018)  # from the second hour of 2018
    assert not agrees(rule, zone, 2019, 2020)  # in the first hour of 2019


def test_a_rule_holds_in_a_year_the_zone_kept_it_whatever_the_next_year_brings() -> None:
    """Haiti kept the US rule in 2015 and had no summer time in 2016."""
    rule, zone = zone_rule("America/Port-au-Prince"), ZoneInfo("America/Port-au-Prince")
    assert rule is not None
    assert agrees(rule, zone, 2015, 2015)
    assert not agrees(rule, zone, 2016, 2016) and not agrees(rule, zone, 2015, 2016)


@pytest.mark.parametrize(
    ("tzid", "year", "next_clean_year"),
    [
        ("America/Argentina/Tucuman", 2004, 2005),  # at -04 from 1 to 13 June 2004
        ("Pacific/Tongatapu", 2017, 2018),  # summer time until 15 January 2017
        ("Pacific/Fiji", 2020, 2022),  # summer time until 12 January 2020, and from 20 December on
    ],
)
def test_a_listed_change_the_rule_does_not_know_is_found_however_short(
    tzid: str, year: int, next_clean_year: int
) -> None:
    rule = zone_rule(tzid)
    assert rule is not None
    assert not agrees(rule, ZoneInfo(tzid), year, year)
    assert agrees(rule, ZoneInfo(tzid), next_clean_year, next_clean_year)


@pytest.mark.parametrize("year", [2027, 2040])  # in tzdata's list of changes, and past it
def test_a_rule_a_second_off_the_zones_changes_is_not_its_rule(year: int) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    right, late, early = (
        parse_posix_tz(f"CET-1CEST,M3.5.0{at},M10.5.0/3") for at in ("", "/2:00:01", "/1:59:59")
    )
    assert right is not None and late is not None and early is not None
    assert agrees(right, berlin, year, year)
    assert not agrees(late, berlin, year, year)
    assert not agrees(early, berlin, year, year)


def test_a_name_that_is_no_zone_has_no_rule() -> None:
    assert zone_rule("Nowhere/Atlantis") is None
    assert zone_rule("America") is None  # a folder of zones


@pytest.mark.skipif(
    not any(Path(folder, "Europe/Berlin").is_file() for folder in TZPATH),
    reason="no zone files of the system's own (Debian: the tzdata package) on zoneinfo's TZPATH",
)
def test_without_the_tzdata_package_the_systems_zone_files_give_the_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tzdata", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "tzdata.zoneinfo", None)
    assert zone_rule("Europe/Berlin") == parse_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3")
    assert zone_rule("Nowhere/Atlantis") is None


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
