"""Who can take an appointment: counsellors' hours, languages, services and absences, and the cells
of time a claim takes (pure; the database enforces the cells, see test_counsellors)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.office import DEFAULT_OFFICE_FILE, Period, parse_office
from booking.rota import (
    CELL_MINUTES,
    Counsellor,
    HoursProblem,
    Occupancy,
    cells,
    check_hours,
    eligible,
    format_periods,
    free_places,
    gives,
    is_free,
    languages_of,
    on_duty,
    parse_periods,
)
from booking.schedule import day_slots, days

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = parse_office(
    DEFAULT_OFFICE_FILE.read_text(encoding="utf-8")
    + """
[[services]]
id = "lang"
name = "Lange Beratung"
duration_minutes = 60
step_minutes = 30
capacity = 1
"""
)
COUNSELLING, LONG = OFFICE.service("beratung"), OFFICE.service("lang")
assert COUNSELLING is not None and LONG is not None
NONE = ()
MORNINGS = tuple((Period(time(8, 30), time(12, 0)),) if day < 5 else NONE for day in range(7))
ANNA = Counsellor(1, "Anna", ("de",))
YUSUF = Counsellor(2, "Yusuf", ("de", "ar", "tr"), hours=MORNINGS)
LEA = Counsellor(3, "Lea", ("de", "uk"), services=frozenset({"lang"}))
ROSTER = (ANNA, YUSUF, LEA)
PROPERTY = settings(max_examples=200, deadline=None)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def periods(text: str) -> list[Period]:
    found, bad = parse_periods(text)
    assert not bad
    return found


# --- cells ------------------------------------------------------------------------------------


def test_a_half_hour_takes_six_five_minute_cells_counted_in_utc_minutes():
    taken = cells(berlin(2027, 3, 30, 8, 30), berlin(2027, 3, 30, 9, 0))
    assert len(taken) == 30 // CELL_MINUTES == 6
    assert taken.start == int(datetime(2027, 3, 30, 6, 30, tzinfo=UTC).timestamp()) // 60
    assert taken.step == CELL_MINUTES


def test_appointments_that_touch_share_no_cell_and_overlapping_ones_do():
    nine, half_past, ten = berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 9, 30), berlin(2027, 3, 30, 10)
    assert not set(cells(nine, half_past)) & set(cells(half_past, ten))
    assert set(cells(nine, ten)) & set(cells(half_past, berlin(2027, 3, 30, 10, 30)))


def test_a_time_off_the_five_minute_marks_covers_every_cell_it_touches():
    taken = cells(berlin(2027, 3, 30, 9, 2), berlin(2027, 3, 30, 9, 8))
    assert list(taken) == [
        cells(berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 9, 10)).start + n for n in (0, 5)
    ]


MOMENTS = st.integers(min_value=0, max_value=60 * 24 * 400).map(
    lambda minutes: datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
)
LENGTHS = st.integers(min_value=1, max_value=8 * 60).map(lambda minutes: timedelta(minutes=minutes))


@PROPERTY
@given(start=MOMENTS, length=LENGTHS, other_start=MOMENTS, other_length=LENGTHS)
def test_overlapping_appointments_always_share_a_cell(start, length, other_start, other_length):
    """The rule the database relies on: it can never let an overlapping appointment in."""
    overlap = start < other_start + other_length and other_start < start + length
    shared = set(cells(start, start + length)) & set(cells(other_start, other_start + other_length))
    if overlap:
        assert shared


@PROPERTY
@given(start=MOMENTS, length=LENGTHS, other_start=MOMENTS, other_length=LENGTHS)
def test_on_five_minute_marks_appointments_share_a_cell_only_when_they_overlap(
    start, length, other_start, other_length
):
    def mark(moment: datetime) -> datetime:
        return moment - timedelta(minutes=moment.minute % CELL_MINUTES)

    start, other_start = mark(start), mark(other_start)
    length = timedelta(minutes=max(CELL_MINUTES, length.seconds // 60 // CELL_MINUTES * CELL_MINUTES))
    other_length = timedelta(
        minutes=max(CELL_MINUTES, other_length.seconds // 60 // CELL_MINUTES * CELL_MINUTES)
    )
    overlap = start < other_start + other_length and other_start < start + length
    shared = set(cells(start, start + length)) & set(cells(other_start, other_start + other_length))
    assert bool(shared) == overlap


# --- duty, languages, services ----------------------------------------------------------------


def test_without_hours_of_their_own_a_counsellor_works_the_opening_hours():
    assert on_duty(OFFICE, ANNA, berlin(2027, 3, 30, 16, 30), berlin(2027, 3, 30, 17, 0))
    assert not on_duty(OFFICE, ANNA, berlin(2027, 3, 31, 14, 0), berlin(2027, 3, 31, 14, 30))  # Wednesday


def test_a_counsellor_on_duty_only_mornings_takes_no_afternoon_appointment():
    assert on_duty(OFFICE, YUSUF, berlin(2027, 3, 30, 11, 30), berlin(2027, 3, 30, 12, 0))
    assert not on_duty(OFFICE, YUSUF, berlin(2027, 3, 30, 14, 0), berlin(2027, 3, 30, 14, 30))


def test_on_duty_means_the_whole_appointment_inside_one_period():
    split = Counsellor(9, "Split", hours=tuple(tuple(periods("08:30-10:00, 10:00-12:00")) for _ in range(7)))
    assert on_duty(OFFICE, split, berlin(2027, 3, 30, 9, 30), berlin(2027, 3, 30, 10, 0))
    assert not on_duty(OFFICE, split, berlin(2027, 3, 30, 9, 30), berlin(2027, 3, 30, 10, 30))
    assert on_duty(OFFICE, split, berlin(2027, 3, 30, 8, 30), berlin(2027, 3, 30, 8, 35))
    assert not on_duty(OFFICE, split, berlin(2027, 3, 30, 8, 25), berlin(2027, 3, 30, 8, 35))


def test_an_appointment_across_midnight_or_of_no_length_is_never_on_duty():
    always = Counsellor(9, "Always", hours=tuple((Period(time(0, 0), time(23, 59)),) for _ in range(7)))
    assert not on_duty(OFFICE, always, berlin(2027, 3, 30, 23, 30), berlin(2027, 3, 31, 0, 30))
    assert not on_duty(OFFICE, always, berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 9))


YEAR = list(days(date(2027, 1, 1), date(2027, 12, 31)))


@PROPERTY
@given(day=st.sampled_from(YEAR), service=st.sampled_from([COUNSELLING, LONG]))
def test_every_slot_of_every_day_has_a_counsellor_on_opening_hours_on_duty(day, service):
    """Across both DST changes: the slots and the counsellor's hours agree on the wall clock."""
    for slot in day_slots(OFFICE, service, day):
        assert on_duty(OFFICE, ANNA, slot.start, slot.end)
        assert on_duty(OFFICE, YUSUF, slot.start, slot.end) == (slot.start.hour < 12)


