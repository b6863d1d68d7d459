"""Slot generation: opening hours, grid, holidays, closures, booking window, DST; pure (now passed in)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.office import DEFAULT_OFFICE_FILE, Office, Service, parse_office
from booking.schedule import (
    Closure,
    Slot,
    Unbookable,
    bookable_slots,
    check_start,
    day_slots,
    is_holiday,
    is_open_day,
    local_bounds,
    window,
)

BERLIN = ZoneInfo("Europe/Berlin")
# The shipped office plus two services that make the grid rules visible.
OFFICE = parse_office(
    DEFAULT_OFFICE_FILE.read_text(encoding="utf-8")
    + """
[[services]]
id = "lang"
name = "Lange Beratung"
duration_minutes = 45
capacity = 1

[[services]]
id = "raster"
name = "Beratung im 15-Minuten-Raster"
duration_minutes = 45
step_minutes = 15
capacity = 1
"""
)
COUNSELLING = OFFICE.service("beratung")
LONG = OFFICE.service("lang")
STEPPED = OFFICE.service("raster")
assert COUNSELLING and LONG and STEPPED
NRW = holidays.Germany(subdiv="NW", years=range(2026, 2030))
# Good Friday 26 March 2027, 10:00 in Heinsberg; Easter Monday follows the DST change.
NOW = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def times(slots: list[Slot]) -> list[str]:
    return [s.start.strftime("%H:%M") for s in slots]


# --- the grid from the opening hours -----------------------------------------------------------


def test_monday_grid_has_seven_half_hour_slots_from_0830_to_1130():
    slots = day_slots(OFFICE, COUNSELLING, date(2027, 4, 5))
    assert times(slots) == ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert slots[-1].end == berlin(2027, 4, 5, 12, 0)


@pytest.mark.parametrize("day", [date(2027, 3, 30), date(2027, 4, 1)])  # Tuesday, Thursday
def test_tuesday_and_thursday_have_an_afternoon_from_1400_to_1630(day: date):
    afternoon = [t for t in times(day_slots(OFFICE, COUNSELLING, day)) if t >= "13:00"]
    assert afternoon == ["14:00", "14:30", "15:00", "15:30", "16:00", "16:30"]


@pytest.mark.parametrize("day", [date(2027, 3, 31), date(2027, 4, 2)])  # Wednesday, Friday
def test_other_weekdays_have_no_afternoon(day: date):
    assert times(day_slots(OFFICE, COUNSELLING, day))[-1] == "11:30"


def test_a_45_minute_service_ends_by_the_close():
    slots = day_slots(OFFICE, LONG, date(2027, 4, 5))
    assert times(slots) == ["08:30", "09:15", "10:00", "10:45"]  # 11:30 would end 12:15
    assert slots[-1].end == berlin(2027, 4, 5, 11, 30)


def test_step_minutes_shorter_than_the_duration_gives_overlapping_starts():
    slots = day_slots(OFFICE, STEPPED, date(2027, 4, 5))
    assert times(slots)[:3] == ["08:30", "08:45", "09:00"]
    assert times(slots)[-1] == "11:15"  # ends exactly at 12:00
    assert slots[-1].end == berlin(2027, 4, 5, 12, 0)
    assert len(slots) == 12


@pytest.mark.parametrize("day", [date(2027, 3, 27), date(2027, 3, 28)])
def test_weekends_are_closed(day: date):
    assert not is_holiday(OFFICE, day)
    assert not is_open_day(OFFICE, day)
    assert not day_slots(OFFICE, COUNSELLING, day)


@pytest.mark.parametrize("day", [date(2027, 3, 26), date(2027, 3, 29)])
def test_good_friday_and_easter_monday_are_closed(day: date):
    assert is_holiday(OFFICE, day)
    assert not day_slots(OFFICE, COUNSELLING, day)


def test_corpus_christi_is_closed_in_nrw():
    assert date(2027, 5, 27).weekday() == 3  # a Thursday with opening hours
    assert is_holiday(OFFICE, date(2027, 5, 27))
    assert not day_slots(OFFICE, COUNSELLING, date(2027, 5, 27))
    assert day_slots(OFFICE, COUNSELLING, date(2027, 5, 28))  # the Friday after is open


@pytest.mark.parametrize("day", [date(2026, 11, 1), date(2027, 11, 1)])
def test_all_saints_is_closed_in_nrw(day: date):
    assert is_holiday(OFFICE, day)
    assert not day_slots(OFFICE, COUNSELLING, day)


def test_all_saints_2027_is_a_monday_that_would_otherwise_be_open():
    assert date(2027, 11, 1).weekday() == 0
    assert day_slots(OFFICE, COUNSELLING, date(2027, 11, 8))


def test_christmas_eve_is_a_closure_day():
    assert date(2026, 12, 24).weekday() == 3
    assert not is_holiday(OFFICE, date(2026, 12, 24))  # not a public holiday in NRW ...
    assert not is_open_day(OFFICE, date(2026, 12, 24))  # ... but in the office's closures
    assert not day_slots(OFFICE, COUNSELLING, date(2026, 12, 24))
    assert day_slots(OFFICE, COUNSELLING, date(2026, 12, 23))


# --- daylight saving time ----------------------------------------------------------------------


def test_tuesday_after_the_march_change_starts_0830_summer_time():
    first = day_slots(OFFICE, COUNSELLING, date(2027, 3, 30))[0]
    assert first.start.isoformat() == "2027-03-30T08:30:00+02:00"
    assert first.start.astimezone(UTC) == datetime(2027, 3, 30, 6, 30, tzinfo=UTC)


def test_tuesday_in_february_starts_0830_winter_time():
    first = day_slots(OFFICE, COUNSELLING, date(2027, 2, 23))[0]
    assert first.start.isoformat() == "2027-02-23T08:30:00+01:00"
    assert first.start.astimezone(UTC) == datetime(2027, 2, 23, 7, 30, tzinfo=UTC)


def test_the_october_change_moves_utc_by_an_hour_but_not_the_wall_clock():
    before = day_slots(OFFICE, COUNSELLING, date(2026, 10, 20))[0]  # Tuesday before 25 October
    after = day_slots(OFFICE, COUNSELLING, date(2026, 10, 27))[0]  # Tuesday after
    assert before.start.isoformat() == "2026-10-20T08:30:00+02:00"
    assert after.start.isoformat() == "2026-10-27T08:30:00+01:00"
    assert before.start.astimezone(UTC).time() == time(6, 30)
    assert after.start.astimezone(UTC).time() == time(7, 30)


def test_week_across_the_march_change_is_bookable_in_local_time():
    slots = bookable_slots(OFFICE, COUNSELLING, date(2027, 3, 29), date(2027, 4, 2), NOW)
    assert slots[0].start.isoformat() == "2027-03-30T08:30:00+02:00"  # Easter Monday is closed
    assert {s.start.strftime("%H:%M") for s in slots} >= {"08:30", "11:30", "14:00", "16:30"}
    assert {s.start.utcoffset() for s in slots} == {timedelta(hours=2)}


# --- the booking window ------------------------------------------------------------------------


def test_min_notice_hides_slots_starting_too_soon():
    now = datetime(2027, 3, 31, 7, 0, tzinfo=UTC)  # Wednesday 09:00 in Heinsberg; notice 120 min
    slots = bookable_slots(OFFICE, COUNSELLING, date(2027, 3, 31), date(2027, 3, 31), now)
    assert times(slots) == ["11:00", "11:30"]


def test_horizon_is_today_plus_56_days():
    earliest, last_day = window(OFFICE, NOW)
    assert earliest == NOW + timedelta(minutes=120)
    assert last_day == date(2027, 5, 21)
    slots = bookable_slots(OFFICE, COUNSELLING, date(2027, 5, 20), date(2027, 5, 31), NOW)
    assert {s.start.date() for s in slots} == {date(2027, 5, 20), date(2027, 5, 21)}


def test_days_before_today_give_nothing():
    assert not bookable_slots(OFFICE, COUNSELLING, date(2027, 3, 1), date(2027, 3, 25), NOW)


# --- check_start: the reason a start cannot be booked ------------------------------------------


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (berlin(2027, 3, 26, 8, 30), Unbookable.PAST),
        (berlin(2027, 3, 25, 9, 0), Unbookable.PAST),
        (berlin(2027, 3, 26, 11, 0), Unbookable.TOO_SOON),  # 10:00 now, notice until 12:00
        (berlin(2027, 5, 24, 9, 0), Unbookable.BEYOND_HORIZON),
        (berlin(2027, 3, 27, 9, 0), Unbookable.CLOSED),  # Saturday
        (berlin(2027, 3, 29, 9, 0), Unbookable.CLOSED),  # Easter Monday
        (berlin(2027, 4, 5, 9, 15), Unbookable.OFF_GRID),
        (berlin(2027, 4, 5, 12, 0), Unbookable.OFF_GRID),  # the close itself
        (berlin(2027, 4, 5, 13, 0), Unbookable.OFF_GRID),  # Monday afternoon: no hours
        (berlin(2027, 3, 30, 16, 45), Unbookable.OFF_GRID),
    ],
)
def test_check_start_names_the_reason(start: datetime, reason: Unbookable):
    assert check_start(OFFICE, COUNSELLING, start, NOW) is reason


def test_check_start_returns_the_slot_in_office_time_for_a_utc_start():
    slot = check_start(OFFICE, COUNSELLING, datetime(2027, 3, 30, 6, 30, tzinfo=UTC), NOW)
    assert slot == Slot(berlin(2027, 3, 30, 8, 30), berlin(2027, 3, 30, 9, 0))
    assert isinstance(slot, Slot) and slot.start.tzinfo == BERLIN


def test_check_start_calls_corpus_christi_closed():
    now = datetime(2027, 5, 1, 9, 0, tzinfo=UTC)
    assert check_start(OFFICE, COUNSELLING, berlin(2027, 5, 27, 9, 0), now) is Unbookable.CLOSED


def test_check_start_without_notice_accepts_a_slot_soon():
    now = datetime(2027, 3, 30, 8, 0, tzinfo=UTC)  # Tuesday 10:00 in Heinsberg
    start = berlin(2027, 3, 30, 10, 30)
    assert check_start(OFFICE, COUNSELLING, start, now) is Unbookable.TOO_SOON
    assert isinstance(check_start(OFFICE, COUNSELLING, start, now, enforce_notice=False), Slot)


# --- the edges of the window: exactly at the notice, now, the last day -------------------------

TUESDAY_0830 = berlin(2027, 3, 30, 8, 30)


def test_a_slot_exactly_at_the_minimum_notice_can_be_booked():
    now = TUESDAY_0830 - timedelta(minutes=OFFICE.rules.min_notice_minutes)
    assert check_start(OFFICE, COUNSELLING, TUESDAY_0830, now) == Slot(
        TUESDAY_0830, berlin(2027, 3, 30, 9, 0)
    )
    assert (
        bookable_slots(OFFICE, COUNSELLING, date(2027, 3, 30), date(2027, 3, 30), now)[0].start
        == TUESDAY_0830
    )
    later = now + timedelta(minutes=1)
    assert check_start(OFFICE, COUNSELLING, TUESDAY_0830, later) is Unbookable.TOO_SOON
    assert (
        bookable_slots(OFFICE, COUNSELLING, date(2027, 3, 30), date(2027, 3, 30), later)[0].start
        > TUESDAY_0830
    )


def test_staff_may_book_a_slot_that_begins_this_very_minute_but_not_one_begun():
    assert isinstance(
        check_start(OFFICE, COUNSELLING, TUESDAY_0830, TUESDAY_0830, enforce_notice=False), Slot
    )
    staff = bookable_slots(OFFICE, COUNSELLING, date(2027, 3, 30), date(2027, 3, 30), TUESDAY_0830, (), False)
    assert staff[0].start == TUESDAY_0830
    begun = TUESDAY_0830 + timedelta(seconds=1)
    assert check_start(OFFICE, COUNSELLING, TUESDAY_0830, begun, enforce_notice=False) is Unbookable.PAST


def test_the_last_day_of_the_horizon_can_be_booked_and_the_next_cannot():
    _, last_day = window(OFFICE, NOW)
    assert last_day == date(2027, 5, 21)  # a Friday
    assert isinstance(check_start(OFFICE, COUNSELLING, berlin(2027, 5, 21, 11, 30), NOW), Slot)
    assert check_start(OFFICE, COUNSELLING, berlin(2027, 5, 22, 9, 0), NOW) is Unbookable.BEYOND_HORIZON
    assert bookable_slots(OFFICE, COUNSELLING, date(2027, 5, 21), date(2027, 5, 21), NOW)


def test_a_range_of_one_day_gives_that_day():
    assert times(bookable_slots(OFFICE, COUNSELLING, date(2027, 4, 5), date(2027, 4, 5), NOW))[0] == "08:30"
    assert not bookable_slots(OFFICE, COUNSELLING, date(2027, 4, 6), date(2027, 4, 5), NOW)  # reversed


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2027, 3, 28), 23), (date(2027, 10, 31), 25), (date(2027, 4, 5), 24)],
)
def test_local_bounds_run_from_local_midnight_to_the_next(day: date, hours: int):
    low, high = local_bounds(OFFICE, day, day)
    assert (low.date(), low.time()) == (day, time())
    assert (high.date(), high.time()) == (day + timedelta(days=1), time())
    assert high.astimezone(UTC) - low.astimezone(UTC) == timedelta(hours=hours)


def test_local_bounds_of_a_week_cover_seven_days():
    low, high = local_bounds(OFFICE, date(2027, 4, 5), date(2027, 4, 11))
    assert low == berlin(2027, 4, 5) and high == berlin(2027, 4, 12)


# --- an office without public holidays ---------------------------------------------------------

PLAIN = parse_office(
    """
