"""The resident's pages: choose a service and a time, book, manage the booking. Thin views."""

from __future__ import annotations

import re
from datetime import date, timedelta

from babel.dates import get_day_names
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import bookings, clock, current_office, places
from booking.closures import open_slot
from booking.models import Booking
from booking.office import Service
from booking.refusals import InvalidBooking, SlotFull, TooLate, unbookable_message
from booking.schedule import Unbookable, local_today
from booking.web import limits
from booking.web.forms import BookingForm, ConfirmForm
from booking.web.forms import booking_request as booking_request_of

bp = Blueprint("public", __name__)
LOCAL_PATH = re.compile(r"/(?![/\\])[^\x00-\x20\x7f\\]*")


def _service_or_404(service_id: str) -> Service:
    service = current_office().service(service_id)
    if service is None:
        abort(404)
    return service


def _booking_or_404(token: str) -> Booking:
    """The booking of a manage link; its pages speak the booking's language unless the reader
    chose another one with the switch."""
    booking = bookings.get_by_token(token) or abort(404)
    g.booking_language = booking.language
    return booking


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@bp.get("/")
def home() -> str:
    office = current_office()
    names = get_day_names("wide", locale=str(get_locale()))
    opening_hours = [(names[day], periods) for day, periods in sorted(office.hours.items())]
    return render_template("public/home.html", services=office.services, opening_hours=opening_hours)


@bp.get("/privacy")
def privacy() -> str:
    return render_template("public/privacy.html")


@bp.get("/language/<code>")
def choose_language(code: str) -> Response:
    if code in current_app.config["LANGUAGES"]:
        session["language"] = code
    target = request.args.get("next", "")
    # Only paths on this site, never another host: browsers drop tabs and newlines, so "/\t/evil"
    # would become "//evil"; control characters, spaces and backslashes are refused outright.
    if not LOCAL_PATH.fullmatch(target):
        target = url_for("public.home")
    return redirect(target)


def _week_page(service: Service, endpoint: str, **page: object) -> str:
    """A week of free times of `service`: the requested week, else the earliest free one.
    `endpoint` (with the view args of this request) is the page of the other weeks."""
    office, now = current_office(), clock.now()
    today = local_today(office, now)
    first_week, last_day = _monday(today), today + timedelta(days=office.rules.horizon_days)
    try:
        monday = _monday(date.fromisoformat(request.args["week"]))
    except (KeyError, ValueError):
        free_day = places.first_free_day(office, service, now)
        monday = _monday(free_day) if free_day else first_week
    monday = min(max(monday, first_week), _monday(last_day))
    slots = places.availability(office, service, monday, monday + timedelta(days=6), now)
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        day_slots = [(slot, free) for slot, free in slots if slot.start.date() == day]
        if day_slots or day.weekday() in office.hours:
            days.append((day, day_slots))
    return render_template(
        "public/week.html",
        service=service,
        days=days,
        monday=monday,
        previous_week=monday - timedelta(days=7) if monday > first_week else None,
        next_week=monday + timedelta(days=7) if monday + timedelta(days=7) <= last_day else None,
        any_free=any(free for _slot, free in slots),
        week_url=lambda day: url_for(endpoint, week=day.isoformat(), **(request.view_args or {})),
        **page,
    )


@bp.get("/book/<service_id>")
@limits.slot_lookups
def week(service_id: str) -> str:
    service = _service_or_404(service_id)
    return _week_page(service, "public.week", form_action=url_for("public.details", service_id=service.id))


