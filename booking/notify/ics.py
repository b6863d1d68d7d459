"""iCalendar files for a booking (invitation, cancellation) and for a feed of bookings.

Pure apart from gettext: no database, no clock (the stamp is passed in or taken now).
Times carry TZID=<office zone> with the zone's VTIMEZONE, written by icalendar itself, so
Outlook, Gmail and Apple Calendar show the office's wall-clock time on both sides of a DST change.
The VTIMEZONE and the calendar's own properties are the same for many files: icalendar writes
each once (cached) and the files are joined from those pieces and the written events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol

from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vText

from booking.office import Office

PRODID = "-//Termine//Appointment booking//EN"
END = b"END:VCALENDAR\r\n"
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


@lru_cache(maxsize=16)
def _calendar_head(method: str, name: str | None = None) -> bytes:
    """BEGIN:VCALENDAR and the calendar's properties, written by icalendar once per method (and
    feed name); the components follow, then END:VCALENDAR."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    if name is not None:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
    written = calendar.to_ical()
    if not written.endswith(END):
        raise AssertionError("icalendar wrote no END:VCALENDAR")  # the joining below relies on it
    return written[: -len(END)]


@lru_cache(maxsize=64)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE for whole years, computed and written by icalendar once per zone and years:
    it is the same for every booking in them and was a third of an invitation's cost."""
    zone = Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1))
    return zone.to_ical()


def _timezones(events: list[Event], bookings: list[BookingLike]) -> bytes:
    """The VTIMEZONEs the events' times refer to (DTSTART and DTEND are the only ones with a TZID),
    covering the years from a year before the first booking to a year after the last."""
    tzids = {event[key].params.get("TZID") for event in events for key in ("DTSTART", "DTEND")}
    tzids -= {None, "UTC"}
    if not tzids:
        return b""
    first = (min(b.start_at for b in bookings).date() - timedelta(days=366)).year
    last = (max(b.end_at for b in bookings).date() + timedelta(days=366)).year
    return b"".join(_vtimezone(tzid, first, last) for tzid in sorted(tzids))


def _join(head: bytes, events: list[Event], bookings: list[BookingLike]) -> bytes:
    """The calendar file: its properties, the VTIMEZONEs (before the events that use them), the
    events as icalendar writes them, END:VCALENDAR."""
    return b"".join([head, _timezones(events, bookings), *(event.to_ical() for event in events), END])


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
        event = _event(
            booking, office, manage_url=manage_url, stamp=stamp or datetime.now(UTC), summary=summary
        )
    return _join(_calendar_head(method), [event], [booking])


def feed_calendar(
    bookings: Iterable[BookingLike],
    office: Office,
    *,
    manage_url_for: Callable[[BookingLike], str],
    stamp: datetime | None = None,
) -> bytes:
    """METHOD:PUBLISH, one VEVENT per booking (the staff calendar feed); summaries name the resident."""
    stamp = stamp or datetime.now(UTC)
    bookings = list(bookings)
    events = [
        _event(
            booking,
            office,
            manage_url=manage_url_for(booking),
            stamp=stamp,
            summary=f"{service_name(booking, office)}: {booking.name}",
            for_resident=False,
        )
        for booking in bookings
    ]
    return _join(_calendar_head("PUBLISH", office.name), events, bookings)
