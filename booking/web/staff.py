"""The staff pages of the calendar and its appointments: sign-in, day and week, booking for a
caller, an appointment's page, cancel, move, attendance, giving it to another counsellor. Thin
views: every change of a booking goes through `booking.bookings` or `booking.places`. Who may
use which page is checked by the blueprint (`booking.web.staff_base`)."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from booking import (
    bookings,
    clock,
    current_office,
    languages,
    places,
    roster,
    staff_calendar,
    staff_sessions,
    week_grid,
)
from booking.accounts import authenticate
from booking.closures import closures_between, open_slot
from booking.extensions import limiter
from booking.models import Booking
from booking.office import Office
from booking.refusals import InvalidBooking, SlotFull, TooLate, unbookable_message
from booking.schedule import Unbookable, local_today, window
from booking.web import finding, hardening
from booking.web.forms import booking_request
from booking.web.staff_base import bp, date_arg, me, own_or_403, requires, safe_next
from booking.web.staff_forms import ActionForm, CallerBookingForm, LoginForm, MoveForm, ReasonForm
from booking.web.templating import language_choices

# Per address and account: a few tries a minute, then a long wait; successful sign-ins are free.
LOGIN_LIMIT = "5 per minute;30 per hour"
# Per address alone, against trying many accounts from one place.
LOGIN_LIMIT_PER_ADDRESS = "60 per hour"


def _login_key() -> str:
    return f"{get_remote_address()}|{request.form.get('email', '').strip().lower()[:254]}"


def _failed(response: Response) -> bool:
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"], key_func=_login_key, deduct_when=_failed, scope="staff-login")
@limiter.limit(LOGIN_LIMIT_PER_ADDRESS, methods=["POST"], deduct_when=_failed, scope="staff-login-address")
def login() -> Response | tuple[str, int] | str:
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    if form.validate_on_submit():
        staff = authenticate(form.email.data or "", form.password.data or "")
        if staff is not None:
            staff_sessions.start(staff, clock.now())
            login_user(staff)
            return redirect(safe_next(form.next.data))
        status = 401
        flash(_("The email address or the password is not right, or the account is disabled."), "error")
    elif request.method == "POST":
        status = 400
        flash(_("Please enter your email address and password."), "error")
    return render_template("staff/login.html", form=form), status


@bp.post("/logout")
@requires("own_account")
def logout() -> Response:
    """Ends this session on the server too: a copy of the cookie no longer works."""
    staff_sessions.end(me().session_key)  # CSRFProtect has checked the form's token before this
    logout_user()
    flash(_("You are signed out."), "success")
    return redirect(url_for("staff.login"))


# --- calendar ---------------------------------------------------------------------------


def _counsellor_arg() -> int | None:
    """The counsellor whose day is shown: `?counsellor=ID`, `all` for everyone; a counsellor
    signed in sees their own day first."""
    value = request.args.get("counsellor", "")
    if value == "all":
        return None
    if (chosen := hardening.row_id(value)) is not None:
        return chosen
    return me().id if me().role == "counsellor" else None


@bp.get("/")
@requires("calendar")
def day() -> str:
    office, now = current_office(), clock.now()
    shown = date_arg("date", local_today(office, now))
    view = staff_calendar.day_view(office, shown, counsellor=_counsellor_arg())
    return render_template(
        "staff/day.html",
        view=view,
        now=now,
        today=local_today(office, now),
        # the "now" line: today only, at the office's clock when the page was drawn
        now_at=staff_calendar.now_position(view.rows, now) if shown == local_today(office, now) else None,
        last_bookable_day=window(office, now)[1],  # staff may skip the notice, not the horizon
        previous_day=shown - timedelta(days=1),
        next_day=shown + timedelta(days=1),
        action_form=ActionForm(),
    )


@bp.get("/week")
@requires("calendar")
def week() -> str:
    office, now = current_office(), clock.now()
    shown = date_arg("date", local_today(office, now))
    monday = shown - timedelta(days=shown.weekday())
    return render_template(
        "staff/week.html",
        grid=week_grid.week_grid(office, monday, now, local_today(office, now)),
        monday=monday,
        sunday=monday + timedelta(days=6),
        previous_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
    )


def _offered(office: Office, service_id: str) -> list[tuple[str, str]]:
    """(code, name) of the languages the service is offered in, in the reader's language."""
    service = office.service(service_id)
    offered = roster.languages(service) if service is not None else ("de",)
    return [(code, languages.name(code, str(get_locale()))) for code in offered]


