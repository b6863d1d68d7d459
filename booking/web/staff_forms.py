"""Forms of the staff pages: CSRF protection and field rendering; the rules live in `bookings`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length

from booking.web.spans import SpanForm

REASON_MAX = 500


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=1000)])
    next = HiddenField()


class CallerBookingForm(FlaskForm):
    """Booking for a caller: the name is needed, phone and email help to reach them."""

    name = StringField(_l("Name"))
    phone = TelField(_l("Phone"))
    email = EmailField(_l("Email address (optional: a confirmation is sent to it)"))
    note = TextAreaField(_l("Note (optional)"))
    language = SelectField(_l("Language of the emails"))
    counselling_language = SelectField(_l("Language of the counselling"), default="")
    interpreter = SelectField(_l("Interpreter needed for"), default="")
    counsellor = SelectField(_l("Counsellor"), default="")


def reason_validators() -> list[object]:
    """A reason is required (it is kept on the booking and in the audit trail) and not too long."""
    return [
        DataRequired(message=_l("Please enter a reason.")),  # spaces alone are no reason
        Length(max=REASON_MAX, message=_l("Please enter at most %(max)d characters.", max=REASON_MAX)),
    ]


class ReasonForm(FlaskForm):
    """Cancel a booking: the reason is kept on the booking and in its audit trail."""

    reason = TextAreaField(
        _l("Reason"),
        validators=reason_validators(),
    )


class MoveForm(ReasonForm):
    start = RadioField(_l("New time"), validators=[InputRequired(message=_l("Please choose a time."))])


class CloseForm(SpanForm):
    """Close whole days (from, to) or from a time to a time; the reason is kept in the audit trail."""

    reason = StringField(_l("Reason"), validators=reason_validators())


class ActionForm(FlaskForm):
    """A button that changes something (attendance, rotate, reopen); only the CSRF token."""
