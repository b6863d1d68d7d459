""" "Lost your link?" (`/find`): the booking's reference and email address; its manage link is
emailed again to that address. The answer is the same whether or not such a booking exists, so
the page tells nobody which references or addresses are booked."""

from __future__ import annotations

from flask import flash, render_template
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import clock, lost_links, pasted
from booking.web import limits
from booking.web.forms import FindForm
from booking.web.public import bp


@bp.route("/find", methods=["GET", "POST"])
@limits.find_requests
def find() -> Response | tuple[str, int] | str:
    form = FindForm()
    if form.is_submitted():
        # copied from a plain-text email, the reference comes between invisible direction marks
        form.reference.data = pasted.clean(form.reference.data)
        form.email.data = pasted.clean(form.email.data)
        errors = {}
        if lost_links.normal_reference(form.reference.data) is None:
            errors["reference"] = [_("Please enter the booking reference, e.g. ABCD-2345.")]
        if not (form.email.data or "").strip() or "@" not in form.email.data:
            errors["email"] = [_("Please enter the email address you booked with.")]
        for name, messages in errors.items():
            getattr(form, name).errors = messages
        if errors:
            return render_template("public/find.html", form=form), 422
        now = clock.now()
        booking = lost_links.find(form.reference.data, form.email.data, now)
        if booking is not None and limits.may_send_link(booking):
            lost_links.send_link(booking, now)
        return render_template("public/find_sent.html")
    return render_template("public/find.html", form=form)


def find_expired() -> tuple[str, int]:
    """The form sent with a lost or expired CSRF token: shown again with what was typed."""
    flash(
        _(
            "The form was open too long or your browser did not keep our cookie. "
            "Please check your entries and send the form again."
        ),
        "error",
    )
    return render_template("public/find.html", form=FindForm()), 400