@bp.route("/book", methods=["GET", "POST"])
@requires("book")
def book() -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    service = office.service(request.args.get("service", "")) or abort(404)
    start = bookings.parse_start(request.args.get("start", ""), office) or abort(404)
    slot = open_slot(office, service, start, now, enforce_notice=False)
    if isinstance(slot, Unbookable):
        flash(unbookable_message(slot), "error")
        return redirect(url_for("staff.day", date=start.astimezone(office.timezone).date().isoformat()))
    form = CallerBookingForm()
    configured = current_app.config["LANGUAGES"]
    form.language.choices = language_choices()
    form.counselling_language.choices = [("", _("Any"))] + _offered(office, service.id)
    form.interpreter.choices = [("", _("No interpreter needed"))] + languages.choices(str(get_locale()))
    counsellors = [c for c in roster.roster() if c.gives(service.id)]
    form.counsellor.choices = [("", _("Any free counsellor"))] + [(str(c.id), c.name) for c in counsellors]
    if not form.language.data:
        form.language.data = configured[0]
    status = 200
    if form.validate_on_submit():
        try:
            booking = bookings.book(
                office,
                booking_request(
                    form,
                    service.id,
                    slot.start,
                    form.language.data,
                    counsellor_id=int(form.counsellor.data) if form.counsellor.data else None,
                ),
                now,
                enforce_notice=False,
                email_required=False,
                languages=configured,
                staff=me(),
            )
        except InvalidBooking as invalid:
            status = 422
            for field, messages in invalid.errors.items():
                target = getattr(form, field, None)
                if target is not None:
                    target.errors = list(messages)
                else:
                    flash(" ".join(messages), "error")
        except SlotFull:
            status = 409
            flash(_("Every place at this time is taken. Please choose another time."), "error")
        else:
            flash(
                _("The appointment is booked (reference %(reference)s).", reference=booking.reference),
                "success",
            )
            return redirect(url_for("staff.booking_detail", booking_id=booking.id))
    elif request.method == "POST":
        status = 422
    return render_template("staff/book.html", form=form, service=service, slot=slot), status


def _booking_or_404(booking_id: int) -> Booking:
    return staff_calendar.get_by_id(booking_id) or abort(404)


def _render_detail(
    booking: Booking, cancel_form: ReasonForm | None = None, status: int = 200
) -> tuple[str, int]:
    office, now = current_office(), clock.now()
    emails = staff_calendar.emails_of(booking)
    problems = places.needing_counsellor(office, now, [booking])
    return render_template(
        "staff/booking.html",
        booking=booking,
        service=office.service(booking.service_id),
        trail=staff_calendar.audit_trail(booking),
        emails=emails,
        failed=[row for row in emails if row.undelivered],
        cancel_form=cancel_form or ReasonForm(),
        action_form=ActionForm(),
        now=now,
        counsellor_name=staff_calendar.staff_names({booking.counsellor_id}).get(booking.counsellor_id or 0),
        problem=problems[0].problem if problems else None,
        others=places.free_counsellors(office, [booking])[booking.id]
        if booking.active and booking.start_at > now
        else [],
        can_mark=booking.active
        and booking.start_at.astimezone(office.timezone).date() <= local_today(office, now),
    ), status


@bp.get("/bookings/<int:booking_id>")
@requires("appointments")
def booking_detail(booking_id: int) -> tuple[str, int]:
    return _render_detail(own_or_403(_booking_or_404(booking_id)))


