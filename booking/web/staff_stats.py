"""The statistics page (`/staff/stats?from=…&to=…&by=week|month`) and its CSV
(`/staff/stats.csv`, same arguments): the figures of `booking.statistics` as bar charts (inline
SVG, no script), as tables, and as a spreadsheet in the style of the CSV export. Reception and
admins may see them (the office reports them); counsellors may not."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from flask import render_template, request
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from booking import charts, clock, current_office, statistics
from booking.schedule import local_today
from booking.statistics import Figures, Grouping, Period, Report
from booking.web.staff_base import bp, requires
from booking.web.templating import RTL, language_name

DEFAULT_MONTHS = 6
# The parts of a bar, the columns after "Bookings" and the CSV's: each outcome, in one order.
PARTS = statistics.OUTCOMES


def _default_range(today: date) -> tuple[date, date]:
    """The current month and the five before it."""
    month = today.year * 12 + today.month - 1 - (DEFAULT_MONTHS - 1)
    first = date(month // 12, month % 12 + 1, 1)
    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _arguments() -> tuple[date, date, Grouping] | str:
    """The days and grouping asked for, or what is wrong with them (in words)."""
    default_first, default_last = _default_range(local_today(current_office(), clock.now()))
    days = []
    for name, default, message in (
        ("from", default_first, _("“From” is not a date (YYYY-MM-DD).")),
        ("to", default_last, _("“To” is not a date (YYYY-MM-DD).")),
    ):
        given = request.args.get(name, "").strip()
        try:
            days.append(date.fromisoformat(given) if given else default)
        except ValueError:
            return message
    by = request.args.get("by", "month") or "month"
    if by not in statistics.GROUPINGS:
        return _("Please group by week or by month.")
    first, last = days
    if last < first:
        return _("The period ends before it begins.")
    if (last - first).days >= statistics.MAX_DAYS:
        return _("The period may be at most two years long.")
    return first, last, by  # type: ignore[return-value]


def period_label(period: Period) -> str:
    if period.by == "week":
        return _("Week %(week)d/%(year)d", week=period.key[1], year=period.key[0])
    return format_date(period.first, "LLLL y")


def counselling_label(code: str | None) -> str:
    return language_name(code) if code else _("Not chosen")


def part_label(kind: str) -> str:
    """The one name of an outcome: in the legend, the table's column and the CSV's."""
    return {
        "attended": _("Attended"),
        "no_show": _("No-show"),
        "open": _("Not recorded yet"),
        "cancelled": _("Cancelled"),
    }[kind]


def _charts(result: Report, rtl: bool) -> dict[str, charts.Chart]:
    def parts(figures: Figures) -> list[tuple[str, int]]:
        return [(kind, getattr(figures, kind)) for kind in PARTS]

    return {
        "bookings": charts.bar_chart(
            [(period_label(period), parts(figures)) for period, figures in result.periods], rtl=rtl
        ),
        "page_languages": charts.bar_chart(
            [
                (language_name(c), [("language", result.total.page_languages[c])])
                for c in result.page_languages
            ],
            rtl=rtl,
        ),
        "counselling_languages": charts.bar_chart(
            [
                (counselling_label(c), [("language", result.total.counselling_languages[c])])
                for c in result.counselling_languages
            ],
            rtl=rtl,
        ),
    }


def _labels() -> dict[str, Any]:
    return {"period_label": period_label, "counselling_label": counselling_label, "part_label": part_label}


@bp.get("/stats")
@requires("statistics")
def stats() -> tuple[str, int]:
    asked = _arguments()
    values = {key: request.args.get(key, "") for key in ("from", "to", "by")}
    if isinstance(asked, str):
        return render_template("staff/stats.html", error=asked, report=None, values=values, **_labels()), 400
    first, last, by = asked
    result = statistics.report(current_office(), first, last, by)
    rtl = str(get_locale()) in RTL
    return render_template(
        "staff/stats.html",
        error=None,
        report=result,
        values={"from": first.isoformat(), "to": last.isoformat(), "by": by},
        charts=_charts(result, rtl),
        parts=PARTS,
        **_labels(),
    ), 200


@bp.get("/stats.csv")
@requires("statistics")
def stats_csv() -> Response:
    asked = _arguments()
    if isinstance(asked, str):
        return Response(asked + "\n", status=400, mimetype="text/plain")
    first, last, by = asked
    result = statistics.report(current_office(), first, last, by)
    out = io.StringIO()
    out.write("\ufeff")  # the byte order mark makes Excel read UTF-8 (as the CSV export)
    writer = csv.writer(out, delimiter=";")
    writer.writerow(
        [
            _("Period"),
            _("From"),
            _("To"),
            _("Bookings"),
            *(part_label(kind) for kind in PARTS),
            *(
                _("Language of the pages: %(language)s", language=language_name(c))
                for c in result.page_languages
            ),
            *(
                _("Language of the counselling: %(language)s", language=counselling_label(c))
                for c in result.counselling_languages
            ),
        ]
    )

    def line(label: str, first_day: date, last_day: date, figures: Figures) -> list[object]:
        return [
            label,
            first_day.isoformat(),
            last_day.isoformat(),
            figures.bookings,
            *(getattr(figures, kind) for kind in PARTS),
            *(figures.page_languages[c] for c in result.page_languages),
            *(figures.counselling_languages[c] for c in result.counselling_languages),
        ]

    for period, figures in result.periods:
        writer.writerow(line(period_label(period), period.first, period.last, figures))
    writer.writerow(line(_("Total"), first, last, result.total))
    disposition = f'attachment; filename="statistik-{first}-{last}-{by}.csv"'
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": disposition})
