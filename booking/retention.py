"""Personal data is kept only as long as needed: after `retention_days` past the end of an
appointment its name, contact and note are removed. The row itself (service, times, status,
attendance) stays, so the counts for statistics do not change."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from booking.extensions import db, transaction
from booking.models import AuditEvent, Booking
from booking.office import Office

ANONYMOUS_NAME = "–"


def anonymise_expired(office: Office, now: datetime) -> int:
    """Remove the personal data of bookings that ended more than `retention_days` before `now`;
    returns how many were changed. Running it again changes nothing (idempotent)."""
    cutoff = now - timedelta(days=office.rules.retention_days)
    expired = select(Booking.id).where(Booking.end_at < cutoff, Booking.anonymised_at.is_(None))
    with transaction():
        # Free-text reasons in the audit trail may name the person too; the actions stay.
        db.session.execute(
            update(AuditEvent)
            .where(AuditEvent.booking_id.in_(expired.scalar_subquery()))
            .values(details=None)
        )
        changed = db.session.execute(
            update(Booking)
            .where(Booking.end_at < cutoff, Booking.anonymised_at.is_(None))
            .values(
                name=ANONYMOUS_NAME,
                email=None,
                phone=None,
                note=None,
                cancel_reason=None,
                anonymised_at=now,
            )
        ).rowcount
    return changed
