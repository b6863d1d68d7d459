"""The staff pages that carry the calendar elsewhere: the CSV export, the calendar feed and its
address, and the emails that could not be delivered."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import clock, current_office, feeds, staff_calendar
from booking.models import Booking
from booking.notify import outbox
from booking.notify.ics import feed_calendar
from booking.schedule import local_today
from booking.web.staff_base import bp, date_arg, feed_bp, requires
from booking.web.staff_forms import ActionForm
from booking.web.templating import language_name

EXPORT_MAX_DAYS = 366
FEED_DAYS_BACK = 30


def _csv_safe(value: str | None) -> str:
    """Text a spreadsheet would run as a formula is kept as text."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/emails")
@requires("emails")
def undelivered_emails() -> str:
    """Every email that is failing or was given up, so staff can call those residents."""
    return render_template("staff/emails.html", emails=outbox.failed_emails(), now=clock.now())


@bp.get("/export.csv")
@requires("export")
def export() -> Response:
    office = current_office()
    today = local_today(office, clock.now())
    first = date_arg("from", today)
    last = date_arg("to", first)
    if last < first or (last - first).days >= EXPORT_MAX_DAYS:
        abort(400)
    out = io.StringIO()
    out.write("\ufeff")  # the byte order mark makes Excel read UTF-8
    writer = csv.writer(out, delimiter=";")
    writer.writerow(
        [
            _("Date"),
            _("Start"),
            _("End"),
            _("Service"),
            _("Booking reference"),
            _("Name"),
            _("Phone"),
            _("Email address"),
            _("Note"),
            _("Status"),
            _("Attendance"),
            _("Reason for cancelling"),
            _("Counsellor"),
            _("Language of the counselling"),
            _("Interpreter needed for"),
        ]
    )
    language = str(get_locale())
    found = staff_calendar.bookings_between(office, first, last)
    names = staff_calendar.staff_names({b.counsellor_id for b in found if b.counsellor_id is not None})
    for booking in found:
        service = office.service(booking.service_id)
        start, end = booking.start_at.astimezone(office.timezone), booking.end_at.astimezone(office.timezone)
        writer.writerow(
            [
                start.date().isoformat(),
                start.strftime("%H:%M"),
                end.strftime("%H:%M"),
                service.name(language) if service else booking.service_id,
                booking.reference,
                _csv_safe(booking.name),
                _csv_safe(booking.phone),
                _csv_safe(booking.email),
                _csv_safe(booking.note),
                _("Confirmed") if booking.active else _("Cancelled"),
                {True: _("Attended"), False: _("No-show"), None: ""}[booking.attended],
                _csv_safe(booking.cancel_reason),
                _csv_safe(names.get(booking.counsellor_id or 0)),
                language_name(booking.counselling_language),
                language_name(booking.interpreter),
            ]
        )
    disposition = f'attachment; filename="termine-{first}-{last}.csv"'
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": disposition})


@bp.get("/feed")
@requires("feed")
def feed_settings() -> str:
    token = feeds.current_token()
    return render_template(
        "staff/feed.html",
        feed_url=url_for("feed.calendar", token=token, _external=True) if token else None,
        action_form=ActionForm(),
    )


@bp.post("/feed/rotate")
@requires("feed")
def rotate_feed() -> Response:
    feeds.rotate(clock.now())
    flash(_("The calendar feed has a new address. The old one no longer works."), "success")
    return redirect(url_for("staff.feed_settings"))


def _detail_url(booking: Booking) -> str:
    """Events in the staff feed link to the staff page of the booking, not the resident's."""
    return url_for("staff.booking_detail", booking_id=booking.id, _external=True)


@feed_bp.get("/feed/<token>.ics")
def calendar(token: str) -> Response:
    """The bookings as an iCalendar feed. No session: the secret token in the URL is the key."""
    if not feeds.is_valid(token):
        abort(404)
    office, now = current_office(), clock.now()
    today = local_today(office, now)
    found = staff_calendar.bookings_between(
        office,
        today - timedelta(days=FEED_DAYS_BACK),
        today + timedelta(days=office.rules.horizon_days + 1),
        active_only=True,
    )
    # The feed has no session to take a language from: the office's own (the first of LANGUAGES),
    # as its staff read it, whatever language each resident booked in.
    language = current_app.config["LANGUAGES"][0]
    data = feed_calendar(found, office, manage_url_for=_detail_url, language=language, stamp=now)
    return Response(
        data, mimetype="text/calendar", headers={"Content-Disposition": 'inline; filename="termine.ics"'}
    )
