"""The statistics the office reports to the county: per week or month, bookings, cancellations,
attended and no-shows and the languages, the same figures in the charts (inline SVG), the table
and the CSV. Reception and admins see them; counsellors do not. Runs on SQLite and PostgreSQL.

The bookings: Tuesday 30 and Wednesday 31 March 2027 (ISO week 13) and Tuesday 6 April (week 14);
the clock then moves on to 7 April, so attendance can be marked."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from booking.extensions import db
from booking.models import AuditEvent, Booking
from tests.integration.staff_support import (
    PASSWORD,
    book_at,
    create_counsellor,
    create_staff,
    english,
    sign_in,
)

RANGE = "from=2027-03-29&to=2027-04-11"


@pytest.fixture
def desk(app, client):  # type: ignore[no-untyped-def]
    create_staff(app)
    english(client)
    assert sign_in(client).status_code == 302
    return client


def update(app, booking_id: int, **values: object) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        db.session.execute(db.update(Booking).where(Booking.id == booking_id).values(**values))
        db.session.commit()


@pytest.fixture
def month(app, desk, clock):  # type: ignore[no-untyped-def]
    """Week 13: three bookings, one cancelled, one attended, one no-show; week 14: two, one of
    them attended, and an Arabic page. One pending booking and one waitlist offer given back,
    neither of them a booking."""
    create_counsellor(app, "leyla@example.org", "Leyla Demir", ("de", "ar"))
    create_counsellor(app, "clara@example.org", "Clara Becker", ("de", "ar"))
    ids = {
        "cancelled": book_at(app, "2027-03-30T09:00", email="a@example.org", counselling_language="ar"),
        "attended": book_at(app, "2027-03-30T09:30", email="b@example.org", counselling_language="ar"),
        "no_show": book_at(app, "2027-03-31T10:00", email="c@example.org"),
        "later": book_at(app, "2027-04-06T09:00", email="d@example.org", counselling_language="de"),
        "open": book_at(app, "2027-04-06T09:30", email="e@example.org"),
        "pending": book_at(app, "2027-04-06T10:00", email="f@example.org"),
        "given_back": book_at(app, "2027-04-06T10:30", email="g@example.org"),
    }
    assert (
        desk.post(f"/staff/bookings/{ids['cancelled']}/cancel", data={"reason": "krank"}).status_code == 302
    )
    update(app, ids["open"], language="ar")
    update(app, ids["pending"], status="pending", hold_until=datetime(2027, 4, 6, 7, tzinfo=UTC))
    update(app, ids["given_back"], status="cancelled")
    with app.app_context():
        db.session.add(AuditEvent(booking_id=ids["given_back"], at=clock.now, action="withdrawn"))
        db.session.commit()
    clock.now = datetime(2027, 4, 7, 9, 0, tzinfo=UTC)
    for key, value in (("attended", "attended"), ("no_show", "no_show"), ("later", "attended")):
        desk.post(f"/staff/bookings/{ids[key]}/attendance", data={"attended": value})
    return ids


def figures(html: str, table: str) -> dict[str, dict[str, int]]:
    """{period: {figure: number}} of a table of the page."""
    part = html.split(f'id="stats-{table}"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for period, cells in re.findall(r'<tr data-period="([^"]+)">(.*?)</tr>', part, re.S):
        rows[period] = {k: int(v) for k, v in re.findall(r'data-figure="(\w+)">(\d+)<', cells)}
    return rows


def total_row(table: str) -> dict[str, str]:
    """The figures of a table's total row by the name of their column (each cell names it)."""
    footer = re.findall(r'<tfoot><tr><th scope="row">Total</th>(.*?)</tr>', table, re.S)[0]
    return dict(re.findall(r'<td data-label="([^"]+)">(\d+)</td>', footer))


def test_the_table_counts_each_week_and_the_total(app, desk, month):
    page = desk.get(f"/staff/stats?{RANGE}&by=week")
    assert page.status_code == 200
    week = {"bookings": 3, "cancelled": 1, "attended": 1, "no_show": 1, "open": 0}
    next_week = {"bookings": 2, "cancelled": 0, "attended": 1, "no_show": 0, "open": 1}
    total = {key: week[key] + next_week[key] for key in week}
    assert figures(page.text, "bookings") == {"2027-03-29": week, "2027-04-05": next_week, "total": total}
    assert "Week 13/2027" in page.text and "Week 14/2027" in page.text


def test_the_chart_is_inline_svg_with_the_same_figures_as_text(app, desk, month):
    page = desk.get(f"/staff/stats?{RANGE}&by=week").text
    chart = page.split('id="chart-bookings"', 1)[1].split("</svg>", 1)[0]
    assert (
        '<svg class="bars"' in chart
        and 'role="img"' in chart
        and 'aria-label="Bar chart of the bookings' in chart
    )
    bars = re.findall(r'<g class="bar" data-label="([^"]+)" data-total="(\d+)">(.*?)</g>', chart, re.S)
    assert [(label, total) for label, total, _ in bars] == [("Week 13/2027", "3"), ("Week 14/2027", "2")]
    parts = {
        label: dict(re.findall(r'data-kind="(\w+)" data-value="(\d+)"', body)) for label, _t, body in bars
    }
    assert parts == {
        "Week 13/2027": {"attended": "1", "no_show": "1", "cancelled": "1"},
        "Week 14/2027": {"attended": "1", "open": "1"},
    }
    assert "<title>Week 13/2027: No-show 1</title>" in chart  # each part says what it is
    assert '<text class="total"' in chart and ">3</text>" in chart  # the total is written, not only drawn
    assert "<script" not in page


