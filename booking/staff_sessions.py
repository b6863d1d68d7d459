"""Staff sign-ins kept on the server, and password-reset links.

A session cookie holds a random key; the table holds only its SHA-256. Ending a session deletes
its row, so a copy of the cookie stops working at once (sign-out, disabling the account, a new
password). A reset link carries the id of a `password_resets` row signed with the app's secret:
it works once, until the row's `expires_at`, and nothing secret is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select, update

from booking import connections, journal
from booking.extensions import db, sql, transaction
from booking.models import Outbox, PasswordReset, Staff, StaffSession

RESET_HOURS = 24
_SALT = "termine-password-reset"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(staff: Staff, now: datetime) -> str:
    """A new session of the account; its key goes into the cookie (Flask-Login's user id)."""
    key = secrets.token_urlsafe(32)
    with transaction():
        db.session.add(StaffSession(key_hash=_hash(key), staff_id=staff.id, created_at=now))
    staff.session_key = key
    return key


def load(key: str | None) -> Staff | None:
    """The active account of a session key still on the server (Flask-Login's user loader);
    nobody while the database is away (the 503 page must not ask it again)."""
    if not key or len(key) > 100 or connections.unavailable():
        return None
    staff = db.session.scalar(
        select(Staff)
        .join(StaffSession, StaffSession.staff_id == Staff.id)
        .where(StaffSession.key_hash == _hash(key), Staff.active.is_(True))
    )
    if staff is not None:
        staff.session_key = key
    return staff


def end(key: str | None) -> None:
    """End one session (sign-out)."""
    if key:
        with transaction():
            sql(delete(StaffSession).where(StaffSession.key_hash == _hash(key)))


def end_all(staff_id: int, *, keep: str | None = None) -> None:
    """End every session of the account (but `keep`), inside the caller's transaction."""
    statement = delete(StaffSession).where(StaffSession.staff_id == staff_id)
    if keep:
        statement = statement.where(StaffSession.key_hash != _hash(keep))
    sql(statement)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def reset_token(reset: PasswordReset) -> str:
    """The secret of a reset link (derived again by the worker that writes the email)."""
    return _serializer().dumps(reset.id)


def send_reset(staff: Staff, now: datetime, by: Staff | None = None) -> PasswordReset:
    """A reset link for the account, emailed through the outbox; earlier links stop working."""
    with transaction():
        sql(
            update(PasswordReset)
            .where(PasswordReset.staff_id == staff.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        reset = PasswordReset(
            staff_id=staff.id, created_at=now, expires_at=now + timedelta(hours=RESET_HOURS)
        )
        db.session.add(reset)
        db.session.flush()
        queued = journal.queue_email(Outbox.reset_row(reset.id, now))
        journal.audit(None, by, now, "password_reset_sent", staff.email)
    journal.after_commit(queued)
    return reset


def reset_for(token: str, now: datetime) -> PasswordReset | None:
    """The unused, unexpired reset a link's token stands for, else None."""
    try:
        reset_id = _serializer().loads(token)
    except BadSignature:
        return None
    reset = db.session.get(PasswordReset, reset_id) if isinstance(reset_id, int) else None
    if reset is None or reset.used_at is not None or reset.expires_at <= now or not reset.staff.active:
        return None
    return reset


def use_reset(reset: PasswordReset, now: datetime) -> bool:
    """Mark the reset used, once (True for the one request that wins, inside its transaction)."""
    return bool(
        sql(
            update(PasswordReset)
            .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
    )
