"""The email for each kind of outbox row, in the booking's language, with its iCalendar part.

Headers are set through `email.message.EmailMessage` with the SMTP policy and structured
`Address` objects, so a name cannot smuggle a line break (and with it a header or recipient) in.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from booking.models import Booking
from booking.notify import ics
from booking.office import Office
from booking.web.templating import day_label, time_label

KINDS = ("confirm", "cancel", "move", "reminder")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link, also from a worker without a request: PUBLIC_URL when set, else the
    request's host, else SERVER_NAME, else the development server."""
    config = current_app.config
    base = config.get("PUBLIC_URL")
    if not base and (has_request_context() or config.get("SERVER_NAME")):
        return url_for(endpoint, _external=True, **values)
    adapter = current_app.url_map.bind("localhost", script_name=config.get("APPLICATION_ROOT") or "/")
    path = adapter.build(endpoint, values)
    return (base or "http://127.0.0.1:5000").rstrip("/") + path


def manage_url(booking: Booking) -> str:
    return external_url("public.manage", token=booking.token)


def calendar_url(booking: Booking) -> str:
    return external_url("public.calendar", token=booking.token)


def sender_address(office: Office) -> tuple[Address | str, str]:
    """The From header and the envelope sender: MAIL_FROM, else the office's address."""
    configured = current_app.config.get("MAIL_FROM")
    if configured:
        return configured, parseaddr(configured)[1] or configured
    return Address(display_name=_plain(office.name), addr_spec=office.email), office.email


def message_id(dedupe_key: str, booking: Booking, office: Office) -> str:
    """Stable per outbox row, so a receiving system can drop a copy a crash made us send twice."""
    domain = office.email.rsplit("@", 1)[-1]
    local = MESSAGE_ID_UNSAFE.sub(".", f"{dedupe_key}.{booking.reference}").strip(".")
    return f"<termine.{local}@{domain}>"


def _plain(text: str) -> str:
    """A display name on one line: control characters (CR, LF, ...) become spaces."""
    return CONTROL.sub(" ", text).strip()


def _subject(kind: str, when: dict[str, str]) -> str:
    if kind == "cancel":
        return _("Cancelled: your appointment on %(date)s at %(time)s", **when)
    if kind == "move":
        return _("Moved: your appointment is now on %(date)s at %(time)s", **when)
    if kind == "reminder":
        return _("Reminder: your appointment on %(date)s at %(time)s", **when)
    return _("Confirmed: your appointment on %(date)s at %(time)s", **when)


def build_message(
    kind: str,
    booking: Booking,
    office: Office,
    *,
    dedupe_key: str,
    now: datetime,
) -> EmailMessage:
    """The complete message (plain text, HTML, invite.ics) for one outbox row."""
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    if not booking.email:
        raise ValueError("the booking has no email address")
    links = {"manage_url": manage_url(booking), "calendar_url": calendar_url(booking)}
    method = "CANCEL" if kind == "cancel" else ics.method_for(booking)
    with force_locale(booking.language):
        when = {"date": day_label(booking.start_at), "time": time_label(booking.start_at)}
        context = {
            "kind": kind,
            "booking": booking,
            "office": office,
            "service_name": ics.service_name(booking, office),
            "date": when["date"],
            "start_time": when["time"],
            "end_time": time_label(booking.end_at),
            "book_again_url": external_url("public.home"),
            "language": booking.language,
            **links,
        }
        subject = _subject(kind, when)
        text = render_template(f"email/{kind}.txt", **context)
        html = render_template(f"email/{kind}.html", subject=subject, **context)
    calendar = ics.booking_calendar(booking, office, manage_url=links["manage_url"], method=method, stamp=now)

    message = EmailMessage(policy=SMTP)
    from_header, _envelope = sender_address(office)
    message["From"] = from_header
    message["To"] = Address(display_name=_plain(booking.name), addr_spec=booking.email)
    message["Reply-To"] = Address(display_name=_plain(office.name), addr_spec=office.email)
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(dedupe_key, booking, office)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.add_attachment(
        calendar,
        maintype="text",
        subtype="calendar",
        filename="invite.ics",
        params={"method": method, "charset": "utf-8"},
    )
    message["Content-Language"] = booking.language  # after the parts: set_content drops Content-* headers
    return message
