"""iCalendar files for a booking (invitation, cancellation) and for a feed of bookings.

Pure apart from gettext: no database, no clock (the stamp is passed in or taken now).
Times carry TZID=<office zone> with the zone's VTIMEZONE, written by icalendar itself, so
Outlook, Gmail and Apple Calendar show the office's wall-clock time on both sides of a DST change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from booking.office import Office

PRODID = "-//Termine//Appointment booking//EN"
UNSAFE_PARAM = re.compile(r'[\x00-\x1f\x7f"]+')


class BookingLike(Protocol):
    id: int
    reference: str
    service_id: str
    start_at: datetime
    end_at: datetime
    name: str
    email: str | None
    language: str
    status: str
    sequence: int
    created_at: datetime


def event_uid(booking: BookingLike, office: Office) -> str:
    """Stable across every change of the booking, so calendars update one event."""
    domain = office.email.rsplit("@", 1)[-1]
    return f"booking-{booking.reference}@{domain}"


def service_name(booking: BookingLike, office: Office) -> str:
    service = office.service(booking.service_id)
    return service.name(booking.language) if service else booking.service_id


def _param(text: str) -> str:
    """A parameter value (CN) cannot hold quotes or control characters."""
    return UNSAFE_PARAM.sub(" ", text).strip()


def _organizer(office: Office) -> vCalAddress:
    organizer = vCalAddress(f"mailto:{office.email}")
    organizer.params["CN"] = vText(_param(office.name))
    return organizer


def _attendee(booking: BookingLike) -> vCalAddress:
    attendee = vCalAddress(f"mailto:{booking.email or ''}")
    attendee.params["CN"] = vText(_param(booking.name))
    attendee.params["ROLE"] = vText("REQ-PARTICIPANT")
    attendee.params["PARTSTAT"] = vText("ACCEPTED")
    attendee.params["RSVP"] = vText("FALSE")
    return attendee


def method_for(booking: BookingLike) -> str:
    """The method of the invitation that shows the booking as it is now."""
    return "CANCEL" if booking.status == "cancelled" else "REQUEST"


def _event(
    booking: BookingLike,
    office: Office,
    *,
    manage_url: str,
    stamp: datetime,
    summary: str,
    for_resident: bool = True,
) -> Event:
    """One VEVENT; `for_resident` False (the staff feed) words the link for staff and sets no alarm."""
    cancelled = booking.status == "cancelled"
    event = Event()
    event.add("uid", event_uid(booking, office))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("created", booking.created_at.astimezone(UTC))
    event.add("dtstart", booking.start_at.astimezone(office.timezone))
    event.add("dtend", booking.end_at.astimezone(office.timezone))
    event.add("sequence", booking.sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("summary", summary)
    event.add("location", office.location)
    lines = [
        _("Booking reference: %(reference)s", reference=booking.reference),
        _("To cancel or change your appointment: %(url)s", url=manage_url)
        if for_resident
        else _("Details: %(url)s", url=manage_url),
    ]
    if office.phone and for_resident:
        lines.append(_("Phone: %(phone)s", phone=office.phone))
    event.add("description", "\n".join(lines))
    event.add("url", manage_url)
    event.add("organizer", _organizer(office))
    if booking.email:
        event.add("attendee", _attendee(booking))
    if for_resident and not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", timedelta(hours=-1))
        event.add_component(alarm)
    return event


def _calendar(method: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return calendar


def booking_calendar(
    booking: BookingLike,
    office: Office,
    *,
    manage_url: str,
    method: str,
    stamp: datetime | None = None,
) -> bytes:
    """METHOD:REQUEST (new or changed) or METHOD:CANCEL, one VEVENT, in the booking's language."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iCalendar method {method!r}")
    with force_locale(booking.language):
        summary = _("Appointment: %(service)s", service=service_name(booking, office))
        calendar = _calendar(method)
        calendar.add_component(
            _event(booking, office, manage_url=manage_url, stamp=stamp or datetime.now(UTC), summary=summary)
        )
    _add_timezones(calendar, [booking])
    return calendar.to_ical()


def _add_timezones(calendar: Calendar, bookings: list[BookingLike]) -> None:
    """The VTIMEZONE covering the events' years, not icalendar's default 1970-2038 (kilobytes more)."""
    if not bookings:
        return
    first = min(b.start_at for b in bookings).date() - timedelta(days=366)
    last = max(b.end_at for b in bookings).date() + timedelta(days=366)
    calendar.add_missing_timezones(first_date=first, last_date=last)


def feed_calendar(
    bookings: Iterable[BookingLike],
    office: Office,
    *,
    manage_url_for: Callable[[BookingLike], str],
    stamp: datetime | None = None,
) -> bytes:
    """METHOD:PUBLISH, one VEVENT per booking (the staff calendar feed); summaries name the resident."""
    stamp = stamp or datetime.now(UTC)
    calendar = _calendar("PUBLISH")
    calendar.add("name", office.name)
    calendar.add("x-wr-calname", office.name)
    bookings = list(bookings)
    for booking in bookings:
        summary = f"{service_name(booking, office)}: {booking.name}"
        calendar.add_component(
            _event(
                booking,
                office,
                manage_url=manage_url_for(booking),
                stamp=stamp,
                summary=summary,
                for_resident=False,
            )
        )
    _add_timezones(calendar, bookings)
    return calendar.to_ical()
