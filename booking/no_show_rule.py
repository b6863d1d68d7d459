"""The no-show rule as a pure decision (no Flask, no database, no clock): from the times of an
address's no-shows (the starts of the appointments staff marked as missed), its latest lift and
`now`, whether the address may book online, and from when again.

`limit` no-shows within a year (365 days, counted back from the latest of them) block the address
for `block_days` days after that latest one: through the whole local day `block_days` after it,
so the first day it may book again is a whole day, as the message tells the resident. Each
no-show that makes `limit` within a year starts such a block; the last one wins. No-shows on or
before a lift no longer count, nor do no-shows later than `now` (not missed yet)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

YEAR = timedelta(days=365)


@dataclass(frozen=True)
class Block:
    """An address may not book online before `until` (local midnight starting `again_on`),
    because of `count` no-shows within the year up to `latest`."""

    until: datetime
    again_on: date
    latest: datetime
    count: int


def block_of(
    no_shows: Iterable[datetime],
    lifted_at: datetime | None,
    now: datetime,
    *,
    limit: int,
    block_days: int,
    timezone: tzinfo,
) -> Block | None:
    """The block in force at `now`, or None (also when the rule is off: `limit` 0)."""
    if limit <= 0:
        return None
    counted = sorted(t for t in no_shows if t <= now and (lifted_at is None or t > lifted_at))
    for index in range(len(counted) - 1, limit - 2, -1):  # the latest trigger ends the latest block
        latest = counted[index]
        if counted[index - limit + 1] > latest - YEAR:
            again_on = latest.astimezone(timezone).date() + timedelta(days=block_days + 1)
            until = datetime.combine(again_on, time(), tzinfo=timezone)
            if until <= now:
                return None
            count = sum(1 for t in counted[: index + 1] if t > latest - YEAR)
            return Block(until=until, again_on=again_on, latest=latest, count=count)
    return None


def relevant_since(now: datetime, block_days: int) -> datetime:
    """No no-show (and no lift) older than this can take part in a block at `now`: a block ends
    at most `block_days` + 1 days (and a DST hour) after its latest no-show, whose year reaches back
    from there."""
    return now - YEAR - timedelta(days=block_days + 2)