@bp.route("/book/<service_id>/details", methods=["GET", "POST"])
@limits.booking_per_address
@limits.booking_per_email
def details(service_id: str) -> Response | tuple[str, int] | str:
    office, service = current_office(), _service_or_404(service_id)
    form = BookingForm()
    start = bookings.parse_start(request.values.get("start", ""), office)
    if start is None:
        flash(_("Please choose a time."), "error")
        return redirect(url_for("public.week", service_id=service.id))
    slot = open_slot(office, service, start, clock.now())
    if isinstance(slot, Unbookable):
        flash(unbookable_message(slot), "error")
        return redirect(url_for("public.week", service_id=service.id))
    form.start.data = slot.start.isoformat()
    status = 200
    if request.method == "POST":
        status = 422
        booking_request = booking_request_of(form, service.id, slot.start, str(get_locale()))
        languages = current_app.config["LANGUAGES"]
        form_valid = form.validate()
        try:
            if not form_valid:  # still show the field errors together with the form's own
                bookings.check_request(office, booking_request, clock.now(), languages=languages)
            else:
                booking = bookings.book(office, booking_request, clock.now(), languages=languages)
                return redirect(url_for("public.manage", token=booking.token, new=1))
        except InvalidBooking as invalid:
            for field, messages in invalid.errors.items():
                getattr(form, field).errors = list(messages)
        except SlotFull:
            flash(_("Sorry, this time was just taken. Please choose another time."), "error")
            return redirect(
                url_for("public.week", service_id=service.id, week=_monday(slot.start.date()).isoformat())
            )
    return render_template(
        "public/details.html", service=service, slot=slot, form=form, week_start=_monday(slot.start.date())
    ), status


@bp.get("/b/<token>")
def manage(token: str) -> str:
    booking = _booking_or_404(token)
    return render_template(
        "public/manage.html",
        booking=booking,
        service=current_office().service(booking.service_id),
        form=ConfirmForm(),
        new=request.args.get("new") == "1",
        past=booking.start_at <= clock.now(),
        manage_url=url_for("public.manage", token=booking.token, _external=True),
    )


@bp.get("/b/<token>/calendar.ics")
def calendar(token: str) -> Response:
    """The appointment as an iCalendar file, the same as the email's attachment."""
    from booking.notify import ics, messages

    booking = _booking_or_404(token)
    body = ics.booking_calendar(
        booking,
        current_office(),
        manage_url=messages.manage_url(booking),
        method=ics.method_for(booking),
        stamp=clock.now(),
    )
    disposition = f'attachment; filename="appointment-{booking.reference}.ics"'
    return Response(body, mimetype="text/calendar", headers={"Content-Disposition": disposition})


@bp.post("/b/<token>/cancel")
def cancel(token: str) -> Response:
    booking = _booking_or_404(token)
    try:
        if bookings.cancel(booking, clock.now()):
            flash(_("Your appointment is cancelled. The time is free again for others."), "success")
    except TooLate:
        flash(_("This appointment has already begun and can no longer be cancelled online."), "error")
    return redirect(url_for("public.manage", token=token))


@bp.get("/b/<token>/move")
def choose_new_time(token: str) -> str:
    booking = _booking_or_404(token)
    service = _service_or_404(booking.service_id)
    if not booking.active or booking.start_at <= clock.now():
        abort(404)
    return _week_page(
        service,
        "public.choose_new_time",
        booking=booking,
        form=ConfirmForm(),
        form_action=url_for("public.move", token=token),
    )


@bp.post("/b/<token>/move")
def move(token: str) -> Response:
    booking = _booking_or_404(token)
    try:
        bookings.move(current_office(), booking, request.form.get("start", ""), clock.now())
    except InvalidBooking as invalid:
        flash(" ".join(message for messages in invalid.errors.values() for message in messages), "error")
        return redirect(url_for("public.choose_new_time", token=token))
    except SlotFull:
        flash(_("Sorry, this time was just taken. Please choose another time."), "error")
        return redirect(url_for("public.choose_new_time", token=token))
    except TooLate:
        flash(_("This appointment has already begun and can no longer be changed online."), "error")
        return redirect(url_for("public.manage", token=token))
    flash(_("Your appointment is moved. We will send you the new time by email."), "success")
    return redirect(url_for("public.manage", token=token))
