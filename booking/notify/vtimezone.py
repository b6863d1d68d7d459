"""The VTIMEZONE of the office's zone as one STANDARD and one DAYLIGHT rule with RRULEs.

This is the form Outlook builds its zone from (one yearly rule each way) and the one every other
calendar program reads correctly for any number of years. icalendar's own `Timezone.from_tzid`
writes one RDATE list per offset instead: ical.js reads only the first RDATE value, and Outlook
has been seen to shift summer appointments by an hour with it.

The rule comes from the zone's own data: the POSIX TZ string at the end of its TZif file (RFC 8536
section 3.3), which is how tzdata states the rule that holds from the last listed transition on,
e.g. `CET-1CEST,M3.5.0,M10.5.0/3` for Europe/Berlin. The rule is checked against zoneinfo at every
moment of the years a file covers (at each transition the file lists and each change of the rule);
a zone whose rule cannot be written as RRULEs, or whose listed transitions differ from its rule in
those years (Morocco's Ramadan changes), is written by icalendar instead, over a fixed span, so
that it too is the same in every file.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

NAME = r"<[^>]+>|[A-Za-z]{3,}"
OFFSET = r"[+-]?\d{1,3}(?::\d{2}){0,2}"
POSIX_TZ = re.compile(
    rf"(?P<std>{NAME})(?P<std_offset>{OFFSET})(?:(?P<dst>{NAME})(?P<dst_offset>{OFFSET})?)?"
)
RULE = re.compile(
    r"M(?P<month>\d{1,2})\.(?P<week>[1-5])\.(?P<weekday>[0-6])(?:/(?P<time>-?\d{1,3}(?::\d{2}){0,2}))?"
)
DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")  # POSIX counts weekdays from Sunday = 0
RULE_EPOCH = 1970  # where the rules start, as every VTIMEZONE in the RRULE form has it
# A TZif header's six counts, from byte 20 on: isutcnt, isstdcnt, leapcnt, timecnt, typecnt,
# charcnt (RFC 8536 section 3.1).
COUNTS = struct.Struct(">6L")
# The span of the fallback for zones whose rule cannot be used: icalendar's own defaults.
FALLBACK_FIRST, FALLBACK_LAST = Timezone.DEFAULT_FIRST_DATE, Timezone.DEFAULT_LAST_DATE


@dataclass(frozen=True)
class Onset:
    """One yearly change: in month `month`, the `week`th (5 = last) `weekday` (0 = Sunday), at
    `at` after midnight of the wall clock before the change, to the offset `to` named `name`."""

    month: int
    week: int
    weekday: int
    at: timedelta
    to: timedelta
    name: str

    def day(self, year: int) -> date:
        first = date(year, self.month, 1)
        day = first + timedelta(days=(self.weekday - first.isoweekday()) % 7 + 7 * (self.week - 1))
        while day.month != self.month:  # a fifth weekday the month does not have: the last one
            day -= timedelta(days=7)
        return day

    def wall(self, year: int) -> datetime:
        """The change's wall-clock moment in `year` (the offset before it)."""
        return datetime.combine(self.day(year), datetime.min.time()) + self.at

    def instant(self, year: int, before: timedelta) -> datetime:
        return (self.wall(year) - before).replace(tzinfo=UTC)

    def rrule(self) -> dict[str, object]:
        return {
            "freq": "yearly",
            "bymonth": self.month,
            "byday": f"{-1 if self.week == 5 else self.week}{DAYS[self.weekday]}",
        }


@dataclass(frozen=True)
class Rule:
    """A zone's rule: its standard offset, and the two yearly changes when it has summer time."""

    standard: timedelta
    standard_name: str
    changes: tuple[Onset, Onset] | None  # (to the other offset, back to standard)

    def offset_at(self, moment: datetime) -> timedelta:
        """The rule's UTC offset at `moment` (aware)."""
        if self.changes is None:
            return self.standard
        away, back = self.changes
        year = moment.astimezone(UTC).year
        # Check the neighbouring years too: a change near New Year can fall in the other UTC year.
        events = sorted(
            (onset.instant(y, before), onset.to)
            for y in (year - 1, year, year + 1)
            for onset, before in ((away, self.standard), (back, away.to))
        )
        offset = back.to
        for at, to in events:
            if at <= moment:
                offset = to
        return offset


def _seconds(text: str) -> timedelta:
    sign = -1 if text.startswith("-") else 1
    parts = [int(part) for part in text.lstrip("+-").split(":")] + [0, 0]
    return sign * timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2])


def _name(text: str) -> str:
    return text.strip("<>")


