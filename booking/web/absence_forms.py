"""The form for a counsellor's absence: who, when (whole days or part of a day, `SpanForm`) and
why. The rules of an absence live in `booking.absences`."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length, ValidationError

from booking import absences
from booking.models import Staff
from booking.web.spans import SpanForm


class AbsenceForm(SpanForm):
    """Who is away, when (see `SpanForm`) and why."""

    counsellor = SelectField(
        _l("Counsellor"),
        validators=[InputRequired(message=_l("Please choose a counsellor."))],
        validate_choice=False,  # checked below with a message of our own
    )
    reason = StringField(
        _l("Reason (optional)"),
        validators=[
            Length(
                max=absences.REASON_MAX,
                message=_l("Please enter at most %(max)d characters.", max=absences.REASON_MAX),
            )
        ],
    )

    def offer(self, counsellors: list[Staff]) -> None:
        """The counsellors to choose from (the active ones)."""
        self.counsellor.choices = [("", _("Please choose"))] + [(str(c.id), c.name) for c in counsellors]

    def validate_counsellor(self, field: SelectField) -> None:
        if field.data not in {value for value, _label in field.choices or [] if value}:
            raise ValidationError(_("Please choose a counsellor."))


# The error summary lists fields in the order of the page: the counsellor before the dates.
AbsenceForm.counsellor.creation_counter = SpanForm.start_date.creation_counter - 1
