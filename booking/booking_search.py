"""Finding bookings for the staff desk: by name, reference, email address or phone number, as a
caller gives them. Read-only, one query. Case does not matter in any script, nor accents (a German
keyboard's "ozturk" or "oeztuerk" finds "Öztürk"); a name may be given word by word in any order,
a reference with or without its dash, a phone number with whatever spaces, slashes and dashes:
phones are compared by their digits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select

from booking import pasted
from booking.extensions import db
from booking.models import Booking
from booking.text_match import digits, folded, lowered, name_pattern

LIMIT = 50
MAX_QUERY = 100
# Fewer digits than this find half the phone book; such a query is still a name or a reference.
MIN_PHONE_DIGITS = 3
PHONE_LIKE = re.compile(r"[\d\s+()/.\-]+")
REFERENCE_LIKE = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Found:
    bookings: tuple[Booking, ...]
    more: bool  # there are more than `bookings` (the search should be narrower)


def _conditions(query: str) -> ColumnElement[bool]:
    """A booking matches when its name has every word of the query (folded: accents, ı and ß as
    a German keyboard types them, "oe" for "ö"), its email address or its reference contains it,
    or (a query of phone characters) its phone number has its digits."""
    text = " ".join(query.split()).lower()
    patterns = [pattern for pattern in map(name_pattern, text.split(" ")) if pattern]
    name = and_(
        Booking.anonymised_at.is_(None),  # their names are gone: never "found" by the placeholder
        *(folded(Booking.name).regexp_match(pattern) for pattern in patterns),
    )
    found = [name if patterns else false(), lowered(Booking.email).contains(text, autoescape=True)]
    compact = re.sub(r"[\s\-]", "", text).upper()
    if REFERENCE_LIKE.fullmatch(compact):
        found.append(func.replace(Booking.reference, "-", "").contains(compact, autoescape=True))
    number = re.sub(r"\D", "", text)
    if PHONE_LIKE.fullmatch(text) and len(number) >= MIN_PHONE_DIGITS:
        found.append(digits(Booking.phone).contains(number, autoescape=True))
    return or_(*found)


def search(query: str, now: datetime, limit: int = LIMIT) -> Found:
    """Bookings matching `query` (stripped, 1..MAX_QUERY characters): the coming ones first,
    soonest first, then the past ones, latest first; at most `limit`. Direction marks (a
    reference or phone number copied from a plain-text email) are no part of the query."""
    query = pasted.clean(query)
    if not query:
        return Found((), False)
    upcoming = Booking.start_at >= now
    rows = list(
        db.session.scalars(
            select(Booking)
            .where(_conditions(query))
            .order_by(
                case((upcoming, 0), else_=1),
                case((upcoming, Booking.start_at)).asc(),
                Booking.start_at.desc(),
                Booking.id.desc(),
            )
            .limit(limit + 1)
        )
    )
    return Found(tuple(rows[:limit]), len(rows) > limit)
