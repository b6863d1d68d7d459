"""The month view of a service (`/book/<service>/month?month=YYYY-MM`): the days that have free
times, each a link to its week, so a resident sees at a glance where to look, and why the closed
ones are closed (as on the week page)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from babel.dates import get_day_names
from flask import render_template, request, url_for
from flask_babel import format_date, get_locale

from booking import clock, current_office, places
from booking.closures import closures_between
from booking.schedule import local_today
from booking.web import finding, limits
from booking.web.public import _choice, _service_or_404, bp


def _month(value: str | None, today: date) -> date:
    """The first day of the month asked for (`YYYY-MM`), else of this month."""
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


@bp.get("/book/<service_id>/month")
@limits.slot_lookups
def month(service_id: str) -> str:
    service = _service_or_404(service_id)
    choice = _choice(service, request.args)
    part = finding.part_of_day(request.args.get("part"))
    office, now = current_office(), clock.now()
    today = local_today(office, now)
    last_day = today + timedelta(days=office.rules.horizon_days)
    first = min(max(_month(request.args.get("month"), today), today.replace(day=1)), last_day.replace(day=1))
    end = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    free_days = {
        slot.start.date()
        for slot, free in places.availability(office, service, first, end, now, language=choice.counselling)
        if free and finding.in_part(slot, part)
    }
    month_days = (first + timedelta(days=n) for n in range(end.day))
    # the days it opens, inside the booking window: which of them are closed, and why
    opening_days = [day for day in month_days if today <= day <= last_day and day.weekday() in office.hours]
    reader = str(get_locale())
    closed = finding.closed_reasons(office, service, opening_days, reader, closures_between(first, end))
    names = get_day_names("abbreviated", locale=reader)
    wide = get_day_names("wide", locale=reader)
    carry = {**choice.args(), "part": part}
    previous = (first - timedelta(days=1)).replace(day=1)
    following = end + timedelta(days=1)
    return render_template(
        "public/month.html",
        service=service,
        choice=choice,
        first=first,
        title=format_date(first, "LLLL y"),
        weeks=calendar.Calendar().monthdatescalendar(first.year, first.month),
        free_days=free_days,
        closed=closed,
        weekday_names=[(names[day], wide[day]) for day in range(7)],
        previous_month=previous if previous >= today.replace(day=1) else None,
        next_month=following if following <= last_day else None,
        month_url=lambda day: url_for(
            "public.month", service_id=service.id, month=day.strftime("%Y-%m"), **carry
        ),
        day_url=lambda day: (
            url_for("public.week", service_id=service.id, week=day.isoformat(), **carry)
            + f"#day-{day.isoformat()}"
        ),
        week_url=url_for("public.week", service_id=service.id, week=first.isoformat(), **carry),
    )