[office]
name = "Bürgerbüro"
timezone = "Europe/Berlin"
location = "Rathaus"

[hours]
mon = ["08:00-09:00"]

[[services]]
id = "beratung"
name = "Beratung"
duration_minutes = 30
capacity = 1
"""
)


def test_an_office_without_holidays_is_open_on_every_day_with_hours():
    assert PLAIN.holiday_country is None
    easter_monday = date(2027, 3, 29)
    assert not is_holiday(PLAIN, easter_monday)
    assert is_open_day(PLAIN, easter_monday)
    assert times(day_slots(PLAIN, PLAIN.services[0], easter_monday)) == ["08:00", "08:30"]
    assert not is_open_day(PLAIN, date(2027, 3, 30))  # a Tuesday: no hours


# --- closures (e.g. a staff meeting) -----------------------------------------------------------


def test_closure_overlap_is_half_open():
    slot = Slot(berlin(2027, 3, 29, 9, 0), berlin(2027, 3, 29, 9, 30))
    assert Closure(berlin(2027, 3, 29, 9, 15), berlin(2027, 3, 29, 10, 0)).overlaps(slot)
    assert Closure(berlin(2027, 3, 29, 8, 0), berlin(2027, 3, 29, 12, 0)).overlaps(slot)
    assert not Closure(berlin(2027, 3, 29, 8, 30), berlin(2027, 3, 29, 9, 0)).overlaps(slot)
    assert not Closure(berlin(2027, 3, 29, 9, 30), berlin(2027, 3, 29, 10, 0)).overlaps(slot)


def test_closure_removes_overlapping_slots_and_check_start_calls_them_closed():
    meeting = Closure(berlin(2027, 4, 5, 9, 0), berlin(2027, 4, 5, 10, 15))
    slots = bookable_slots(OFFICE, COUNSELLING, date(2027, 4, 5), date(2027, 4, 5), NOW, [meeting])
    assert times(slots) == ["08:30", "10:30", "11:00", "11:30"]
    start = berlin(2027, 4, 5, 10, 0)
    assert check_start(OFFICE, COUNSELLING, start, NOW, [meeting]) is Unbookable.CLOSED


def test_of_several_closures_each_closes_its_own_slots():
    meetings = [
        Closure(berlin(2027, 4, 5, 8, 30), berlin(2027, 4, 5, 9, 0)),
        Closure(berlin(2027, 4, 5, 11, 0), berlin(2027, 4, 5, 11, 30)),
    ]
    slots = bookable_slots(OFFICE, COUNSELLING, date(2027, 4, 5), date(2027, 4, 5), NOW, meetings)
    assert times(slots) == ["09:00", "09:30", "10:00", "10:30", "11:30"]
    assert check_start(OFFICE, COUNSELLING, berlin(2027, 4, 5, 11, 0), NOW, meetings) is Unbookable.CLOSED
    assert isinstance(check_start(OFFICE, COUNSELLING, berlin(2027, 4, 5, 9, 0), NOW, meetings), Slot)


def test_closures_may_come_as_any_iterable_even_one_that_runs_once():
    def meetings():  # a generator, as a query's rows come
        yield Closure(berlin(2027, 4, 5, 8, 30), berlin(2027, 4, 5, 9, 0))
        yield Closure(berlin(2027, 4, 5, 11, 0), berlin(2027, 4, 5, 12, 0))

    slots = bookable_slots(OFFICE, COUNSELLING, date(2027, 4, 5), date(2027, 4, 6), NOW, meetings())
    assert times(slots)[:5] == ["09:00", "09:30", "10:00", "10:30", "08:30"]  # then Tuesday
    closed = check_start(OFFICE, COUNSELLING, berlin(2027, 4, 5, 11, 30), NOW, meetings())
    assert closed is Unbookable.CLOSED


def test_a_closure_that_ends_as_a_slot_begins_leaves_it_open():
    touching = [Closure(berlin(2027, 4, 5, 8, 0), berlin(2027, 4, 5, 8, 30))]
    slots = bookable_slots(OFFICE, COUNSELLING, date(2027, 4, 5), date(2027, 4, 5), NOW, touching)
    assert times(slots)[0] == "08:30"
    assert isinstance(check_start(OFFICE, COUNSELLING, berlin(2027, 4, 5, 8, 30), NOW, touching), Slot)


# --- properties over whole years ---------------------------------------------------------------

DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31))
NOWS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31, 23, 59), timezones=st.just(UTC)
)
SERVICES = st.sampled_from([COUNSELLING, LONG, STEPPED])
PROPERTY = settings(max_examples=200, deadline=None)


def minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def assert_well_formed(office: Office, service: Service, slot: Slot) -> None:
    """Inside an opening period, on the grid from its start, ending by its close, offset right."""
    local_start, local_end = slot.start.astimezone(BERLIN), slot.end.astimezone(BERLIN)
    day = local_start.date()
    assert day.weekday() < 5 and day not in NRW and day not in office.closures
    assert slot.end - slot.start == timedelta(minutes=service.duration_minutes)
    assert slot.start.utcoffset() == local_start.utcoffset()  # the offset Berlin has at that instant
    assert local_end.date() == day
    periods = [
        p for p in office.hours[day.weekday()] if p.start <= local_start.time() and local_end.time() <= p.end
    ]
    assert len(periods) == 1, f"{slot} lies in no opening period"
    offset = minutes(local_start.time()) - minutes(periods[0].start)
    assert offset % service.step_minutes == 0


@PROPERTY
@given(day=DAYS, service=SERVICES)
def test_every_slot_of_any_day_is_well_formed(day: date, service: Service):
    slots = day_slots(OFFICE, service, day)
    for slot in slots:
        assert slot.start.date() == day
        assert_well_formed(OFFICE, service, slot)
    closed = day.weekday() >= 5 or day in NRW or day in OFFICE.closures
    assert (len(slots) == 0) == closed


@PROPERTY
@given(day=DAYS, service=SERVICES)
def test_the_grid_is_complete(day: date, service: Service):
    """Every start on the step grid whose appointment ends by the close is a slot."""
    if not is_open_day(OFFICE, day):
        return
    expected = []
    for period in OFFICE.hours[day.weekday()]:
        start = minutes(period.start)
        while start + service.duration_minutes <= minutes(period.end):
            expected.append(f"{start // 60:02d}:{start % 60:02d}")
            start += service.step_minutes
    assert times(day_slots(OFFICE, service, day)) == expected


@PROPERTY
@given(now=NOWS, service=SERVICES)
def test_bookable_slots_lie_inside_the_window(now: datetime, service: Service):
    today = now.astimezone(BERLIN).date()
    slots = bookable_slots(OFFICE, service, today - timedelta(days=3), today + timedelta(days=70), now)
    assert slots == sorted(slots)
    for slot in slots:
        assert_well_formed(OFFICE, service, slot)
        assert slot.start >= now + timedelta(minutes=OFFICE.rules.min_notice_minutes)
        assert slot.start.astimezone(BERLIN).date() <= today + timedelta(days=OFFICE.rules.horizon_days)
    # nothing in the window is left out
    everything = [
        s
        for offset in range(OFFICE.rules.horizon_days + 1)
        for s in day_slots(OFFICE, service, today + timedelta(days=offset))
        if s.start >= now + timedelta(minutes=OFFICE.rules.min_notice_minutes)
    ]
    assert slots == everything


@PROPERTY
@given(
    now=NOWS,
    service=SERVICES,
    day_offset=st.integers(min_value=-2, max_value=60),
    minute=st.integers(min_value=0, max_value=24 * 60 - 1),
)
def test_check_start_accepts_exactly_the_bookable_slots(
    now: datetime, service: Service, day_offset: int, minute: int
):
    day = now.astimezone(BERLIN).date() + timedelta(days=day_offset)
    bookable = {s.start: s for s in bookable_slots(OFFICE, service, day, day, now)}
    start = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=BERLIN)
    start = start.astimezone(UTC).astimezone(BERLIN)  # a real instant even inside the DST gap
    found = check_start(OFFICE, service, start, now)
    if start in bookable:
        assert found == bookable[start]
    else:
        assert isinstance(found, Unbookable)
    for slot in bookable.values():  # and every bookable slot round-trips, also given in UTC
        assert check_start(OFFICE, service, slot.start.astimezone(UTC), now) == slot


def test_slots_and_closures_cannot_be_changed():
    """A day's slots are cached and shared by every page and request: none may change in passing."""
    slot = day_slots(OFFICE, COUNSELLING, date(2027, 4, 5))[0]
    meeting = Closure(berlin(2027, 4, 5, 9, 0), berlin(2027, 4, 5, 10, 0))
    for thing in (slot, meeting):
        with pytest.raises(FrozenInstanceError):
            thing.start = berlin(2027, 4, 5, 10, 0)  # type: ignore[misc]


def test_a_slot_gives_its_times_in_iso_8601_with_the_office_offset():
    slot = day_slots(OFFICE, COUNSELLING, date(2027, 4, 5))[0]
    assert (slot.start_iso, slot.end_iso) == ("2027-04-05T08:30:00+02:00", "2027-04-05T09:00:00+02:00")
    assert slot.start_utc == datetime(2027, 4, 5, 6, 30, tzinfo=UTC)
