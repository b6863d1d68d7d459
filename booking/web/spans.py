"""A stretch of time on the staff pages (an absence, a closure): the form fields that give it
(whole days from–to, or times as well) and the words that show it ("Tuesday to Friday, whole
days" instead of two midnights)."""

from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DateField, TimeField
from wtforms.validators import InputRequired, Optional

from booking import absences
from booking.absences import Stretch
from booking.office import Office
from booking.web.templating import day_label, time_label


class SpanForm(FlaskForm):
    """Whole days: a from date and an optional to date. Part of a day, or from a time on the first
    day to a time on the last: both times as well."""

    start_date = DateField(_l("From (date)"), validators=[InputRequired(message=_l("Please enter a date."))])
    end_date = DateField(_l("To (date; empty: the same day)"), validators=[Optional()])
    start_time = TimeField(_l("From (time; empty: whole days)"), validators=[Optional()])
    end_time = TimeField(_l("To (time; empty: whole days)"), validators=[Optional()])

    def span(self, office: Office) -> tuple[datetime, datetime] | None:
        """The start and end from valid fields; None (with the fields' errors set) when the times
        are half given or a date cannot be a moment."""
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
        """Put a refusal on the fields it is about (keys start, end, reason, ...; an end before the
        start: on the to date when it lies before the from date, else on the to time)."""
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


def _times(start: datetime, end: datetime) -> Markup:
    """08:30–10:00, kept in this order on right-to-left pages."""
    return Markup('<bdi dir="ltr">{}–{}</bdi>').format(time_label(start), time_label(end))


def span_label(office: Office, stretch: Stretch) -> Markup:
    """The stretch in words: whole days, or part of a day with its times."""
    days = absences.days_of(office, stretch)
    if days is not None:
        first, last = days
        if first == last:
            return Markup(_("%(day)s, whole day")) % {"day": day_label(first)}
        return Markup(_("%(first)s to %(last)s, whole days")) % {
            "first": day_label(first),
            "last": day_label(last),
        }
    start, end = stretch.start_at.astimezone(office.timezone), stretch.end_at.astimezone(office.timezone)
    if start.date() == end.date():
        return Markup(_("%(day)s, %(times)s")) % {"day": day_label(start), "times": _times(start, end)}
    return Markup(_("%(first)s, %(start)s to %(last)s, %(end)s")) % {
        "first": day_label(start),
        "start": Markup("<bdi>{}</bdi>").format(time_label(start)),
        "last": day_label(end),
        "end": Markup("<bdi>{}</bdi>").format(time_label(end)),
    }
