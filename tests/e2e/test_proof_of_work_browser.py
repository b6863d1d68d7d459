"""In a real Chromium, with the app's own Content-Security-Policy: the ALTCHA widget of the booking
form solves its challenge without the resident doing anything, speaks the page's language (also
right to left), passes axe; without JavaScript the form books all the same."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from booking import proof_of_work
from booking.extensions import db
from booking.models import Booking
from booking.web import challenges
from tests.e2e import test_browser
from tests.e2e.browser import (
    PHONE,
    Shots,
    check_accessibility,
    serve,
)
from tests.integration.test_proof_of_work import office_file, spy_on_book

pytestmark = pytest.mark.browser

DETAILS = "/book/beratung/details?start=2027-03-30T08:30:00%2B02:00"
SOLVED = "() => { const e = document.querySelector('input[name=altcha]'); return !!(e && e.value); }"


browser = test_browser.browser  # one Chromium for the module, as in the resident flows


@pytest.fixture
def live_app(app_with, tmp_path) -> Flask:  # type: ignore[no-untyped-def]
    return app_with(WTF_CSRF_ENABLED=True, SERVER_NAME=None, OFFICE_CONFIG=office_file(tmp_path, True))


@pytest.fixture
def base_url(live_app: Flask) -> Iterator[str]:
    with serve(live_app) as url:
        yield url


def fill_in(page: Any, name: str, email: str) -> None:
    """The resident's part, by keyboard: name, email, consent. Nothing on the widget."""
    page.focus("#name")
    page.keyboard.type(name)
    page.focus("#email")
    page.keyboard.type(email)
    page.focus("#consent")
    page.keyboard.press("Space")


def booked(app: Flask) -> list[Booking]:
    with app.app_context():
        return list(db.session.scalars(db.select(Booking)))


def test_the_widget_solves_by_itself_and_the_resident_books_in_german_on_a_phone(browser, base_url, live_app):
    context = browser.new_context(viewport=PHONE, locale="de-DE")  # the app's CSP applies, not bypassed
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda error: console.append(str(error)))
    shots = Shots("resident-de-proof-of-work")

    page.goto(base_url + DETAILS)
    fill_in(page, "Ayşe Yılmaz", "ayse@example.org")
    page.wait_for_function(SOLVED, timeout=15_000)
    widget = page.get_by_role("checkbox", name="Geprüft: Sie können das Formular absenden.")
    assert widget.is_checked()  # solved and ticked by itself
    page.focus("#consent")
    page.keyboard.press("Tab")  # the privacy link in the consent's label
    page.keyboard.press("Tab")  # then the widget: in the keyboard order, where it is seen
    assert page.evaluate("() => document.activeElement.closest('altcha-widget') !== null")
    shots(page, "details-solved")
    page.focus("form button[type=submit]")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/b/[^/]+\?new=1"))
    shots(page, "confirmation")
    assert [b.name for b in booked(live_app)] == ["Ayşe Yılmaz"]
    assert not [line for line in console if "Content Security Policy" in line or "Refused" in line], console
    context.close()


@pytest.mark.parametrize("language", ["de", "ar", "fa"])
def test_the_form_with_the_widget_passes_axe(browser, base_url, language):
    context = browser.new_context(viewport=PHONE, locale="de-DE", bypass_csp=True)  # to inject axe
    page = context.new_page()
    page.goto(f"{base_url}/language/{language}?next={quote(DETAILS, safe='')}")
    page.wait_for_function(SOLVED, timeout=15_000)
    label = page.locator("altcha-widget label").inner_text()
    assert label and "Checked" not in label  # in the page's language, not the widget's English
    if language in ("ar", "fa"):
        assert page.get_attribute("html", "dir") == "rtl"
        assert page.locator("altcha-widget [dir=rtl]").count() >= 1  # the widget lays itself out RTL
    check_accessibility(page, f"details with the widget in {language}")
    Shots(f"resident-{language}-proof-of-work-axe")(page, "details-solved")
    context.close()


def test_without_javascript_the_form_books_all_the_same(browser, base_url, live_app):
    """The office file has no email verification; without JavaScript the email link confirms."""
    context = browser.new_context(viewport=PHONE, locale="de-DE", java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + DETAILS)
    assert "E-Mail" in page.inner_text("noscript, .altcha-field")
    page.fill("#name", "Jonas Weber")
    page.fill("#email", "jonas@example.org")
    page.check("#consent")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url.endswith("/book/check-email")
    assert [(b.name, b.status) for b in booked(live_app)] == [("Jonas Weber", "pending")]
    context.close()


def test_a_form_sent_while_the_widget_still_solves_goes_once_it_is_solved(
    browser, base_url, live_app, monkeypatch
):
    calls = spy_on_book(monkeypatch)  # the app serves from this process
    new_challenge = challenges.new

    def slow_challenge() -> dict[str, object]:  # the widget is still at it when the form is sent
        time.sleep(2)
        return new_challenge()

    monkeypatch.setattr(challenges, "new", slow_challenge)
    page = browser.new_context(viewport=PHONE, locale="de-DE").new_page()
    page.goto(base_url + DETAILS)
    page.fill("#name", "Lena Koch")
    page.fill("#email", "lena@example.org")
    page.check("#consent")
    assert page.evaluate("() => document.querySelector('altcha-widget').getState()") == "verifying"
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/b/[^/]+\?new=1"))
    assert calls == [None]  # sent with the solution, not as a form without JavaScript
    page.context.close()


def test_an_expired_challenge_is_replaced_without_the_resident(browser, base_url, monkeypatch):
    """The widget's clock is the browser's: a challenge that runs out two seconds after it was made
    is followed by a new one, solved again."""
    key = proof_of_work.hmac_key("test")
    monkeypatch.setattr(
        challenges, "new", lambda: proof_of_work.create(key, datetime.now(UTC), lifetime=timedelta(seconds=2))
    )
    page = browser.new_context(viewport=PHONE, locale="de-DE").new_page()
    fetched: list[str] = []
    page.on(
        "request", lambda request: fetched.append(request.url) if "/api/v1/challenge" in request.url else None
    )
    page.goto(base_url + DETAILS)
    page.wait_for_function(SOLVED, timeout=15_000)
    first = page.eval_on_selector("input[name=altcha]", "e => e.value")
    page.wait_for_function(
        "old => { const v = document.querySelector('input[name=altcha]').value; return !!v && v !== old; }",
        arg=first,
        timeout=15_000,
    )
    assert len(fetched) >= 2
    page.context.close()
