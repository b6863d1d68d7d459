"""A resident books, moves and cancels in a real Chromium, by keyboard, at phone size, in
German and in Arabic; axe-core checks every page on the way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel.dates import format_date

from booking.extensions import db
from booking.models import Booking, SlotClaim
from tests.conftest import Clock
from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    Shots,
    check_accessibility,
    require_browser,
    serve,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(app_with):  # type: ignore[no-untyped-def]
    return app_with(WTF_CSRF_ENABLED=True, SERVER_NAME=None)


@pytest.fixture
def base_url(live_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with serve(live_app) as url:
        yield url


def new_page(browser: Any, viewport: dict[str, int], locale: str = "de-DE") -> Any:
    # bypass_csp lets the test inject axe-core; the app itself never needs inline script.
    context = browser.new_context(viewport=viewport, locale=locale, bypass_csp=True)
    return context.new_page()


def press(page: Any, selector: str, key: str = "Enter") -> None:
    """Focus an element and use the keyboard on it, as a keyboard-only user would."""
    page.focus(selector)
    page.keyboard.press(key)


def follow(page: Any, selector: str) -> None:
    """Activate a link or button by keyboard and wait for the page it leads to."""
    with page.expect_navigation():
        press(page, selector)


def book_move_cancel(page: Any, base_url: str, shots: Shots, *, first_time: str, other_time: str) -> None:
    """The whole resident path by keyboard; checks axe on each page."""
    page.goto(base_url + "/")
    check_accessibility(page, "home")
    shots(page, "home")

    press(page, "a[href='/book/beratung']")
    page.wait_for_url(re.compile(r"/book/beratung$"))
    radio = page.get_by_role("radio", name=re.compile(re.escape(first_time)))
    check_accessibility(page, "week")
    shots(page, "week")
    radio.focus()
    page.keyboard.press("Space")
    assert radio.is_checked()
    press(page, "form button[type=submit]")

    page.wait_for_url(re.compile(r"/details"))
    press(page, "form button[type=submit]")  # nothing filled in: errors are shown and announced
    page.wait_for_selector(".error-summary")
    assert page.locator("#name").get_attribute("aria-invalid") == "true"
    check_accessibility(page, "details with errors")
    shots(page, "details-errors")
    page.focus("#name")
    page.keyboard.type("Ayşe Yılmaz")
    page.focus("#email")
    page.keyboard.type("ayse@example.org")
    press(page, "#consent", "Space")
    check_accessibility(page, "details")
    shots(page, "details")
    press(page, "form button[type=submit]")

    page.wait_for_url(re.compile(r"/b/[^/]+\?new=1"))
    booking_path = page.url.split("?")[0].removeprefix(base_url)
    assert "Oberbrucher Str. 1" in page.inner_text("main")
    check_accessibility(page, "confirmation")
    shots(page, "confirmation")

    press(page, "a[href$='/move']")
    page.wait_for_url(re.compile(r"/move"))
    check_accessibility(page, "move")
    shots(page, "move")
    page.get_by_role("radio", name=re.compile(re.escape(other_time))).focus()
    page.keyboard.press("Space")
    follow(page, "form button[type=submit]")
    assert page.url.endswith(booking_path)
    shots(page, "moved")

    follow(page, "form[action$='/cancel'] button")
    assert page.locator("form[action$='/cancel']").count() == 0
    check_accessibility(page, "cancelled")
    shots(page, "cancelled")


def test_resident_books_moves_and_cancels_in_german_on_a_phone(browser, base_url, live_app):
    page = new_page(browser, PHONE)
    book_move_cancel(
        page,
        base_url,
        Shots("resident-de-phone"),
        first_time="Dienstag, 30. März 2027, 08:30",
        other_time="Mittwoch, 31. März 2027, 10:00",
    )
    with live_app.app_context():
        booking = db.session.scalar(db.select(Booking))
        assert booking.name == "Ayşe Yılmaz" and booking.language == "de"
        assert booking.status == "cancelled" and booking.sequence == 2
        assert db.session.scalar(db.select(db.func.count(SlotClaim.id))) == 0


def test_resident_books_moves_and_cancels_in_arabic_right_to_left(browser, base_url, live_app):
    page = new_page(browser, PHONE, locale="ar")
    page.goto(base_url + "/language/ar?next=/")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    book_move_cancel(
        page,
        base_url,
        Shots("resident-ar-phone"),
        first_time=format_date(date(2027, 3, 30), "full", locale="ar") + ", 08:30",
        other_time=format_date(date(2027, 3, 31), "full", locale="ar") + ", 10:00",
    )
    with live_app.app_context():
        assert db.session.scalar(db.select(Booking.language)) == "ar"


@pytest.mark.parametrize("language", ["de", "ar"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_resident_page_passes_axe(browser, base_url, language, viewport):
    page = new_page(browser, viewport)
    page.goto(f"{base_url}/language/{language}?next=/")
    for path in [
        "/",
        "/privacy",
        "/book/beratung",
        "/book/beratung?week=2027-04-05",
        "/book/beratung/details?start=2027-03-30T08:30:00%2B02:00",
        "/no-such-page",
    ]:
        page.goto(base_url + path)
        check_accessibility(page, f"{path} in {language}")


@pytest.fixture
def staff_login(live_app):  # type: ignore[no-untyped-def]
    from booking import accounts

    with live_app.app_context():
        accounts.create_staff("berater@kreis-heinsberg.de", "Berater", "ein-langes-passwort", Clock().now)
    return "berater@kreis-heinsberg.de", "ein-langes-passwort"


def sign_in(page: Any, base_url: str, email: str, password: str) -> None:
    page.goto(base_url + "/staff/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    follow(page, "form[action$='/staff/login'] button[type=submit]")


def test_staff_member_signs_in_and_books_for_a_caller(browser, base_url, live_app, staff_login):
    page = new_page(browser, DESKTOP)
    shots = Shots("staff-desktop")
    page.goto(base_url + "/staff/")
    assert "/staff/login" in page.url  # not signed in: sent to the login
    check_accessibility(page, "staff login")
    shots(page, "login")
    sign_in(page, base_url, *staff_login)
    page.goto(base_url + "/staff/?date=2027-03-30")
    check_accessibility(page, "day view")
    shots(page, "day")
    follow(page, "a[href*='/staff/book'][href*='start=2027-03-30T08:30']")
    check_accessibility(page, "book for a caller")
    page.fill("input[name=name]", "Olena Kovalenko")
    page.fill("input[name=phone]", "02452 987654")
    shots(page, "book-form")
    follow(page, "form[action*='/staff/book'] button[type=submit]")
    page.goto(base_url + "/staff/?date=2027-03-30")
    assert "Olena Kovalenko" in page.inner_text("main")
    shots(page, "day-after-booking")
    with live_app.app_context():
        booking = db.session.scalar(db.select(Booking).where(Booking.name == "Olena Kovalenko"))
        assert booking.phone == "02452 987654" and booking.email is None and booking.active


@pytest.mark.parametrize("language", ["de", "ar"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_staff_page_passes_axe(browser, base_url, live_app, staff_login, language, viewport):
    page = new_page(browser, viewport)
    page.goto(f"{base_url}/language/{language}?next=/staff/login")
    check_accessibility(page, f"staff login in {language}")
    sign_in(page, base_url, *staff_login)
    with live_app.app_context():
        from booking import bookings

        office = live_app.extensions["office"]
        booking = bookings.book(
            office,
            bookings.BookingRequest("beratung", "2027-03-30T09:00", "Ahmad Rahimi", "ahmad@example.org"),
            Clock().now,
        )
        booking_id = booking.id
    for path in [
        "/staff/?date=2027-03-30",
        "/staff/week?date=2027-03-30",
        "/staff/book?service=beratung&start=2027-03-30T10:00:00%2B02:00",
        f"/staff/bookings/{booking_id}",
        f"/staff/bookings/{booking_id}/move",
        "/staff/close",
        "/staff/feed",
        "/staff/emails",
    ]:
        page.goto(base_url + path)
        assert urlsplit(page.url).path == urlsplit(path).path, f"{path} redirected to {page.url}"
        check_accessibility(page, f"{path} in {language}")
