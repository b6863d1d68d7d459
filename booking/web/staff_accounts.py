"""The admin pages for staff accounts (list, create, change, weekly hours, disable, password
link), every account's own password, and choosing a password from a reset link. Thin views:
every change goes through `booking.accounts` or `booking.staff_sessions`."""

from __future__ import annotations

from typing import Any

from babel.dates import get_day_names
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from booking import accounts, clock, current_office, languages, places, rota, staff_sessions
from booking.accounts import AccountError
from booking.models import ROLES, Staff
from booking.office import Office
from booking.web.account_forms import (
    HoursForm,
    NewAccountForm,
    OwnPasswordForm,
    ProfileForm,
    ResetPasswordForm,
)
from booking.web.staff_base import bp, me, requires, role_label
from booking.web.staff_forms import ActionForm


def _reader() -> str:
    return str(get_locale() or "de")


def _show(form: FlaskForm, error: AccountError) -> None:
    """Each message under its field; those of no field of this form as a notice."""
    for field, messages in error.errors.items():
        if field in form:
            form[field].errors = list(messages)
        else:
            flash(" ".join(messages), "error")


def _offer_choices(form: ProfileForm, office: Office, staff: Staff | None = None) -> None:
    """Roles, the office's services and the languages to tick, named in the reader's language
    (the account's own languages are offered too, should one be outside the common list)."""
    form.role.choices = [(role, role_label(role)) for role in ROLES]
    form.services.choices = [(s.id, s.name(_reader())) for s in office.services]
    codes = [*languages.COMMON, *(staff.language_codes if staff is not None else ())]
    form.languages.choices = languages.choices(_reader(), [c for c in codes if languages.is_known(c)])


def _services_given(form: ProfileForm) -> list[str] | None:
    """None ticked: every service (also those added to the office file later)."""
    return list(form.services.data or []) or None


def _open_days(office: Office) -> list[tuple[int, str, str]]:
    """(weekday, its name, the opening hours) of each day the office opens."""
    names = get_day_names("wide", locale=_reader())
    return [
        (day, names[day], rota.format_periods(periods))
        for day, periods in sorted(office.hours.items())
        if periods
    ]


def _week(staff: Staff) -> list[tuple[str, str]] | None:
    """(short weekday name, "08:30-12:00, 14:00-17:00") of each working day of the counsellor's
    own hours, or None when the opening hours apply (templates/staff/account_fields.html shows it)."""
    week = accounts.weekly_hours(staff)
    if week is None:
        return None
    names = get_day_names("abbreviated", locale=_reader())
    return [(names[day], rota.format_periods(periods)) for day, periods in sorted(week.items()) if periods]


# --- the list and a new account ----------------------------------------------------------


@bp.get("/accounts", endpoint="accounts")
@requires("accounts")
def accounts_list() -> str:
    office = current_office()
    services = {s.id: s.name(_reader()) for s in office.services}
    return render_template(
        "staff/accounts.html",
        accounts=accounts.all_accounts(),
        services=services,
        week_of=_week,
    )


@bp.route("/accounts/new", methods=["GET", "POST"])
@requires("accounts")
def account_new() -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    form = NewAccountForm()
    _offer_choices(form, office)
    if not form.is_submitted():
        form.role.data = "reception"
        form.languages.data = ["de"]
    status = 200
    if form.validate_on_submit():
        try:
            staff = accounts.create_staff(
                form.email.data or "",
                form.name.data or "",
                form.password.data or None,
                now,
                office=office,
                role=form.role.data or "",
                services=_services_given(form),
                languages=list(form.languages.data or []),
                by=me(),
            )
        except AccountError as error:
            status = 422
            _show(form, error)
        else:
            if form.password.data:
                flash(_("The account %(email)s is created.", email=staff.email), "success")
            else:
                staff_sessions.send_reset(staff, now, by=me())
                flash(
                    _(
                        "The account %(email)s is created; a link to choose a password is on its way.",
                        email=staff.email,
                    ),
                    "success",
                )
            return redirect(url_for("staff.account", staff_id=staff.id))
    elif form.is_submitted():
        status = 422
    return render_template("staff/account_new.html", form=form), status


# --- one account -------------------------------------------------------------------------


def _account_or_404(staff_id: int) -> Staff:
    return accounts.get(staff_id) or abort(404)


def _profile_form(office: Office, staff: Staff) -> ProfileForm:
    form = ProfileForm(formdata=None, data={
        "name": staff.name,
        "role": staff.role,
        "services": sorted(staff.service_ids or ()),
        "languages": list(staff.language_codes),
    })  # fmt: skip
    _offer_choices(form, office, staff)
    return form


def _hours_form(office: Office, staff: Staff) -> HoursForm:
    week = accounts.weekly_hours(staff)
    data: dict[str, Any] = {"mode": "own" if week is not None else "opening"}
    for day in range(7):
        data[f"hours_{day}"] = rota.format_periods((week or {}).get(day, ()))
    return HoursForm(formdata=None, data=data)


def _account_page(
    staff: Staff, *, profile: ProfileForm | None = None, hours: HoursForm | None = None, status: int = 200
) -> tuple[str, int]:
    office, now = current_office(), clock.now()
    hours = hours or _hours_form(office, staff)
    open_days = _open_days(office)
    for day, name, _opening in open_days:
        hours.day_field(day).label.text = name
    uncovered = places.needing_counsellor(office, now, accounts.upcoming_appointments(staff, now))
    return render_template(
        "staff/account.html",
        account=staff,
        profile=profile or _profile_form(office, staff),
        hours=hours,
        open_days=open_days,
        week=_week(staff),
        last_admin=accounts.is_last_admin(staff),
        uncovered=[found.booking for found in uncovered],
        action_form=ActionForm(),
        reset_hours=staff_sessions.RESET_HOURS,
    ), status


