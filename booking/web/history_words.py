"""A booking's history in words: the audit trail stores moments as ISO strings
("2027-03-30T09:00+02:00 -> 2027-03-31T10:00+02:00: reason") so it reads the same in any
language later; staff read them as dates and times of their own language."""

from __future__ import annotations

import re
from datetime import datetime

from booking.web.templating import day_label, time_label

# A moment as `journal.moment` writes it (minutes, an offset), or with seconds / in UTC.
MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d|Z)?")


def _words(match: re.Match[str]) -> str:
    try:
        moment = datetime.fromisoformat(match.group(0))
    except ValueError:  # a shape the pattern lets through but no real moment: leave it as typed
        return match.group(0)
    return f"{day_label(moment)}, {time_label(moment)}"


def history_details(details: str | None) -> str:
    """The details of an audit entry with each moment in words and "->" as an arrow."""
    if not details:
        return ""
    return MOMENT.sub(_words, details).replace(" -> ", " → ")
