"""Rate limits of the resident pages and the API (Flask-Limiter). Values are in config.py;
storage is RATELIMIT_STORAGE_URI.

A limit must not become a weapon against a resident: anyone can send a request carrying someone
else's email address. So the per-email limit counts only bookings made (a refused request costs
nothing), with every spelling of an address counted as one; per IP address, bookings made have a
limit of their own and every request, refused ones included, a generous one (a family booking for
several people from one phone is not stopped by its own typos)."""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask_limiter.util import get_remote_address
from limits import parse_many

from booking.addresses import normal_email
from booking.extensions import limiter
from booking.models import Booking

CONFIRMED = "confirmed"


def made(booking: Booking) -> None:
    """The view made a booking (confirmed, or pending until its email link confirms it):
    the limits that count bookings made deduct it when the answer goes out. The same request
    again (a double click) made nothing."""
    if not booking.repeated:
        g.booking_made = booking.status


def _made_any(_response: Response) -> bool:
    return g.get("booking_made") is not None


def _made_confirmed(_response: Response) -> bool:
    """Only a confirmed booking counts for its address: a pending one may have been made by
    someone else with this address, and its owner confirms it from their mailbox (then it counts)."""
    return g.get("booking_made") == CONFIRMED


def email_key() -> str:
    """The email a booking is for (JSON or form) in its normal form, so one address cannot fill
    the calendar from many IP addresses; requests without a valid one count by IP address."""
    body = request.get_json(silent=True) if request.is_json else request.form
    email = normal_email(body.get("email") if hasattr(body, "get") else None)
    return f"email:{email}" if email else get_remote_address()


booking_attempts_per_address = limiter.shared_limit(
    lambda: current_app.config["BOOKING_ATTEMPT_RATE_LIMIT"], scope="booking-attempts", methods=["POST"]
)
booking_per_address = limiter.shared_limit(
    lambda: current_app.config["BOOKING_RATE_LIMIT"],
    scope="booking-address",
    methods=["POST"],
    deduct_when=_made_any,
)
booking_per_email = limiter.shared_limit(
    lambda: current_app.config["BOOKING_EMAIL_RATE_LIMIT"],
    scope="booking-email",
    key_func=email_key,
    methods=["POST"],
    deduct_when=_made_confirmed,
)
slot_lookups = limiter.shared_limit(lambda: current_app.config["SLOTS_RATE_LIMIT"], scope="slots")


def bookings(view):  # type: ignore[no-untyped-def]
    """Every limit of a view that books: attempts and bookings made per IP, bookings per email."""
    return booking_attempts_per_address(booking_per_address(booking_per_email(view)))


# "Lost your link?": anyone can send a booking's reference and address, so a limit there must
# neither tell whether the booking exists nor keep its owner from their link. Per IP address every
# request counts (a 429 says nothing about bookings); per booking only emails sent count, checked
# inside the view, and over that limit the answer is the same page, just without another email:
# whoever asked, the emails already sent went to the booking's own address.
find_requests = limiter.shared_limit(
    lambda: current_app.config["FIND_RATE_LIMIT"], scope="find", methods=["POST"]
)


def may_send_link(booking: Booking) -> bool:
    """Whether the link of `booking` may be emailed again now; counts the email when it may."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    strategy, key = limiter.limiter, f"booking:{booking.id}"
    items = parse_many(current_app.config["FIND_SEND_RATE_LIMIT"])
    if not all(strategy.test(item, "find-send", key) for item in items):
        return False
    return all([strategy.hit(item, "find-send", key) for item in items])
