"""Why a change is refused: the exceptions of the service layer (bookings, places, closures,
absences, accounts' calendar parts), one level below all of them so none imports another."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import ngettext

from booking.addresses import needs_smtputf8
from booking.schedule import Unbookable


def too_long(limit: int) -> str:
    """The message for a text over `limit` characters, with the plural the number needs."""
    return ngettext(
        "Please enter at most %(num)d character.", "Please enter at most %(num)d characters.", limit
    )


class InvalidBooking(Exception):
    """Every field problem at once: {field: [messages]} (messages already translated)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


class InvalidClosure(InvalidBooking):
    """A closure that cannot be entered: every field problem at once, as for a booking."""


class InvalidAbsence(InvalidBooking):
    """An absence that cannot be entered: every field problem at once."""


class SlotFull(Exception):
    """Every place of the slot is taken (with counsellors: no matching counsellor is free)."""


class TooLate(Exception):
    """The appointment has already begun; it can no longer be changed online."""


def invalid_email_message(raw: object) -> str:
    """Why an address cannot be booked with: letters like ü before the @ (many mail servers
    cannot deliver there), or not an address at all."""
    if needs_smtputf8(raw):
        return _(
            "Please write the part before the @ without letters like ü, ö or ß (for example"
            " juergen@example.de instead of jürgen@example.de): many mail servers cannot deliver"
            " to such an address."
        )
    return _("Please enter a valid email address, for example name@example.org.")


def unbookable_message(reason: Unbookable) -> str:
    return {
        Unbookable.PAST: _("This time is in the past."),
        Unbookable.TOO_SOON: _("This time is too soon to book online. Please choose a later time."),
        Unbookable.BEYOND_HORIZON: _("This time is too far ahead. Please choose an earlier time."),
        Unbookable.CLOSED: _("The office is closed at this time."),
        Unbookable.OFF_GRID: _("There is no appointment at this time."),
    }[reason]


def errors_of(**fields: str) -> dict[str, list[str]]:
    """{field: [message]} for the fields given (the shape every refusal carries)."""
    return {field: [message] for field, message in fields.items()}


def stretch_errors(start: datetime, end: datetime) -> dict[str, list[str]]:
    """What is wrong with a closure's or an absence's start and end (keys start, end): a moment
    past the ends of the calendar (no UTC moment to store), or an end not after the start."""
    errors: dict[str, list[str]] = {}
    for key, moment in (("start", start), ("end", end)):
        try:
            moment.astimezone(UTC)
        except OverflowError:
            errors[key] = [_("Please enter a real date.")]
    if not errors and end <= start:
        errors["end"] = [_("The end must be after the start.")]
    return errors
