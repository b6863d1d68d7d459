"""In a real Chromium, by what is drawn: every kind of email in every language fits a 390 px
phone; in Arabic and Persian the office's phone number, times and residents' phone numbers keep
their order; a name with a right-to-left override cannot turn the staff day view's line round."""

from __future__ import annotations

from datetime import date
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from flask import Flask

from booking.extensions import db
from booking.models import Booking, WaitlistEntry
from booking.notify import messages
from tests.e2e import test_browser
from tests.e2e.browser import DESKTOP, PHONE, Shots, glyph_boxes
from tests.e2e.test_browser import new_page, sign_in
from tests.integration.staff_support import book_at, get_booking
from tests.integration.test_email_format import NOW, booking

pytestmark = pytest.mark.browser
browser = test_browser.browser
live_app = test_browser.live_app
base_url = test_browser.base_url
staff_login = test_browser.staff_login

LANGUAGES = ("de", "en", "tr", "ar", "uk", "ru", "pl", "fa")
WAITLIST = "waitlist"


TOKEN = "Qm9vS2luZ1Rva2VuV2l0aE1hbnlXaWRlTGV0dGVyc1g"  # 43 characters, as secrets.token_urlsafe(32)


def email_html(app: Flask, kind: str, language: str) -> str:
    """The HTML part of one email, for a booking with every optional row (the widest table) and
    links as long as they are in production."""
    app.config["PUBLIC_URL"] = "https://termine.kreis-heinsberg.de"
    with app.app_context():
        office = app.extensions["office"]
        if kind == WAITLIST:
            entry = WaitlistEntry(
                id=3, token="w" * 43, confirm_token="v" * 43, service_id="beratung", name="Anna Müller",
                email="anna@example.org", language=language, first_day=date(2027, 3, 30),
                last_day=date(2027, 4, 12), created_at=NOW,
            )  # fmt: skip
            email = messages.build_waitlist_message(entry, office, dedupe_key="waitlist:3", now=NOW)
        else:
            held = {"status": "pending", "hold_until": NOW, "confirm_token": "c" * 43}
            extra = (
                held
                if kind in messages.HELD
                else {"status": "cancelled" if kind == "cancel" else "confirmed"}
            )
            subject = booking(
                language=language,
                counselling_language="ar",
                interpreter="ti",
                phone="02452 123456",
                token=TOKEN,
                **extra,
            )
            email = messages.build_message(kind, subject, office, dedupe_key=f"{kind}:7", now=NOW)
    return message_from_bytes(email.raw, policy=default).get_body(("html",)).get_content()


def drawn_in_reading_order(page: Any, selector: str, first: str, then: str) -> None:
    """In the element, `first` and `then` (parts of one number) are drawn left to right, each
    character right of the one before it: the order a person reads a phone number or a time."""
    glyphs = glyph_boxes(page.locator(selector).first)
    text = "".join(g["char"] for g in glyphs)
    at, later = text.index(first), text.index(then, text.index(first) + len(first))
    lefts = [g["left"] for g in glyphs[at : at + len(first)]] + [
        g["left"] for g in glyphs[later : later + len(then)]
    ]
    assert lefts == sorted(lefts), f"{first!r} … {then!r} in {selector} drawn out of order: {lefts}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_email_fits_a_phone_screen(browser: Any, app: Flask, language: str):
    page = new_page(browser, PHONE, locale=language)
    shots = Shots(f"emails-{language}-phone")
    for kind in (*messages.KINDS, WAITLIST):
        page.set_content(email_html(app, kind, language))
        shots(page, kind)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{kind} in {language} is {width} px wide"
        if kind not in messages.HELD and kind != WAITLIST:
            assert page.get_by_role("link", name="http", exact=False).count() == 0  # no raw address as text


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_right_to_left_emails_draw_phone_numbers_and_times_in_their_order(
    browser: Any, app: Flask, language: str
):
    page = new_page(browser, PHONE, locale=language)
    for kind in messages.KINDS:
        page.set_content(email_html(app, kind, language))
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        footer = "p:has-text('02452')"  # the office's phone, "02452 / 13-4222", wherever it is shown
        for index in range(page.locator(footer).count()):
            drawn_in_reading_order(page, f"{footer} >> nth={index}", "02452", "4222")
        drawn_in_reading_order(page, "td:has-text('08:30')", "08:30", "09:00")
        label, value = page.locator("th").first.bounding_box(), page.locator("td").first.bounding_box()
        assert label and value and label["x"] > value["x"] + value["width"] - 1  # the label on the right


def test_the_arabic_day_view_draws_phone_numbers_in_order_and_isolates_names(
    browser: Any, base_url: str, live_app: Flask, staff_login: tuple[str, str]
):
    overriding = book_at(live_app, "2027-03-30T08:30", name="Ali \u202eevil", email=None)
    with live_app.app_context():
        db.session.execute(
            db.update(Booking)
            .where(Booking.id == overriding)
            .values(reference="2345-ABCD", phone="02452 123456")
        )
        db.session.commit()
    page = new_page(browser, DESKTOP, locale="ar")
    page.goto(f"{base_url}/language/ar?next=/staff/login")
    sign_in(page, base_url, *staff_login)
    page.goto(base_url + "/staff/?date=2027-03-30")
    row = page.locator("tr.booking", has=page.locator(f"a[href$='/bookings/{overriding}']"))
    phone = glyph_boxes(row.locator("a[href^='tel:']"))
    assert [g["left"] for g in phone] == sorted(g["left"] for g in phone)  # 02452 123456, left to right
    reference = glyph_boxes(row.locator(".reference"))
    assert "".join(g["char"] for g in reference) == "2345-ABCD"
    lefts = [g["left"] for g in reference]
    assert lefts == sorted(lefts), f"the override in the name turned the reference round: {lefts}"
    name = glyph_boxes(row.locator("td").first.locator("a"))
    assert min(g["left"] for g in name) > max(g["right"] for g in reference)  # the name first, on the right
    assert get_booking(live_app, overriding).name == "Ali \u202eevil"  # shown isolated, not changed
    page.goto(base_url + f"/staff/bookings/{overriding}")
    drawn = glyph_boxes(page.locator("dl.booking bdi", has_text="02452"))
    assert [g["left"] for g in drawn] == sorted(g["left"] for g in drawn)

    page.goto(f"{base_url}/language/de?next=/staff/bookings/{overriding}/move")  # a left-to-right page
    summary = glyph_boxes(page.locator("p.summary"))
    text = "".join(g["char"] for g in summary)
    after = summary[text.index("Integrationsberatung") :][: len("Integrationsberatung")]
    lefts = [g["left"] for g in after]
    assert lefts == sorted(lefts), f"the text after the name was turned round: {lefts}"


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_the_phone_example_on_the_booking_form_reads_left_to_right(
    browser: Any, base_url: str, language: str
):
    page = new_page(browser, PHONE, locale=language)
    page.goto(f"{base_url}/language/{language}?next=/")
    page.goto(base_url + "/book/beratung/details?start=2027-03-30T08:30:00%2B02:00")
    drawn_in_reading_order(page, "#phone-hint", "02452", "123456")
    page.fill("#phone", "بعداً")  # no number: the message repeats the example
    page.click("form button[type=submit]")
    drawn_in_reading_order(page, "#phone-error", "02452", "123456")
