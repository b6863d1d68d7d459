"""Email verification with real processes: celery worker and beat on Redis sending to a real SMTP
server (PostgreSQL), and a real Chromium at phone size, in German and in Arabic.

An online booking is pending: its only email asks to confirm it, and carries no calendar entry.
Opening the link confirms nothing (mail scanners open links); only its button does, and only then
does the confirmation with the invitation go out, once. A hold that runs out is not asked to
confirm any more, its link books nothing, and its place is free again without any task running.

The worker processes read the real clock, which a test cannot move: a hold "runs out" here by
setting its end a minute in the past in the database.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from booking.extensions import db
from booking.models import Booking, CounsellorClaim, Outbox, SlotClaim
from booking.notify import messages
from booking.office import DEFAULT_OFFICE_FILE
from tests.conftest import Clock
from tests.e2e import test_browser, test_worker
from tests.e2e.browser import PHONE, Shots, check_accessibility, glyph_boxes
from tests.e2e.test_worker import Process, first_free_start, wait_until
from tests.mailsink import SmtpSink

VERIFYING_OFFICE = str(DEFAULT_OFFICE_FILE)  # the shipped office file: verify_email_minutes = 30
CONFIRM_LINK = re.compile(r"https?://[^\s\"<>]+/confirm/[^\s\"<>]+")

# The fixtures of the worker and browser tests, here with the shipped office file (below).
redis_url = test_worker.redis_url
web = test_worker.web
celery_process = test_worker.celery_process
browser = test_browser.browser
base_url = test_browser.base_url


@pytest.fixture
def office_file() -> str:
    """The web app and the workers run the shipped office file: verification on."""
    return VERIFYING_OFFICE


# --- helpers ----------------------------------------------------------------------------------------


def book_online(client: FlaskClient, email: str) -> dict[str, str]:
    """A resident books the first free time through the API (texts in English); the answer."""
    body = {"service": "beratung", "start": first_free_start(client), "name": "Amira Haddad", "email": email}
    response = client.post("/api/v1/bookings", json={**body, "language": "en"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def emails_to(sink: SmtpSink, address: str) -> list[EmailMessage]:
    return [received.message for received in sink.messages if received.rcpt_tos == [address]]


def wait_for_emails(sink: SmtpSink, address: str, count: int) -> list[EmailMessage]:
    """The emails to `address` once there are `count` of them (or what came in time)."""
    wait_until(lambda: len(emails_to(sink, address)) >= count)
    return emails_to(sink, address)


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=default_policy).parsebytes(raw)  # type: ignore[return-value]


def content_types(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def confirm_link(message: EmailMessage) -> str:
    """The link to confirm in the email: the same one in its text and its HTML."""
    [link] = set(CONFIRM_LINK.findall(message.get_body(("plain",)).get_content()))
    assert link in message.get_body(("html",)).get_content()
    return link


def stored(app: Flask, reference: str) -> Booking:
    with app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.reference == reference))
        assert booking is not None, reference
        db.session.expunge(booking)
        db.session.rollback()
        return booking


def outbox_of(app: Flask, reference: str) -> list[Outbox]:
    """The booking's emails as the database has them now, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(Outbox)
            .join(Booking, Booking.id == Outbox.booking_id)
            .where(Booking.reference == reference)
            .order_by(Outbox.id)
        ).all()
        db.session.expunge_all()
        db.session.rollback()
        return list(rows)


def all_handled(app: Flask, reference: str) -> bool:
    """The worker has sent (or skipped) every email of the booking."""
    rows = outbox_of(app, reference)
    return bool(rows) and all(row.sent_at is not None for row in rows)


