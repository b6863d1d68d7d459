"""The form for a counsellor's absence: whole days (from, to) or part of a day (with times).
The rules of an absence live in `booking.absences`; this turns the fields into a start and an end."""

from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TimeField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from booking import absences
from booking.models import Staff
from booking.office import Office


class AbsenceForm(FlaskForm):
    """Whole days: a from date and an optional to date. Part of a day: both times as well."""

    counsellor = SelectField(
        _l("Counsellor"),
        validators=[InputRequired(message=_l("Please choose a counsellor."))],
        validate_choice=False,  # checked below with a message of our own
    )
    start_date = DateField(_l("From (date)"), validators=[InputRequired(message=_l("Please enter a date."))])
    end_date = DateField(_l("To (date; empty: the same day)"), validators=[Optional()])
    start_time = TimeField(_l("From (time; empty: whole days)"), validators=[Optional()])
    end_time = TimeField(_l("To (time; empty: whole days)"), validators=[Optional()])
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

    def span(self, office: Office) -> tuple[datetime, datetime] | None:
        """The absence's start and end from valid fields; None (with the fields' errors set) when
        the times are half given or a date cannot be a moment."""
        first = self.start_date.data
        assert first is not None
        last: date | None = self.end_date.data
        start_time: time | None = self.start_time.data
        end_time: time | None = self.end_time.data
        if (start_time is None) != (end_time is None):
            missing = self.end_time if end_time is None else self.start_time
            missing.errors = [_("Give both times for part of a day, or neither for whole days.")]
            return None
        try:
            if start_time is None or end_time is None:
                return absences.whole_days(office, first, last)
            return absences.local(office, first, start_time), absences.local(office, last or first, end_time)
        except OverflowError:
            (self.end_date if last is not None else self.start_date).errors = [_("Please enter a real date.")]
            return None

    def show(self, errors: dict[str, list[str]]) -> None:
        """Put the refusal of `absences.add` on the fields it is about (keys counsellor, start,
        end, reason; an end before the start: on the to date when it lies before the from date,
        else on the to time)."""
        for key, messages in errors.items():
            if key == "end":
                wrong_day = self.end_date.data is not None and self.end_date.data < (
                    self.start_date.data or date.min
                )
                target = self.end_date if wrong_day or self.end_time.data is None else self.end_time
            else:
                found = getattr(self, key, None)
                target = found if found is not None else self.start_date
            target.errors = list(messages)