def test_eligible_counsellors_give_the_service_speak_the_language_and_are_on_duty():
    start, end = berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 9, 30)
    assert eligible(OFFICE, COUNSELLING, start, end, ROSTER) == [ANNA, YUSUF]
    assert eligible(OFFICE, COUNSELLING, start, end, ROSTER, "ar") == [YUSUF]
    assert eligible(OFFICE, LONG, start, end, ROSTER, "uk") == [LEA]
    assert eligible(OFFICE, COUNSELLING, start, end, ROSTER, "uk") == []
    afternoon = berlin(2027, 3, 30, 14), berlin(2027, 3, 30, 14, 30)
    assert eligible(OFFICE, COUNSELLING, *afternoon, ROSTER, "ar") == []


def test_a_service_is_offered_in_its_counsellors_languages_german_first():
    assert languages_of(ROSTER, COUNSELLING) == ("de", "ar", "tr")
    assert languages_of(ROSTER, LONG) == ("de", "ar", "tr", "uk")
    assert languages_of((), COUNSELLING) == ("de",)
    assert languages_of((Counsellor(5, "Ay", ("tr", "ar")),), COUNSELLING) == ("ar", "tr")


def test_only_services_some_counsellor_gives_have_counsellor_places():
    assert gives(ROSTER, COUNSELLING)
    assert not gives((LEA,), COUNSELLING)
    assert not gives((), LONG)


# --- free places ------------------------------------------------------------------------------


def test_an_hour_long_appointment_at_nine_blocks_its_counsellor_at_nine_and_half_past():
    busy = Occupancy(busy={ANNA.id: set(cells(berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 10)))})
    for hour, minute, free in ((8, 30, True), (9, 0, False), (9, 30, False), (10, 0, True)):
        start = berlin(2027, 3, 30, hour, minute)
        assert is_free(ANNA, start, start + timedelta(minutes=30), busy) is free
    assert is_free(YUSUF, berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 9, 30), busy)


def test_an_absence_frees_nobody_for_any_moment_it_touches():
    away = Occupancy(away={ANNA.id: [(berlin(2027, 3, 30, 8, 30), berlin(2027, 3, 30, 10))]})
    assert not is_free(ANNA, berlin(2027, 3, 30, 9, 30), berlin(2027, 3, 30, 10), away)
    assert is_free(ANNA, berlin(2027, 3, 30, 10), berlin(2027, 3, 30, 10, 30), away)
    assert not is_free(ANNA, berlin(2027, 3, 30, 8), berlin(2027, 3, 30, 8, 35), away)


def test_free_places_count_the_matching_counsellors_who_are_free():
    start, end = berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 9, 30)
    nobody_busy = Occupancy()
    assert free_places(OFFICE, COUNSELLING, start, end, ROSTER, nobody_busy) == 2
    assert free_places(OFFICE, COUNSELLING, start, end, ROSTER, nobody_busy, "ar") == 1
    yusuf_busy = Occupancy(busy={YUSUF.id: set(cells(start, end))})
    assert free_places(OFFICE, COUNSELLING, start, end, ROSTER, yusuf_busy) == 1
    assert free_places(OFFICE, COUNSELLING, start, end, ROSTER, yusuf_busy, "ar") == 0
    assert free_places(OFFICE, LONG, start, start + timedelta(hours=1), ROSTER, yusuf_busy) == 2  # Anna, Lea


