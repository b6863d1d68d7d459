"""In a real Chromium: a resident books, moves and cancels by keyboard at phone size, in German and
in Arabic, and books counselling in Arabic; an admin marks a counsellor away and gives that day to
a colleague in a few clicks; axe-core checks every page on the way, for every role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel.dates import format_date
from flask import Flask

from booking import absences, languages
from booking.extensions import db
from booking.models import Booking, Outbox, SlotClaim
from booking.notify import messages
from tests.conftest import Clock
from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    STAFF_VARIANTS,
    Shots,
    Steps,
    check_accessibility,
    glyph_boxes,
    require_browser,
    serve,
)
from tests.integration.staff_support import PASSWORD, book_at, create_counsellor, get_booking

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


SERVICE_FORM = "form[action='/book/beratung']"  # the home page's form of the service
TIMES_FORM = "form[action$='/details']"  # the week page's form of the times


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

    press(page, f"{SERVICE_FORM} button[type=submit]")  # "Show times" of the one service
    page.wait_for_url(re.compile(r"/book/beratung\?counselling=de"))
    radio = page.locator(TIMES_FORM).get_by_role("radio", name=re.compile(re.escape(first_time)))
    check_accessibility(page, "week")
    shots(page, "week")
    radio.focus()
    page.keyboard.press("Space")
    assert radio.is_checked()
    press(page, f"{TIMES_FORM} button[type=submit]")

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

    follow(page, "a.cancel-link")  # cancelling asks first
    check_accessibility(page, "cancel question")
    shots(page, "cancel-question")
    follow(page, "form[action$='/cancel'] button")
    assert page.url.endswith(booking_path)
    assert page.locator("a.cancel-link").count() == 0
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


# --- counsellors and their languages --------------------------------------------------------------

GERMAN_COUNSELLOR = ("jana.becker@kreis-heinsberg.example", "Jana Becker")
ARABIC_COUNSELLOR = ("leyla.demir@kreis-heinsberg.example", "Leyla Demir")
TUESDAY = date(2027, 3, 30)  # the first open day after FIXED_NOW


def german_counsellor(app: Flask, **hours: Any) -> int:
    return create_counsellor(app, *GERMAN_COUNSELLOR, ("de",), **hours)


def arabic_counsellor(app: Flask) -> int:
    return create_counsellor(app, *ARABIC_COUNSELLOR, ("de", "ar", "tr"))


def time_label(day: date, time: str, locale: str) -> str:
    """How the week page names a time for a screen reader: "Dienstag, 30. März 2027, 08:30"."""
    return format_date(day, "full", locale=locale) + ", " + time


@pytest.mark.parametrize("language", ["de", "ar"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_resident_page_passes_axe(browser, base_url, live_app, language, viewport):
    german_counsellor(live_app)
    arabic_counsellor(live_app)  # the service is offered in three languages: the choice is shown
    page = new_page(browser, viewport)
    page.goto(f"{base_url}/language/{language}?next=/")
    radios = "input[type=radio][name=counselling]"
    shown = {  # a page, and what must be on it for the walk to check what it is there for
        "/": radios,
        "/privacy": "h1",
        "/accessibility": "h1",
        "/leichte-sprache": ".leichte-sprache h1",
        "/find": "form[action='/find']",
        "/book/beratung?counselling=de": radios,
        "/book/beratung?counselling=ar&interpreter=ti": "select[name=interpreter] option[value=ti][selected]",
        "/book/beratung?counselling=de&week=2027-04-05": TIMES_FORM,
        "/book/beratung/details?start=2027-03-30T08:30:00%2B02:00&counselling=ar&interpreter=ti": "main dl",
        "/no-such-page": "h1",
    }
    for path, mark in shown.items():
        page.goto(base_url + path)
        assert page.locator(mark).count(), f"{path} lacks {mark}"
        check_accessibility(page, f"{path} in {language}")


def test_resident_books_counselling_in_arabic_on_a_phone(browser, base_url, live_app, clock):
    german_counsellor(live_app)
    arabic = arabic_counsellor(live_app)
    taken = book_at(live_app, "2027-03-30T08:30", name="كريم حداد", counselling_language="ar")
    assert get_booking(live_app, taken).counsellor_id == arabic  # the one who speaks Arabic is busy then
    arabic_word = languages.name("ar", "ar")  # "العربية"
    page = new_page(browser, PHONE, locale="ar")
    shots = Shots("resident-ar-counselling-phone")

    page.goto(base_url + "/language/ar?next=/book/beratung%3Fcounselling%3Dde")
    times = page.locator(TIMES_FORM)
    busy_time = time_label(TUESDAY, "08:30", "ar")
    assert times.get_by_role("radio", name=busy_time).count() == 1  # in German: the other counsellor

    page.goto(base_url + "/")
    service = page.locator(SERVICE_FORM)
    german_radio = service.get_by_role("radio", name=re.compile("^" + re.escape(languages.name("de", "ar"))))
    arabic_radio = service.get_by_role("radio", name=arabic_word, exact=True)
    check_accessibility(page, "home with the languages")
    german_radio.focus()
    page.keyboard.press("ArrowDown")  # the next language in the group: Arabic
    assert arabic_radio.is_checked() and not german_radio.is_checked()
    shots(page, "home-arabic-chosen")
    press(page, f"{SERVICE_FORM} button[type=submit]")

    page.wait_for_url(re.compile(r"/book/beratung\?counselling=ar"))
    assert times.get_by_role("radio", name=busy_time).count() == 0  # not with a counsellor in Arabic
    radio = times.get_by_role("radio", name=time_label(TUESDAY, "09:00", "ar"))
    check_accessibility(page, "week in Arabic counselling")
    shots(page, "week-arabic")
    radio.focus()
    page.keyboard.press("Space")
    press(page, f"{TIMES_FORM} button[type=submit]")

    page.wait_for_url(re.compile(r"/details\?.*counselling=ar"))
    page.focus("#name")
    page.keyboard.type("أمل منصور")
    page.focus("#email")
    page.keyboard.type("amal@example.org")
    press(page, "#consent", "Space")
    shots(page, "details")
    press(page, "form button[type=submit]")

    page.wait_for_url(re.compile(r"/b/[^/]+\?new=1"))
    assert arabic_word in page.locator("main dl.booking dd").all_inner_texts()  # a word, not "ar"
    check_accessibility(page, "confirmation in Arabic counselling")
    shots(page, "confirmation")
    with live_app.app_context():
        booking = db.session.scalar(db.select(Booking).where(Booking.email == "amal@example.org"))
        assert booking.counselling_language == "ar" and booking.counsellor_id == arabic
        assert booking.language == "ar" and booking.interpreter is None
        row = db.session.scalar(db.select(Outbox).where(Outbox.dedupe_key == f"confirm:{booking.id}"))
        email = messages.build_message(
            "confirm", booking, live_app.extensions["office"], dedupe_key=row.dedupe_key, now=clock.now
        )
    message = BytesParser(policy=policy.default).parsebytes(email.raw)
    for kind in ("plain", "html"):
        assert arabic_word in message.get_body((kind,)).get_content()


# --- staff ------------------------------------------------------------------------------------------


@pytest.fixture
def staff_login(live_app):  # type: ignore[no-untyped-def]
    from booking import accounts

    with live_app.app_context():
        accounts.create_staff(
            "leitung@kreis-heinsberg.de", "Leitung", "ein-langes-passwort", Clock().now, role="admin"
        )
    return "leitung@kreis-heinsberg.de", "ein-langes-passwort"


def sign_in(page: Any, base_url: str, email: str, password: str) -> None:
    page.goto(base_url + "/staff/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    follow(page, "form[action$='/staff/login'] button[type=submit]")
    assert "/staff/login" not in page.url, f"{email} could not sign in"


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


def test_admin_marks_a_counsellor_away_for_tomorrow_and_gives_the_day_away_in_a_few_clicks(
    browser, base_url, live_app, staff_login, clock
):
    clock.now = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)  # Monday 09:00 in Heinsberg; tomorrow is open
    away = german_counsellor(live_app)
    tomorrow = [
        book_at(live_app, f"2027-03-30T{time}", name=name, email=None)
        for time, name in [
            ("08:30", "Olena Kovalenko"),
            ("09:00", "Ahmad Rahimi"),
            ("11:00", "Mehmet Yıldız"),
        ]
    ]
    assert {get_booking(live_app, b).counsellor_id for b in tomorrow} == {away}
    colleague = arabic_counsellor(live_app)  # joins after: free all of Tuesday
    with live_app.app_context():
        emails_before = db.session.scalar(db.select(db.func.count(Outbox.id)))
    page = new_page(browser, DESKTOP)
    shots = Shots("admin-absence-desktop")
    sign_in(page, base_url, *staff_login)
    check_accessibility(page, "day view of today")
    shots(page, "today")

    steps = Steps(page)
    steps.click("nav.staff-nav a[href$='/staff/absences']")
    check_accessibility(page, "absences")
    shots(page, "absences")
    steps.choose("#counsellor", GERMAN_COUNSELLOR[1])
    steps.type("#start_date", "2027-03-30")
    shots(page, "absence-entered")
    steps.click("form[action$='/staff/absences'] button[type=submit]")

    assert re.search(r"/staff/absences/\d+$", page.url), page.url
    listed = page.locator("#affected tr.affected")
    assert [int(b) for b in listed.evaluate_all("rows => rows.map(r => r.dataset.booking)")] == tomorrow
    check_accessibility(page, "the absence with its appointments")
    shots(page, "absence-appointments")
    steps.click("form[action$='/reassign-all'] button[type=submit]")

    assert page.locator("#none-affected").is_visible()  # nothing of that day is left with her
    check_accessibility(page, "the absence after giving all")
    shots(page, "absence-given")
    steps.click("nav.staff-nav a[href='/staff/']")  # the day view: today
    steps.click("a[rel=next]")  # tomorrow
    assert page.url.endswith("date=2027-03-30")
    for booking_id in tomorrow:
        row = page.locator("tr.booking", has=page.locator(f"a[href$='/staff/bookings/{booking_id}']"))
        assert ARABIC_COUNSELLOR[1] in row.locator("td.counsellor").inner_text()
    check_accessibility(page, "tomorrow's day view")
    shots(page, "tomorrow")

    assert len(steps) <= 7, steps.done  # absence entered and the day given away, then the day seen
    with live_app.app_context():
        assert {get_booking(live_app, b).counsellor_id for b in tomorrow} == {colleague}
        assert db.session.scalar(db.select(db.func.count(Outbox.id))) == emails_before  # same time: no email


@dataclass(frozen=True)
class Counsellors:
    """Two counsellors, one of them away on Tuesday with two appointments: one in Arabic that
    nobody else can take, one in German (with an interpreter) that the other one can."""

    german: int
    arabic: int
    arabic_booking: int
    german_booking: int
    absence: int


def counsellors_with_an_absence(app: Flask) -> Counsellors:
    arabic = arabic_counsellor(app)
    first = book_at(app, "2027-03-30T09:00", name="أحمد رحيمي", counselling_language="ar")
    second = book_at(
        app, "2027-03-30T09:30", name="Olena Kovalenko", email="olena@example.org",
        counselling_language="de", interpreter="uk",
    )  # fmt: skip
    german = german_counsellor(app, hours={0: ["08:30-12:00"], 1: ["08:30-10:00", "14:00-17:00"]})
    with app.app_context():
        office = app.extensions["office"]
        # Digits first, after an Arabic name: the order a right-to-left line turns round without <bdi>.
        db.session.execute(db.update(Booking).where(Booking.id == first).values(reference="2345-ABCD"))
        absence = absences.add(
            office, arabic, *absences.whole_days(office, TUESDAY), "Fortbildung", None, Clock().now
        )
        absence_id = absence.id
        db.session.commit()
    return Counsellors(german, arabic, first, second, absence_id)


def drawn_left_to_right(locator: Any, text: str) -> list[dict[str, Any]]:
    """The element shows `text` on one line, each character right of the one before it (as drawn
    on screen, whatever the page's direction); returns where each character is."""
    glyphs = glyph_boxes(locator)
    assert "".join(g["char"] for g in glyphs) == text
    assert len({round(g["top"]) for g in glyphs}) == 1, f"{text!r} breaks across lines"
    lefts = [g["left"] for g in glyphs]
    assert lefts == sorted(lefts), f"{text!r} is drawn out of order: {lefts}"
    return glyphs


@STAFF_VARIANTS
def test_every_staff_page_passes_axe(browser, base_url, live_app, staff_login, language, viewport):
    world = counsellors_with_an_absence(live_app)
    page = new_page(browser, viewport)
    page.goto(f"{base_url}/language/{language}?next=/staff/login")
    check_accessibility(page, f"staff login in {language}")
    sign_in(page, base_url, *staff_login)
    shown = {  # a page, and what must be on it for the walk to check what it is there for
        "/staff/?date=2027-03-30": "td.counsellor .interpreter",
        f"/staff/?date=2027-03-30&counsellor={world.arabic}": "#counsellor",
        "/staff/week?date=2027-03-30": "main",
        "/staff/book?service=beratung&start=2027-03-30T10:00:00%2B02:00": "form",
        f"/staff/bookings/{world.arabic_booking}": ".tag.warning",
        f"/staff/bookings/{world.german_booking}": "#reassign-counsellor",
        f"/staff/bookings/{world.arabic_booking}/move": "form",
        "/staff/close": "form",
        "/staff/feed": "main",
        "/staff/emails": "main",
        "/staff/absences": "#absences",
        f"/staff/absences/{world.absence}": f"#give-{world.german_booking}",
        "/staff/assign": "#needing tr.needing",
        "/staff/accounts": "#accounts",
        "/staff/accounts/new": "form",
        f"/staff/accounts/{world.german}": "#weekly-hours",
        f"/staff/accounts/{world.arabic}": "#uncovered",
        "/staff/password": "form",
    }
    for path, mark in shown.items():
        page.goto(base_url + path)
        assert urlsplit(page.url).path == urlsplit(path).path, f"{path} redirected to {page.url}"
        assert page.locator(mark).count(), f"{path} lacks {mark}"
        check_accessibility(page, f"{path} in {language}")

    own = new_page(browser, viewport)  # the counsellor away that day, signed in herself
    own.goto(f"{base_url}/language/{language}?next=/staff/login")
    sign_in(own, base_url, ARABIC_COUNSELLOR[0], PASSWORD)
    own.goto(base_url + "/staff/?date=2027-03-30")
    assert own.locator("#counsellor").input_value() == str(world.arabic)  # her own day first
    check_accessibility(own, f"a counsellor's day in {language}")
    own.goto(base_url + f"/staff/bookings/{world.arabic_booking}")
    assert urlsplit(own.url).path.endswith(f"/staff/bookings/{world.arabic_booking}")
    check_accessibility(own, f"a counsellor's appointment in {language}")


def test_the_arabic_day_view_draws_counsellors_languages_and_references_in_their_order(
    browser, base_url, live_app, staff_login
):
    world = counsellors_with_an_absence(live_app)
    page = new_page(browser, DESKTOP, locale="ar")
    page.goto(f"{base_url}/language/ar?next=/staff/login")
    sign_in(page, base_url, *staff_login)
    page.goto(base_url + "/staff/?date=2027-03-30")
    assert page.get_attribute("html", "dir") == "rtl"
    Shots("staff-ar-day-desktop")(page, "day")

    arabic_row = page.locator("tr.booking", has=page.locator(f"a[href$='/bookings/{world.arabic_booking}']"))
    german_row = page.locator("tr.booking", has=page.locator(f"a[href$='/bookings/{world.german_booking}']"))
    drawn = {
        ARABIC_COUNSELLOR[1]: arabic_row.locator("td.counsellor"),
        languages.name("ar", "ar"): arabic_row.locator(".counselling-language"),  # "العربية"
        languages.name("uk", "ar"): german_row.locator(".interpreter"),  # the interpreter's language
    }
    for word, element in drawn.items():
        assert word in element.inner_text()
        box = element.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, f"{word} is not drawn"

    reference = drawn_left_to_right(arabic_row.locator(".reference bdi"), "2345-ABCD")
    assert max(g["right"] for g in reference[:4]) <= min(g["left"] for g in reference[-4:])  # 2345, then ABCD
    name = glyph_boxes(arabic_row.locator("td").first.locator("a"))
    assert min(g["left"] for g in name) > max(g["right"] for g in reference)  # the line reads right to left
    drawn_left_to_right(arabic_row.locator("a[href^='tel:']"), "02452 123456")

    page.goto(base_url + f"/staff/bookings/{world.arabic_booking}")
    drawn_left_to_right(page.locator("h1 bdi"), "2345-ABCD")
    drawn_left_to_right(page.locator("dl.booking bdi", has_text="02452"), "02452 123456")
    page.goto(base_url + f"/b/{get_booking(live_app, world.arabic_booking).token}")  # the resident's page
    assert page.get_attribute("html", "dir") == "rtl"
    drawn_left_to_right(page.locator("dl.booking bdi", has_text="ABCD"), "2345-ABCD")
