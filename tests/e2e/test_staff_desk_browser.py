"""In a real Chromium, at phone and desktop width, in German and Arabic: the desk searches from
the navigation and opens the booking it finds; the statistics draw their charts without script
(the bars are on screen, their numbers are text); the undelivered emails show the count, the
phone and why; two days are closed and their appointments cancelled at once. axe-core checks
each of these pages; screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from booking.extensions import db
from booking.models import Outbox
from tests.e2e import test_browser
from tests.e2e.browser import PHONE, STAFF_VARIANTS, Shots, check_accessibility, new_phone_page
from tests.e2e.test_browser import new_page, sign_in
from tests.e2e.test_staff_grid_browser import page_scrolls_sideways
from tests.integration.staff_support import book_at, create_counsellor

pytestmark = pytest.mark.browser

browser = test_browser.browser  # one Chromium for the module, as in the resident flows
live_app = test_browser.live_app
base_url = test_browser.base_url
staff_login = test_browser.staff_login

STATS = "/staff/stats?from=2027-03-01&to=2027-04-30&by=week"


def on_screen(locator: Any, width: int) -> bool:
    """Drawn whole between the screen's left and right edges (not cut off, not scrolled away)."""
    box = locator.bounding_box()
    return bool(box) and box["x"] >= -1 and box["x"] + box["width"] <= width + 1


def a_desk_day(app: Any, clock: Any) -> dict[str, int]:
    """Bookings on Tuesday 30 March 2027 in two languages of counselling, one of them cancelled,
    one marked as attended, and one whose confirmation the mail server refused."""
    create_counsellor(app, "leyla.demir@kreis-heinsberg.example", "Leyla Demir", ("de", "ar"))
    create_counsellor(app, "clara.becker@kreis-heinsberg.example", "Clara Becker", ("de", "ar"))
    ids = {
        "arabic": book_at(
            app, "2027-03-30T09:00", name="أحمد الخطيب", phone="0151 2345678", counselling_language="ar"
        ),
        "german": book_at(
            app, "2027-03-30T09:30", name="Jürgen Öztürk", email="j@example.org", phone="02452 98765"
        ),
        "later": book_at(app, "2027-04-06T09:00", name="Олена Петренко", email="o@example.org"),
    }
    with app.app_context():
        from booking.models import Booking

        db.session.execute(db.update(Booking).where(Booking.id == ids["german"]).values(attended=True))
        db.session.execute(
            db.update(Booking)
            .where(Booking.id == ids["later"])
            .values(status="cancelled", cancelled_at=clock.now)
        )
        row = db.session.scalar(db.select(Outbox).where(Outbox.booking_id == ids["arabic"]))
        row.attempts, row.failed_at = 1, datetime(2027, 3, 26, 9, 1, tzinfo=UTC)
        row.last_error = "refused: {'ayse@example.org': (550, b'5.1.1 No such user')}"
        db.session.commit()
    return ids


