"""The free times nearest to one that was just taken, offered on the form that asked for it so
the resident keeps everything typed and picks another time there."""

from __future__ import annotations

from datetime import datetime, timedelta

from booking import places
from booking.office import Office, Service
from booking.schedule import Slot

REACH_DAYS = 7  # look this far before and after the wanted day


def nearest_free(
    office: Office, service: Service, wanted: datetime, now: datetime, language: str | None, count: int = 4
) -> list[Slot]:
    """Up to `count` free slots closest in time to `wanted` (before or after), in time order."""
    today = now.astimezone(office.timezone).date()
    # inside the booking window (a time sent from far outside it has no neighbours of its own)
    day = min(
        max(wanted.astimezone(office.timezone).date(), today),
        today + timedelta(days=office.rules.horizon_days),
    )
    free = [
        slot
        for slot, places_free in places.availability(
            office,
            service,
            day - timedelta(days=REACH_DAYS),
            day + timedelta(days=REACH_DAYS),
            now,
            language=language,
        )
        if places_free and slot.start != wanted
    ]
    closest = sorted(free, key=lambda slot: abs(slot.start - wanted))[:count]
    return sorted(closest, key=lambda slot: slot.start)
