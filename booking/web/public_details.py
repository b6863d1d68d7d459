"""The booking form (`/book/<service>/details`): everything typed survives every failure. A
refused field, a lost CSRF token, a rate limit or a switch of language shows the form again with
what was typed; a time just taken shows it with the nearest free times to pick from instead, and
choosing another time shows a week of times inside the form (its buttons send what was typed)."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, ngettext, refresh
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import bookings, clock, current_office
from booking.closures import open_slot
from booking.office import Office, Service
from booking.refusals import InvalidBooking, SlotFull, unbookable_message
from booking.schedule import Slot, Unbookable
from booking.web import challenges, limits, nearest
from booking.web.forms import BookingForm
from booking.web.forms import booking_request as booking_request_of
from booking.web.public import Choice, _choice, _monday, _service_or_404, bp, week_of


@bp.route("/book/<service_id>/details", methods=["GET", "POST"])
@limits.bookings
def details(service_id: str) -> Response | tuple[str, int] | str:
    return _details(service_id)


def details_limited(wait_seconds: int) -> Response | tuple[str, int] | str:
    """The form sent too often (a rate limit): shown again with everything typed and how long
    to wait, booking nothing."""
    minutes = max(1, -(-wait_seconds // 60))
    message = ngettext(
        "Too many bookings were sent from here. Please wait %(num)d minute and send the form again.",
        "Too many bookings were sent from here. Please wait %(num)d minutes and send the form again.",
        minutes,
    )
    return _details(request.view_args["service_id"], refused=(message, 429))


def details_expired() -> Response | tuple[str, int] | str:
    """The form sent with a lost or expired CSRF token (cookies blocked, browser restarted):
    shown again with everything typed and a fresh token, booking nothing."""
    message = _(
        "The form was open too long or your browser did not keep our cookie. "
        "Please check your entries and send the form again."
    )
    return _details(request.view_args["service_id"], refused=(message, 400))


def _switch_language() -> bool:
    """The language switch of the form (a button that sends what was typed along): the page
    comes back in that language with everything kept, booking nothing."""
    code = request.form.get("switch_language") if request.method == "POST" else None
    if code not in current_app.config["LANGUAGES"]:
        return False
    session["language"] = code
    refresh()
    return True


def _picked_week() -> date | None:
    """The week the form's "Choose another time" or "Show all times of the week" asked for:
    those are buttons of the form, so what was typed comes along (never in an address)."""
    if request.method != "POST":
        return None
    try:
        return date.fromisoformat(request.form.get("pick_week", ""))
    except ValueError:
        return None


def _details(service_id: str, refused: tuple[str, int] | None = None) -> Response | tuple[str, int] | str:
    office, service = current_office(), _service_or_404(service_id)
    switched = _switch_language()
    picked = _picked_week()
    form = BookingForm()
    # The choice travels in the address (the form posts to it), so a language switch or a form
    # sent back after an expired token keeps it too.
    posted = request.method == "POST"
    choice = _choice(service, request.args, keep_known=posted)
    # A time picked from the nearest free ones comes with the form, else the one in the address.
    wanted = (request.form.get("start") if posted else None) or request.args.get("start", "")
    start = bookings.parse_start(wanted, office)
    if start is None:
        flash(_("Please choose a time."), "error")
        return redirect(url_for("public.week", service_id=service.id, **choice.args()))
    if picked is not None:  # a week of times inside the form: nothing booked, no errors yet
        status = 200
        if refused is not None:
            message, status = refused
            flash(message, "error")
        week = week_of(service, picked, language=choice.counselling)
        checked = start.astimezone(office.timezone).isoformat()  # as the week's times are written
        return _details_page(service, None, form, choice, wanted=start, week=week, checked=checked), status
    slot = open_slot(office, service, start, clock.now())
    if isinstance(slot, Unbookable):
        if not posted:
            flash(unbookable_message(slot), "error")
            return redirect(url_for("public.week", service_id=service.id, **choice.args()))
        # sent for a time no longer bookable: the form again, with the nearest free times
        flash(unbookable_message(slot), "error")
        return _taken_page(office, service, form, choice, start)
    form.start.data = slot.start.isoformat()
    status = 200
    if refused is not None:
        message, status = refused
        if not switched:
            form.validate()  # the fields' own errors with the refusal's message
        flash(message, "error")
    elif switched:
        pass  # only the language changed: no errors for fields not filled in yet
    elif posted:
        status = 422
        booking_request = booking_request_of(
            form,
            service.id,
            slot.start,
            str(get_locale()),
            counselling_language=choice.counselling,
            interpreter=choice.interpreter,
        )
        languages = current_app.config["LANGUAGES"]
        form_valid = form.validate()
        verify = None
        if challenges.required():
            if not form.altcha.data:  # no JavaScript (or the widget failed): the email link confirms
                verify = True
            elif not challenges.spend(form.altcha.data):
                form.altcha.errors = [challenges.form_message()]
                form_valid = False
        try:
            if not form_valid:  # still show the field errors together with the form's own
                bookings.check_request(office, booking_request, clock.now(), languages=languages)
            else:
                booking = bookings.book(
                    office, booking_request, clock.now(), languages=languages, verify=verify
                )
                limits.made(booking)
                if booking.status == "pending":  # the page says what happens next, with no key to it
                    session["pending"] = booking.reference
                    return redirect(url_for("public.check_email"))
                return redirect(url_for("public.manage", token=booking.token, new=1))
        except InvalidBooking as invalid:
            for field, messages in invalid.errors.items():
                # a problem of a field the form has not (the choice) is shown with the time
                (getattr(form, field, None) or form.start).errors = list(messages)
        except SlotFull:
            flash(
                _("Sorry, this time was just taken. Please choose one of the nearest free times below."),
                "error",
            )
            return _taken_page(office, service, form, choice, slot.start)
    return _details_page(service, slot, form, choice), status


def _taken_page(
    office: Office, service: Service, form: BookingForm, choice: Choice, wanted: datetime
) -> tuple[str, int]:
    """The form again, with what was typed, after its time was taken: the nearest free times
    to choose from instead of the taken one."""
    alternatives = nearest.nearest_free(office, service, wanted, clock.now(), choice.counselling)
    return _details_page(service, None, form, choice, wanted=wanted, alternatives=alternatives), 409


def _details_page(
    service: Service,
    slot: Slot | None,
    form: BookingForm,
    choice: Choice,
    **page: object,
) -> str:
    wanted = slot.start if slot is not None else page["wanted"]
    return render_template(
        "public/details.html",
        service=service,
        slot=slot,
        form=form,
        choice=choice,
        week_start=_monday(wanted.date()),  # type: ignore[union-attr]
        action_start=wanted.isoformat(),  # type: ignore[union-attr]
        altcha_strings=challenges.widget_strings() if challenges.required() else None,
        **page,
    )
