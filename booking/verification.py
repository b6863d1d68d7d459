"""Email verification of online bookings: a pending booking holds its place until its email
link confirms it, and a hold that runs out frees the place by itself.

The place is claimed at once with the claim's `hold_until` set; availability ignores holds that
ran out and the next claim of that time deletes them (`claims.sweep`), so nothing has to wake up
on time. Only `confirm_token`, sent in the request to confirm, confirms the booking; the answer
to the booking request carries no key that could.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from booking import claims, closures, journal, rota
from booking.extensions import db, sql, transaction
from booking.models import Booking, CounsellorClaim, SlotClaim, WaitlistEntry
from booking.office import Office

# A form sent without the proof of work is verified even when the office file asks for no
# verification: then its place is held this long.
FALLBACK_HOLD_MINUTES = 30


class HoldExpired(Exception):
    """The pending booking was not confirmed in time: its place is free again, nothing booked."""


class TimeClosed(HoldExpired):
    """Staff closed the time after it was booked and before the link confirmed it: the place is
    given back and nothing is booked (a closure's "cancel all" sees only confirmed bookings)."""


def hold_minutes(office: Office, verify: bool | None) -> int:
    """How long an online booking holds its place before confirmation (0: confirmed at once)."""
    minutes = office.rules.verify_email_minutes
    if verify is None:
        return minutes
    return (minutes or FALLBACK_HOLD_MINUTES) if verify else 0


def by_confirm_token(token: str) -> Booking | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Booking).where(Booking.confirm_token == token))


def confirm(booking: Booking, now: datetime) -> bool:
    """Confirm a pending booking whose hold runs on, and send its confirmation (with the
    invitation). True when this call confirmed it, False when it was confirmed before (a second
    click is harmless); `HoldExpired` when the hold ran out or its place went to someone else,
    `TimeClosed` when staff closed the time meanwhile."""
    if booking.status == "confirmed":
        return False
    if not booking.holding(now):
        raise HoldExpired()
    if closures.closed_between(booking.start_at, booking.end_at):
        withdraw(booking, now)
        raise TimeClosed()
    try:
        queued = _confirm(booking, now)
    except HoldExpired:
        db.session.refresh(booking)
        if booking.status == "confirmed":  # a second click at the same moment confirmed it
            return False
        raise
    journal.after_commit(queued)
    return True


def _confirm(booking: Booking, now: datetime) -> list[int]:
    with transaction():
        # The claims first: a claim that swept this hold in the same moment has deleted its rows,
        # and a booking that lost any of them lost its place.
        kept = 0
        for table in (SlotClaim, CounsellorClaim):
            kept += sql(
                update(table)
                .where(table.booking_id == booking.id, table.hold_until > now)
                .values(hold_until=None)
            ).rowcount
        expected = len(rota.cells(booking.start_at, booking.end_at)) if booking.counsellor_id else 1
        if kept != expected:
            raise HoldExpired()  # the transaction undoes the claims kept
        changed = sql(
            update(Booking)
            .where(Booking.id == booking.id, Booking.status == "pending", Booking.hold_until > now)
            .values(status="confirmed", hold_until=None)
        ).rowcount
        if not changed:
            raise HoldExpired()
        if booking.waitlist_entry_id is not None:  # an offer taken: its entry is done
            sql(
                update(WaitlistEntry)
                .where(WaitlistEntry.id == booking.waitlist_entry_id)
                .values(booked_at=now)
            )
        db.session.refresh(booking)
        return journal.record_change(booking, None, now, "confirmed", "", "confirm")


def withdraw(booking: Booking, now: datetime) -> bool:
    """Give back the place of a pending booking at once (its waitlist entry left the list); no
    email, as nothing was booked. False when it was no longer pending."""
    with transaction():
        changed = sql(
            update(Booking)
            .where(Booking.id == booking.id, Booking.status == "pending")
            .values(status="cancelled", cancelled_at=now, hold_until=None)
        ).rowcount
        if changed:
            claims.release_all(booking.id)
            journal.audit(booking.id, None, now, "withdrawn")
    return bool(changed)
