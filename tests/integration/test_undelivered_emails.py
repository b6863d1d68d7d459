"""Emails that could not be delivered, as the desk sees them: how many in the navigation, the
resident's phone on each row to call them instead, and why in words, from what a real mail
server answered (refused the address; not reachable at all)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from booking import bookings
from booking.extensions import db
from booking.models import Outbox
from booking.notify import tasks
from tests.integration.staff_support import PASSWORD, create_counsellor, create_staff, english, sign_in
from tests.mailsink import Handler, SmtpSink

TUESDAY_0830 = datetime(2027, 3, 30, 6, 30, tzinfo=UTC)


@pytest.fixture
def mail_app(app_with, sink: SmtpSink) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    yield app_with(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_TIMEOUT=5)


@pytest.fixture
def desk(mail_app):  # type: ignore[no-untyped-def]
    create_staff(mail_app)
    client = english(mail_app.test_client())
    assert sign_in(client).status_code == 302
    return client


def book(app: Flask, clock, email: str, phone: str | None, minutes: int = 0) -> int:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    with app.test_request_context():
        request = bookings.BookingRequest(
            "beratung", TUESDAY_0830 + timedelta(minutes=minutes), "Ayşe Yılmaz", email, phone
        )
        return bookings.book(app.extensions["office"], request, clock.now).id


def relay(app: Flask) -> None:
    with app.app_context():
        tasks.relay_outbox()


def nav_count(client) -> str | None:  # type: ignore[no-untyped-def]
    nav = client.get("/staff/").text.split('id="nav-undelivered"', 1)[1].split("</a>", 1)[0]
    return nav.split('<span class="nav-count">', 1)[1].split("<", 1)[0] if "nav-count" in nav else None


def row_of(page: str, address: str) -> str:
    return page.split(f"<bdi>{address}</bdi>", 1)[1].split("</tr>", 1)[0]


def test_a_refused_address_is_counted_in_the_navigation_and_explained_with_the_phone_to_call(
    mail_app, desk, clock, sink
):
    assert nav_count(desk) is None  # nothing undelivered: no number

    class Refusing(Handler):
        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]  # noqa: N802
            return "550 5.1.1 No such user"

    sink.serve_with(Refusing)
    book(mail_app, clock, "vertippt@example.org", "02452 / 98 76")
    relay(mail_app)
    assert nav_count(desk) == "1"
    page = desk.get("/staff/emails").text
    row = row_of(page, "vertippt@example.org")
    assert '<a href="tel:02452/9876"><bdi dir="ltr">02452 / 98 76</bdi></a>' in row
    assert "The resident&#39;s mail server refused the address: it may be mistyped or no longer exist." in row
    words, details = row.split("<details>", 1)
    assert "550" not in words  # the server's own answer only under the technical details
    assert "550" in details and "Technical details" in details


def test_an_unreachable_mail_server_says_so_and_the_count_follows_the_list(mail_app, desk, clock, sink):
    sink.stop()
    book(mail_app, clock, "eins@example.org", None)
    book(mail_app, clock, "zwei@example.org", "0151 2345678", minutes=30)
    relay(mail_app)  # the batch stops at the first failure: the second email fails the next time
    relay(mail_app)
    assert nav_count(desk) == "2"
    page = desk.get("/staff/emails").text
    assert "Our mail server could not be reached." in row_of(page, "zwei@example.org")
    assert "0151 2345678" in row_of(page, "zwei@example.org") and "tel:" not in row_of(
        page, "eins@example.org"
    )
    sink.start()
    with mail_app.app_context():  # the retry is due: it goes out, and the count goes down
        for row in db.session.scalars(select(Outbox)):
            row.next_attempt_at = clock.now
        db.session.commit()
    relay(mail_app)
    assert nav_count(desk) is None
    assert "Every email was delivered." in desk.get("/staff/emails").text


def test_counsellors_see_neither_the_list_nor_its_count(mail_app, clock, sink):
    sink.stop()
    create_counsellor(mail_app, "leyla@example.org", "Leyla Demir")
    book(mail_app, clock, "eins@example.org", None)
    relay(mail_app)
    counsellor = mail_app.test_client()
    sign_in(counsellor, "leyla@example.org", PASSWORD)
    page = counsellor.get("/staff/").text
    assert 'id="nav-undelivered"' not in page and "nav-count" not in page
    assert counsellor.get("/staff/emails").status_code == 403
