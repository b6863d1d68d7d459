""" "Lost your link?": finding a booking by its reference and email address, and sending its
manage link again (an email of its own kind, `link`, through the outbox like every other)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import select

from booking import journal
from booking.addresses import normal_email
from booking.bookings import REFERENCE_ALPHABET
from booking.extensions import db, sql, transaction
from booking.models import Booking, Outbox

KIND = "link"
REFERENCE = re.compile(f"^[{REFERENCE_ALPHABET}]{{4}}-?[{REFERENCE_ALPHABET}]{{4}}$")


def normal_reference(raw: str | None) -> str | None:
    """ "abcd 2345", "ABCD-2345" → "ABCD-2345"; None when it cannot be a reference."""
    compact = re.sub(r"[\s\-‐‑–]", "", raw or "").upper()
    if not REFERENCE.fullmatch(compact):
        return None
    return f"{compact[:4]}-{compact[4:]}"


def find(reference: str | None, email: str | None, now: datetime) -> Booking | None:
    """The confirmed booking with this reference and address whose appointment is not over:
    the ones a link is still good for. None for anything else (unknown, cancelled, a typo)."""
    reference, address = normal_reference(reference), normal_email(email)
    if reference is None or address is None:
        return None
    booking = db.session.scalar(select(Booking).where(Booking.reference == reference))
    if booking is None or booking.email != address or booking.status != "confirmed" or booking.end_at <= now:
        return None
    return booking


def send_link(booking: Booking, now: datetime) -> None:
    """Queue the email with the manage link, and note it in the booking's history. Each request
    is an email of its own (the limits decide how many)."""
    row = Outbox.row(KIND, booking.id, booking.sequence, now)
    row["dedupe_key"] = f"{KIND}:{booking.id}:{secrets.token_hex(8)}"
    with transaction():
        journal.audit(booking.id, None, now, "link_sent")
        queued = [sql(journal.INSERT_OUTBOX, row).scalar_one()]
    journal.after_commit(queued)
