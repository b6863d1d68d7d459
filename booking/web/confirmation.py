"""What the manage page adds once a time is booked: whether the email is out yet, links for the
web calendars, and a printable confirmation with a QR code of the manage link (for residents,
and for staff who book for a caller without email)."""

from __future__ import annotations

import segno
from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from booking import clock, current_office, staff_calendar
from booking.extensions import db
from booking.models import Booking, Outbox
from booking.notify import calendar_links, messages
from booking.notify.ics import service_name
from booking.web.public import _booking_or_404, bp
from booking.web.staff_base import bp as staff_bp
from booking.web.staff_base import own_or_403, requires


def email_sent(booking: Booking, kind: str = "confirm") -> bool:
    """Whether the booking's newest email of that kind (the confirmation, or the request to
    confirm a pending booking) has left the outbox: a page must not say "we have sent" while a
    worker still has it."""
    sent = db.session.scalar(
        select(Outbox.sent_at)
        .where(Outbox.booking_id == booking.id, Outbox.kind == kind)
        .order_by(Outbox.id.desc())
        .limit(1)
    )
    return sent is not None


def calendar_entry(booking: Booking) -> calendar_links.Entry:
    """The appointment as the web calendars get it, in the page's language."""
    office = current_office()
    details = [
        _("Booking reference: %(reference)s", reference=booking.reference),
        _("To cancel or change your appointment: %(url)s", url=messages.manage_url(booking)),
    ]
    if office.phone:
        details.append(_("Phone: %(phone)s", phone=office.phone))
    return calendar_links.Entry(
        title=_("Appointment: %(service)s", service=service_name(booking, office)),
        start=booking.start_at,
        end=booking.end_at,
        location=office.location,
        details="\n".join(details),
    )


def web_calendars(booking: Booking) -> list[tuple[str, str]]:
    entry = calendar_entry(booking)
    return [("Google Calendar", calendar_links.google(entry)), ("Outlook.com", calendar_links.outlook(entry))]


def qr_code(url: str) -> Markup:
    """The link as a QR code in inline SVG (no image request, sharp in print)."""
    code = segno.make(url, error="m")
    svg = code.svg_inline(scale=4, title=_("QR code of the link to your appointment"), svgclass="qr-code")
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704  segno writes only the path of the code and our escaped title


def _printable(booking: Booking, actions: Markup | None = None) -> str:
    """The printable page; `actions`: the staff's buttons in place of the resident's."""
    url = messages.manage_url(booking)
    return render_template(
        "public/print.html",
        booking=booking,
        service=current_office().service(booking.service_id),
        manage_url=url,
        qr=qr_code(url),
        past=booking.start_at <= clock.now(),
        actions=actions,
    )


@bp.get("/b/<token>/print")
def printable(token: str) -> str:
    """A page to print: the appointment, what to bring, and the link as a QR code."""
    return _printable(_booking_or_404(token))


@staff_bp.get("/bookings/<int:booking_id>/print")
@requires("appointments")
def staff_printable(booking_id: int) -> str:
    """The same confirmation for a caller without email, printed at the desk in the language
    the booking was made in; its buttons are the receptionist's, in the staff member's language
    (rendered before the page switches to the booking's)."""
    booking = own_or_403(staff_calendar.get_by_id(booking_id) or _not_found())
    actions = Markup(render_template("staff/_print_actions.html", booking=booking))  # noqa: S704  a rendered template
    with force_locale(booking.language):
        return _printable(booking, actions)


def _not_found() -> Booking:
    from flask import abort

    abort(404)
