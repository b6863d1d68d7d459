"""The resident's pages of email verification: "check your email" after a pending booking, and
the link from that email (a page with a button; only its POST confirms, because mail scanners
open links). Thin views over `booking.verification`."""

from __future__ import annotations

from flask import abort, redirect, render_template, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from booking import clock, closures, current_office, verification
from booking.extensions import db
from booking.models import Booking
from booking.web import confirmation
from booking.web.forms import ConfirmForm
from booking.web.public import bp


@bp.get("/book/check-email")
def check_email() -> str:
    """What happens next, for the booking this browser just made (kept in its session, so the
    page carries no key to the booking)."""
    reference = session.get("pending")
    booking = db.session.scalar(select(Booking).where(Booking.reference == reference)) if reference else None
    if booking is None or booking.status != "pending":
        abort(404)
    return render_template(
        "public/check_email.html",
        booking=booking,
        email_sent=confirmation.email_sent(booking, "verify"),
        **_summary(booking),
    )


@bp.get("/confirm/<token>")
def confirm_page(token: str) -> Response | str:
    booking = _pending_or_404(token)
    if booking.status != "pending":  # the link opened again, after it confirmed: its page
        return redirect(url_for("public.manage", token=booking.token))
    if not booking.holding(clock.now()):
        return render_template("public/confirm_expired.html", booking=booking, **_summary(booking)), 410
    if closures.closed_between(booking.start_at, booking.end_at):  # said here; a GET changes nothing
        return render_template("public/confirm_closed.html", booking=booking, **_summary(booking)), 409
    return render_template("public/confirm.html", booking=booking, form=ConfirmForm(), **_summary(booking))


@bp.post("/confirm/<token>")
def confirm(token: str) -> Response | tuple[str, int]:
    booking = _pending_or_404(token)
    if booking.status != "pending":
        return redirect(url_for("public.manage", token=booking.token))
    try:
        first = verification.confirm(booking, clock.now())
    except verification.TimeClosed:
        return render_template("public/confirm_closed.html", booking=booking, **_summary(booking)), 409
    except verification.HoldExpired:
        return render_template("public/confirm_expired.html", booking=booking, **_summary(booking)), 410
    session.pop("pending", None)
    return redirect(url_for("public.manage", token=booking.token, new=1 if first else None))


def _pending_or_404(token: str) -> Booking:
    booking = verification.by_confirm_token(token)
    if booking is None:
        abort(404)
    return booking


def _summary(booking: Booking) -> dict[str, object]:
    return {"service": current_office().service(booking.service_id)}
