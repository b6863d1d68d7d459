"""The staff week as a grid: days as columns, times as rows, the residents' names in the cells
with the places left free, today's column marked, one line per counsellor where counsellors give
the service, and closed times offering nothing. Read as a receptionist reads it: by cell.

The clock stands on Good Friday, 26 March 2027; the week shown is 29 March to 4 April (Easter
Monday and the weekend closed, Tuesday 08:30-12:00 and 14:00-17:00, Wednesday 08:30-12:00)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from booking import bookings, closures
from booking.extensions import db
from booking.models import Booking, Staff
from booking.schedule import day_slots
from booking.week_grid import week_grid
from tests.conftest import FIXED_NOW
from tests.integration.staff_support import book_at, create_counsellor, create_staff, english, sign_in

WEEK = "/staff/week?date=2027-03-31"
TUESDAY, WEDNESDAY = "2027-03-30", "2027-03-31"


def grid(html: str) -> dict[tuple[str, str], str]:
    """The text of each cell, by (day, time), with the tags taken out and spaces made one."""
    found = {}
    for day, hhmm, body in re.findall(
        r'<td class="week-cell[^"]*" data-day="([^"]+)" data-time="([^"]+)">(.*?)</td>', html, re.DOTALL
    ):
        found[(day, hhmm)] = " ".join(re.sub(r"<[^>]+>", "", body).split())
    return found


def columns(html: str) -> list[str]:
    return re.findall(r'<th scope="col" class="week-day-head[^"]*"[^>]*data-day="([^"]+)"', html)


def signed_in(app, client):  # type: ignore[no-untyped-def]
    create_staff(app)
    english(client)
    assert sign_in(client).status_code == 302
    return client


def test_names_and_free_places_stand_in_their_day_and_time(app, client):
    book_at(app, f"{TUESDAY}T09:00", name="Ayşe Yılmaz", email="a@example.org")
    book_at(app, f"{TUESDAY}T09:00", name="محمد الأحمد", email="b@example.org")
    book_at(app, f"{WEDNESDAY}T11:30", name="Olena Kovalenko", email="c@example.org")
    cancelled = book_at(app, f"{TUESDAY}T14:00", name="Piotr Nowak", email="d@example.org")
    with app.app_context():
        bookings.cancel(db.session.get(Booking, cancelled), FIXED_NOW)
    page = signed_in(app, client).get(WEEK)
    assert page.status_code == 200
    cells = grid(page.text)
    assert cells[(TUESDAY, "09:00")] == "Ayşe Yılmaz, محمد الأحمد"  # full: no "free" left
    assert cells[(WEDNESDAY, "11:30")] == "Olena Kovalenko · 1 free"
    assert cells[(TUESDAY, "14:00")] == "2 free"  # a cancelled booking gives its place back
    assert cells[(TUESDAY, "08:30")] == "2 free"
    assert cells[(WEDNESDAY, "14:00")] == ""  # Wednesday afternoon the office is closed
    assert "<bdi>محمد الأحمد</bdi>" in page.text
    assert 'href="/staff/week?date=2027-04-05"' in page.text  # the next week


def test_days_are_the_columns_and_times_the_rows_with_today_marked(app, client, clock):
    clock.now = datetime(2027, 3, 30, 8, 0, tzinfo=UTC)  # Tuesday morning
    page = signed_in(app, client).get(WEEK).text
    assert columns(page) == ["2027-03-29", TUESDAY, WEDNESDAY, "2027-04-01", "2027-04-02"]
    today = re.findall(r'class="week-day-head today"[^>]*data-day="([^"]+)"', page)
    assert today == [TUESDAY]
    assert page.count('aria-current="date"') == 1
    rows = re.findall(r'<th scope="row" class="week-time"><bdi dir="ltr">(\d\d:\d\d)</bdi>', page)
    assert rows == ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"] + [
        "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"
    ]  # fmt: skip
    assert 'aria-current="date"' not in client.get("/staff/week?date=2027-04-07").text


def test_a_closed_time_offers_no_place(app, client):
    staff_id = create_staff(app)
    english(client)
    assert sign_in(client).status_code == 302
    with app.app_context():
        office = app.extensions["office"]
        closures.close(
            office,
            datetime(2027, 3, 30, 7, 0, tzinfo=UTC),  # 09:00-10:00 in Heinsberg (summer time)
            datetime(2027, 3, 30, 8, 0, tzinfo=UTC),
            "Teambesprechung",
            db.session.get(Staff, staff_id),
            FIXED_NOW,
        )
    page = client.get(WEEK).text
    cells = grid(page)
    assert cells[(TUESDAY, "09:00")] == "Closed"
    assert cells[(TUESDAY, "09:30")] == "Closed"
    assert cells[(TUESDAY, "10:00")] == "2 free"
    day = client.get(f"/staff/?date={TUESDAY}").text
    assert "places free" not in day.split(f'data-start="{TUESDAY}T09:00:00+02:00"')[1].split("</tbody>")[0]


def test_each_counsellor_has_a_line_in_the_cell_with_who_comes_or_free(app, client):
    create_counsellor(app, "anna@ki.example", "Anna Becker", ("de",))
    create_counsellor(app, "yusuf@ki.example", "Yusuf Demir", ("de", "ar"))
    book_at(app, f"{TUESDAY}T09:00", name="محمد الأحمد", email="m@example.org", counselling_language="ar")
    page = signed_in(app, client).get(WEEK).text
    cells = grid(page)
    assert cells[(TUESDAY, "09:00")] == "Anna Becker: 1 free Yusuf Demir: محمد الأحمد"
    assert cells[(TUESDAY, "08:30")] == "Anna Becker: 1 free Yusuf Demir: 1 free"


def test_past_times_offer_no_free_places(app, client, clock):
    create_counsellor(app, "clara@ki.example", "Clara Becker", ("de",))
    book_at(app, f"{TUESDAY}T09:00", name="Jürgen Öztürk", email="j@example.org")
    clock.now = datetime(2027, 4, 1, 8, 10, tzinfo=UTC)  # Thursday 10:10: Tuesday and Wednesday gone
    page = signed_in(app, client).get(WEEK).text
    cells = grid(page)
    assert cells[(TUESDAY, "09:00")] == "Clara Becker: Jürgen Öztürk"  # who came, no free place
    assert cells[(TUESDAY, "08:30")] == "past"
    assert cells[("2027-04-01", "10:00")] == "past"  # begun ten minutes ago
    assert cells[("2027-04-01", "10:30")] == "Clara Becker: 1 free"
    assert "free" not in " ".join(text for (day, _), text in cells.items() if day < "2027-04-01")
    drawn = re.findall(
        r'data-day="([^"]+)" data-time="([^"]+)">\s*<div class="slot-cell([^"]*)"[^>]*data-free="(\d+)"', page
    )
    gone = [
        (day, hhmm, kind.split(), free)
        for day, hhmm, kind, free in drawn
        if (day, hhmm) < ("2027-04-01", "10:30")
    ]
    assert gone and all("past" in kind and free == "0" for _, _, kind, free in gone)


def test_every_slot_of_every_week_of_the_year_has_one_cell_at_its_wall_time(app):
    """Across both DST changes and the holidays: each slot the schedule makes is in exactly one
    cell, in its day's column and its office-time row, and nothing else is."""
    with app.test_request_context():
        office = app.extensions["office"]
        monday = date(2027, 1, 4)
        while monday.year == 2027:
            grid = week_grid(office, monday, FIXED_NOW, FIXED_NOW.date())
            drawn = sorted(
                (day, cell.service.id, cell.start)
                for (day, start), found in grid.cells.items()
                for cell in found
                if cell.start.astimezone(office.timezone).time() == start and day in grid.days
            )
            made = sorted(
                (monday + timedelta(days=n), service.id, slot.start)
                for n in range(7)
                for service in office.services
                for slot in day_slots(office, service, monday + timedelta(days=n))
            )
            assert drawn == made, monday
            assert grid.days[:5] == tuple(monday + timedelta(days=n) for n in range(5))
            monday += timedelta(days=7)
