"""Links that open a new entry in the big web calendars (Google Calendar, Outlook.com), built
from the appointment alone: no script of theirs on our pages, nothing sent to them until the
resident follows the link. Pure: the texts come in already translated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

GOOGLE = "https://calendar.google.com/calendar/render"
OUTLOOK = "https://outlook.live.com/calendar/0/deeplink/compose"


@dataclass(frozen=True)
class Entry:
    """What a calendar entry says; times aware."""

    title: str
    start: datetime
    end: datetime
    location: str
    details: str


def _utc(moment: datetime, layout: str) -> str:
    return moment.astimezone(UTC).strftime(layout)


def google(entry: Entry) -> str:
    """Google Calendar's "add event" template (times in UTC, `…Z/…Z`)."""
    dates = f"{_utc(entry.start, '%Y%m%dT%H%M%SZ')}/{_utc(entry.end, '%Y%m%dT%H%M%SZ')}"
    query = {
        "action": "TEMPLATE",
        "text": entry.title,
        "dates": dates,
        "location": entry.location,
        "details": entry.details,
    }
    return f"{GOOGLE}?{urlencode(query)}"


def outlook(entry: Entry) -> str:
    """Outlook.com's compose deeplink (ISO 8601 times in UTC)."""
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": entry.title,
        "startdt": _utc(entry.start, "%Y-%m-%dT%H:%M:%SZ"),
        "enddt": _utc(entry.end, "%Y-%m-%dT%H:%M:%SZ"),
        "location": entry.location,
        "body": entry.details,
    }
    return f"{OUTLOOK}?{urlencode(query)}"