@PROPERTY
@given(
    start=st.sampled_from([s.start for d in YEAR[80:100] for s in day_slots(OFFICE, COUNSELLING, d)]),
    taken=st.sets(st.sampled_from([c.id for c in ROSTER])),
    language=st.sampled_from([None, "de", "ar", "tr", "uk", "fa"]),
)
def test_free_places_are_never_more_than_the_eligible_counsellors_nor_count_a_busy_one(
    start, taken, language
):
    end = start + timedelta(minutes=30)
    occupancy = Occupancy(busy={c: set(cells(start, end)) for c in taken})
    able = eligible(OFFICE, COUNSELLING, start, end, ROSTER, language)
    assert free_places(OFFICE, COUNSELLING, start, end, ROSTER, occupancy, language) == len(
        [c for c in able if c.id not in taken]
    )


# --- weekly hours -----------------------------------------------------------------------------


def test_hours_are_read_from_periods_separated_by_commas_or_lines():
    found, bad = parse_periods("08:30-10:00, 10:30 – 12:00\n14.00-15.00; nonsense, 12:00-11:00, 25:00-26:00")
    assert format_periods(found) == "08:30-10:00, 10:30-12:00, 14:00-15:00"
    assert bad == ["nonsense", "12:00-11:00", "25:00-26:00"]
    assert parse_periods("") == ([], [])


def test_hours_must_lie_inside_the_opening_hours_of_their_day_and_not_overlap():
    tuesday, wednesday, saturday = 1, 2, 5
    assert check_hours(OFFICE, tuesday, periods("08:30-10:00, 14:00-17:00")) is None
    assert check_hours(OFFICE, tuesday, periods("08:30-12:00")) is None
    assert check_hours(OFFICE, tuesday, []) is None
    assert check_hours(OFFICE, tuesday, periods("08:00-09:00")) is HoursProblem.OUTSIDE
    assert check_hours(OFFICE, tuesday, periods("11:00-14:30")) is HoursProblem.OUTSIDE  # across the break
    assert check_hours(OFFICE, wednesday, periods("14:00-15:00")) is HoursProblem.OUTSIDE
    assert check_hours(OFFICE, saturday, periods("09:00-10:00")) is HoursProblem.OUTSIDE
    assert check_hours(OFFICE, tuesday, periods("08:30-10:00, 09:30-11:00")) is HoursProblem.OVERLAP
    assert check_hours(OFFICE, tuesday, periods("08:30-10:00, 10:00-11:00")) is None  # touching is fine


def test_a_period_of_no_length_or_a_blank_between_periods_is_no_period():
    found, bad = parse_periods("08:30-10:00, , 10:30-12:00; 14:00-14:00")
    assert format_periods(found) == "08:30-10:00, 10:30-12:00"
    assert bad == ["14:00-14:00"]


# --- edges of an appointment --------------------------------------------------------------------


def test_an_absence_that_ends_or_begins_as_the_appointment_does_leaves_it_free():
    before = (berlin(2027, 3, 30, 8, 30), berlin(2027, 3, 30, 9, 0))
    after = (berlin(2027, 3, 30, 9, 30), berlin(2027, 3, 30, 11, 0))
    away = Occupancy(away={ANNA.id: [before, after]})
    assert is_free(ANNA, berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 9, 30), away)
    assert not is_free(ANNA, berlin(2027, 3, 30, 9), berlin(2027, 3, 30, 9, 35), away)
    assert not is_free(ANNA, berlin(2027, 3, 30, 8, 55), berlin(2027, 3, 30, 9, 30), away)


def test_an_absence_earlier_or_later_that_day_leaves_the_hours_between_free():
    early = (berlin(2027, 3, 30, 8, 30), berlin(2027, 3, 30, 9, 0))
    late = (berlin(2027, 3, 30, 11, 0), berlin(2027, 3, 30, 12, 0))
    assert is_free(
        ANNA, berlin(2027, 3, 30, 10), berlin(2027, 3, 30, 10, 30), Occupancy(away={ANNA.id: [early]})
    )
    assert is_free(
        ANNA, berlin(2027, 3, 30, 10), berlin(2027, 3, 30, 10, 30), Occupancy(away={ANNA.id: [late]})
    )


def test_an_appointment_that_ends_before_it_begins_is_nobody_s():
    start, end = berlin(2027, 3, 30, 10), berlin(2027, 3, 30, 9, 30)
    assert not on_duty(OFFICE, ANNA, start, end)
    assert eligible(OFFICE, COUNSELLING, start, end, ROSTER) == []
    assert free_places(OFFICE, COUNSELLING, start, end, ROSTER, Occupancy()) == 0


def test_a_counsellor_as_the_schedule_sees_them_cannot_be_changed():
    """The roster is kept for a while per process and shared: nobody may change it in passing."""
    for thing, field in [(ANNA, "languages"), (Occupancy(), "busy")]:
        with pytest.raises(FrozenInstanceError):
            setattr(thing, field, ())
