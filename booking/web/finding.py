"""Finding a time on the week page: the part of the day the resident wants, the next free
appointment, and why a day is closed. Kept apart from the views so the week page stays thin."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays as holidays_lib
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from markupsafe import Markup

from booking import holiday_names, places
from booking.office import Office, Service
from booking.schedule import Closure, Slot, day_slots, is_holiday, local_today

NOON = time(12, 0)
PARTS = ("morning", "afternoon")

# Days an office often closes that are no public holiday, named when the office file closes them.
CUSTOMARY_DAYS = {
    (12, 24): lazy_gettext("Christmas Eve"),
    (12, 31): lazy_gettext("New Year's Eve"),
}
# The languages the holidays package names German holidays in; other readers get our names
# (booking/holiday_names.py), and where we have none the German one.
HOLIDAY_LANGUAGES = {"de": "de", "en": "en_US", "uk": "uk"}
ENGLISH = "en_US"  # the package's names that are the msgids of ours


def part_of_day(value: str | None) -> str | None:
    """`morning`, `afternoon`, or None (the whole day) for anything else."""
    return value if value in PARTS else None


def in_part(slot: Slot, part: str | None) -> bool:
    """Morning: starts before noon on the office's clock; afternoon: at or after noon."""
    if part is None:
        return True
    return (slot.start.timetz().replace(tzinfo=None) < NOON) == (part == "morning")


def next_free(
    office: Office,
    service: Service,
    now: datetime,
    *,
    language: str | None,
    part: str | None = None,
    apart_from: int | None = None,
    own_start: datetime | None = None,
) -> Slot | None:
    """The earliest free slot inside the booking window, looked for a week at a time (the
    first week usually has one, so the whole horizon is rarely read). `own_start`: the time of
    the booking being moved, which is no free time for it."""
    day = local_today(office, now)
    last = day + timedelta(days=office.rules.horizon_days)
    while day <= last:
        week_end = min(day + timedelta(days=6), last)
        for slot, free in places.availability(
            office, service, day, week_end, now, language=language, apart_from=apart_from
        ):
            if free and in_part(slot, part) and slot.start != own_start:
                return slot
        day = week_end + timedelta(days=1)
    return None


@lru_cache(maxsize=64)
def _holiday_names(country: str, subdivision: str | None, year: int, language: str | None) -> dict[date, str]:
    names = holidays_lib.country_holidays(country, subdiv=subdivision, years=year, language=language)
    return dict(names.items())


@lru_cache(maxsize=8)
def _supported_languages(country: str) -> tuple[str, ...]:
    """The languages the holidays package names this country's holidays in (asked once: building
    the country's calendar for it costs more than the answer)."""
    return tuple(holidays_lib.country_holidays(country).supported_languages)


def holiday_name(office: Office, day: date, reader: str) -> str | None:
    """The public holiday's name in the reader's language: the holidays package's where it has
    that language (for Germany: German, English, Ukrainian; its names are the country's own),
    else ours from the catalogues (booking/holiday_names.py, Germany's holidays), else the
    German one, marked as German."""
    if not office.holiday_country or not is_holiday(office, day):
        return None
    country, subdivision = office.holiday_country, office.holiday_subdivision
    supported = _supported_languages(country)
    language = HOLIDAY_LANGUAGES.get(reader)
    if language not in supported and ENGLISH in supported:
        english = _holiday_names(country, subdivision, day.year, ENGLISH).get(day)
        ours = holiday_names.translated(english, _) if english else None
        if ours is not None and ours != english:  # unchanged: the catalogue has no translation
            return ours
    if language not in supported:
        language = "de" if "de" in supported else None  # None: the country's own language
    name = _holiday_names(country, subdivision, day.year, language).get(day)
    if name and language != HOLIDAY_LANGUAGES.get(reader):  # a German name on a page in Arabic
        return Markup('<span lang="{}">{}</span>').format(language or country.lower(), name)
    return name


def closed_reason(
    office: Office, service: Service, day: date, reader: str, staff_closures: Sequence[Closure]
) -> str | Markup | None:
    """Why a day of the office's week has no times at all, for the resident: "Closed:
    Heiligabend", or just "Closed" (a day staff closed: their reason is internal). None when
    the day is open (it may still be fully booked)."""
    name = holiday_name(office, day, reader)
    if day in office.closures and not name:
        name = CUSTOMARY_DAYS.get((day.month, day.day))
        if name is None:
            return _("Closed")
    if name:
        return Markup(_("Closed: %(reason)s")) % {"reason": name}  # the name may be marked German
    if day.weekday() not in office.hours:
        return _("Closed")
    slots = day_slots(office, service, day)
    if slots and all(any(closure.overlaps(slot) for closure in staff_closures) for slot in slots):
        return _("Closed")
    return None


def closed_reasons(
    office: Office, service: Service, days: Iterable[date], reader: str, staff_closures: Sequence[Closure]
) -> dict[date, str | Markup]:
    """`closed_reason` of each of `days` that is closed."""
    reasons = {day: closed_reason(office, service, day, reader, staff_closures) for day in days}
    return {day: reason for day, reason in reasons.items() if reason}
