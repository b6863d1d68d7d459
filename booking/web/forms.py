"""HTML forms: CSRF protection and field rendering. The rules live in `booking.bookings`."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, HiddenField, StringField, TelField, TextAreaField
from wtforms.validators import InputRequired, Length

from booking.bookings import BookingRequest


class BookingForm(FlaskForm):
    start = HiddenField()
    name = StringField(_l("Name"))
    email = EmailField(_l("Email address"))
    phone = TelField(_l("Phone (optional)"))
    note = TextAreaField(_l("What is your appointment about? (optional)"))
    # An acknowledgement, not a consent: the office processes the data for its public task
    # (Art. 6(1)(e) GDPR, as /privacy says), so the box confirms the resident read the notice.
    consent = BooleanField(
        _l("I have read the privacy notice."),
        validators=[InputRequired(message=_l("Please confirm that you have read the privacy notice."))],
    )
    # Filled in by the ALTCHA widget (never rendered as a field); empty without JavaScript.
    altcha = StringField(_l("Automatic security check"))


def booking_request(
    form: FlaskForm,
    service_id: str,
    start: datetime,
    language: str,
    *,
    counsellor_id: int | None = None,
    counselling_language: str | None = None,
    interpreter: str | None = None,
) -> BookingRequest:
    """What a resident's or a staff member's booking form asks the booking service for. The
    resident's choice of languages comes with the page's address, not as fields of the form:
    `counselling_language` and `interpreter` give it (else the form's fields of that name)."""
    return BookingRequest(
        service_id=service_id,
        start=start,
        name=form.name.data or "",
        email=form.email.data,
        phone=form.phone.data,
        note=form.note.data,
        language=language,
        counselling_language=counselling_language or _chosen(form, "counselling_language"),
        interpreter=interpreter or _chosen(form, "interpreter"),
        counsellor_id=counsellor_id,
    )


def _chosen(form: FlaskForm, name: str) -> str | None:
    """A language the form chose, None when it has no such field or it was left at "none"."""
    field = getattr(form, name, None)
    return (field.data or None) if field is not None else None


class ConfirmForm(FlaskForm):
    """A button that changes something (cancel); it carries only the CSRF token."""


class WaitlistForm(FlaskForm):
    """Joining the waitlist of a service: who, and between which days."""

    name = StringField(_l("Name"))
    email = EmailField(_l("Email address"))
    first_day = DateField(_l("From"))
    last_day = DateField(_l("Until"))
    consent = BooleanField(  # an acknowledgement, as on the booking form
        _l("I have read the privacy notice."),
        validators=[InputRequired(message=_l("Please confirm that you have read the privacy notice."))],
    )


class CancelForm(FlaskForm):
    """Cancelling from the manage link: the reason is optional and shown to staff."""

    reason = TextAreaField(
        _l("Reason (optional)"),
        validators=[Length(max=500, message=_l("Please keep the reason under 500 characters."))],
    )


class FindForm(FlaskForm):
    """ "Lost your link?": the booking's reference and its email address."""

    reference = StringField(_l("Booking reference"))
    email = EmailField(_l("Email address"))
