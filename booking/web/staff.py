"""The staff pages under /staff/ and the calendar feed. Thin views: every change of a booking
goes through `booking.bookings`. Every /staff/ route except the login needs a signed-in,
active account; the check sits on the blueprint, so a new route cannot forget it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from booking import accounts, bookings, clock, current_office, feeds, staff_calendar
from booking.extensions import limiter
from booking.extensions import login as login_manager
from booking.models import Booking, Staff
from booking.notify import outbox
from booking.notify.ics import feed_calendar
from booking.office import Office
from booking.schedule import Unbookable, local_today, window
from booking.web.forms import booking_request
from booking.web.staff_forms import ActionForm, CallerBookingForm, CloseForm, LoginForm, MoveForm, ReasonForm
from booking.web.templating import language_choices

bp = Blueprint("staff", __name__, url_prefix="/staff")
feed_bp = Blueprint("feed", __name__)

# Per address and account: a few tries a minute, then a long wait; successful sign-ins are free.
LOGIN_LIMIT = "5 per minute;30 per hour"
# Per address alone, against trying many accounts from one place.
LOGIN_LIMIT_PER_ADDRESS = "60 per hour"
EXPORT_MAX_DAYS = 366
DATE_REACH = timedelta(days=3650)
FEED_DAYS_BACK = 30

login_manager.user_loader(accounts.load_user)


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """Anyone not signed in goes to the login page (back to the page they wanted after it)."""
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("staff.login", next=target))


@bp.before_request
def require_staff() -> Response | None:
    if request.endpoint in ("staff.login", None):
        return None
    if not current_user.is_authenticated:
        return unauthorized()
    return None


def _audit_action(action: str) -> str:
    return {
        "booked": _("Booked"),
        "cancelled": _("Cancelled"),
        "moved": _("Moved"),
        "attended": _("Marked as attended"),
        "no_show": _("Marked as no-show"),
        "attendance_cleared": _("Attendance reset"),
    }.get(action, action)


def _email_kind(kind: str) -> str:
    return {
        "confirm": _("Confirmation"),
        "cancel": _("Cancellation"),
        "move": _("New time"),
        "reminder": _("Reminder"),
    }.get(kind, kind)


@bp.context_processor
def labels() -> dict[str, Any]:
    return {"audit_action": _audit_action, "email_kind": _email_kind}


def me() -> Staff:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _safe_next(target: str | None) -> str:
    """Only paths of the staff pages, never another site."""
    if target and target.startswith("/staff/") and "\\" not in target and "//" not in target:
        return target
    return url_for("staff.day")


def _login_key() -> str:
    return f"{get_remote_address()}|{request.form.get('email', '').strip().lower()[:254]}"


def _failed(response: Response) -> bool:
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"], key_func=_login_key, deduct_when=_failed, scope="staff-login")
@limiter.limit(LOGIN_LIMIT_PER_ADDRESS, methods=["POST"], deduct_when=_failed, scope="staff-login-address")
def login() -> Response | tuple[str, int] | str:
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    if form.validate_on_submit():
        staff = accounts.authenticate(form.email.data or "", form.password.data or "")
        if staff is not None:
            login_user(staff)
            return redirect(_safe_next(form.next.data))
        status = 401
        flash(_("The email address or the password is not right, or the account is disabled."), "error")
    elif request.method == "POST":
        status = 400
        flash(_("Please enter your email address and password."), "error")
    return render_template("staff/login.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    logout_user()  # CSRFProtect has checked the form's token before this view runs
    flash(_("You are signed out."), "success")
    return redirect(url_for("staff.login"))


# --- calendar ---------------------------------------------------------------------------


def _date_arg(name: str, default: date) -> date:
    """A date from the query string, `default` when missing or invalid; kept within ten years of
    `default` so the calendar arithmetic of the pages cannot run off the end of time."""
    try:
        value = date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return default
    return min(max(value, default - DATE_REACH), default + DATE_REACH)


def _day_arg(office: Office) -> date:
    return _date_arg("date", local_today(office, clock.now()))


@bp.get("/")
def day() -> str:
    office, now = current_office(), clock.now()
    shown = _day_arg(office)
    view = staff_calendar.day_view(office, shown)
    return render_template(
        "staff/day.html",
        view=view,
        now=now,
        today=local_today(office, now),
        last_bookable_day=window(office, now)[1],  # staff may skip the notice, not the horizon
        previous_day=shown - timedelta(days=1),
        next_day=shown + timedelta(days=1),
        action_form=ActionForm(),
    )


@bp.get("/week")
def week() -> str:
    office = current_office()
    shown = _day_arg(office)
    monday = shown - timedelta(days=shown.weekday())
    return render_template(
        "staff/week.html",
        week=staff_calendar.week_view(office, monday),
        monday=monday,
        previous_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
    )


@bp.route("/book", methods=["GET", "POST"])
def book() -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    service = office.service(request.args.get("service", "")) or abort(404)
    start = bookings.parse_start(request.args.get("start", ""), office) or abort(404)
    slot = bookings.open_slot(office, service, start, now, enforce_notice=False)
    if isinstance(slot, Unbookable):
        flash(bookings.unbookable_message(slot), "error")
        return redirect(url_for("staff.day", date=start.astimezone(office.timezone).date().isoformat()))
    form = CallerBookingForm()
    languages = current_app.config["LANGUAGES"]
    form.language.choices = language_choices()
    if not form.language.data:
        form.language.data = languages[0]
    status = 200
    if form.validate_on_submit():
        try:
            booking = bookings.book(
                office,
                booking_request(form, service.id, slot.start, form.language.data),
                now,
                enforce_notice=False,
                email_required=False,
                languages=languages,
                staff=me(),
            )
        except bookings.InvalidBooking as invalid:
            status = 422
            for field, messages in invalid.errors.items():
                target = getattr(form, field, None)
                if target is not None:
                    target.errors = list(messages)
                else:
                    flash(" ".join(messages), "error")
        except bookings.SlotFull:
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
    office = current_office()
    emails = staff_calendar.emails_of(booking)
    return render_template(
        "staff/booking.html",
        booking=booking,
        service=office.service(booking.service_id),
        trail=staff_calendar.audit_trail(booking),
        emails=emails,
        failed=[row for row in emails if row.undelivered],
        cancel_form=cancel_form or ReasonForm(),
        action_form=ActionForm(),
        now=clock.now(),
        can_mark=booking.active
        and booking.start_at.astimezone(office.timezone).date() <= local_today(office, clock.now()),
    ), status


@bp.get("/bookings/<int:booking_id>")
def booking_detail(booking_id: int) -> tuple[str, int]:
    return _render_detail(_booking_or_404(booking_id))


@bp.post("/bookings/<int:booking_id>/cancel")
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
    except bookings.TooLate:
        flash(_("This appointment has already begun. Mark it as a no-show instead."), "error")
    return redirect(url_for("staff.booking_detail", booking_id=booking.id))


@bp.route("/bookings/<int:booking_id>/move", methods=["GET", "POST"])
def move(booking_id: int) -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    booking = _booking_or_404(booking_id)
    service = office.service(booking.service_id)
    if not booking.active or service is None:
        flash(_("This appointment is cancelled."), "error")
        return redirect(url_for("staff.booking_detail", booking_id=booking.id))
    shown = _date_arg("date", booking.start_at.astimezone(office.timezone).date())
    free = [
        row
        for row in staff_calendar.staff_free_slots(office, service, shown, now)
        if row.start != booking.start_at
    ]
    form = MoveForm()
    form.start.choices = [(row.start.isoformat(), "") for row in free]
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
        except bookings.InvalidBooking as invalid:
            status = 422
            form.start.errors = [message for messages in invalid.errors.values() for message in messages]
        except bookings.SlotFull:
            status = 409
            flash(_("Every place at this time is taken. Please choose another time."), "error")
        except bookings.TooLate:
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
        previous_day=shown - timedelta(days=1),
        next_day=shown + timedelta(days=1),
    ), status


@bp.post("/bookings/<int:booking_id>/attendance")
def attendance(booking_id: int) -> Response:
    office = current_office()
    booking = _booking_or_404(booking_id)
    value = {"attended": True, "no_show": False, "clear": None}
    choice = request.form.get("attended", "")
    if choice not in value:
        abort(400)
    try:
        bookings.mark_attendance(office, booking, value[choice], me(), clock.now())
    except bookings.InvalidBooking as invalid:
        flash(" ".join(m for messages in invalid.errors.values() for m in messages), "error")
    back = request.form.get("next")
    return redirect(_safe_next(back) if back else url_for("staff.booking_detail", booking_id=booking.id))


# --- closures ----------------------------------------------------------------------------


@bp.route("/close", methods=["GET", "POST"])
def close() -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    form = CloseForm()
    if request.method == "GET" and not form.day.data:
        form.day.data = _day_arg(office)
    status = 200
    if form.validate_on_submit():
        day = form.day.data
        assert day is not None
        start = _local(office, day, form.start.data or time())
        end = (
            _local(office, day + timedelta(days=1), time())
            if form.end.data is None
            else _local(office, day, form.end.data)
        )
        if (form.start.data is None) != (form.end.data is None):
            status = 422
            form.end.errors = [_("Give both times, or neither for the whole day.")]
        else:
            try:
                closure = bookings.close(office, start, end, form.reason.data or "", me(), now)
            except bookings.InvalidClosure as invalid:
                status = 422
                for field, messages in invalid.errors.items():
                    getattr(form, field).errors = list(messages)
            else:
                flash(_("The office is closed for new bookings at this time."), "success")
                return redirect(url_for("staff.closure", closure_id=closure.id))
    elif request.method == "POST":
        status = 422
    return render_template("staff/close.html", form=form), status


def _local(office: Office, day: date, moment: time) -> datetime:
    """Local wall time of the office as an aware moment (a gap hour gets its real offset)."""
    return datetime.combine(day, moment, tzinfo=office.timezone).astimezone(UTC).astimezone(office.timezone)


@bp.get("/closures/<int:closure_id>")
def closure(closure_id: int) -> str:
    found = staff_calendar.get_closure(closure_id) or abort(404)
    return render_template(
        "staff/closure.html",
        closure=found,
        inside=bookings.bookings_in(found.start_at, found.end_at),
        action_form=ActionForm(),
    )


@bp.post("/closures/<int:closure_id>/reopen")
def reopen(closure_id: int) -> Response:
    office = current_office()
    found = staff_calendar.get_closure(closure_id) or abort(404)
    day = found.start_at.astimezone(office.timezone).date()
    if bookings.reopen(office, closure_id, me(), clock.now()):
        flash(_("The closure is removed; the times can be booked again."), "success")
    return redirect(url_for("staff.day", date=day.isoformat()))


# --- export and calendar feed ------------------------------------------------------------


def _csv_safe(value: str | None) -> str:
    """Text a spreadsheet would run as a formula is kept as text."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/emails")
