"""Personal data is kept only as long as needed: after `retention_days` past the end of an
appointment its name, contact and note are removed. The row itself (service, times, status,
attendance) stays, so the counts for statistics do not change. A lifted no-show block (an
address) goes when it can no longer matter: too old to touch a block, or none of the no-shows
it covers has its address any more."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, or_, select, update

from booking.extensions import db, transaction
from booking.models import AuditEvent, Booking, NoShowLift
from booking.no_show_rule import relevant_since
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
        db.session.execute(delete(NoShowLift).where(_lift_no_longer_matters(office, now)))
    return changed


def _lift_no_longer_matters(office: Office, now: datetime) -> ColumnElement[bool]:
    """A lift older than any no-show that can take part in a block, or covering no no-show that
    still counts (their addresses removed above, or the attendance reset)."""
    covered = exists().where(
        Booking.email == NoShowLift.email,
        Booking.attended.is_(False),
        Booking.start_at <= NoShowLift.lifted_at,
    )
    return or_(NoShowLift.lifted_at < relevant_since(now, office.rules.no_show_block_days), ~covered)
