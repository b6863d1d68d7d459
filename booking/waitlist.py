"""The waitlist: people waiting for a place of a service between two days, offered the places
that come back (a cancellation, a hold that ran out) in the order they joined, one at a time.

Only entries whose address confirmed them (the link in the email sent on joining) get offers,
so nobody can fill the list with addresses that are not theirs and hold the places that come back.
An offer is a pending booking of the freed place for the entry (`bookings.book(offer_to=…)`):
it holds the place `waitlist_hold_minutes` and its email's link books it, as in email
verification. The booking row names its entry, unique with its start, so an entry is offered a
time once, whatever the race: the claim of the place decides between two schedulers, the unique
key between two offers of one time to one entry, and the outbox sends the offer's email once.
When the hold runs out the place is free again, and the next scan offers it to the next person.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from booking import bookings, journal, places, roster, verification
from booking.addresses import normal_email
from booking.extensions import db, transaction
from booking.languages import is_known as is_language
from booking.models import Booking, Outbox, WaitlistEntry
from booking.office import Office
from booking.refusals import InvalidBooking, SlotFull, invalid_email_message
from booking.schedule import local_today, window

LONGEST_RANGE_DAYS = 92
# Free times tried per entry and scan when others take them in the same moment.
TRIES = 3


@dataclass(frozen=True)
class WaitlistRequest:
    service_id: str
    first_day: str | date
    last_day: str | date
    name: str
    email: str
    language: str = "de"
    counselling_language: str | None = None


def _day(value: str | date) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def join(
    office: Office, request: WaitlistRequest, now: datetime, languages: tuple[str, ...]
) -> WaitlistEntry:
    """Put someone on the list (or give back the entry the address has for this service and
    days already); `InvalidBooking` with every field problem, writing nothing."""
    errors: dict[str, list[str]] = {}
    service = office.service(request.service_id) if isinstance(request.service_id, str) else None
    if service is None:
        errors["service"] = [_("Please choose a service.")]
    first, last = _day(request.first_day), _day(request.last_day)
    today, horizon = local_today(office, now), window(office, now)[1]
    if first is None:
        errors["from"] = [_("Please enter a date like 2027-03-30.")]
    if last is None:
        errors["to"] = [_("Please enter a date like 2027-03-30.")]
    if first is not None and last is not None:
        first = max(first, today)
        if last < first:
            errors["to"] = [_("The last day must not be before the first day or today.")]
        elif first > horizon:
            errors["from"] = [_("This day is too far ahead. Please choose an earlier day.")]
        elif (last - first).days >= LONGEST_RANGE_DAYS:
            errors["to"] = [
                ngettext(
                    "Please choose at most %(num)d day.",
                    "Please choose at most %(num)d days.",
                    LONGEST_RANGE_DAYS,
                )
            ]
    name = request.name.strip() if isinstance(request.name, str) else ""
    if (problem := bookings.name_problem(name)) is not None:
        errors["name"] = [problem]
    email = normal_email(request.email)
    if email is None:
        errors["email"] = [invalid_email_message(request.email)]
    wanted = request.counselling_language
    offered = roster.languages(service) if service is not None else ()
    if wanted is not None and (not is_language(wanted) or wanted not in offered):
        errors["counselling_language"] = [_("Please choose a language from the list.")]
    if errors:
        raise InvalidBooking(errors)
    assert service is not None and first is not None and last is not None and email is not None
    with transaction():
        same = db.session.scalar(
            select(WaitlistEntry).where(
                WaitlistEntry.email == email,
                WaitlistEntry.service_id == service.id,
                WaitlistEntry.first_day == first,
                WaitlistEntry.last_day == min(last, horizon),
                WaitlistEntry.left_at.is_(None),
                WaitlistEntry.booked_at.is_(None),
            )
        )
        if same is not None:  # sent twice: one place in the queue
            return same
        entry = WaitlistEntry(
            token=secrets.token_urlsafe(32),
            confirm_token=secrets.token_urlsafe(32),
            service_id=service.id,
            first_day=first,
            last_day=min(last, horizon),
            name=name,
            email=email,
            language=request.language if request.language in languages else languages[0],
            counselling_language=wanted,
            created_at=now,
        )
        db.session.add(entry)
        db.session.flush()
        queued = journal.queue_email(Outbox.waitlist_row(entry.id, now))
    journal.after_commit(queued)
    return entry


def by_confirm_token(token: str) -> WaitlistEntry | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.confirm_token == token))


def confirm(entry: WaitlistEntry, now: datetime) -> bool:
    """The address confirmed the entry (the link in its email): from now on it gets offers.
    False when it was confirmed before (a second click) or has left."""
    with transaction():
        changed = db.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.id == entry.id,
                WaitlistEntry.confirmed_at.is_(None),
                WaitlistEntry.left_at.is_(None),
            )
            .values(confirmed_at=now)
        ).rowcount
    db.session.refresh(entry)
    return bool(changed)


def by_token(token: str) -> WaitlistEntry | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.token == token))


def leave(entry: WaitlistEntry, now: datetime) -> bool:
    """Leave the list; a place offered and still held is given back at once. False when the
    entry had left (or booked) already: leaving twice is harmless."""
    if not entry.waiting:
        return False
    with transaction():
        changed = db.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry.id, WaitlistEntry.left_at.is_(None))
            .values(left_at=now)
        ).rowcount
    for offer in _running_offers(entry.id, now):
        verification.withdraw(offer, now)
    db.session.refresh(entry)
    return bool(changed)


def _running_offers(entry_id: int, now: datetime) -> list[Booking]:
    return list(
        db.session.scalars(
            select(Booking).where(
                Booking.waitlist_entry_id == entry_id,
                Booking.status == "pending",
                Booking.hold_until > now,
            )
        )
    )


def scan(office: Office, now: datetime, languages: tuple[str, ...]) -> int:
    """Offer the free places to the people waiting, first come first served, one offer each at
    a time; returns how many offers were made. Safe to run often and in several schedulers."""
    today = local_today(office, now)
    running = exists().where(
        Booking.waitlist_entry_id == WaitlistEntry.id, Booking.status == "pending", Booking.hold_until > now
    )
    waiting = list(
        db.session.scalars(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.left_at.is_(None),
                WaitlistEntry.booked_at.is_(None),
                WaitlistEntry.last_day >= today,
                WaitlistEntry.confirmed_at.is_not(None),
                ~running,
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
    )
    made = 0
    for entry in waiting:
        made += _offer(office, entry, now, languages)
    return made


def _offer(office: Office, entry: WaitlistEntry, now: datetime, languages: tuple[str, ...]) -> int:
    service = office.service(entry.service_id)
    if service is None:
        return 0
    offered = set(db.session.scalars(select(Booking.start_at).where(Booking.waitlist_entry_id == entry.id)))
    free = [
        slot
        for slot, count in places.availability(
            office, service, entry.first_day, entry.last_day, now, language=entry.counselling_language
        )
        if count > 0 and slot.start_utc not in offered
    ]
    for slot in free[:TRIES]:
        request = bookings.BookingRequest(
            service.id,
            slot.start,
            entry.name,
            entry.email,
            language=entry.language,
            counselling_language=entry.counselling_language,
        )
        try:
            booking = bookings.book(office, request, now, languages=languages, offer_to=entry.id)
        except (SlotFull, IntegrityError):  # taken in the same moment, or offered by another scan
            db.session.rollback()
            continue
        except InvalidBooking:  # the address may not book now (its limit, a block): later
            return 0
        if booking.repeated and booking.waitlist_entry_id == entry.id:  # another scan, this moment
            return 0
        if booking.waitlist_entry_id != entry.id:  # the person has this very time booked already
            with transaction():
                db.session.execute(
                    update(WaitlistEntry).where(WaitlistEntry.id == entry.id).values(booked_at=now)
                )
            return 0
        return 1
    return 0


def remove_past(office: Office, now: datetime) -> int:
    """Retention: entries whose last day has passed can get no offer; they and their personal
    data go. The offers (bookings) keep no link to them."""
    today = local_today(office, now)
    gone = select(WaitlistEntry.id).where(WaitlistEntry.last_day < today - timedelta(days=1))
    with transaction():
        db.session.execute(
            update(Booking)
            .where(Booking.waitlist_entry_id.in_(gone.scalar_subquery()))
            .values(waitlist_entry_id=None)
        )
        return db.session.execute(
            delete(WaitlistEntry).where(WaitlistEntry.id.in_(gone.scalar_subquery()))
        ).rowcount