def parse_posix_tz(text: str) -> Rule | None:
    """The rule of a POSIX TZ string, or None when it has a form RRULEs cannot carry (a change
    by day of the year, at a time outside 00:00-24:00, or summer time without its rule)."""
    head, *rules = text.split(",")
    match = POSIX_TZ.fullmatch(head)
    if match is None:
        return None
    standard = -_seconds(match["std_offset"])  # POSIX counts west of Greenwich as positive
    if match["dst"] is None:
        return Rule(standard, _name(match["std"]), None) if not rules else None
    summer = -_seconds(match["dst_offset"]) if match["dst_offset"] else standard + timedelta(hours=1)
    if len(rules) != 2:
        return None
    onsets = []
    for rule, to, name in ((rules[0], summer, match["dst"]), (rules[1], standard, match["std"])):
        parsed = RULE.fullmatch(rule)
        if parsed is None:
            return None
        at = _seconds(parsed["time"]) if parsed["time"] else timedelta(hours=2)
        if not timedelta(0) <= at < timedelta(days=1) or not 1 <= int(parsed["month"]) <= 12:
            return None
        onsets.append(
            Onset(int(parsed["month"]), int(parsed["week"]), int(parsed["weekday"]), at, to, _name(name))
        )
    return Rule(standard, _name(match["std"]), (onsets[0], onsets[1]))


def _tzif(tzid: str) -> bytes | None:
    """The zone's TZif file, found where zoneinfo looks: TZPATH first, then the tzdata package."""
    for folder in TZPATH:
        path = Path(folder, tzid)
        if path.is_file():
            return path.read_bytes()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(*tzid.split("/")).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, IsADirectoryError):
        return None


def zone_rule(tzid: str) -> Rule | None:
    """The rule tzdata gives for the zone's future (the TZif footer), or None without one."""
    data = _tzif(tzid)
    if not data or not data.startswith(b"TZif") or not data.endswith(b"\n"):
        return None
    footer = data[:-1].rpartition(b"\n")[2]
    return parse_posix_tz(footer.decode("ascii", "replace"))


def listed_changes(tzid: str) -> list[int]:
    """The changes of offset the zone's TZif file lists, in seconds since 1970 (UTC): the 64-bit
    times of its second data block (RFC 8536 section 3); the footer's rule holds after the last."""
    data = _tzif(tzid)
    if not data:
        return []
    isut, isstd, leap, count, types, chars = COUNTS.unpack_from(data, 20)
    second = 44 + 5 * count + 6 * types + chars + 8 * leap + isstd + isut  # past the version 1 data
    count = COUNTS.unpack_from(data, second + 20)[3]
    return list(struct.unpack_from(f">{count}q", data, second + 44))


def agrees(rule: Rule, zone: ZoneInfo, first_year: int, last_year: int) -> bool:
    """Whether the rule gives zoneinfo's offset at every moment of these years (UTC). Neither
    offset changes but at a change the zone's file lists or one of the rule's, so it is enough to
    compare them at the start, at each listed change, and at and just before each of the rule's
    (where zoneinfo, past its list, works out the footer's changes itself)."""
    start, end = (datetime(year, 1, 1, tzinfo=UTC) for year in (first_year, last_year + 1))
    span = range(int(start.timestamp()), int(end.timestamp()))
    moments = [start] + [datetime.fromtimestamp(s, UTC) for s in listed_changes(zone.key) if s in span]
    for year in range(first_year, last_year + 1):
        for onset, before in _changes_with_before(rule):
            at = onset.instant(year, before)
            moments += [at - timedelta(seconds=1), at]
    return all(rule.offset_at(moment) == moment.astimezone(zone).utcoffset() for moment in moments)


def _changes_with_before(rule: Rule) -> list[tuple[Onset, timedelta]]:
    if rule.changes is None:
        return []
    away, back = rule.changes
    return [(away, rule.standard), (back, away.to)]


def rrule_timezone(tzid: str, rule: Rule) -> Timezone:
    """The VTIMEZONE of `rule`: one STANDARD and, with summer time, one DAYLIGHT, each with an
    RRULE from 1970 on (the component with the larger offset is the DAYLIGHT one, also for a
    zone like Europe/Dublin whose tzdata calls winter the exception)."""
    zone = Timezone()
    zone.add("tzid", tzid)
    zone.add("x-lic-location", tzid)  # libical and Thunderbird match it with their own zone
    if rule.changes is None:
        standard = TimezoneStandard()
        standard.add("dtstart", datetime(RULE_EPOCH, 1, 1))
        standard.add("tzoffsetfrom", rule.standard)
        standard.add("tzoffsetto", rule.standard)
        standard.add("tzname", rule.standard_name)
        zone.add_component(standard)
        return zone
    for onset, before in _changes_with_before(rule):
        part = TimezoneDaylight() if onset.to > before else TimezoneStandard()
        part.add("dtstart", onset.wall(RULE_EPOCH))
        part.add("rrule", onset.rrule())
        part.add("tzoffsetfrom", before)
        part.add("tzoffsetto", onset.to)
        part.add("tzname", onset.name)
        zone.add_component(part)
    return zone


@lru_cache(maxsize=64)
def vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE written for files whose times fall in these years: the RRULE form whenever
    the zone's rule holds in them, which for the office's zone is the same bytes in every file."""
    rule = zone_rule(tzid)
    if rule is not None and agrees(rule, ZoneInfo(tzid), first_year, last_year):
        return rrule_timezone(tzid, rule).to_ical()
    return Timezone.from_tzid(tzid, first_date=FALLBACK_FIRST, last_date=FALLBACK_LAST).to_ical()
