"""The staff pages of the no-show rule: the addresses blocked from booking online, lifting a
block, and the mark of a blocked address in the day view and on an appointment's page. Thin
views over `booking.no_shows`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import clock, current_office, no_shows
from booking.models import Booking
from booking.no_show_rule import Block
from booking.web.staff_base import bp, me, requires
from booking.web.staff_forms import ActionForm


@bp.get("/no-shows")
@requires("no_shows")
def no_show_blocks() -> str:
    office = current_office()
    return render_template(
        "staff/no_shows.html",
        blocked=no_shows.blocked_addresses(office, clock.now()),
        rules=office.rules,
        action_form=ActionForm(),
    )


@bp.post("/no-shows/lift")
@requires("no_shows")
def lift_no_show_block() -> Response:
    email = request.form.get("email", "").strip().lower()
    if not email or len(email) > 254:
        abort(400)
    lifted = no_shows.lift(current_office(), email, me(), clock.now())
    if lifted is not None:
        flash(_("%(email)s can book online again.", email=email), "success")
    else:
        flash(_("%(email)s is not blocked.", email=email), "error")
    return redirect(url_for("staff.no_show_blocks"))


def blocks_among(bookings: Iterable[Booking]) -> dict[str, Block]:
    """The no-show blocks of the addresses of these bookings (one query; none when the rule is off)."""
    emails = {booking.email for booking in bookings if booking.email}
    return no_shows.blocks_of(current_office(), emails, clock.now())


def blocked_label(block: Block) -> str:
    """The mark of a blocked address, for staff."""
    return _("No-shows: online booking again from %(day)s", day=format_date(block.again_on, format="long"))


@bp.context_processor
def no_show_helpers() -> dict[str, Any]:
    return {"no_show_blocks": blocks_among, "blocked_label": blocked_label}
