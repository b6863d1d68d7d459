"""In a real Chromium, at phone and desktop width, in German and Arabic: the staff week draws its
grid (the names in their day's column and time's row, today marked), the day draws its "now" line
between the times gone and the times coming, reads as a list on a phone without scrolling
sideways, and marking attendance brings the reader back to the same row. axe-core checks the
week, the day and the move page; screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e import test_browser
from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    STAFF_VARIANTS,
    Shots,
    check_accessibility,
    new_phone_page,
    slow_stylesheets,
)
from tests.e2e.test_browser import new_page, sign_in
from tests.integration.staff_support import book_at, create_counsellor

pytestmark = pytest.mark.browser

browser = test_browser.browser
live_app = test_browser.live_app
base_url = test_browser.base_url
staff_login = test_browser.staff_login

TUESDAY_10_10 = datetime(2027, 3, 30, 8, 10, tzinfo=UTC)  # 10:10 in Heinsberg
DAY = "/staff/?date=2027-03-30"
WEEK = "/staff/week?date=2027-03-30"


def a_desk_week(app: Any, clock: Any) -> dict[str, int]:
    """Two counsellors and a week with residents on Tuesday and Wednesday; the clock at Tuesday
    10:10, so Tuesday is today and its morning half gone."""
    create_counsellor(app, "leyla.demir@kreis-heinsberg.example", "Leyla Demir", ("de", "ar"))
    create_counsellor(app, "clara.becker@kreis-heinsberg.example", "Clara Becker", ("de",))
    ids = {
        "arabic": book_at(
            app, "2027-03-30T09:00", name="أحمد الخطيب", email="a@example.org", counselling_language="ar"
        ),
        "german": book_at(app, "2027-03-30T11:00", name="Jürgen Öztürk", email="j@example.org"),
        "late": book_at(app, "2027-03-30T15:30", name="Олена Петренко", email="o@example.org"),
        "wednesday": book_at(app, "2027-03-31T08:30", name="Piotr Nowak", email="p@example.org"),
    }
    for index, hhmm in enumerate(["08:30", "09:30", "10:00", "14:00", "14:30", "16:00"]):
        ids[f"more{index}"] = book_at(
            app, f"2027-03-30T{hhmm}", name=f"Bewohnerin {index}", email=f"m{index}@example.org"
        )
    clock.now = TUESDAY_10_10
    return ids


def page_scrolls_sideways(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"))


@STAFF_VARIANTS
def test_week_grid_and_day_list_on_screen(
    browser, base_url, live_app, staff_login, clock, language, viewport
):
    ids = a_desk_week(live_app, clock)
    size = "phone" if viewport == PHONE else "desktop"
    shots = Shots(f"staff-grid-{language}-{size}")
    page = new_phone_page(browser) if viewport == PHONE else new_page(browser, viewport)
    page.goto(f"{base_url}/language/{language}?next=/staff/login")
    sign_in(page, base_url, *staff_login)

    # The week: the Arabic name stands in Tuesday's column, in the 09:00 row, with its counsellor.
    page.goto(base_url + WEEK)
    cell = page.locator("td.week-cell[data-day='2027-03-30'][data-time='09:00']")
    assert cell.locator("a.resident", has_text="أحمد الخطيب").is_visible()
    assert "Leyla Demir" in cell.inner_text()
    head = page.locator("th[aria-current='date']")
    assert head.get_attribute("data-day") == "2027-03-30" and head.locator(".today-mark").is_visible()
    column = head.bounding_box()
    name = cell.locator("a.resident").bounding_box()
    if viewport == DESKTOP:  # on a phone the grid scrolls inside its own box
        assert column["x"] - 1 <= name["x"] and name["x"] + name["width"] <= column["x"] + column["width"] + 1
    assert not page_scrolls_sideways(page)
    check_accessibility(page, f"week {language} {size}")
    shots(page, "week")

    # The day: the now line between 10:00 and 10:30, at 10:10; a list on a phone.
    page.goto(base_url + DAY)
    line = page.locator("tbody.now-line")
    assert line.is_visible() and "10:10" in line.inner_text()
    before = page.locator("tbody.slot[data-start='2027-03-30T10:00:00+02:00']").bounding_box()
    after = page.locator("tbody.slot[data-start='2027-03-30T10:30:00+02:00']").bounding_box()
    drawn = line.bounding_box()
    assert before["y"] + before["height"] <= drawn["y"] + 1 and drawn["y"] + drawn["height"] <= after["y"] + 1
    assert not page_scrolls_sideways(page)
    free = page.locator(".slot-free")  # "2 places free" on one line, the number with its words
    assert free.count() and all(
        free.nth(i).evaluate("e => e.getClientRects().length") == 1 for i in range(free.count())
    )
    row = page.locator(f"#booking-{ids['late']}")
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1
    assert row.locator(".resident-language").is_visible()
    check_accessibility(page, f"day {language} {size}")
    shots(page, "day")

    # Attendance: the page comes back at that row, also when the stylesheet comes late (a phone
    # lays the unstyled page out wider than the screen first, and in Arabic lost the place).
    slow_stylesheets(page)
    for key, value in (("late", "attended"), ("german", "no_show"), ("arabic", "attended")):
        row = page.locator(f"#booking-{ids[key]}")
        with page.expect_navigation():
            row.locator(f"button[value={value}]").click()
        page.wait_for_load_state("load")
        assert page.url.endswith(f"#booking-{ids[key]}")
        assert row.locator(f"button[value={value}][aria-pressed=true]").count() == 1
        page.wait_for_timeout(100)  # the phone's viewport settles after the load
        box = row.bounding_box()
        assert page.evaluate("window.scrollY") > 0, f"{key}: back at the top of the page"
        assert -1 <= box["y"] < viewport["height"], f"{key}: not on screen"
        assert not page_scrolls_sideways(page)
    page.unroute("**/*.css")
    shots(page, "attended")

    # The move page: each time with its free places beside it.
    page.goto(f"{base_url}/staff/bookings/{ids['wednesday']}/move?date=2027-03-31")
    label = page.locator("label.time").first
    assert label.is_visible()
    assert " – " in label.inner_text() and "\n" not in label.inner_text()
    check_accessibility(page, f"move {language} {size}")
    shots(page, "move")