def undelivered_emails() -> str:
    """Every email that is failing or was given up, so staff can call those residents."""
    return render_template("staff/emails.html", emails=outbox.failed_emails(), now=clock.now())


@bp.get("/export.csv")
def export() -> Response:
    office = current_office()
    today = local_today(office, clock.now())
    first = _date_arg("from", today)
    last = _date_arg("to", first)
    if last < first or (last - first).days >= EXPORT_MAX_DAYS:
        abort(400)
    out = io.StringIO()
    out.write("\ufeff")  # the byte order mark makes Excel read UTF-8
    writer = csv.writer(out, delimiter=";")
    writer.writerow(
        [
            _("Date"),
            _("Start"),
            _("End"),
            _("Service"),
            _("Booking reference"),
            _("Name"),
            _("Phone"),
            _("Email address"),
            _("Note"),
            _("Status"),
            _("Attendance"),
            _("Reason for cancelling"),
        ]
    )
    language = str(get_locale())
    for booking in staff_calendar.bookings_between(office, first, last):
        service = office.service(booking.service_id)
        start, end = booking.start_at.astimezone(office.timezone), booking.end_at.astimezone(office.timezone)
        writer.writerow(
            [
                start.date().isoformat(),
                start.strftime("%H:%M"),
                end.strftime("%H:%M"),
                service.name(language) if service else booking.service_id,
                booking.reference,
                _csv_safe(booking.name),
                _csv_safe(booking.phone),
                _csv_safe(booking.email),
                _csv_safe(booking.note),
                _("Confirmed") if booking.active else _("Cancelled"),
                {True: _("Attended"), False: _("No-show"), None: ""}[booking.attended],
                _csv_safe(booking.cancel_reason),
            ]
        )
    disposition = f'attachment; filename="termine-{first}-{last}.csv"'
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": disposition})


