"""Counting the office's figures: every day of any range lies in exactly one week or month, a
booking counts on the local day of its appointment (not the UTC one), and the four outcomes add
up to the bookings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from booking.statistics import Row, periods, tally

BERLIN = ZoneInfo("Europe/Berlin")
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@given(days, st.integers(min_value=0, max_value=731), st.sampled_from(["week", "month"]))
def test_every_day_of_a_range_is_in_exactly_one_period_of_its_own_week_or_month(first, length, by):
    last = first + timedelta(days=length)
    found = periods(first, last, by)
    assert found[0].first == first and found[-1].last == last
    for before, after in zip(found, found[1:], strict=False):
        assert after.first == before.last + timedelta(days=1)
    assert len({p.key for p in found}) == len(found)
    for period in found:
        inside = [period.first + timedelta(days=n) for n in range((period.last - period.first).days + 1)]
        if by == "week":
            assert {tuple(d.isocalendar())[:2] for d in inside} == {period.key}
        else:
            assert {(d.year, d.month) for d in inside} == {period.key}


def test_weeks_are_iso_weeks_across_the_turn_of_the_year():
    found = periods(date(2026, 12, 28), date(2027, 1, 10), "week")
    assert [(p.key, p.first, p.last) for p in found] == [
        ((2026, 53), date(2026, 12, 28), date(2027, 1, 3)),  # 2026 has 53 ISO weeks
        ((2027, 1), date(2027, 1, 4), date(2027, 1, 10)),
    ]


def test_partial_months_are_cut_to_the_range():
    found = periods(date(2027, 1, 15), date(2027, 3, 2), "month")
    assert [(p.key, p.first, p.last) for p in found] == [
        ((2027, 1), date(2027, 1, 15), date(2027, 1, 31)),
        ((2027, 2), date(2027, 2, 1), date(2027, 2, 28)),
        ((2027, 3), date(2027, 3, 1), date(2027, 3, 2)),
    ]


def row(
    start: datetime, status: str = "confirmed", attended: bool | None = None, **languages: str | None
) -> Row:
    return Row(start, status, attended, languages.get("language") or "de", languages.get("counselling"))


def test_a_booking_counts_on_the_local_day_of_its_appointment():
    # Sunday 28 March 2027, 23:30 UTC is Monday 29 March, 01:30 in Heinsberg: ISO week 13, not 12.
    late = row(datetime(2027, 3, 28, 23, 30, tzinfo=UTC))
    result = tally([late], BERLIN, date(2027, 3, 22), date(2027, 4, 4), "week")
    assert [(p.key, f.bookings) for p, f in result.periods] == [((2027, 12), 0), ((2027, 13), 1)]
    # 31 January 22:30 UTC in winter is still 31 January, 23:30 local; 23:30 UTC is 1 February.
    january = row(datetime(2027, 1, 31, 22, 30, tzinfo=UTC))
    february = row(datetime(2027, 1, 31, 23, 30, tzinfo=UTC))
    result = tally([january, february], BERLIN, date(2027, 1, 1), date(2027, 2, 28), "month")
    assert [f.bookings for _p, f in result.periods] == [1, 1]


def test_rows_outside_the_range_are_left_out():
    outside = row(datetime(2027, 3, 31, 22, 30, tzinfo=UTC))  # 1 April local
    result = tally([outside], BERLIN, date(2027, 3, 1), date(2027, 3, 31), "month")
    assert result.total.bookings == 0


outcomes = st.tuples(st.sampled_from(["confirmed", "cancelled"]), st.sampled_from([True, False, None]))


@given(
    st.lists(
        st.tuples(
            st.datetimes(
                min_value=datetime(2027, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
            ),
            outcomes,
            st.sampled_from(["de", "ar", "uk"]),
            st.sampled_from([None, "de", "ar"]),
        ),
        max_size=40,
    ),
    st.sampled_from(["week", "month"]),
)
def test_the_four_outcomes_and_each_language_add_up_to_the_bookings(bookings, by):
    rows = [
        Row(start, status, attended, page, counselling)
        for start, (status, attended), page, counselling in bookings
    ]
    rows = [r for r in rows if not (r.status == "cancelled" and r.attended is not None)]  # cannot happen
    result = tally(rows, BERLIN, date(2027, 1, 1), date(2027, 12, 31), by)
    counted = [f for _p, f in result.periods] + [result.total]
    for figures in counted:
        assert figures.cancelled + figures.attended + figures.no_show + figures.open == figures.bookings
        assert sum(figures.page_languages.values()) == figures.bookings
        assert sum(figures.counselling_languages.values()) == figures.bookings
    assert sum(f.bookings for _p, f in result.periods) == result.total.bookings
    in_year = [r for r in rows if r.start_at.astimezone(BERLIN).year == 2027]
    assert result.total.bookings == len(in_year)
    assert result.total.cancelled == sum(1 for r in in_year if r.status == "cancelled")
    assert result.total.no_show == sum(1 for r in in_year if r.status == "confirmed" and r.attended is False)
