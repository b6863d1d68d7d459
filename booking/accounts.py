"""Staff accounts: create, sign in, disable. Passwords are stored as scrypt hashes only."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from booking.extensions import db
from booking.models import Staff

PASSWORD_MIN = 10


@cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so a wrong address costs as long as a wrong
    password and the answer time does not reveal which addresses have accounts."""
    return generate_password_hash("not a real password, only for timing", method="scrypt")


class AccountError(ValueError):
    """The account cannot be created or changed; the message says why (English, for the CLI)."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(email: str) -> Staff | None:
    return db.session.scalar(select(Staff).where(func.lower(Staff.email) == normalise_email(email)))


def create_staff(email: str, name: str, password: str, now: datetime) -> Staff:
    """A new active account; `AccountError` for a bad address, short password or taken address."""
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"not a valid email address: {email!r}") from exc
    if not name.strip():
        raise AccountError("the name must not be empty")
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"the password must have at least {PASSWORD_MIN} characters")
    if get_by_email(address) is not None:
        raise AccountError(f"an account for {address} exists already")
    staff = Staff(
        email=address,
        name=name.strip()[:100],
        password_hash=generate_password_hash(password, method="scrypt"),
        active=True,
        created_at=now,
    )
    db.session.add(staff)
    db.session.commit()
    return staff


def authenticate(email: str, password: str) -> Staff | None:
    """The active account with this email and password, else None (same work either way)."""
    staff = get_by_email(email) if email else None
    if staff is None:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not check_password_hash(staff.password_hash, password or ""):
        return None
    return staff if staff.active else None


def set_active(email: str, active: bool) -> Staff:
    """Disable (or enable again) an account; a disabled account's sessions end at the next request."""
    staff = get_by_email(email)
    if staff is None:
        raise AccountError(f"no account for {email}")
    staff.active = active
    db.session.commit()
    return staff


def disable_staff(email: str) -> Staff:
    return set_active(email, False)


def enable_staff(email: str) -> Staff:
    return set_active(email, True)


def load_user(user_id: str) -> Staff | None:
    """Flask-Login's user loader: the session's account while it exists and is active,
    so disabling an account also ends the sessions it has open."""
    try:
        staff = db.session.get(Staff, int(user_id))
    except (TypeError, ValueError):
        return None
    return staff if staff is not None and staff.active else None