@bp.get("/accounts/<int:staff_id>")
@requires("accounts")
def account(staff_id: int) -> tuple[str, int]:
    return _account_page(_account_or_404(staff_id))


@bp.post("/accounts/<int:staff_id>")
@requires("accounts")
def account_update(staff_id: int) -> Response | tuple[str, int]:
    office, staff = current_office(), _account_or_404(staff_id)
    form = ProfileForm()
    _offer_choices(form, office, staff)
    if not form.validate():
        return _account_page(staff, profile=form, status=422)
    try:
        accounts.update_profile(
            office,
            staff,
            name=form.name.data or "",
            role=form.role.data or "",
            services=_services_given(form),
            languages=list(form.languages.data or []),
            by=me(),
            now=clock.now(),
        )
    except AccountError as error:
        _show(form, error)
        return _account_page(staff, profile=form, status=422)
    flash(_("The account is saved."), "success")
    return redirect(url_for("staff.account", staff_id=staff.id))


@bp.post("/accounts/<int:staff_id>/hours")
@requires("accounts")
def account_hours(staff_id: int) -> Response | tuple[str, int]:
    office, staff = current_office(), _account_or_404(staff_id)
    form = HoursForm()
    if not form.validate():
        return _account_page(staff, hours=form, status=422)
    try:
        week = None
        if form.mode.data == "own":
            week = accounts.hours_from_text(
                office, {day: form.day_field(day).data or "" for day, _name, _opening in _open_days(office)}
            )
        accounts.set_hours(office, staff, week, by=me(), now=clock.now())
    except AccountError as error:
        _show(form, error)
        return _account_page(staff, hours=form, status=422)
    flash(_("The weekly hours are saved."), "success")
    return redirect(url_for("staff.account", staff_id=staff.id))


@bp.post("/accounts/<int:staff_id>/disable")
@requires("accounts")
def account_disable(staff_id: int) -> Response:
    """Ends every session of the account at once (also the admin's own, when it is theirs)."""
    staff = _account_or_404(staff_id)
    try:
        accounts.set_active(staff, False, by=me(), now=clock.now())
    except AccountError as error:
        flash(" ".join(m for messages in error.errors.values() for m in messages), "error")
        return redirect(url_for("staff.account", staff_id=staff.id))
    if staff.id == me().id:
        logout_user()
        flash(_("Your account is disabled; you are signed out."), "success")
        return redirect(url_for("staff.login"))
    flash(_("The account is disabled; its sessions have ended."), "success")
    return redirect(url_for("staff.account", staff_id=staff.id))


@bp.post("/accounts/<int:staff_id>/enable")
@requires("accounts")
def account_enable(staff_id: int) -> Response:
    staff = _account_or_404(staff_id)
    accounts.set_active(staff, True, by=me(), now=clock.now())
    flash(_("The account is enabled again."), "success")
    return redirect(url_for("staff.account", staff_id=staff.id))


@bp.post("/accounts/<int:staff_id>/password-link")
@requires("accounts")
def account_reset_link(staff_id: int) -> Response:
    """Email a link to choose a new password; earlier links stop working. The password stays
    until the link is used."""
    staff = _account_or_404(staff_id)
    if not staff.active:
        flash(_("The account is disabled: enable it first, then send a password link."), "error")
    else:
        staff_sessions.send_reset(staff, clock.now(), by=me())
        flash(_("A link to choose a password is on its way to %(email)s.", email=staff.email), "success")
    return redirect(url_for("staff.account", staff_id=staff.id))


# --- one's own password, and the link from the email ---------------------------------------


@bp.route("/password", methods=["GET", "POST"])
@requires("own_account")
def own_password() -> Response | tuple[str, int]:
    """Every other session of the account ends; this one stays."""
    form = OwnPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.change_own_password(me(), form.current.data or "", form.new.data or "", me().session_key)
        except AccountError as error:
            status = 422
            _show(form, _renamed(error, {"password": "new"}))
        else:
            flash(_("Your password is changed. Your other sessions have ended."), "success")
            return redirect(url_for("staff.own_password"))
    elif form.is_submitted():
        status = 422
    return render_template("staff/password.html", form=form, password_min=accounts.PASSWORD_MIN), status


def _renamed(error: AccountError, names: dict[str, str]) -> AccountError:
    """The same messages under this form's field names (the service calls it `password`)."""
    return AccountError({names.get(field, field): messages for field, messages in error.errors.items()})


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int]:
    """Open to anyone with the link (staff_base.OPEN). A GET only shows the form (mail scanners
    open links); the POST uses the link, once."""
    now = clock.now()
    reset = staff_sessions.reset_for(token, now)
    if reset is None:
        return _link_gone()
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.new.data or "", now)
        except AccountError as error:
            if "token" in error.errors:  # used or replaced meanwhile (another tab, a double click)
                return _link_gone()
            status = 422
            _show(form, _renamed(error, {"password": "new"}))
        else:
            # Every session of the account has ended on the server, a signed-in one too.
            flash(_("Your new password is set. Please sign in with it."), "success")
            return redirect(url_for("staff.login"))
    elif form.is_submitted():
        status = 422
    return render_template(
        "staff/reset.html",
        form=form,
        token=token,
        email=reset.staff.email,
        password_min=accounts.PASSWORD_MIN,
    ), status


def _link_gone() -> tuple[str, int]:
    return render_template("staff/reset.html", form=None), 410
