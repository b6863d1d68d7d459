"""What a change leaves behind in its own transaction: the audit entry (who did what, when) and
the email it causes (an outbox row), whose id goes to the workers once the transaction commits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, insert, select, text

from booking.extensions import db, on_postgresql, sql
from booking.models import AuditEvent, Booking, Outbox, Staff, UTCDateTime
from booking.office import Office

# Listeners called with the ids of outbox rows after their transaction commits
# (the email package registers the one that hands them to Celery).
after_commit_hooks: list[Callable[[list[int]], None]] = []

INSERT_AUDIT = insert(AuditEvent.__table__)
INSERT_OUTBOX = insert(Outbox.__table__).returning(Outbox.__table__.c.id)
# PostgreSQL writes a change's audit entry and its email in one statement (SQLite takes two).
AUDIT_AND_EMAIL = text("""
WITH audit AS (
  INSERT INTO audit_events (booking_id, staff_id, at, action, details)
  VALUES (:booking_id, :staff_id, :at, :action, :details)
)
INSERT INTO outbox (dedupe_key, kind, booking_id, sequence, created_at, next_attempt_at, attempts, moved_from)
VALUES (:dedupe_key, :kind, :booking_id, :sequence, :created_at, :next_attempt_at, :attempts, :moved_from)
RETURNING id
""").bindparams(
    *(bindparam(name, type_=UTCDateTime()) for name in ("at", "created_at", "next_attempt_at", "moved_from"))
)


# PostgreSQL: the audit entry and the email of a new booking, written in the booking's own
# statement (`claims.book`), whose CTE `b` holds the new row's id; the email's key is that of
# `Outbox.row("confirm", …)`.
BOOKED_CTES = """audit AS (
  INSERT INTO audit_events (booking_id, staff_id, at, action, details)
  SELECT b.id, CAST(:j_staff AS INTEGER), :j_at, 'booked', :j_details FROM b
),
mail AS (
  INSERT INTO outbox (dedupe_key, kind, booking_id, sequence, created_at, next_attempt_at, attempts)
  SELECT CAST(:j_kind AS VARCHAR(20)) || ':' || b.id, CAST(:j_kind AS VARCHAR(20)), b.id, 0, :j_at, :j_at, 0
  FROM b WHERE CAST(:j_email AS BOOLEAN)
  RETURNING id
)"""
BOOKED_TIMES = ("j_at",)


def booked_values(
    staff: Staff | None, now: datetime, details: str, email: bool, kind: str = "confirm"
) -> dict[str, object]:
    """The parameters of BOOKED_CTES: who booked, when, what, and whether an email goes out
    (`kind`: the confirmation, or the request to confirm a pending booking)."""
    return {
        "j_staff": staff.id if staff is not None else None,
        "j_at": now,
        "j_details": details,
        "j_email": email,
        "j_kind": kind,
    }


def audit(booking_id: int | None, staff: Staff | None, now: datetime, action: str, details: str = "") -> None:
    """Record who (None = the resident) did what, inside the caller's transaction."""
    sql(INSERT_AUDIT, _audit_row(booking_id, staff, now, action, details))


def _audit_row(
    booking_id: int | None, staff: Staff | None, now: datetime, action: str, details: str
) -> dict[str, object]:
    return {
        "booking_id": booking_id,
        "staff_id": staff.id if staff is not None else None,
        "at": now,
        "action": action,
        "details": details or None,
    }


def record_change(
    booking: Booking,
    staff: Staff | None,
    now: datetime,
    action: str,
    details: str,
    email: str,
    moved_from: datetime | None = None,
) -> list[int]:
    """Write the audit entry and the email (none without an address) of a change into its
    transaction; returns the email's id for `after_commit`. `moved_from`: a move's old start."""
    if not booking.email:
        audit(booking.id, staff, now, action, details)
        return []
    email_row = Outbox.row(email, booking.id, booking.sequence, now, moved_from)
    if on_postgresql():
        return [
            sql(
                AUDIT_AND_EMAIL, {**_audit_row(booking.id, staff, now, action, details), **email_row}
            ).scalar_one()
        ]
    audit(booking.id, staff, now, action, details)
    return [sql(INSERT_OUTBOX, email_row).scalar_one()]


def queue_email(row: dict[str, object]) -> list[int]:
    """An email that belongs to no booking (a password reset), inside the caller's transaction."""
    return [sql(INSERT_OUTBOX, row).scalar_one()]


def cancelled_by_staff(booking_id: int) -> bool:
    """Whether the office cancelled the booking (its last cancellation was a staff member's), so
    the email says so instead of reading as if the resident had cancelled."""
    staff_id = db.session.scalar(
        select(AuditEvent.staff_id)
        .where(AuditEvent.booking_id == booking_id, AuditEvent.action == "cancelled")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return staff_id is not None


def after_commit(outbox_ids: list[int]) -> None:
    """Hand committed emails to the workers (best effort: beat's relay sends whatever is left)."""
    if outbox_ids:
        for hook in after_commit_hooks:
            hook(outbox_ids)


def moment(at: datetime, office: Office | None = None) -> str:
    """A moment for the audit trail, in office time when the office is known."""
    local = at.astimezone(office.timezone) if office is not None else at
    return local.isoformat(timespec="minutes")
