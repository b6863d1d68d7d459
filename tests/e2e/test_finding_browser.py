"""In a real Chromium, at phone and desktop size, in German and Arabic: finding a time on the
week page (the grid of times, the continue bar in reach, mornings or afternoons, a closed day that
says why, the next free appointment) and the confirmation (what to bring, the calendars, the
printable page with its QR code, in print). axe-core checks every page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e import test_browser
from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    Shots,
    check_accessibility,
)
from tests.integration.staff_support import book_at, create_staff, get_booking

pytestmark = pytest.mark.browser

VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
EASTER_WEEK = "/book/beratung?week=2027-03-29"  # Monday 29 March 2027 is Easter Monday
CLOSED = {"de": "Geschlossen: Ostermontag", "ar": "مغلق: اثنين الفصح"}
AFTERNOONS = {"de": "Nachmittags", "ar": "بعد الظهر"}


browser = test_browser.browser  # one Chromium for the module, as in the resident flows
base_url = test_browser.base_url


@pytest.fixture
def live_app(app_with):  # type: ignore[no-untyped-def]
    return app_with(SERVER_NAME=None)


def open_page(browser: Any, base_url: str, language: str, size: str) -> Any:
    # bypass_csp lets the test inject axe-core; the app itself never needs inline script.
    context = browser.new_context(viewport=VIEWPORTS[size], locale=language, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base_url}/language/{language}?next=/")
    return page


def go(page: Any, selector: str) -> None:
    """Activate a link or button by keyboard and wait for the page it leads to."""
    with page.expect_navigation():
        page.focus(selector)
        page.keyboard.press("Enter")


def offered_times(page: Any) -> list[str]:
    return [value for value in page.eval_on_selector_all("input[name=start]", "els => els.map(e => e.value)")]


def parametrized(test):  # type: ignore[no-untyped-def]
    return pytest.mark.parametrize("size", list(VIEWPORTS))(
        pytest.mark.parametrize("language", ["de", "ar"])(test)
    )


@parametrized
def test_the_week_uses_the_width_and_keeps_continue_in_reach(browser, base_url, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"week-{language}-{size}")
    page = open_page(browser, base_url, language, size)
    page.goto(base_url + EASTER_WEEK)
    tuesday = page.locator("#day-2027-03-30 .time")
    tops = [round(box["y"]) for box in (tuesday.nth(i).bounding_box() for i in range(tuesday.count()))]
    first_row = tops.count(tops[0])
    assert first_row >= (4 if size == "phone" else 8), f"{first_row} times in the first row"
    assert page.locator(".closed-day", has_text=CLOSED[language]).is_visible()
    check_accessibility(page, f"week {language} {size}")
    shots(page, "week")

    last = page.locator(".time").last  # choose the last time of the week, far down the page
    last.scroll_into_view_if_needed()
    last.click()
    button = page.locator(".continue-bar button")
    box = button.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= VIEWPORTS[size]["height"]
    shots(page, "chosen")
    chosen = page.locator("input[name=start]:checked").get_attribute("value")
    go(page, ".continue-bar button")
    assert "/details" in page.url and chosen is not None and chosen[:16] in page.url.replace("%3A", ":")


@parametrized
def test_afternoons_and_the_next_free_appointment_by_keyboard(browser, base_url, live_app, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"afternoon-{language}-{size}")
    for email in ("a@example.org", "b@example.org"):
        book_at(live_app, "2027-03-30T14:00", email=email)  # the first afternoon time is full
    page = open_page(browser, base_url, language, size)
    page.goto(base_url + EASTER_WEEK)
    go(page, f".day-parts a:text-is('{AFTERNOONS[language]}')")
    assert "part=afternoon" in page.url
    assert page.locator(".day-parts a[aria-current]").inner_text() == AFTERNOONS[language]
    times = offered_times(page)
    assert times and all(time[11:13] >= "12" for time in times)
    check_accessibility(page, f"afternoons {language} {size}")
    shots(page, "afternoons")
    go(page, ".next-free a")
    assert "/details" in page.url and "T14:30:00" in page.url  # 14:00 is taken: the next is 14:30
    check_accessibility(page, f"details from next free {language} {size}")
    shots(page, "details")


@parametrized
def test_the_confirmation_brings_calendars_and_prints_with_a_qr_code(
    browser, base_url, live_app, language, size
):  # type: ignore[no-untyped-def]
    shots = Shots(f"confirmation-{language}-{size}")
    booking = get_booking(live_app, book_at(live_app, "2027-03-30T08:30"))
    page = open_page(browser, base_url, language, size)
    page.goto(f"{base_url}/b/{booking.token}?new=1")
    main = page.inner_text("main")
    assert "ayse@example.org" in main
    assert page.locator(".bring li").count() == 2
    assert page.locator("a[href*='calendar.google.com']").is_visible()
    assert page.locator("a[href*='outlook.live.com']").is_visible()
    assert page.locator("a.calendar-link").is_visible()
    manage_link = page.locator("a.manage-link").bounding_box()
    bring = page.locator(".bring").bounding_box()
    assert manage_link and bring and manage_link["y"] > bring["y"]  # the raw link is not what leads
    header, heading = page.locator(".site-header").bounding_box(), page.locator("main h1").bounding_box()
    assert heading["y"] - (header["y"] + header["height"]) >= 16  # room under the header
    last = page.locator("main > *").last.bounding_box()
    assert (
        page.locator(".site-footer").bounding_box()["y"] - (last["y"] + last["height"]) >= 24
    )  # and above the footer
    check_accessibility(page, f"confirmation {language} {size}")
    shots(page, "confirmation")

    go(page, f"a[href='/b/{booking.token}/print']")
    qr = page.locator("svg.qr-code")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 100  # type: ignore[index]
    assert page.locator("[data-print]").is_visible()  # the button shows where script runs
    check_accessibility(page, f"printable {language} {size}")
    shots(page, "printable")
    page.emulate_media(media="print")
    assert not page.locator("[data-print]").is_visible()
    assert not page.locator(".site-header .languages").is_visible()
    assert not page.locator(".footer-links").is_visible()
    assert qr.is_visible() and booking.reference in page.inner_text("main")
    shots(page, "printed")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_staff_print_a_confirmation_for_a_caller(browser, base_url, live_app, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"staff-print-{size}")
    booking = get_booking(live_app, book_at(live_app, "2027-03-30T08:30", email=None))
    create_staff(live_app)
    context = browser.new_context(viewport=VIEWPORTS[size], locale="de", bypass_csp=True)
    page = context.new_page()
    page.goto(base_url + "/staff/login")
    page.fill("#email", "sachbearbeitung@kreis-heinsberg.example")
    page.fill("#password", "correct horse battery staple")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto(f"{base_url}/staff/bookings/{booking.id}")
    go(page, "a.print-confirmation")
    assert page.locator("svg.qr-code").is_visible()
    assert re.search(rf"/b/{booking.token}$", page.locator(".manage-link-print").inner_text())
    check_accessibility(page, f"staff print {size}")
    shots(page, "printable")


@parametrized
def test_the_month_shows_the_free_days_and_leads_to_their_week(browser, base_url, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"month-{language}-{size}")
    page = open_page(browser, base_url, language, size)
    page.goto(base_url + EASTER_WEEK)
    go(page, ".month-link a")
    assert "/book/beratung/month?month=2027-03" in page.url
    table = page.locator("table.month").bounding_box()
    assert table and table["width"] <= VIEWPORTS[size]["width"]  # seven columns fit a phone
    assert page.locator(".closed-days li", has_text=CLOSED[language]).is_visible()  # why 29 March is closed
    check_accessibility(page, f"month {language} {size}")
    shots(page, "month")
    go(page, "td.free a >> nth=0")
    assert "week=2027-03-30" in page.url and page.locator("#day-2027-03-30 .time").count() > 0