@STAFF_VARIANTS
def test_search_statistics_and_undelivered_emails_on_screen(
    browser, base_url, live_app, staff_login, clock, language, viewport
):
    ids = a_desk_day(live_app, clock)
    size = "phone" if viewport == PHONE else "desktop"
    shots = Shots(f"staff-desk-{language}-{size}")
    page = new_phone_page(browser) if viewport == PHONE else new_page(browser, viewport)
    page.goto(f"{base_url}/language/{language}?next=/staff/login")
    sign_in(page, base_url, *staff_login)

    # Search from the navigation, by a phone number typed another way, and open the booking.
    page.fill("#nav-search", "0151 / 234 56 78")
    with page.expect_navigation():
        page.press("#nav-search", "Enter")
    assert urlsplit(page.url).path == "/staff/search"
    results = page.locator("#search-results > li")
    assert results.count() == 1
    assert "أحمد الخطيب" in results.first.inner_text()
    assert not page_scrolls_sideways(page)
    check_accessibility(page, f"search results in {language} ({size})")
    shots(page, "search")
    page.goto(base_url + "/staff/search?q=Niemand")
    assert page.locator("#search-count").is_visible()
    check_accessibility(page, f"search without results in {language} ({size})")
    page.goto(base_url + "/staff/search?q=" + "ö" * 101)  # refused with a message at the field
    assert page.locator("#q-error").is_visible()
    check_accessibility(page, f"search refused in {language} ({size})")
    page.goto(base_url + "/staff/search?q=jürgen")
    with page.expect_navigation():
        page.click("#search-results a[href^='/staff/bookings/']")
    assert urlsplit(page.url).path == f"/staff/bookings/{ids['german']}"

    # Statistics: the bars are drawn, their numbers are on screen as text, the table agrees.
    page.goto(base_url + STATS)
    chart = page.locator("#chart-bookings svg")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box and box["width"] <= viewport["width"]  # fits the screen, no sideways scrolling
    week = page.locator("#chart-bookings g.bar[data-label]").nth(4)  # week 13 of 2027
    assert week.locator("text.total").text_content() == "2"
    bars = week.locator("rect.part")
    assert bars.count() == 2 and all(bars.nth(i).bounding_box()["width"] > 0 for i in range(2))
    total = page.locator("#stats-bookings tfoot td[data-figure]").all_text_contents()
    assert total == ["3", "1", "0", "1", "1"]  # bookings, attended, no-show, not recorded, cancelled
    assert page.locator("#chart-counselling_languages rect.part").count() == 2
    assert not page_scrolls_sideways(page)
    for table in ("#stats-bookings", "#stats-page_languages", "#stats-counselling_languages"):
        cells = page.locator(f"{table} td, {table} th")
        assert all(on_screen(cells.nth(i), viewport["width"]) for i in range(cells.count())), table
    check_accessibility(page, f"statistics in {language} ({size})")
    shots(page, "statistics")
    page.goto(base_url + "/staff/stats?from=2027-04-30&to=2027-03-01")
    assert page.locator("#stats-error").is_visible() and page.locator("svg.bars").count() == 0
    check_accessibility(page, f"statistics refused in {language} ({size})")

    # Undelivered emails: counted in the navigation, the phone to call, why in words.
    assert page.locator("#nav-undelivered .nav-count").text_content() == "1"
    with page.expect_navigation():
        page.click("#nav-undelivered")
    row = page.locator("table.calendar tbody tr").first
    assert row.locator("a[href^='tel:'] bdi").text_content() == "0151 2345678"
    assert row.locator("td.failure details").is_visible()
    assert not page_scrolls_sideways(page)
    cells = row.locator("td")  # phone, status and why on screen, without scrolling inside a box
    assert all(on_screen(cells.nth(i), viewport["width"]) for i in range(cells.count()))
    assert "550" not in row.locator("td.failure").inner_text().split("\n")[0]  # the words come first
    check_accessibility(page, f"undelivered emails in {language} ({size})")
    shots(page, "undelivered")


@STAFF_VARIANTS
def test_closing_two_days_and_cancelling_all_their_appointments_on_screen(
    browser, base_url, live_app, staff_login, language, viewport
):
    inside = [
        book_at(live_app, "2027-03-30T09:00", name="أحمد الخطيب", email="ahmad@example.org", language="ar"),
        book_at(live_app, "2027-03-31T10:00", name="Jürgen Öztürk", email=None, phone="02452 98765"),
    ]
    size = "phone" if viewport == PHONE else "desktop"
    shots = Shots(f"staff-closure-{language}-{size}")
    page = new_page(browser, viewport)
    page.goto(f"{base_url}/language/{language}?next=/staff/login")
    sign_in(page, base_url, *staff_login)

    page.goto(base_url + "/staff/close?date=2027-03-30")
    assert page.locator("#start_date").input_value() == "2027-03-30"  # from the day it was opened on
    page.fill("#end_date", "2027-03-31")
    page.fill("#reason", "Wasserschaden")
    check_accessibility(page, f"close times in {language} ({size})")
    shots(page, "close")
    with page.expect_navigation():
        page.click("form[action$='/staff/close'] button[type=submit]")
    assert "/staff/closures/" in page.url
    assert page.locator("#affected tbody tr").count() == 2
    assert not page_scrolls_sideways(page)
    button = page.locator("form[action$='/cancel-all'] button[type=submit]")
    assert button.is_visible() and "2" in button.inner_text()
    check_accessibility(page, f"a closure with appointments in {language} ({size})")
    shots(page, "closure")

    page.fill("#reason", "")  # refused at the field, nothing cancelled
    with page.expect_navigation():
        button.click()
    assert page.locator("#reason-error").is_visible()
    check_accessibility(page, f"cancel all refused in {language} ({size})")
    page.fill("#reason", "Wasserschaden im Dienstgebäude")
    with page.expect_navigation():
        page.locator("form[action$='/cancel-all'] button[type=submit]").click()
    assert page.locator(".notice-success").is_visible()
    assert page.locator("#affected").count() == 0
    check_accessibility(page, f"a closure after cancel all in {language} ({size})")
    shots(page, "cancelled")
    with live_app.app_context():
        from booking.models import Booking

        statuses = db.session.scalars(db.select(Booking.status).where(Booking.id.in_(inside))).all()
    assert statuses == ["cancelled", "cancelled"]

    page.goto(base_url + "/staff/close")
    assert page.locator("#closures tbody tr").count() == 1
    check_accessibility(page, f"upcoming closures in {language} ({size})")