@bp.post("/bookings/<int:booking_id>/cancel")
@requires("book")
def cancel(booking_id: int) -> Response | tuple[str, int]:
    booking = _booking_or_404(booking_id)
    form = ReasonForm()
    if not form.validate():
        return _render_detail(booking, form, 422)
    try:
        if bookings.cancel(booking, clock.now(), reason=form.reason.data, staff=me()):
            flash(_("The appointment is cancelled."), "success")
        else:
            flash(_("This appointment was already cancelled."), "error")
    except TooLate:
        flash(_("This appointment has already begun. Mark it as a no-show instead."), "error")
    return redirect(url_for("staff.booking_detail", booking_id=booking.id))


@bp.post("/bookings/<int:booking_id>/reassign")
@requires("book")
def reassign(booking_id: int) -> Response:
    """Give the appointment to another counsellor: the one chosen, or the best free one."""
    booking = _booking_or_404(booking_id)
    choice = request.form.get("counsellor", "")
    counsellor_id = hardening.row_id(choice)
    if choice and counsellor_id is None:
        abort(400)
    try:
        chosen = places.reassign(current_office(), booking, me(), clock.now(), counsellor_id)
    except SlotFull:
        flash(_("No other counsellor is free at this time. Please move or cancel the appointment."), "error")
    except TooLate:
        flash(_("This appointment has already begun and can no longer be changed."), "error")
    except InvalidBooking as invalid:
        flash(" ".join(m for messages in invalid.errors.values() for m in messages), "error")
    else:
        name = staff_calendar.staff_names({chosen}).get(chosen, "")
        flash(_("The appointment is now with %(name)s.", name=name), "success")
    back = request.form.get("next")
    return redirect(safe_next(back) if back else url_for("staff.booking_detail", booking_id=booking.id))


@bp.route("/bookings/<int:booking_id>/move", methods=["GET", "POST"])
@requires("book")
def move(booking_id: int) -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    booking = _booking_or_404(booking_id)
    service = office.service(booking.service_id)
    if not booking.active or service is None:
        flash(_("This appointment is cancelled."), "error")
        return redirect(url_for("staff.booking_detail", booking_id=booking.id))
    shown = date_arg("date", booking.start_at.astimezone(office.timezone).date())
    free = staff_calendar.staff_free_slots(office, booking, shown, now)
    form = MoveForm()
    form.start.choices = [(slot.start.isoformat(), "") for slot, _free in free]
    status = 200
    if form.validate_on_submit():
        try:
            bookings.move(
                office,
                booking,
                form.start.data or "",
                now,
                enforce_notice=False,
                staff=me(),
                reason=form.reason.data,
            )
        except InvalidBooking as invalid:
            status = 422
            form.start.errors = [message for messages in invalid.errors.values() for message in messages]
        except SlotFull:
            status = 409
            flash(_("Every place at this time is taken. Please choose another time."), "error")
        except TooLate:
            flash(_("This appointment has already begun and can no longer be moved."), "error")
            return redirect(url_for("staff.booking_detail", booking_id=booking.id))
        else:
            flash(_("The appointment is moved."), "success")
            return redirect(url_for("staff.booking_detail", booking_id=booking.id))
    elif request.method == "POST":
        status = 422
    return render_template(
        "staff/move.html",
        booking=booking,
        service=service,
        form=form,
        free=free,
        shown=shown,
        # why a day without free times has none ("Geschlossen: Heiligabend"), read only then
        closed=None
        if free
        else finding.closed_reason(office, service, shown, str(get_locale()), closures_between(shown, shown)),
        previous_day=shown - timedelta(days=1),
        next_day=shown + timedelta(days=1),
    ), status


@bp.post("/bookings/<int:booking_id>/attendance")
@requires("attendance")
def attendance(booking_id: int) -> Response:
    office = current_office()
    booking = own_or_403(_booking_or_404(booking_id))
    value = {"attended": True, "no_show": False, "clear": None}
    choice = request.form.get("attended", "")
    if choice not in value:
        abort(400)
    try:
        bookings.mark_attendance(office, booking, value[choice], me(), clock.now())
    except InvalidBooking as invalid:
        flash(" ".join(m for messages in invalid.errors.values() for m in messages), "error")
    back = request.form.get("next")
    return redirect(safe_next(back) if back else url_for("staff.booking_detail", booking_id=booking.id))
