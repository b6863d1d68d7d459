"""Rate limits of the resident pages and the API (Flask-Limiter): bookings per address and
per email, slot look-ups per address. Values are in config.py; storage is RATELIMIT_STORAGE_URI."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address

from booking.extensions import limiter


def email_key() -> str:
    """The email a booking is for (JSON or form), so one address cannot fill the calendar
    from many IP addresses; requests without one count by IP address."""
    body = request.get_json(silent=True) if request.is_json else request.form
    email = body.get("email") if hasattr(body, "get") else None
    if isinstance(email, str) and email.strip():
        return "email:" + email.strip().lower()[:254]
    return get_remote_address()


booking_per_address = limiter.shared_limit(
    lambda: current_app.config["BOOKING_RATE_LIMIT"], scope="booking-address", methods=["POST"]
)
booking_per_email = limiter.shared_limit(
    lambda: current_app.config["BOOKING_EMAIL_RATE_LIMIT"],
    scope="booking-email",
    key_func=email_key,
    methods=["POST"],
)
slot_lookups = limiter.shared_limit(lambda: current_app.config["SLOTS_RATE_LIMIT"], scope="slots")
