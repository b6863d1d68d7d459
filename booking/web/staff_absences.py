"""The staff pages for counsellors' absences and the appointments that need a counsellor: enter an
absence, see at once whose appointments it touches, give them to a free counsellor in one click
(or all at once), move or cancel the rest. Thin views over `booking.absences` and `booking.places`;
a single appointment is given by the existing `staff.reassign` route."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from booking import absences as absence_rules
from booking import accounts, clock, current_office, places, staff_calendar
from booking.models import Absence, Booking
from booking.office import Office
from booking.refusals import InvalidAbsence
from booking.rota import Counsellor
from booking.web.absence_forms import AbsenceForm
from booking.web.spans import span_label
from booking.web.staff_base import bp, me, requires
from booking.web.staff_forms import ActionForm


@dataclass(frozen=True)
class Row:
    """An appointment to be given to someone else, with who could take it."""

    booking: Booking
    free: list[Counsellor]
    begun: bool
    counsellor: str = ""  # the name of its counsellor now ("" when none)
    problem: str | None = None  # see `places.assignment_problem`


def _rows(
    office: Office, found: Iterable[Booking], now: datetime, problems: dict[int, str] | None = None
) -> list[Row]:
    found = list(found)
    names = staff_calendar.staff_names({b.counsellor_id for b in found if b.counsellor_id is not None})
    free = places.free_counsellors(office, [b for b in found if b.start_at > now])
    return [
        Row(
            booking=b,
            free=free.get(b.id, []),
            begun=b.start_at <= now,
            counsellor=names.get(b.counsellor_id or 0, ""),
            problem=(problems or {}).get(b.id),
        )
        for b in found
    ]


def _absence_or_404(absence_id: int) -> Absence:
    return absence_rules.get(absence_id) or abort(404)


@bp.route("/absences", methods=["GET", "POST"])
@requires("absences")
def absences() -> Response | tuple[str, int]:
    office, now = current_office(), clock.now()
    form = AbsenceForm()
    form.offer(accounts.counsellors())
    status = 200
    if form.validate_on_submit():
        span = form.span(office)
        if span is None:
            status = 422
        else:
            try:
                added = absence_rules.add(
                    office, int(form.counsellor.data or 0), *span, form.reason.data, me(), now
                )
            except InvalidAbsence as invalid:
                status = 422
                form.show(invalid.errors)
            else:
                flash(_("The absence is entered."), "success")
                return redirect(url_for("staff.absence", absence_id=added.id))
    elif request.method == "POST":
        status = 422
    listed = absence_rules.upcoming(now)
    return render_template(
        "staff/absences.html",
        form=form,
        listed=[(a, span_label(office, a)) for a in listed],
    ), status


@bp.get("/absences/<int:absence_id>")
@requires("absences")
def absence(absence_id: int) -> str:
    office, now = current_office(), clock.now()
    found = _absence_or_404(absence_id)
    return render_template(
        "staff/absence.html",
        absence=found,
        span=span_label(office, found),
        rows=_rows(office, absence_rules.affected(found, now), now),
        action_form=ActionForm(),
    )


def _give_all(office: Office, found: list[Booking], now: datetime) -> None:
    """Give each appointment that has not begun to the best free counsellor; say how many went
    to whom and how many are left to move or cancel."""
    found = [b for b in found if b.start_at > now]
    if not found:
        flash(_("There are no appointments to give to another counsellor."), "success")
        return
    left = {b.id for b in places.reassign_all(office, found, me(), now)}
    given = Counter(b.counsellor_id for b in found if b.id not in left)
    if given:
        names = staff_calendar.staff_names({i for i in given if i is not None})
        by_name = sorted((names.get(i or 0, "–"), count) for i, count in given.items())
        to_whom = ", ".join(f"{name} ({count})" for name, count in by_name)
        total = sum(given.values())
        flash(
            ngettext(
                "%(num)d appointment given to another counsellor: %(names)s.",
                "%(num)d appointments given to other counsellors: %(names)s.",
                total,
                names=to_whom,
            ),
            "success",
        )
    if left:
        flash(
            ngettext(
                "%(num)d appointment is left to move or cancel: no other counsellor is free for it.",
                "%(num)d appointments are left to move or cancel: no other counsellor is free for them.",
                len(left),
            ),
            "error",
        )


@bp.post("/absences/<int:absence_id>/reassign-all")
@requires("book")
def reassign_absence(absence_id: int) -> Response:
    office, now = current_office(), clock.now()
    found = _absence_or_404(absence_id)
    _give_all(office, absence_rules.affected(found, now), now)
    return redirect(url_for("staff.absence", absence_id=found.id))


@bp.post("/absences/<int:absence_id>/remove")
@requires("absences")
def remove_absence(absence_id: int) -> Response:
    found = _absence_or_404(absence_id)
    absence_rules.remove(current_office(), found.id, me(), clock.now())
    flash(_("The absence is removed; the counsellor can be booked again at that time."), "success")
    return redirect(url_for("staff.absences"))


@bp.get("/assign")
@requires("book")
def assign() -> str:
    office, now = current_office(), clock.now()
    needing = places.needing_counsellor(office, now)
    return render_template(
        "staff/assign.html",
        rows=_rows(office, [a.booking for a in needing], now, {a.booking.id: a.problem for a in needing}),
        action_form=ActionForm(),
    )


@bp.post("/assign/all")
@requires("book")
def assign_all() -> Response:
    office, now = current_office(), clock.now()
    _give_all(office, [a.booking for a in places.needing_counsellor(office, now)], now)
    return redirect(url_for("staff.assign"))