def test_by_month_and_by_language_of_the_pages_and_of_the_counselling(app, desk, month):
    page = desk.get("/staff/stats?from=2027-03-01&to=2027-04-30&by=month").text
    assert figures(page, "bookings")["2027-03-01"]["bookings"] == 3
    assert figures(page, "bookings")["2027-04-01"]["bookings"] == 2
    assert "March 2027" in page and "April 2027" in page
    pages = page.split('id="stats-page_languages"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<th scope="col">([^<]+)</th>', pages) == ["Period", "German", "Arabic"]
    assert total_row(pages) == {"German": "4", "Arabic": "1"}
    counselling = page.split('id="stats-counselling_languages"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<th scope="col">([^<]+)</th>', counselling) == [
        "Period",
        "Arabic",
        "Not chosen",
        "German",
    ]
    assert total_row(counselling) == {"Arabic": "2", "Not chosen": "2", "German": "1"}


def test_the_chart_the_table_and_the_csv_name_the_outcomes_alike_in_one_order(app, desk, month):
    desk.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = desk.get(f"/staff/stats?{RANGE}&by=week").text
    legend = re.findall(r'<li><span class="swatch \w+" aria-hidden="true"></span>([^<]+)</li>', page)
    table = page.split('id="stats-bookings"', 1)[1].split("</thead>", 1)[0]
    columns = re.findall(r'<th scope="col">([^<]+)</th>', table)
    spreadsheet = desk.get(f"/staff/stats.csv?{RANGE}&by=week").data.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(spreadsheet), delimiter=";"))
    outcomes = ["Erschienen", "Nicht erschienen", "Noch nicht erfasst", "Abgesagt"]
    assert legend == outcomes
    assert columns == ["Zeitraum", "Buchungen", *outcomes]
    assert header[:8] == ["Zeitraum", "Von", "Bis", "Buchungen", *outcomes]


def test_the_csv_has_the_same_figures_in_the_export_style(app, desk, month):
    response = desk.get(f"/staff/stats.csv?{RANGE}&by=week")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [
        "Period", "From", "To", "Bookings", "Attended", "No-show", "Not recorded yet", "Cancelled",
        "Language of the pages: German", "Language of the pages: Arabic",
        "Language of the counselling: Arabic", "Language of the counselling: Not chosen",
        "Language of the counselling: German",
    ]  # fmt: skip
    assert rows[1:] == [
        ["Week 13/2027", "2027-03-29", "2027-04-04", "3", "1", "1", "0", "1", "3", "0", "2", "1", "0"],
        ["Week 14/2027", "2027-04-05", "2027-04-11", "2", "1", "0", "1", "0", "1", "1", "0", "1", "1"],
        ["Total", "2027-03-29", "2027-04-11", "5", "2", "1", "1", "1", "4", "1", "2", "2", "1"],
    ]
    assert (
        'href="/staff/stats.csv?from=2027-03-29&amp;to=2027-04-11&amp;by=week"'
        in desk.get(f"/staff/stats?{RANGE}&by=week").text
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2027-02-30&to=2027-03-31", "“From” is not a date"),
        ("from=2027-03-01&to=morgen", "“To” is not a date"),
        ("from=2027-04-01&to=2027-03-01", "The period ends before it begins."),
        ("from=2020-01-01&to=2027-03-01", "at most two years"),
        ("from=2027-03-01&to=2027-03-31&by=day", "Please group by week or by month."),
    ],
)
def test_a_bad_range_is_refused_with_a_message_and_nothing_else(app, desk, month, query, message):
    page = desk.get(f"/staff/stats?{query}")
    assert page.status_code == 400
    assert message in page.text
    assert "<svg" not in page.text and "stats-bookings" not in page.text
    spreadsheet = desk.get(f"/staff/stats.csv?{query}")
    assert spreadsheet.status_code == 400 and message in spreadsheet.text


def test_without_a_range_the_last_six_months_are_shown(app, desk, month):
    page = desk.get("/staff/stats").text  # the clock stands on 7 April 2027
    assert 'name="from" value="2026-11-01"' in page and 'name="to" value="2027-04-30"' in page
    assert figures(page, "bookings")["total"]["bookings"] == 5


def test_reception_and_admins_see_the_statistics_counsellors_do_not(app, client):
    create_counsellor(app, "leyla@example.org", "Leyla Demir", ("de",))
    sign_in(client, "leyla@example.org", PASSWORD)
    assert client.get("/staff/stats").status_code == 403
    assert client.get("/staff/stats.csv").status_code == 403
    assert 'href="/staff/stats"' not in client.get("/staff/").text
    create_staff(app, "chefin@example.org", "Chefin", role="admin")
    admin = app.test_client()
    sign_in(admin, "chefin@example.org", PASSWORD)
    assert admin.get("/staff/stats").status_code == 200
    assert 'href="/staff/stats"' in admin.get("/staff/").text