def run_out(app: Flask, reference: str) -> None:
    """As if the 30 minutes had passed: the hold of the booking and of its claims ended a minute
    ago, by the real clock that the web app and the workers read alike."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    with app.app_context():
        booking_id = db.session.scalar(select(Booking.id).where(Booking.reference == reference))
        db.session.execute(update(Booking).where(Booking.id == booking_id).values(hold_until=past))
        for claim in (SlotClaim, CounsellorClaim):
            db.session.execute(update(claim).where(claim.booking_id == booking_id).values(hold_until=past))
        db.session.commit()


def free_places(client: FlaskClient, start: str) -> int:
    """What `GET /api/v1/slots` says is free at `start`."""
    day = date.fromisoformat(start[:10])
    response = client.get(f"/api/v1/slots?service=beratung&from={day}&to={day}")
    assert response.status_code == 200, response.get_data(as_text=True)
    [slot] = [slot for slot in response.get_json()["slots"] if slot["start"] == start]
    return int(slot["available"])


ENGLISH = {"Accept-Language": "en"}


# --- worker, SMTP, Redis, PostgreSQL ----------------------------------------------------------------


def test_the_email_asks_to_confirm_a_get_confirms_nothing_and_the_button_sends_the_invitation_once(
    web: Flask, celery_process: Callable[[str], Process], sink: SmtpSink
) -> None:
    celery_process("worker")
    celery_process("beat")  # its relay would send any email left waiting, every second
    client = web.test_client()
    answer = book_online(client, "amira@example.org")
    reference = answer["reference"]
    assert answer["status"] == "pending" and "token" not in answer

    [request] = wait_for_emails(sink, "amira@example.org", 1)
    assert wait_until(lambda: all_handled(web, reference))
    assert len(emails_to(sink, "amira@example.org")) == 1  # no confirmation at booking time
    assert request["Subject"].startswith("Please confirm:")
    assert "text/calendar" not in content_types(request) and "invite.ics" not in request.as_string()
    booking = stored(web, reference)
    link = confirm_link(request)
    assert urlsplit(link).path == f"/confirm/{booking.confirm_token}"
    assert booking.token not in request.as_string()  # the booking's own key comes with the confirmation

    page = client.get(urlsplit(link).path, headers=ENGLISH)  # what a mail scanner does
    assert page.status_code == 200 and "Confirm appointment" in page.text
    [action] = re.findall(r'<form method="post" action="([^"]+)"', page.text)
    assert action == urlsplit(link).path
    assert stored(web, reference).status == "pending"
    assert [row.kind for row in outbox_of(web, reference)] == ["verify"]

    pressed = client.post(action)
    assert pressed.status_code == 302
    assert pressed.headers["Location"].endswith(f"/b/{booking.token}?new=1")
    assert stored(web, reference).status == "confirmed"
    request_again, confirmation = wait_for_emails(sink, "amira@example.org", 2)
    assert request_again["Message-ID"] == request["Message-ID"]
    assert confirmation["Subject"].startswith("Confirmed:")
    [entry] = [part for part in confirmation.walk() if part.get_content_type() == "text/calendar"]
    [invite] = [part for part in confirmation.walk() if part.get_filename() == "invite.ics"]
    assert entry.get_payload(decode=True) == invite.get_payload(decode=True)
    assert f"/b/{booking.token}" in confirmation.get_body(("plain",)).get_content()
    assert not CONFIRM_LINK.search(confirmation.get_body(("plain",)).get_content())

    second = client.post(action)  # a second click: the booking's page, and nothing sent
    assert second.status_code == 302 and second.headers["Location"].endswith(f"/b/{booking.token}")
    time.sleep(3)  # three relays of beat
    assert len(emails_to(sink, "amira@example.org")) == 2
    assert [row.kind for row in outbox_of(web, reference)] == ["verify", "confirm"]
    assert all_handled(web, reference)


def test_a_hold_that_ran_out_before_the_worker_came_is_not_asked_to_confirm(
    web: Flask, celery_process: Callable[[str], Process], sink: SmtpSink
) -> None:
    client = web.test_client()  # no worker runs yet: it is down when the resident books
    answer = book_online(client, "late@example.org")
    start, reference = answer["start"], answer["reference"]
    assert free_places(client, start) == 1  # of 2: the hold takes one
    run_out(web, reference)
    celery_process("worker")
    celery_process("beat")

    assert wait_until(lambda: all_handled(web, reference))
    [row] = outbox_of(web, reference)
    assert row.kind == "verify" and (row.last_error or "").startswith("skipped")
    assert sink.messages == []  # handled, and never sent: nothing will send it any more
    assert free_places(client, start) == 2
    assert stored(web, reference).status == "pending"


def test_a_link_whose_hold_ran_out_books_nothing_and_the_place_was_free_without_a_task(
    web: Flask, celery_process: Callable[[str], Process], sink: SmtpSink
) -> None:
    worker = celery_process("worker")
    client = web.test_client()
    answer = book_online(client, "slow@example.org")
    start, reference = answer["start"], answer["reference"]
    [request] = wait_for_emails(sink, "slow@example.org", 1)
    assert free_places(client, start) == 1
    assert wait_until(lambda: all_handled(web, reference))
    worker.stop()  # from here no task runs

    run_out(web, reference)
    assert free_places(client, start) == 2  # no task ran: availability ignores the expired hold
    path = urlsplit(confirm_link(request)).path
    page = client.get(path, headers=ENGLISH)
    assert page.status_code == 410 and "This link has run out" in page.text
    assert "Confirm appointment" not in page.text
    pressed = client.post(path, headers=ENGLISH)
    assert pressed.status_code == 410 and "This link has run out" in pressed.text
    assert stored(web, reference).status == "pending"
    assert [row.kind for row in outbox_of(web, reference)] == ["verify"]  # no confirmation queued
    assert free_places(client, start) == 2
    assert len(sink.messages) == 1


# --- in Chromium, at phone size ---------------------------------------------------------------------

START = "2027-03-30T08:30:00+02:00"  # the first open time after FIXED_NOW (Friday 10:00 in Heinsberg)
HOLD_UNTIL = "10:30"  # FIXED_NOW + 30 minutes, office time


@pytest.fixture
def live_app(app_with: Callable[..., Flask]) -> Flask:
    """The browser tests' app (CSRF on) with the shipped office file: verification on."""
    return app_with(WTF_CSRF_ENABLED=True, SERVER_NAME=None, OFFICE_CONFIG=VERIFYING_OFFICE)


