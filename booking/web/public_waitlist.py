"""The resident's pages of the waitlist: join it from a week without free times, see one's
entry and leave it. Thin views over `booking.waitlist`."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import clock, current_office, waitlist
from booking.models import WaitlistEntry
from booking.refusals import InvalidBooking
from booking.schedule import local_today, window
from booking.web import limits
from booking.web.forms import ConfirmForm, WaitlistForm
from booking.web.public import _choice, _service_or_404, bp

FIELDS = {"from": "first_day", "to": "last_day"}  # the service layer's names of two fields


@bp.route("/book/<service_id>/waitlist", methods=["GET", "POST"])
@limits.bookings
def join_waitlist(service_id: str) -> Response | tuple[str, int] | str:
    office, service, now = current_office(), _service_or_404(service_id), clock.now()
    choice = _choice(service, request.args)
    form = WaitlistForm()
    if request.method == "GET":  # the days of the week the resident looked at, else from today
        today, horizon = local_today(office, now), window(office, now)[1]
        try:
            first = max(date.fromisoformat(request.args.get("week", "")), today)
        except ValueError:
            first = today
        form.first_day.data = first
        form.last_day.data = min(first + timedelta(days=13), horizon)
        return render_template("public/waitlist_join.html", service=service, form=form, choice=choice)
    status = 422
    if form.validate():
        try:
            entry = waitlist.join(
                office,
                waitlist.WaitlistRequest(
                    service.id,
                    form.first_day.data,
                    form.last_day.data,
                    form.name.data or "",
                    form.email.data or "",
                    language=str(get_locale()),
                    counselling_language=choice.counselling if len(choice.offered) > 1 else None,
                ),
                now,
                current_app.config["LANGUAGES"],
            )
        except InvalidBooking as invalid:
            for field, messages in invalid.errors.items():
                getattr(form, FIELDS.get(field, field), form.first_day).errors = list(messages)
        else:
            return redirect(url_for("public.waitlist_entry", token=entry.token, new=1))
    return render_template("public/waitlist_join.html", service=service, form=form, choice=choice), status


@bp.get("/waitlist/<token>")
def waitlist_entry(token: str) -> str:
    entry = _entry_or_404(token)
    return render_template(
        "public/waitlist_entry.html",
        entry=entry,
        service=current_office().service(entry.service_id),
        form=ConfirmForm(),
        new=request.args.get("new") == "1",
    )


@bp.route("/waitlist/confirm/<token>", methods=["GET", "POST"])
def confirm_waitlist(token: str) -> Response | str:
    """The link in the email sent on joining: a page with a button; only its POST confirms
    (mail scanners open links)."""
    entry = waitlist.by_confirm_token(token)
    if entry is None:
        abort(404)
    if request.method == "POST" and ConfirmForm().validate():
        waitlist.confirm(entry, clock.now())
    if entry.confirmed_at is not None or not entry.waiting:
        return redirect(url_for("public.waitlist_entry", token=entry.token))
    return render_template(
        "public/waitlist_confirm.html",
        entry=entry,
        service=current_office().service(entry.service_id),
        form=ConfirmForm(),
    )


@bp.post("/waitlist/<token>/leave")
def leave_waitlist(token: str) -> Response:
    entry = _entry_or_404(token)
    if waitlist.leave(entry, clock.now()):
        flash(_("You have left the waitlist. We will not email you about free times."), "success")
    return redirect(url_for("public.waitlist_entry", token=token))


def _entry_or_404(token: str) -> WaitlistEntry:
    entry = waitlist.by_token(token)
    if entry is None:
        abort(404)
    return entry
