"""Every setting of the service, read from the environment (names in README.md).

Nothing else in the project reads the environment. Defaults are for a laptop:
SQLite and an embedded broker under `instance/`, emails written as files.
"""

from __future__ import annotations

import os


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(url: str | None) -> str | None:
    """Let a plain `postgresql://` URL use the psycopg 3 driver the project installs."""
    if url and url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Config:
    """Settings from the environment; `None` means "derive a default from instance/"."""

    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL")) or None
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or None
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "file")
    SMTP_HOST = os.environ.get("SMTP_HOST", "localhost")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME") or None
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD") or None
    SMTP_STARTTLS = _flag("SMTP_STARTTLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM") or None
    OFFICE_CONFIG = os.environ.get("OFFICE_CONFIG") or None
    REMINDER_SCAN_SECONDS = int(os.environ.get("REMINDER_SCAN_SECONDS", "60"))
    # Where instance/ lives (database, broker folders, outbox); Flask's default when unset.
    INSTANCE_PATH = os.path.abspath(os.environ["INSTANCE_PATH"]) if os.environ.get("INSTANCE_PATH") else None
    # Base of the links in emails, which workers build without a request (e.g. https://termine.example).
    PUBLIC_URL = os.environ.get("PUBLIC_URL") or None
    # How many reverse proxies (e.g. the TLS front) stand before the app and set X-Forwarded-*.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    # Email delivery: beat relays unsent outbox rows this often; a failed send is retried after
    # MAIL_RETRY_SECONDS, doubling up to MAIL_RETRY_MAX_SECONDS, and given up MAIL_GIVE_UP_HOURS
    # after the email was queued; a worker holds a row MAIL_LEASE_SECONDS while it sends.
    OUTBOX_RELAY_SECONDS = float(os.environ.get("OUTBOX_RELAY_SECONDS", "10"))
    MAIL_RETRY_SECONDS = float(os.environ.get("MAIL_RETRY_SECONDS", "60"))
    MAIL_RETRY_MAX_SECONDS = float(os.environ.get("MAIL_RETRY_MAX_SECONDS", "3600"))
    MAIL_GIVE_UP_HOURS = float(os.environ.get("MAIL_GIVE_UP_HOURS", "48"))
    MAIL_LEASE_SECONDS = float(os.environ.get("MAIL_LEASE_SECONDS", "120"))
    SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", "30"))
    RATELIMIT_ENABLED = _flag("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # The `maxnumber` of new proof-of-work challenges (None: booking.proof_of_work.MAX_NUMBER). Only
    # for the benchmark, which pre-solves thousands: a lower one makes the protection weaker.
    PROOF_OF_WORK_MAX_NUMBER = (
        int(os.environ["PROOF_OF_WORK_MAX_NUMBER"]) if os.environ.get("PROOF_OF_WORK_MAX_NUMBER") else None
    )
    # Behind HTTPS (production) the session cookie is sent over TLS only.
    SESSION_COOKIE_SECURE = _flag("SESSION_COOKIE_SECURE", False)

    # Fixed choices, not settings.
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    MAX_CONTENT_LENGTH = 64 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    LANGUAGES = ("de", "en", "tr", "ar", "uk", "ru", "pl", "fa")
    RATELIMIT_HEADERS_ENABLED = True
    # Bookings made per IP address and per email address (refused requests do not count), and
    # every booking request per IP address, refused ones included (see booking/web/limits.py).
    BOOKING_RATE_LIMIT = "20 per hour; 5 per minute"
    BOOKING_EMAIL_RATE_LIMIT = "10 per day; 3 per minute"
    BOOKING_ATTEMPT_RATE_LIMIT = "60 per 10 minutes; 200 per day"
    SLOTS_RATE_LIMIT = "300 per minute"  # slot look-ups per IP address
    # "Lost your link?": every request per IP address, and the emails sent per booking (only
    # sends count: see booking/web/public_find.py).
    FIND_RATE_LIMIT = "5 per minute; 20 per hour"
    FIND_SEND_RATE_LIMIT = "3 per hour; 5 per day"
    # How long a web process may reuse the taken places it read (see bookings.availability).
    AVAILABILITY_CACHE_SECONDS = 1.0
