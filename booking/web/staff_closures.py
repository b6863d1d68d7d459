"""The staff pages for closing times: whole days (one or several) or from a time to a time, the
appointments inside, cancelling them all with one reason, and opening it again. Thin views over
`booking.closures` and `booking.bookings`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from booking import bookings, clock, closures, current_office, staff_calendar
from booking.models import Closure
from booking.refusals import InvalidClosure
from booking.schedule import local_today
from booking.web.spans import span_label
from booking.web.staff_base import bp, date_arg, me, requires
from booking.web.staff_forms import ActionForm, CloseForm, ReasonForm


@bp.route("/close", methods=["GET", "POST"])
@requires("closures")
def close() -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    form = CloseForm()
    if request.method == "GET" and not form.start_date.data:
        form.start_date.data = date_arg("date", local_today(office, now))
    status = 200
    if form.validate_on_submit():
        span = form.span(office)
        if span is None:
            status = 422
        else:
            try:
                closure = closures.close(office, *span, form.reason.data or "", me(), now)
            except InvalidClosure as invalid:
                status = 422
                form.show(invalid.errors)
            else:
                flash(_("The office is closed for new bookings at this time."), "success")
                return redirect(url_for("staff.closure", closure_id=closure.id))
    elif request.method == "POST":
        status = 422
    listed = closures.upcoming(now)
    return render_template(
        "staff/close.html", form=form, listed=[(c, span_label(office, c)) for c in listed]
    ), status


def _closure_or_404(closure_id: int) -> Closure:
    return staff_calendar.get_closure(closure_id) or abort(404)


def _render_closure(found: Closure, cancel_form: ReasonForm, status: int = 200) -> tuple[str, int]:
    inside = closures.bookings_in(found.start_at, found.end_at)
    now = clock.now()
    return render_template(
        "staff/closure.html",
        closure=found,
        span=span_label(current_office(), found),
        inside=inside,
        to_cancel=sum(1 for booking in inside if booking.start_at > now),
        cancel_form=cancel_form,
        action_form=ActionForm(),
    ), status


@bp.get("/closures/<int:closure_id>")
@requires("closures")
def closure(closure_id: int) -> tuple[str, int]:
    found = _closure_or_404(closure_id)
    return _render_closure(found, ReasonForm(data={"reason": found.reason}))


@bp.post("/closures/<int:closure_id>/cancel-all")
@requires("book")
def cancel_inside(closure_id: int) -> Response | tuple[str, int]:
    """Cancel every appointment in the closure that has not begun, with one reason; each resident
    with an address gets the cancellation email in their language, through the outbox."""
    found = _closure_or_404(closure_id)
    form = ReasonForm()
    if not form.validate():
        return _render_closure(found, form, 422)
    now = clock.now()
    inside = closures.bookings_in(found.start_at, found.end_at)
    done = bookings.cancel_all(inside, now, form.reason.data or "", me())
    if done:
        emailed = sum(1 for booking in done if booking.email)
        flash(
            ngettext("%(num)d appointment cancelled.", "%(num)d appointments cancelled.", len(done))
            + " "
            + ngettext("%(num)d resident is told by email.", "%(num)d residents are told by email.", emailed),
            "success",
        )
    else:
        flash(_("There are no appointments left to cancel in this time."), "success")
    return redirect(url_for("staff.closure", closure_id=found.id))


@bp.post("/closures/<int:closure_id>/reopen")
@requires("closures")
def reopen(closure_id: int) -> Response:
    office = current_office()
    found = _closure_or_404(closure_id)
    day = found.start_at.astimezone(office.timezone).date()
    if closures.reopen(office, closure_id, me(), clock.now()):
        flash(_("The closure is removed; the times can be booked again."), "success")
    return redirect(url_for("staff.day", date=day.isoformat()))
