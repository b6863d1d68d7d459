"""Opening hours that cross a DST change, in every zone an office file may name: a wall time the
clock skips is no slot and cannot be booked, and every appointment lasts its real duration."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, note, settings
from hypothesis import strategies as st

from booking.office import Office, parse_office
from booking.schedule import Unbookable, check_start, day_slots

ZONES = sorted(available_timezones())  # every name `office.timezone` accepts
BERLIN = ZoneInfo("Europe/Berlin")


def office_in(zone: str, period: str, duration: int, step: int) -> Office:
    """An office open every day of the week with one period, without public holidays."""
    days = "\n".join(f'{day} = ["{period}"]' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    return parse_office(
        f"""
[office]
name = "Bürgerbüro"
timezone = "{zone}"
location = "Rathaus"

[hours]
{days}

[[services]]
id = "beratung"
name = "Beratung"
duration_minutes = {duration}
step_minutes = {step}
capacity = 1
"""
    )


def shown(moment: datetime, zone: ZoneInfo) -> datetime:
    """What a clock in `zone` shows at this instant (naive wall time)."""
    return moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None)


@cache
def change_days(zone: str) -> tuple[date, ...]:
    """The days of 2027 around which the zone's offset changes (with their neighbours)."""
    tz = ZoneInfo(zone)
    found: set[date] = set()
    for n in range(365):
        day = date(2027, 1, 1) + timedelta(days=n)
        noon = datetime.combine(day, time(12), tzinfo=tz)
        if noon.utcoffset() != (noon + timedelta(days=1)).utcoffset():
            found |= {day, day + timedelta(days=1), day + timedelta(days=2)}
    return tuple(sorted(found))


@st.composite
def offices_and_days(draw: st.DrawFn) -> tuple[Office, date]:
    zone = draw(st.sampled_from(ZONES))
    opens = draw(st.integers(min_value=0, max_value=24 * 60 - 6))
    closes = draw(st.integers(min_value=opens + 5, max_value=24 * 60 - 1))
    duration = draw(st.integers(min_value=5, max_value=min(8 * 60, closes - opens)))
    step = draw(st.integers(min_value=5, max_value=8 * 60))
    period = f"{opens // 60:02d}:{opens % 60:02d}-{closes // 60:02d}:{closes % 60:02d}"
    office = office_in(zone, period, duration, step)
    day = draw(st.sampled_from(change_days(zone) or (date(2027, 3, 28),)))
    note(f"{zone}, {day}, open {period}, {duration} minutes every {step}")
    return office, day


@settings(max_examples=300, deadline=None)
@given(offices_and_days())
def test_slots_across_a_dst_change_are_real_and_complete(case: tuple[Office, date]):
    office, day = case
    service, zone = office.services[0], office.timezone
    duration = timedelta(minutes=service.duration_minutes)
    (period,) = office.hours[day.weekday()]
    opening, close = datetime.combine(day, period.start), datetime.combine(day, period.end)
    slots = day_slots(office, service, day)
    for slot in slots:
        assert shown(slot.start, zone) == slot.start.replace(tzinfo=None), (
            f"{slot.start} is a skipped wall time"
        )
        assert slot.end.astimezone(UTC) - slot.start.astimezone(UTC) == duration  # real minutes
        assert shown(slot.end, zone) <= close  # the appointment is over when the clock shows the close
    # every wall time of the grid that the clock shows and whose appointment is over by the close
    expected = []
    wall = opening
    while wall < close:
        start = wall.replace(tzinfo=zone)
        if shown(start, zone) == wall and shown(start.astimezone(UTC) + duration, zone) <= close:
            expected.append(start.astimezone(UTC))
        wall += timedelta(minutes=service.step_minutes)
    assert [s.start_utc for s in slots] == expected


@settings(max_examples=300, deadline=None)
@given(offices_and_days(), st.integers(min_value=0, max_value=24 * 60 - 1))
def test_a_wall_time_the_clock_skips_cannot_be_booked(case: tuple[Office, date], minute: int):
    office, day = case
    service = office.services[0]
    now = datetime.combine(day - timedelta(days=3), time(), tzinfo=UTC)
    asked = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=office.timezone)
    found = check_start(office, service, asked, now)
    if shown(asked, office.timezone) != asked.replace(tzinfo=None):
        assert found is Unbookable.OFF_GRID
    for slot in day_slots(office, service, day):  # every real slot is bookable, by any offset
        fixed = slot.start.astimezone(timezone(slot.start.utcoffset() or timedelta()))
        assert check_start(office, service, fixed, now) == slot


def test_berlin_hours_through_the_night_dst_begins():
    """01:00-04:00 on Sunday 28 March 2027: the clock goes from 02:00 to 03:00."""
    office = office_in("Europe/Berlin", "01:00-04:00", 30, 30)
    service = office.services[0]
    slots = day_slots(office, service, date(2027, 3, 28))
    assert [s.start.strftime("%H:%M%z") for s in slots] == [
        "01:00+0100",
        "01:30+0100",  # ends at 03:00+0200, half an hour later
        "03:00+0200",
        "03:30+0200",
    ]
    assert slots[1].end == datetime(2027, 3, 28, 3, 0, tzinfo=BERLIN)
    now = datetime(2027, 3, 25, 9, 0, tzinfo=UTC)
    for fold in (0, 1):  # whichever side of the gap the wall time is taken from
        skipped = datetime(2027, 3, 28, 2, 30, fold=fold, tzinfo=BERLIN)
        assert check_start(office, service, skipped, now) is Unbookable.OFF_GRID


def test_berlin_hours_through_the_night_dst_ends():
    """01:00-04:00 on Sunday 31 October 2027: the clock shows 02:00-03:00 twice."""
    office = office_in("Europe/Berlin", "01:00-04:00", 60, 60)
    service = office.services[0]
    slots = day_slots(office, service, date(2027, 10, 31))
    starts = [s.start.strftime("%H:%M%z") for s in slots]
    assert starts == ["01:00+0200", "02:00+0200", "03:00+0100"]
    for slot in slots:  # an hour each, however the clock runs
        assert slot.end.astimezone(UTC) - slot.start.astimezone(UTC) == timedelta(hours=1)
    assert slots[1].end.strftime("%H:%M%z") == "02:00+0100"  # the second time the clock shows 02:00
    now = datetime(2027, 10, 28, 9, 0, tzinfo=UTC)
    second_two = datetime(2027, 10, 31, 2, 0, fold=1, tzinfo=BERLIN)  # 02:00+01:00: no slot starts then
    assert check_start(office, service, second_two, now) is Unbookable.OFF_GRID


def test_no_slot_starts_at_the_close_even_when_the_clock_turns_back_after_it():
    """Closing at 02:30 the night DST ends: 02:30 summer time plus half an hour shows 02:00 again."""
    office = office_in("Europe/Berlin", "01:00-02:30", 30, 30)
    starts = [s.start.strftime("%H:%M%z") for s in day_slots(office, office.services[0], date(2027, 10, 31))]
    assert starts == ["01:00+0200", "01:30+0200", "02:00+0200"]
