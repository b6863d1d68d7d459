"""The benchmark's office of four counsellors (issue 10, "Speed"): who they are, their share of
the filled database, the places a run of bookings took given back, and the in-process cost of
the free places on an empty and on a filled database.

The counsellors give only SERVICE (bench/office.toml), so the other services keep their anonymous
places and the figures measured before counsellors existed keep measuring the same thing.
"""

from __future__ import annotations

import timeit
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

SERVICE = "gespraech"
# Languages asked for in the slots figures ("" = no language: every counsellor counts).
SLOT_LANGUAGES = ("", "ar", "uk")
# Languages of counselling that some of the booking requests ask for (bench/post.lua).
BOOKING_LANGUAGES = ("de", "ar", "uk")


@dataclass(frozen=True)
class Person:
    """A counsellor of the benchmark: `days` the weekdays worked (None: every opening day),
    `mornings` only the first opening period of each day."""

    email: str
    name: str
    languages: tuple[str, ...]
    days: tuple[int, ...] | None = None
    mornings: bool = False


TEAM = (
    Person("anna.becker@bench.example", "Anna Becker", ("de",)),
    Person("samir.haddad@bench.example", "Samir Haddad", ("de", "ar", "tr")),
    Person("olena.koval@bench.example", "Olena Koval", ("de", "uk", "ru"), mornings=True),
    Person("dariush.karimi@bench.example", "Dariush Karimi", ("de", "fa"), days=(1, 3)),
)


def hours_of(office: Any, person: Person) -> dict[int, list[Any]] | None:
    """The person's weekly hours inside the opening hours (None: the opening hours)."""
    if person.days is None and not person.mornings:
        return None
    return {
        weekday: list(periods[:1] if person.mornings else periods)
        for weekday, periods in office.hours.items()
        if person.days is None or weekday in person.days
    }


def create_team(app: Any, now: datetime) -> None:
    """The four counsellors in the bench database, through the accounts module as an admin would."""
    from booking import accounts

    office = app.extensions["office"]
    with app.app_context():
        for person in TEAM:
            staff = accounts.create_staff(
                person.email,
                person.name,
                None,
                now,
                office=office,
                role="counsellor",
                services=[SERVICE],
                languages=person.languages,
            )
            hours = hours_of(office, person)
            if hours is not None:
                accounts.set_hours(office, staff, hours)


def roster(app: Any) -> list[Any]:
    """The active counsellors who give SERVICE, as the places module sees them."""
    from booking.roster import roster as active_counsellors

    with app.app_context():
        return [c for c in active_counsellors() if c.gives(SERVICE)]


def taken(
    office: Any, team: list[Any], today: date, first: date, last: date
) -> Iterator[tuple[Any, Any, Any]]:
    """(service, slot, counsellor) of the appointments of the filled database on these days: up to
    today every counsellor on duty is busy, after it half of those on duty (taking turns, so
    every language keeps free times)."""
    from booking import rota
    from booking.schedule import day_slots

    service = office.service(SERVICE)
    turn = 0
    day = first
    while day <= last:
        for slot in day_slots(office, service, day):
            on_duty = rota.eligible(office, service, slot.start, slot.end, team)
            if day > today and on_duty:
                turn += 1
                shift = turn % len(on_duty)
                on_duty = (on_duty[shift:] + on_duty[:shift])[: len(on_duty) // 2]
            for counsellor in on_duty:
                yield service, slot, counsellor
        day += timedelta(days=1)


def places_in_window(app: Any, now: datetime) -> tuple[int, int]:
    """(places, free places) of SERVICE from tomorrow to the end of the booking window."""
    from booking import places, rota

    office = app.extensions["office"]
    today = now.astimezone(office.timezone).date()
    service = office.service(SERVICE)
    last = today + timedelta(days=office.rules.horizon_days)
    with app.app_context():
        found = places.availability(office, service, today + timedelta(days=1), last, now)
    team = roster(app)
    total = sum(len(rota.eligible(office, service, slot.start, slot.end, team)) for slot, _ in found)
    return total, sum(free for _, free in found)


def give_back(app: Any, mark: int) -> int:
    """Delete the bookings of SERVICE made after booking `mark` (their claims, emails and audit
    entries go with them: ON DELETE CASCADE), so that the next run books into as many free
    places as the first; VACUUM so dead rows do not pile up from run to run."""
    from booking.extensions import db
    from booking.models import Booking

    with app.app_context():
        gone = db.session.execute(
            sa.delete(Booking).where(Booking.id > mark, Booking.service_id == SERVICE)
        ).rowcount
        db.session.commit()
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM bookings, counsellor_claims, outbox, audit_events")
    return gone


def last_booking_id(app: Any) -> int:
    from booking.extensions import db
    from booking.models import Booking

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(Booking.id))) or 0


def crowded_start(app: Any, starts: list[str]) -> tuple[str, int]:
    """The last of these starts with the most counsellors on duty, and how many are on duty."""
    from booking import rota

    office = app.extensions["office"]
    service = office.service(SERVICE)
    team = roster(app)
    duration = timedelta(minutes=service.duration_minutes)

    def on_duty(start: str) -> int:
        begin = datetime.fromisoformat(start)
        return len(rota.eligible(office, service, begin, begin + duration, team))

    best = max(reversed(starts), key=on_duty)
    return best, on_duty(best)


def empty_start(app: Any, start: str) -> None:
    """Delete every booking of SERVICE at this start (its claims go with it)."""
    from booking.extensions import db
    from booking.models import Booking

    with app.app_context():
        db.session.execute(
            sa.delete(Booking).where(
                Booking.service_id == SERVICE, Booking.start_at == datetime.fromisoformat(start)
            )
        )
        db.session.commit()


def booked_at(app: Any, start: str) -> list[int | None]:
    """The counsellors of the confirmed bookings of SERVICE at this start."""
    from booking.extensions import db
    from booking.models import Booking

    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(Booking.counsellor_id).where(
                    Booking.service_id == SERVICE,
                    Booking.start_at == datetime.fromisoformat(start),
                    Booking.status == "confirmed",
                )
            )
        )


# (label, service, language) of the in-process cost of the free places
COST_CASES = (("beratung", "beratung", None), (SERVICE, SERVICE, None), (f"{SERVICE}, ar", SERVICE, "ar"))


def availability_costs(app: Any, now: datetime, calls: int = 10) -> dict[str, float]:
    """Milliseconds per call of booking.places.availability for 8 weeks, in process (no HTTP; the
    app's micro-cache is off, so each call queries): on the empty and on the filled database it
    should cost the same, as its queries are bounded by the days asked for."""
    from booking import places

    office = app.extensions["office"]
    assert not app.config.get("AVAILABILITY_CACHE_SECONDS"), "the micro-cache would hide the queries"
    today = now.astimezone(office.timezone).date()
    first, last = today, today + timedelta(days=55)
    costs = {}
    with app.app_context():
        for label, service_id, language in COST_CASES:
            service = office.service(service_id)

            def call(service: Any = service, language: str | None = language) -> None:
                places.availability(office, service, first, last, now, language=language)

            call()  # slot generation cached, connection and statements warm
            costs[label] = min(timeit.repeat(call, number=calls, repeat=5)) / calls * 1000
    return costs
