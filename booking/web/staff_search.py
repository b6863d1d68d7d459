"""The staff search (`/staff/search?q=…`): a caller gives a name, a reference, an email address
or a phone number, and the desk finds the booking. It is a page of the calendar, so every role
may use it; a counsellor sees what the calendar shows them (everyone's appointments) and opens
only their own appointment's page, the others' lead to their day in the calendar."""

from __future__ import annotations

import re

from flask import render_template, request
from flask_babel import gettext as _

from booking import booking_search, clock, current_office, staff_calendar
from booking.web.staff_base import bp, me, requires

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@bp.get("/search")
@requires("calendar")
def search() -> tuple[str, int]:
    # Control characters (NUL from a pasted line) are in no name: PostgreSQL refuses NUL in text.
    query = " ".join(CONTROL.sub(" ", request.args.get("q", "")).split())
    error, found = None, None
    if len(query) > booking_search.MAX_QUERY:
        error = _("Please search with at most %(num)d characters.", num=booking_search.MAX_QUERY)
    elif query:
        found = booking_search.search(query, clock.now(), limit=booking_search.LIMIT)
    names = staff_calendar.staff_names(
        {b.counsellor_id for b in found.bookings if b.counsellor_id is not None} if found else set()
    )
    staff, timezone = me(), current_office().timezone
    return render_template(
        "staff/search.html",
        query=query,
        error=error,
        found=found,
        names=names,
        limit=booking_search.LIMIT,
        now=clock.now(),
        day_of=lambda booking: booking.start_at.astimezone(timezone).date().isoformat(),
        opens=lambda booking: staff.role != "counsellor" or booking.counsellor_id == staff.id,
    ), 400 if error else 200
