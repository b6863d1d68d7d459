"""Who the counsellors are: the active counsellor accounts with their services, languages and
weekly hours as the pure rota sees them, kept for a moment per process (`roster`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time

from sqlalchemy import select

from booking import microcache, rota
from booking.extensions import db
from booking.models import CounsellorHours, Staff
from booking.office import Period, Service
from booking.rota import Counsellor

# A service without counsellors is counselled in German: its places count for no other language.
DEFAULT_LANGUAGE = "de"


def roster() -> tuple[Counsellor, ...]:
    """The active counsellors with their hours, from one query, reused for a moment by every
    request of this process (bookings commit all the time, accounts seldom: only a change of
    accounts empties it, see `accounts._changing_roster`; other processes see it within
    AVAILABILITY_CACHE_SECONDS)."""
    return microcache.cached(("roster",), _load_roster, lasting=True)


def _load_roster() -> tuple[Counsellor, ...]:
    rows = db.session.execute(
        select(
            Staff.id,
            Staff.name,
            Staff.languages,
            Staff.services,
            Staff.custom_hours,
            CounsellorHours.weekday,
            CounsellorHours.start_minute,
            CounsellorHours.end_minute,
        )
        .outerjoin(CounsellorHours, CounsellorHours.staff_id == Staff.id)
        .where(Staff.role == "counsellor", Staff.active.is_(True))
        .order_by(Staff.id, CounsellorHours.weekday, CounsellorHours.start_minute)
    ).all()
    found: dict[int, tuple[object, ...]] = {}
    hours: dict[int, list[list[Period]]] = {}
    for staff_id, name, languages, services, custom, weekday, start, end in rows:
        found.setdefault(staff_id, (name, languages, services, custom))
        week = hours.setdefault(staff_id, [[] for _ in range(7)])
        if weekday is not None:
            week[weekday].append(Period(_clock(start), _clock(end)))
    return tuple(
        Counsellor(
            id=staff_id,
            name=str(name),
            languages=tuple(code for code in str(languages or "").split(",") if code) or (DEFAULT_LANGUAGE,),
            services=None if services is None else frozenset(s for s in str(services).split(",") if s),
            hours=tuple(tuple(day) for day in hours[staff_id]) if custom else None,
        )
        for staff_id, (name, languages, services, custom) in found.items()
    )


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def counsellor_service(service: Service, counsellors: Iterable[Counsellor] | None = None) -> bool:
    """Whether counsellors give this service (else its places are anonymous)."""
    return rota.gives(roster() if counsellors is None else counsellors, service)


def languages(service: Service) -> tuple[str, ...]:
    """The languages of counselling this service is offered in."""
    return rota.languages_of(roster(), service)


def capacity(service: Service) -> int:
    """Parallel places at best: its counsellors, else the office file's `capacity`."""
    counsellors = [c for c in roster() if c.gives(service.id)]
    return len(counsellors) if counsellors else service.capacity