RESIDENTS = {  # who books, and what the pages say to them
    "de": {
        "name": "Ayşe Yılmaz",
        "email": "ayse@example.org",
        "heading": "Bitte bestätigen Sie Ihren Termin",
        "sent_to": "Wir senden Ihnen eine E-Mail an ayse@example.org.",  # no worker runs here
        "by": f"bis {HOLD_UNTIL} Uhr",
        "button": "Termin bestätigen",
    },
    "ar": {
        "name": "أمل منصور",
        "email": "1234@example.org",  # digits first: drawn "example.org@1234" in Arabic without <bdi>
        "heading": "يرجى تأكيد موعدك",
        "sent_to": "نحن نرسل إليك بريداً إلكترونياً على 1234@example.org.",
        "by": f"قبل الساعة {HOLD_UNTIL}",
        "button": "تأكيد الموعد",
    },
}


def drawn_in_order(page: Any, text: str) -> None:
    """The paragraph of the page's main part that holds `text` draws it as it is written, each
    character right of the one before, also inside a right-to-left sentence (an email address)."""
    glyphs = glyph_boxes(page.locator("main p", has_text=text))
    at = "".join(glyph["char"] for glyph in glyphs).index(text)
    lefts = [glyph["left"] for glyph in glyphs[at : at + len(text)]]
    assert lefts == sorted(lefts), f"{text!r} is drawn out of order: {lefts}"


def emailed_request_to_confirm(app: Flask, reference: str, clock: Clock) -> EmailMessage:
    """The email the worker would send for the booking's one outbox row (nobody runs one here)."""
    with app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.reference == reference))
        [row] = db.session.scalars(select(Outbox).where(Outbox.booking_id == booking.id)).all()
        assert row.kind == "verify"
        email = messages.build_message(
            row.kind, booking, app.extensions["office"], dedupe_key=row.dedupe_key, now=clock.now
        )
    return parse(email.raw)


@pytest.mark.browser
@pytest.mark.parametrize("language", ["de", "ar"])
def test_a_resident_books_on_a_phone_is_asked_to_confirm_and_confirms_with_the_button(
    browser: Any, base_url: str, live_app: Flask, clock: Clock, language: str
) -> None:
    resident = RESIDENTS[language]
    shots = Shots(f"verification-{language}-phone")
    page = test_browser.new_page(browser, PHONE, locale=language)
    details = f"/book/beratung/details?start={quote(START)}"
    page.goto(f"{base_url}/language/{language}?next={quote(details)}")
    assert page.get_attribute("html", "lang") == language
    assert page.get_attribute("html", "dir") == ("rtl" if language == "ar" else "ltr")
    page.fill("#name", resident["name"])
    page.fill("#email", resident["email"])
    page.check("#consent")
    shots(page, "details")
    with page.expect_navigation():
        page.click("form button[type=submit]")

    assert urlsplit(page.url).path == "/book/check-email"
    assert page.locator("main h1").inner_text() == resident["heading"]
    text = page.inner_text("main")
    assert resident["sent_to"] in text and resident["by"] in text
    drawn_in_order(page, resident["email"])
    with live_app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.email == resident["email"]))
        assert booking.status == "pending" and booking.language == language
        reference, token, confirm_token = booking.reference, booking.token, booking.confirm_token
    assert token not in page.content() and confirm_token not in page.content()  # no key on the page
    check_accessibility(page, f"check your email in {language}")
    shots(page, "check-email")

    request = emailed_request_to_confirm(live_app, reference, clock)
    path = urlsplit(confirm_link(request)).path
    assert path == f"/confirm/{confirm_token}"
    page.goto(base_url + path)
    assert stored(live_app, reference).status == "pending"  # opening the link confirmed nothing
    button = page.get_by_role("button", name=resident["button"], exact=True)
    assert button.count() == 1
    assert HOLD_UNTIL in page.inner_text("main")
    check_accessibility(page, f"confirm in {language}")
    shots(page, "confirm")

    with page.expect_navigation():
        button.click()
    assert urlsplit(page.url).path == f"/b/{token}"
    assert page.locator(".manage-link").inner_text().endswith(f"/b/{token}")
    drawn_in_order(page, resident["email"])  # "We have sent a confirmation to ..."
    shots(page, "booked")
    assert stored(live_app, reference).status == "confirmed"
    assert [row.kind for row in outbox_of(live_app, reference)] == ["verify", "confirm"]
