"""The no-show rule as a pure decision: `limit` no-shows within a year block an address from booking
online through the local day `block_days` after the latest of them; a lift clears the no-shows up
to it; the rule is off at limit 0."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from booking.no_show_rule import YEAR, Block, block_of, relevant_since

BERLIN = ZoneInfo("Europe/Berlin")
MISSED = datetime(2027, 3, 9, 8, 0, tzinfo=UTC)  # Tuesday 09:00 in Heinsberg
EARLIER = datetime(2027, 2, 2, 8, 0, tzinfo=UTC)
NOW = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)
TINY = timedelta(microseconds=1)


def block(
    no_shows: list[datetime],
    now: datetime = NOW,
    lifted_at: datetime | None = None,
    limit: int = 2,
    days: int = 90,
) -> Block | None:
    return block_of(no_shows, lifted_at, now, limit=limit, block_days=days, timezone=BERLIN)


def test_two_no_shows_within_a_year_block_through_the_day_ninety_days_after_the_latest():
    found = block([EARLIER, MISSED])
    assert found is not None
    assert found.again_on == date(2027, 6, 8)  # 9 March + 90 days = 7 June, the last day blocked
    assert found.until == datetime(2027, 6, 8, tzinfo=BERLIN)
    assert (found.latest, found.count) == (MISSED, 2)


def test_one_no_show_below_the_limit_does_not_block():
    assert block([MISSED]) is None


def test_the_rule_is_off_at_limit_zero():
    assert block([EARLIER, MISSED, NOW], limit=0) is None


def test_two_no_shows_exactly_a_year_apart_do_not_block():
    assert block([MISSED - YEAR, MISSED]) is None


def test_two_no_shows_a_second_less_than_a_year_apart_block():
    assert block([MISSED - YEAR + timedelta(seconds=1), MISSED]) is not None


def test_the_block_ends_exactly_at_midnight_starting_the_day_it_names():
    end = datetime(2027, 6, 8, tzinfo=BERLIN)
    assert block([EARLIER, MISSED], now=end - TINY) is not None
    assert block([EARLIER, MISSED], now=end) is None


def test_a_no_show_later_than_now_does_not_count_yet():
    assert block([EARLIER, NOW + TINY]) is None
    assert block([EARLIER, NOW]) is not None


def test_a_lift_clears_the_no_shows_up_to_it_and_later_ones_count_again():
    assert block([EARLIER, MISSED], lifted_at=MISSED) is None
    later = MISSED + timedelta(days=7)
    assert block([EARLIER, MISSED, later], lifted_at=MISSED, now=later) is None  # one after the lift
    two_after = [EARLIER, MISSED, later, later + timedelta(days=1)]
    again = block(two_after, lifted_at=MISSED, now=later + timedelta(days=30))
    assert again is not None and again.count == 2


def test_a_block_lasts_its_days_even_when_the_first_no_show_leaves_the_year_meanwhile():
    """The contract: that many no-shows within a year block for that many days."""
    first, second = datetime(2026, 1, 5, 8, tzinfo=UTC), datetime(2026, 12, 20, 8, tzinfo=UTC)
    found = block([first, second], now=datetime(2027, 1, 10, tzinfo=UTC))
    assert found is not None and found.again_on == date(2027, 3, 21)


def test_the_latest_no_show_that_completes_the_limit_sets_the_end():
    """Three within a year, limit 2: the block runs from the third."""
    third = MISSED + timedelta(days=10)
    found = block([EARLIER, MISSED, third], now=third)
    assert found is not None and (found.latest, found.count) == (third, 3)


def test_the_block_days_are_counted_on_the_office_clock_across_the_dst_change():
    """27 March 2027, 23:30 UTC is 28 March, 00:30 in Heinsberg: day 0 is the 28th, the one day
    blocked the 29th, and online booking opens at midnight summer time (22:00 UTC)."""
    late = datetime(2027, 3, 27, 23, 30, tzinfo=UTC)
    found = block([late - timedelta(days=1), late], now=late, days=1)
    assert found is not None and found.again_on == date(2027, 3, 30)
    assert found.until == datetime(2027, 3, 29, 22, 0, tzinfo=UTC)


def test_relevant_since_reaches_back_far_enough_for_every_block_in_force():
    days = 90
    oldest_that_counts = NOW - timedelta(days=days + 1) - YEAR + timedelta(hours=1)
    assert relevant_since(NOW, days) < oldest_that_counts


# --- properties ---------------------------------------------------------------------------------

# Moments over three years, in whole seconds.
moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


def oracle(
    no_shows: list[datetime], lifted_at: datetime | None, now: datetime, limit: int, days: int
) -> datetime | None:
    """The rule read off the contract by brute force: every group of `limit` counted no-shows lying
    within a year blocks until midnight (office time) of the day `days` + 1 after the latest of the
    group; the address is blocked while any such block is in force."""
    counted = [t for t in no_shows if t <= now and (lifted_at is None or t > lifted_at)]
    ends = [
        datetime.combine(
            max(group).astimezone(BERLIN).date() + timedelta(days=days + 1), datetime.min.time(), BERLIN
        )
        for group in itertools.combinations(counted, limit)
        if max(group) - min(group) < YEAR
    ]
    latest_end = max(ends, default=None)
    return latest_end if latest_end is not None and latest_end > now else None


@settings(max_examples=300, deadline=None)
@given(
    no_shows=st.lists(moments, max_size=6),
    now=moments,
    lifted_at=st.none() | moments,
    limit=st.integers(min_value=1, max_value=3),
    days=st.sampled_from([1, 30, 90, 400]),
)
def test_blocked_exactly_when_limit_no_shows_lie_within_a_year_until_the_days_after_the_latest(
    no_shows: list[datetime], now: datetime, lifted_at: datetime | None, limit: int, days: int
):
    found = block(no_shows, now=now, lifted_at=lifted_at, limit=limit, days=days)
    expected = oracle(no_shows, lifted_at, now, limit, days)
    assert (found.until if found else None) == expected
    if found is not None:
        assert found.latest <= now and found.count >= limit
        assert found.until - found.latest > timedelta(days=days, hours=-1)  # local days: 23 h at DST
        so_far = [t for t in no_shows if t <= now]  # later ones may block again by then
        assert block(so_far, now=found.until, lifted_at=lifted_at, limit=limit, days=days) is None
        assert block(so_far, now=found.until - TINY, lifted_at=lifted_at, limit=limit, days=days) == found
        assert block(no_shows, now=now, lifted_at=now, limit=limit, days=days) is None  # a lift clears it


@settings(max_examples=200, deadline=None)
@given(no_shows=st.lists(moments, max_size=6), extra=moments, now=moments)
def test_another_no_show_never_shortens_a_block(no_shows: list[datetime], extra: datetime, now: datetime):
    before = block(no_shows, now=now)
    after = block([*no_shows, extra], now=now)
    if before is not None:
        assert after is not None and after.until >= before.until


@settings(max_examples=200, deadline=None)
@given(no_shows=st.lists(moments, max_size=6), now=moments, lifted_at=moments)
def test_a_lift_is_the_same_as_forgetting_the_no_shows_up_to_it(
    no_shows: list[datetime], now: datetime, lifted_at: datetime
):
    kept = [t for t in no_shows if t > lifted_at]
    assert block(no_shows, now=now, lifted_at=lifted_at) == block(kept, now=now)
