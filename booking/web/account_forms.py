"""Forms of the account pages. They only carry what was typed and ticked: the rules (a known
role, service and language, hours inside the opening hours, the password's length) live in
`booking.accounts`, whose `AccountError` names the field each message belongs to."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    Field,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import EqualTo, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from booking.accounts import NAME_MAX

PASSWORD_MAX = 1000
HOURS_MAX = 200


def _long() -> Length:
    return _at_most(PASSWORD_MAX)


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes; unknown values are left to `booking.accounts` to name."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def _at_most(limit: int) -> Length:
    return Length(max=limit, message=_l("Please enter at most %(max)d characters.", max=limit))


# Fields made by functions so that both forms list them in the order of the page (WTForms orders
# fields by when they were made), which is also the order of the error summary. Name and email
# are required and checked by `booking.accounts`, so that every field's message shows at once.
def _name() -> StringField:
    return StringField(_l("Name"), validators=[_at_most(NAME_MAX)])


def _role() -> SelectField:
    return SelectField(_l("Role"), validate_choice=False)


def _services() -> CheckboxesField:
    return CheckboxesField(_l("Services given"))


def _languages() -> CheckboxesField:
    return CheckboxesField(_l("Languages of counselling"))


class ProfileForm(FlaskForm):
    """What an admin changes of an account: name, role, services given, languages."""

    name = _name()
    role = _role()
    services = _services()
    languages = _languages()


class NewAccountForm(ProfileForm):
    """A new account; without a password its owner gets a password link by email."""

    email = EmailField(_l("Email address"), validators=[_at_most(254)])
    name = _name()
    role = _role()
    services = _services()
    languages = _languages()
    password = PasswordField(_l("Initial password (optional)"), validators=[_long()])


def _hours_field(day: int) -> StringField:
    # The label is the weekday's name, set per request in the reader's language.
    return StringField(f"hours_{day}", validators=[_at_most(HOURS_MAX)], render_kw={"dir": "ltr"})


class HoursForm(FlaskForm):
    """A counsellor's weekly hours: the opening hours, or own hours per weekday (a text like
    "08:30-12:00, 14:00-17:00"; empty: not working that day). Only the office's open days are shown."""

    mode = RadioField(
        _l("Weekly hours"), default="opening", validators=[InputRequired(message=_l("Please choose one."))]
    )
    hours_0 = _hours_field(0)
    hours_1 = _hours_field(1)
    hours_2 = _hours_field(2)
    hours_3 = _hours_field(3)
    hours_4 = _hours_field(4)
    hours_5 = _hours_field(5)
    hours_6 = _hours_field(6)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Set here, not in the field: WTForms warns about (value, label) pairs given to a field.
        self.mode.choices = [("opening", _l("Works the opening hours")), ("own", _l("Own hours"))]

    def day_field(self, weekday: int) -> Field:
        return self[f"hours_{weekday}"]


# Created before the fields below, so that in the own-password form it comes first (WTForms
# orders fields by creation, also in the error summary).
_CURRENT = PasswordField(
    _l("Current password"),
    validators=[InputRequired(message=_l("Please enter your current password.")), _long()],
)


class ResetPasswordForm(FlaskForm):
    """A new password chosen from a reset link, twice."""

    new = PasswordField(
        _l("New password"),
        validators=[InputRequired(message=_l("Please enter a new password.")), _long()],
    )
    repeat = PasswordField(
        _l("New password again"),
        validators=[
            InputRequired(message=_l("Please enter the new password again.")),
            EqualTo("new", message=_l("The two new passwords are not the same.")),
        ],
    )


class OwnPasswordForm(ResetPasswordForm):
    """Everyone's own password: the current one, and the new one twice."""

    current = _CURRENT
