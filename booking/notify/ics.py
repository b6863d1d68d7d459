"""iCalendar files for a booking (its calendar entry, its cancellation) and for the staff feed.

Pure apart from gettext: no database, no clock (the stamp is passed in or taken now).
Times carry TZID=<office zone> with the zone's VTIMEZONE in the RRULE form (`vtimezone`), the
same bytes in every file, so Outlook, Gmail, Apple Calendar and Thunderbird show the office's
wall-clock time on both sides of a DST change, in any year.

Which method, and why: an entry is sent as METHOD:PUBLISH without an ATTENDEE, so no calendar
program offers Accept/Decline. A decline would only be a reply to the office's mailbox, which
nothing reads: the resident would believe they had cancelled while the place stayed taken. The
email says how to cancel (the manage link). A cancellation is METHOD:CANCEL with the same UID, a
higher SEQUENCE and STATUS:CANCELLED, which removes the entry. Reminders carry no calendar file,
so they never touch the entry (one the resident deleted stays deleted).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol

from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration, vText

from booking.notify.vtimezone import vtimezone
from booking.office import Office

PRODID = "-//Termine//Appointment booking//EN"
END = b"END:VCALENDAR\r\n"
UNSAFE_PARAM = re.compile(r'[\x00-\x1f\x7f"]+')
ALARM_BEFORE = timedelta(hours=1)  # the resident's calendar reminds them this long before
FEED_REFRESH = timedelta(minutes=30)  # how often a subscribed calendar should fetch the feed again
METHODS = ("PUBLISH", "CANCEL")  # of one booking's file (the feed is always PUBLISH)


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
    domain = office.email.rpartition("@")[2]  # what follows the last @
    return f"booking-{booking.reference}@{domain}"


def service_name(booking: BookingLike, office: Office, language: str | None = None) -> str:
    """The service's name in `language` (default: the booking's)."""
    service = office.service(booking.service_id)
    return service.name(language or booking.language) if service else booking.service_id


def _param(text: str) -> str:
    """A parameter value (CN) cannot hold quotes or control characters."""
    return UNSAFE_PARAM.sub(" ", text).strip()


def _organizer(office: Office) -> vCalAddress:
    organizer = vCalAddress(f"mailto:{office.email}")
    organizer.params["CN"] = vText(_param(office.name))
    return organizer


def _attendee(booking: BookingLike) -> vCalAddress:
    """The resident, named only in a cancellation (RFC 5546 lists the attendees a CANCEL removes);
    a CANCEL offers no answer, and RSVP=FALSE asks for none."""
    attendee = vCalAddress(f"mailto:{booking.email or ''}")
    attendee.params["CN"] = vText(_param(booking.name))
    attendee.params["ROLE"] = vText("REQ-PARTICIPANT")
    attendee.params["PARTSTAT"] = vText("ACCEPTED")
    attendee.params["RSVP"] = vText("FALSE")
    return attendee


def method_for(booking: BookingLike) -> str:
    """The method of the file that shows the booking as it is now: its entry, or its removal."""
    return "CANCEL" if booking.status == "cancelled" else "PUBLISH"


def _event(
    booking: BookingLike,
    office: Office,
    *,
    manage_url: str,
    stamp: datetime,
    summary: str,
    method: str,
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
    if method == "CANCEL" and booking.email:
        event.add("attendee", _attendee(booking))
    if for_resident and not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
    return event


@lru_cache(maxsize=16)
def _calendar_head(method: str, name: str | None = None) -> bytes:
    """BEGIN:VCALENDAR and the calendar's properties, written by icalendar once per method (and
    feed name); the components follow, then END:VCALENDAR. A feed (named) says how often to
    fetch it again: REFRESH-INTERVAL (RFC 7986), and X-PUBLISHED-TTL, which Outlook reads."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    if name is not None:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
        calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", vDuration(FEED_REFRESH))
    written = calendar.to_ical()
    if not written.endswith(END):
        raise AssertionError("icalendar wrote no END:VCALENDAR")  # the joining below relies on it
    return written[: -len(END)]


def _timezones(events: list[Event], bookings: list[BookingLike]) -> bytes:
    """The VTIMEZONEs the events' times refer to (DTSTART and DTEND are the only ones with a TZID);
    the years from a year before the first booking to a year after the last are those its rule
    is checked for (`vtimezone`)."""
    tzids = {event[key].params.get("TZID") for event in events for key in ("DTSTART", "DTEND")}
    tzids -= {None, "UTC"}
    if not tzids:
        return b""
    first = (min(b.start_at for b in bookings).date() - timedelta(days=366)).year
    last = (max(b.end_at for b in bookings).date() + timedelta(days=366)).year
    return b"".join(vtimezone(tzid, first, last) for tzid in sorted(tzids))


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
    """METHOD:PUBLISH (the entry, new or changed) or METHOD:CANCEL, one VEVENT, in the booking's
    language."""
    if method not in METHODS:
        raise ValueError(f"unsupported iCalendar method {method!r}")
    with force_locale(booking.language):
        summary = _("Appointment: %(service)s", service=service_name(booking, office))
        event = _event(
            booking,
            office,
            manage_url=manage_url,
            stamp=stamp or datetime.now(UTC),
            summary=summary,
            method=method,
        )
    return _join(_calendar_head(method), [event], [booking])


def feed_calendar(
    bookings: Iterable[BookingLike],
    office: Office,
    *,
    manage_url_for: Callable[[BookingLike], str],
    language: str,
    stamp: datetime | None = None,
) -> bytes:
    """METHOD:PUBLISH, one VEVENT per booking (the staff calendar feed), without attendees: the
    summaries name service and resident in the staff's `language`, whatever the resident's."""
    stamp = stamp or datetime.now(UTC)
    bookings = list(bookings)
    with force_locale(language):
        events = [
            _event(
                booking,
                office,
                manage_url=manage_url_for(booking),
                stamp=stamp,
                summary=f"{service_name(booking, office, language)}: {booking.name}",
                method="PUBLISH",
                for_resident=False,
            )
            for booking in bookings
        ]
    return _join(_calendar_head("PUBLISH", office.name), events, bookings)
