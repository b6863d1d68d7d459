"""The staff pages for closing times: a whole day or part of one, the appointments inside it,
and opening it again. Thin views over `booking.closures`."""

from __future__ import annotations

from datetime import time, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import clock, closures, current_office, staff_calendar
from booking.absences import local
from booking.refusals import InvalidClosure
from booking.schedule import local_today
from booking.web.staff_base import bp, date_arg, me, requires
from booking.web.staff_forms import ActionForm, CloseForm


@bp.route("/close", methods=["GET", "POST"])
@requires("closures")
def close() -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    form = CloseForm()
    if request.method == "GET" and not form.day.data:
        form.day.data = date_arg("date", local_today(office, now))
    status = 200
    if form.validate_on_submit():
        day = form.day.data
        assert day is not None
        start = local(office, day, form.start.data or time())
        end = (
            local(office, day + timedelta(days=1), time())
            if form.end.data is None
            else local(office, day, form.end.data)
        )
        if (form.start.data is None) != (form.end.data is None):
            status = 422
            form.end.errors = [_("Give both times, or neither for the whole day.")]
        else:
            try:
                closure = closures.close(office, start, end, form.reason.data or "", me(), now)
            except InvalidClosure as invalid:
                status = 422
                for field, messages in invalid.errors.items():
                    getattr(form, field).errors = list(messages)
            else:
                flash(_("The office is closed for new bookings at this time."), "success")
                return redirect(url_for("staff.closure", closure_id=closure.id))
    elif request.method == "POST":
        status = 422
    return render_template("staff/close.html", form=form), status


@bp.get("/closures/<int:closure_id>")
@requires("closures")
def closure(closure_id: int) -> str:
    found = staff_calendar.get_closure(closure_id) or abort(404)
    return render_template(
        "staff/closure.html",
        closure=found,
        inside=closures.bookings_in(found.start_at, found.end_at),
        action_form=ActionForm(),
    )


@bp.post("/closures/<int:closure_id>/reopen")
@requires("closures")
def reopen(closure_id: int) -> Response:
    office = current_office()
    found = staff_calendar.get_closure(closure_id) or abort(404)
    day = found.start_at.astimezone(office.timezone).date()
    if closures.reopen(office, closure_id, me(), clock.now()):
        flash(_("The closure is removed; the times can be booked again."), "success")
    return redirect(url_for("staff.day", date=day.isoformat()))
