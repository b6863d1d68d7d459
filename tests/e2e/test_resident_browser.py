"""In a real Chromium, at phone and desktop size, in German and Arabic: cancelling asks first,
"Lost your link?", the legal pages, and a booking form that keeps what was typed when its token
expired, its time was just taken (also choosing from the whole week) or the language was switched.
axe-core checks every page."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from babel.dates import format_date
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, Outbox
from tests.e2e import test_browser
from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    Shots,
    check_accessibility,
)
from tests.integration.staff_support import book_at, get_booking

pytestmark = pytest.mark.browser

LANGUAGES = ["de", "ar"]
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
DETAILS = "/book/beratung/details?start=2027-03-30T08:30:00%2B02:00"
TUESDAY = date(2027, 3, 30)


browser = test_browser.browser  # one Chromium for the module, as in the resident flows
live_app = test_browser.live_app
base_url = test_browser.base_url


def open_page(browser: Any, base_url: str, language: str, size: str) -> Any:
    # bypass_csp lets the test inject axe-core; the app itself never needs inline script.
    context = browser.new_context(viewport=VIEWPORTS[size], locale=language, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base_url}/language/{language}?next=/")
    assert page.get_attribute("html", "dir") == ("rtl" if language == "ar" else "ltr")
    return page


def go(page: Any, selector: str) -> None:
    """Activate a link or button by keyboard, as a keyboard-only user would, and wait for the
    page it leads to."""
    with page.expect_navigation():
        page.focus(selector)
        page.keyboard.press("Enter")


def fill_details(page: Any, name: str = "Ayşe Yılmaz", email: str = "ayse@example.org") -> None:
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#phone", "02452 123456")
    page.fill("#note", "Frage zur Einbürgerung")
    page.check("#consent")


def assert_typed_is_kept(page: Any, name: str = "Ayşe Yılmaz") -> None:
    assert page.input_value("#name") == name
    assert page.input_value("#email") == "ayse@example.org"
    assert page.input_value("#phone") == "02452 123456"
    assert page.input_value("#note") == "Frage zur Einbürgerung"


def parametrized(test):  # type: ignore[no-untyped-def]
    return pytest.mark.parametrize("size", list(VIEWPORTS))(
        pytest.mark.parametrize("language", LANGUAGES)(test)
    )


@parametrized
def test_cancelling_asks_first_and_takes_a_reason(browser, base_url, live_app, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"cancel-{language}-{size}")
    booking = get_booking(live_app, book_at(live_app, "2027-03-30T08:30"))
    page = open_page(browser, base_url, language, size)
    page.goto(f"{base_url}/b/{booking.token}")
    assert page.locator("form[action$='/cancel']").count() == 0  # no button that cancels at once
    move = page.locator("a[href$='/move']").bounding_box()
    cancel = page.locator("a.cancel-link").bounding_box()
    assert cancel["y"] > move["y"] + 2 * move["height"]  # not right under "move"
    check_accessibility(page, f"manage {language} {size}")
    shots(page, "manage")
    go(page, "a.cancel-link")
    assert page.url.endswith(f"/b/{booking.token}/cancel")
    assert get_booking(live_app, booking.id).status == "confirmed"  # opening the page cancels nothing
    check_accessibility(page, f"cancel question {language} {size}")
    shots(page, "question")
    page.fill("#reason", "Ich habe einen anderen Termin.")
    go(page, "form[action$='/cancel'] button[type=submit]")
    assert page.url.endswith(f"/b/{booking.token}")
    assert page.locator(".notice-success").count() == 1
    check_accessibility(page, f"cancelled {language} {size}")
    shots(page, "cancelled")
    cancelled = get_booking(live_app, booking.id)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "Ich habe einen anderen Termin."


@parametrized
def test_a_lost_link_is_sent_again_from_the_footer(browser, base_url, live_app, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"find-{language}-{size}")
    booking = get_booking(live_app, book_at(live_app, "2027-03-30T08:30"))
    page = open_page(browser, base_url, language, size)
    go(page, "footer a[href='/find']")
    check_accessibility(page, f"find {language} {size}")
    shots(page, "find")
    go(page, "form[action='/find'] button[type=submit]")  # nothing typed: which fields, announced
    assert page.locator(".error-summary[role=alert] a[href='#reference']").count() == 1
    check_accessibility(page, f"find with errors {language} {size}")
    shots(page, "find-errors")
    page.fill("#reference", booking.reference.lower())
    page.fill("#email", "Ayse@Example.org")
    go(page, "form[action='/find'] button[type=submit]")
    check_accessibility(page, f"find sent {language} {size}")
    shots(page, "sent")
    sent_text = page.inner_text("main")
    with live_app.app_context():
        kinds = list(db.session.scalars(select(Outbox.kind).where(Outbox.booking_id == booking.id)))
    assert kinds.count("link") == 1
    page.goto(f"{base_url}/find")  # an unknown booking: the same words on the screen
    page.fill("#reference", "ZZZZ-9999")
    page.fill("#email", "ayse@example.org")
    go(page, "form[action='/find'] button[type=submit]")
    assert page.inner_text("main") == sent_text


@parametrized
def test_the_legal_pages_are_in_every_footer_and_pass_axe(browser, base_url, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"legal-{language}-{size}")
    page = open_page(browser, base_url, language, size)
    for path, mark in (
        ("/privacy", "text=Kavalleriestraße 2–4, 40213 Düsseldorf"),
        ("/accessibility", "text=ombudsstelle-barrierefreie-it@mags.nrw.de"),
        ("/leichte-sprache", ".leichte-sprache[lang=de] h1"),
    ):
        page.goto(f"{base_url}/")
        go(page, f"footer a[href='{path}']")
        assert page.locator(mark).first.is_visible(), f"{path} lacks {mark}"
        check_accessibility(page, f"{path} {language} {size}")
        shots(page, path.strip("/"))
    note = page.locator("[role=note]")
    assert note.count() == (1 if language != "de" else 0)  # a German page, said in their language


@parametrized
def test_an_expired_form_keeps_everything_typed(browser, base_url, live_app, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"csrf-expired-{language}-{size}")
    page = open_page(browser, base_url, language, size)
    page.goto(base_url + DETAILS)
    fill_details(page)
    page.context.clear_cookies()  # the browser lost our cookie (restarted, or kept the tab for days)
    go(page, "#booking-form button[type=submit]")
    assert page.locator(".notice-error[role=alert]").count() == 1
    assert page.locator(".error-summary").count() == 0  # nothing to list: no empty red box
    assert_typed_is_kept(page)
    assert page.get_attribute("html", "lang") == language
    check_accessibility(page, f"expired form {language} {size}")
    shots(page, "expired")
    if not page.is_checked("#consent"):
        page.check("#consent")
    go(page, "#booking-form button[type=submit]")  # sent again: booked
    assert re.search(r"/b/[^/]+\?new=1$", page.url)
    with live_app.app_context():
        assert db.session.scalar(select(Booking.name)) == "Ayşe Yılmaz"


def taken_while_typing(browser, base_url, live_app, language, size):  # type: ignore[no-untyped-def]
    """The details typed in, then sent after others took both places of the chosen time."""
    page = open_page(browser, base_url, language, size)
    page.goto(base_url + DETAILS)
    fill_details(page)
    for email in ("a@example.org", "b@example.org"):
        book_at(live_app, "2027-03-30T08:30", email=email)
    go(page, "#booking-form button[type=submit]")
    return page


@parametrized
def test_a_time_taken_while_typing_offers_the_nearest_free_ones(browser, base_url, live_app, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"time-taken-{language}-{size}")
    page = taken_while_typing(browser, base_url, live_app, language, size)
    assert page.locator(".notice-error[role=alert]").count() == 1
    assert_typed_is_kept(page)
    nine = format_date(TUESDAY, "full", locale=language) + " (30.03.2027), 09:00"  # words and digits
    radio = page.get_by_role("radio", name=nine)
    check_accessibility(page, f"time taken {language} {size}")
    shots(page, "taken")
    radio.focus()
    page.keyboard.press("Space")
    assert radio.is_checked()
    go(page, "#booking-form button.primary")  # "Book appointment" (the form has the week's button too)
    assert re.search(r"/b/[^/]+\?new=1$", page.url)
    shots(page, "booked-another-time")
    with live_app.app_context():
        mine = db.session.scalar(select(Booking).where(Booking.email == "ayse@example.org"))
        assert mine is not None and mine.start_at.isoformat() == "2027-03-30T07:00:00+00:00"


@parametrized
def test_the_whole_week_after_a_taken_time_keeps_what_was_typed(browser, base_url, live_app, language, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"time-taken-week-{language}-{size}")
    page = taken_while_typing(browser, base_url, live_app, language, size)
    go(page, "button[name=pick_week]")  # "Show all times of the week", by keyboard
    assert_typed_is_kept(page)
    assert page.locator("#day-2027-04-01 .time").count() > 0  # the whole week, inside the form
    go(page, ".week-choice .week-nav button >> nth=-1")  # the next week
    assert_typed_is_kept(page)
    check_accessibility(page, f"week in the form {language} {size}")
    shots(page, "next-week-in-the-form")
    page.locator("#day-2027-04-06 .time").first.click()
    go(page, "#booking-form button.primary")
    assert re.search(r"/b/[^/]+\?new=1$", page.url)
    with live_app.app_context():
        mine = db.session.scalar(select(Booking).where(Booking.email == "ayse@example.org"))
        assert mine is not None and mine.start_at.isoformat() == "2027-04-06T06:30:00+00:00"
        assert (mine.phone, mine.note) == ("02452 123456", "Frage zur Einbürgerung")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_switching_language_on_the_form_keeps_what_was_typed(browser, base_url, live_app, size):  # type: ignore[no-untyped-def]
    shots = Shots(f"switch-language-{size}")
    page = open_page(browser, base_url, "de", size)
    page.goto(base_url + DETAILS)
    fill_details(page, name="محمد العلي")
    with page.expect_navigation():
        page.click("header button[name=switch_language][value=ar]")
    assert page.get_attribute("html", "lang") == "ar" and page.get_attribute("html", "dir") == "rtl"
    assert_typed_is_kept(page, name="محمد العلي")
    assert page.locator(".error-summary").count() == 0
    check_accessibility(page, f"switched to ar {size}")
    shots(page, "switched-ar")
    with live_app.app_context():
        assert db.session.scalar(select(db.func.count(Booking.id))) == 0


def test_enter_in_a_field_books_and_does_not_switch_the_language(browser, base_url, live_app):  # type: ignore[no-untyped-def]
    page = open_page(browser, base_url, "ar", "phone")
    page.goto(base_url + DETAILS)
    fill_details(page)
    with page.expect_navigation():
        page.focus("#email")
        page.keyboard.press("Enter")  # the form's default button, not the first language button
    assert re.search(r"/b/[^/]+\?new=1$", page.url)
    assert page.get_attribute("html", "lang") == "ar"
