"""Cancelling from the manage link: a page that asks first (with an optional reason); only its
POST cancels, because mail scanners and link previews open links (a GET changes nothing)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import bookings, clock, current_office
from booking.models import Booking
from booking.refusals import TooLate
from booking.web.forms import CancelForm
from booking.web.public import _booking_or_404, bp


@bp.get("/b/<token>/cancel")
def cancel_page(token: str) -> Response | str:
    booking = _booking_or_404(token)
    if (refused := _not_cancellable(booking)) is not None:
        return refused
    return _page(booking, CancelForm())


@bp.post("/b/<token>/cancel")
def cancel(token: str) -> Response | tuple[str, int]:
    """Cancel; a POST without a reason (the button of earlier manage pages) still works."""
    booking = _booking_or_404(token)
    if (refused := _not_cancellable(booking)) is not None:
        return refused  # cancelling twice is harmless: its page says it is cancelled
    form = CancelForm()
    if not form.validate():
        return _page(booking, form), 422
    try:
        release_after = bookings.release_delay(current_office())
        if bookings.cancel(booking, clock.now(), reason=form.reason.data, release_after=release_after):
            flash(_("Your appointment is cancelled. The time is free again for others."), "success")
    except TooLate:
        flash(_("This appointment has already begun and can no longer be cancelled online."), "error")
    return redirect(url_for("public.manage", token=token))


def _not_cancellable(booking: Booking) -> Response | None:
    """Back to the manage page when there is nothing to cancel any more."""
    if booking.status == "cancelled":
        return redirect(url_for("public.manage", token=booking.token))
    if booking.start_at <= clock.now():
        flash(_("This appointment has already begun and can no longer be cancelled online."), "error")
        return redirect(url_for("public.manage", token=booking.token))
    return None


def _page(booking: Booking, form: CancelForm) -> str:
    return render_template(
        "public/cancel.html",
        booking=booking,
        service=current_office().service(booking.service_id),
        form=form,
    )
