"""The resident's pages: choose a service and a time, book, manage the booking. Thin views."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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
from markupsafe import Markup
from werkzeug.wrappers import Response

from booking import bookings, clock, current_office, languages, places, roster
from booking.closures import closures_between
from booking.models import Booking
from booking.office import Service
from booking.refusals import InvalidBooking, SlotFull, TooLate
from booking.schedule import Slot, local_today
from booking.web import finding, limits
from booking.web.forms import ConfirmForm

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


# --- what the resident asks for: the language of the counselling, an interpreter -------------


@dataclass(frozen=True)
class Choice:
    """The resident's wishes for one service, carried from page to page as the query parameters
    `counselling` (a language the service is offered in) and `interpreter` (empty: none)."""

    counselling: str
    interpreter: str | None
    offered: tuple[str, ...]

    def args(self) -> dict[str, str | None]:
        """The query parameters that carry it (url_for leaves out a None)."""
        return {"counselling": self.counselling, "interpreter": self.interpreter}


def _choice(service: Service, values: Mapping[str, str], *, keep_known: bool = False) -> Choice:
    """The choice in `values`, each part checked: a counselling language the service is not
    offered in (or any known code, with `keep_known`: the booking then decides) and an unknown
    interpreter language fall back to the default, so a tampered link shows a page, not an error.
    Default: the page's language when the service is offered in it, else German."""
    offered = roster.languages(service)
    reader = str(get_locale())
    code = values.get("counselling")
    if not (code in offered or (keep_known and languages.is_known(code))):
        code = reader if reader in offered else roster.DEFAULT_LANGUAGE
        code = code if code in offered else offered[0]
    interpreter = values.get("interpreter") or None
    return Choice(code, interpreter if languages.is_known(interpreter) else None, offered)


def _choice_form(choice: Choice) -> dict[str, object]:
    """What the templates need to offer the choice again: the languages of the counselling in
    their order, and the interpreters' languages sorted by name as the reader reads them."""
    reader = str(get_locale())
    interpreters = [code for code, _name in languages.choices(reader)]
    if choice.interpreter and choice.interpreter not in interpreters:
        interpreters = [
            code for code, _name in languages.choices(reader, [*interpreters, choice.interpreter])
        ]
    return {
        "choice": choice,
        "counselling_options": languages.labels(choice.offered, reader),
        "interpreter_options": languages.labels(interpreters, reader),
    }


@bp.get("/")
def home() -> str:
    office = current_office()
    names = get_day_names("wide", locale=str(get_locale()))
    opening_hours = [(names[day], periods) for day, periods in sorted(office.hours.items())]
    choices = [(service, _choice_form(_choice(service, request.args))) for service in office.services]
    return render_template("public/home.html", choices=choices, opening_hours=opening_hours)


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


@dataclass(frozen=True)
class Week:
    """A week of one service's times as the pages show it: the days with hours or times, each
    with its slots and free places, why the closed ones are closed, and the weeks either side
    that lie inside the booking window."""

    monday: date
    days: list[tuple[date, list[tuple[Slot, int]]]]
    closed: dict[date, str | Markup]
    previous: date | None
    next: date | None

    @property
    def any_free(self) -> bool:
        return any(free for _day, slots in self.days for _slot, free in slots)


def week_of(
    service: Service,
    day: date,
    *,
    language: str | None,
    part: str | None = None,
    apart_from: Booking | None = None,
) -> Week:
    """The week of `day` (kept inside the booking window) with a counsellor speaking `language`
    free. `apart_from`: the booking being moved, whose own time does not count as taken and is
    not offered."""
    office, now = current_office(), clock.now()
    today = local_today(office, now)
    first_week, last_day = _monday(today), today + timedelta(days=office.rules.horizon_days)
    monday = min(max(_monday(day), first_week), _monday(last_day))
    sunday = monday + timedelta(days=6)
    own_start = apart_from.start_at if apart_from is not None else None
    slots = places.availability(
        office,
        service,
        monday,
        sunday,
        now,
        language=language,
        apart_from=apart_from.id if apart_from is not None else None,
    )
    # moving to the time it already has is no move; the other part of the day is not asked for
    slots = [
        (slot, 0 if slot.start == own_start else free) for slot, free in slots if finding.in_part(slot, part)
    ]
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        day_slots = [(slot, free) for slot, free in slots if slot.start.date() == day]
        if day_slots or day.weekday() in office.hours:
            days.append((day, day_slots))
    closed = finding.closed_reasons(
        office, service, [day for day, _slots in days], str(get_locale()), closures_between(monday, sunday)
    )
    return Week(
        monday=monday,
        days=days,
        closed=closed,
        previous=monday - timedelta(days=7) if monday > first_week else None,
        next=monday + timedelta(days=7) if monday + timedelta(days=7) <= last_day else None,
    )


def _week_page(
    service: Service,
    endpoint: str,
    *,
    language: str | None,
    apart_from: Booking | None = None,
    carry: Mapping[str, str | None] | None = None,
    **page: object,
) -> str:
    """A week of times of `service` with a counsellor speaking `language` free: the requested
    week, else the earliest free one. `endpoint` (with the view args of this request and `carry`)
    is the page of the other weeks. `apart_from`: the booking being moved."""
    office, now = current_office(), clock.now()
    part = finding.part_of_day(request.args.get("part"))
    soonest = finding.next_free(
        office,
        service,
        now,
        language=language,
        part=part,
        apart_from=apart_from.id if apart_from is not None else None,
        own_start=apart_from.start_at if apart_from is not None else None,
    )
    try:
        day = date.fromisoformat(request.args["week"])
    except (KeyError, ValueError):
        day = soonest.start.date() if soonest else local_today(office, now)
    week = week_of(service, day, language=language, part=part, apart_from=apart_from)
    monday = week.monday
    others = {**(request.view_args or {}), **(carry or {})}
    return render_template(
        "public/week.html",
        service=service,
        days=week.days,
        closed=week.closed,
        monday=monday,
        part=part,
        soonest=soonest,
        previous_week=week.previous,
        next_week=week.next,
        any_free=week.any_free,
        week_url=lambda day, part=part: url_for(endpoint, week=day.isoformat(), part=part, **others),
        part_url=lambda wanted: url_for(endpoint, week=monday.isoformat(), part=wanted, **others),
        **page,
    )


@bp.get("/book/<service_id>")
@limits.slot_lookups
def week(service_id: str) -> str:
    service = _service_or_404(service_id)
    choice = _choice(service, request.args)
    return _week_page(
        service,
        "public.week",
        language=choice.counselling,
        carry=choice.args(),
        form_action=url_for("public.details", service_id=service.id),
        choice=choice,
        wishes=_choice_form(choice),
    )


@bp.get("/b/<token>")
def manage(token: str) -> str:
    from booking.web import confirmation

    booking = _booking_or_404(token)
    new = request.args.get("new") == "1"
    return render_template(
        "public/manage.html",
        email_sent=new and confirmation.email_sent(booking),
        web_calendars=confirmation.web_calendars(booking),
        booking=booking,
        service=current_office().service(booking.service_id),
        new=new,
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


@bp.get("/b/<token>/move")
def choose_new_time(token: str) -> str:
    booking = _booking_or_404(token)
    service = _service_or_404(booking.service_id)
    if not booking.active or booking.start_at <= clock.now():
        abort(404)
    return _week_page(
        service,
        "public.choose_new_time",
        language=booking.counselling_language,
        apart_from=booking,
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