@bp.get("/feed")
def feed_settings() -> str:
    token = feeds.current_token()
    return render_template(
        "staff/feed.html",
        feed_url=url_for("feed.calendar", token=token, _external=True) if token else None,
        action_form=ActionForm(),
    )


@bp.post("/feed/rotate")
def rotate_feed() -> Response:
    feeds.rotate(clock.now())
    flash(_("The calendar feed has a new address. The old one no longer works."), "success")
    return redirect(url_for("staff.feed_settings"))


def _detail_url(booking: Booking) -> str:
    """Events in the staff feed link to the staff page of the booking, not the resident's."""
    return url_for("staff.booking_detail", booking_id=booking.id, _external=True)


@feed_bp.get("/feed/<token>.ics")
def calendar(token: str) -> Response:
    """The bookings as an iCalendar feed. No session: the secret token in the URL is the key."""
    if not feeds.is_valid(token):
        abort(404)
    office, now = current_office(), clock.now()
    today = local_today(office, now)
    found = staff_calendar.bookings_between(
        office,
        today - timedelta(days=FEED_DAYS_BACK),
        today + timedelta(days=office.rules.horizon_days + 1),
        active_only=True,
    )
    data = feed_calendar(found, office, manage_url_for=_detail_url, stamp=now)
    return Response(
        data, mimetype="text/calendar", headers={"Content-Disposition": 'inline; filename="termine.ics"'}
    )
