"""One normal form of a resident's email address, so that spellings of one mailbox (case, a
domain in Unicode or in punycode) are one address for the limits and the bookings alike."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254


def normal_email(raw: object) -> str | None:
    """The address in ASCII (IDN domains as punycode), lower case; None when it is no valid
    address. ASCII only: an address needing SMTPUTF8 could be booked but never reached by most
    mail servers."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 2 * MAX_LENGTH:
        return None
    try:
        valid = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return valid.ascii_email.lower() if valid.ascii_email else None


def needs_smtputf8(raw: object) -> bool:
    """Whether `raw` is a valid address only for mail servers that speak SMTPUTF8 (letters like
    ü or ß before the @), so the resident can be told exactly what to change."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 2 * MAX_LENGTH:
        return False
    try:
        valid = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return False
    return valid.ascii_email is None
