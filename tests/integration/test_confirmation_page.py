"""The page after booking: what the email state really is, what to bring, the web calendars, the
printable confirmation with the manage link as a QR code (also printed by staff), and the
specific message for an address with letters like ü before the @."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, quote, urlsplit

import segno
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, Outbox
from booking.notify import tasks
from tests.integration.staff_support import create_counsellor, create_staff, english, sign_in
from tests.integration.test_public_pages import DETAILS, FIRST, book, details
from tests.mailsink import SmtpSink

DE, EN = {"Accept-Language": "de"}, {"Accept-Language": "en"}


def booking_id(app: Flask, token: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Booking.id).where(Booking.token == token))  # type: ignore[return-value]


def links(html: str, host: str) -> list[str]:
    return [
        unescape(href)
        for href in re.findall(r'href="(https://[^"]+)"', html)
        if urlsplit(unescape(href)).hostname == host
    ]


def test_it_says_sending_until_the_worker_has_sent_the_email(app_with, sink: SmtpSink):  # type: ignore[no-untyped-def]
    app = app_with(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_TIMEOUT=5)
    client = app.test_client()
    token = book(client, headers=EN)
    page = client.get(f"/b/{token}?new=1", headers=EN).text
    assert "We are sending you a confirmation to <bdi>anna@example.org</bdi>." in page
    assert "We have sent" not in page
    with app.app_context():
        [row] = db.session.scalars(select(Outbox.id).where(Outbox.kind == "confirm"))
        assert tasks.send_email(row) == 1
    sink.wait_for(1)
    page = client.get(f"/b/{token}?new=1", headers=EN).text
    assert "We have sent a confirmation to <bdi>anna@example.org</bdi>." in page


def test_the_page_lists_what_to_bring_and_the_manage_link_is_not_its_main_content(client: FlaskClient):
    token = book(client, headers=DE)
    page = client.get(f"/b/{token}?new=1", headers=DE).text
    assert "Bitte bringen Sie mit:" in page and "ein Ausweisdokument" in page
    main = page[page.index("<main") : page.index("</main>")]
    assert main.index("Bitte bringen Sie mit:") < main.index('class="manage-link"')
    assert main.index("Bestätigung drucken") < main.index('class="manage-link"')


def test_the_web_calendar_links_carry_the_appointment_in_utc(client: FlaskClient):
    token = book(client, headers=DE)
    page = client.get(f"/b/{token}", headers=DE).text
    [google] = links(page, "calendar.google.com")
    query = parse_qs(urlsplit(google).query)
    assert query["action"] == ["TEMPLATE"]
    assert query["dates"] == ["20270330T063000Z/20270330T070000Z"]  # 08:30–09:00 in summer time
    assert query["text"] == ["Termin: Integrationsberatung"]
    assert query["location"] == ["Dienstgebäude, Oberbrucher Str. 1, 52525 Heinsberg"]
    assert f"/b/{token}" in query["details"][0]
    [outlook] = links(page, "outlook.live.com")
    query = parse_qs(urlsplit(outlook).query)
    assert (query["startdt"], query["enddt"]) == (["2027-03-30T06:30:00Z"], ["2027-03-30T07:00:00Z"])
    assert query["subject"] == ["Termin: Integrationsberatung"]
    assert f'href="/b/{token}/calendar.ics"' in page
    assert "<script" not in page


def test_the_printable_confirmation_carries_the_manage_link_as_a_qr_code(client: FlaskClient):
    token = book(client, headers=DE)
    page = client.get(f"/b/{token}/print", headers=DE)
    assert page.status_code == 200
    url = f"http://termine.test/b/{token}"
    expected = segno.make(url, error="m").svg_inline(scale=4)
    drawn = re.search(r'<svg[^>]*class="qr-code".*?</svg>', page.text, re.S)
    assert drawn, "no QR code on the page"
    path = re.search(r' d="([^"]+)"', drawn.group(0))
    assert path and path.group(1) == re.search(r' d="([^"]+)"', expected).group(1)  # type: ignore[union-attr]
    assert 'role="img"' in drawn.group(
        0
    ) and "<title>QR-Code des Links zu Ihrem Termin</title>" in drawn.group(0)
    assert url in page.text and "Bitte bringen Sie mit:" in page.text
    assert "Termin: Integrationsberatung" not in page.text  # the summary, not calendar words
    assert "Dienstag, 30. März 2027" in page.text


def test_staff_print_the_confirmation_in_the_bookings_language(app: Flask):
    resident = app.test_client()
    token = book(resident, headers={"Accept-Language": "ar"})
    create_staff(app)
    desk = english(app.test_client())
    assert sign_in(desk).status_code == 302
    number = booking_id(app, token)
    assert f'href="/staff/bookings/{number}/print"' in desk.get(f"/staff/bookings/{number}").text
    printed = desk.get(f"/staff/bookings/{number}/print")
    assert printed.status_code == 200
    assert '<html lang="ar" dir="rtl">' in printed.text and "تأكيد الموعد" in printed.text
    assert f"http://termine.test/b/{token}" in printed.text
    assert f'href="/staff/bookings/{number}"' in printed.text


def test_the_staff_print_page_has_its_buttons_in_the_staff_members_language(app: Flask):
    token = book(app.test_client(), headers={"Accept-Language": "ar"})
    create_staff(app)
    desk = app.test_client()
    desk.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    assert sign_in(desk).status_code == 302
    number = booking_id(app, token)
    printed = desk.get(f"/staff/bookings/{number}/print").text
    assert '<html lang="ar" dir="rtl">' in printed and "تأكيد الموعد" in printed  # for the caller
    found = re.search(r'<p class="print-actions"([^>]*)>(.*?)</p>', printed, re.S)
    assert found, "no print buttons"
    attributes, actions = found.groups()
    assert 'lang="de"' in attributes and 'dir="ltr"' in attributes  # marked as German inside Arabic
    assert ">Drucken</button>" in actions
    assert f'<a href="/staff/bookings/{number}">Zurück zum Termin</a>' in actions
    assert "طباعة" not in printed and "العودة إلى الموعد" not in printed


def test_a_counsellor_cannot_print_someone_elses_appointment(app: Flask):
    create_counsellor(app, "clara@kreis-heinsberg.example", "Clara Becker")
    create_counsellor(app, "yusuf@kreis-heinsberg.example", "Yusuf Demir")
    token = book(app.test_client(), headers=EN)
    number = booking_id(app, token)
    with app.app_context():
        owner = db.session.scalar(select(Booking.counsellor_id).where(Booking.id == number))
    emails = {"clara@kreis-heinsberg.example", "yusuf@kreis-heinsberg.example"}
    results = {}
    for email in emails:
        client = english(app.test_client())
        assert sign_in(client, email).status_code == 302
        results[email] = client.get(f"/staff/bookings/{number}/print").status_code
    assert sorted(results.values()) == [200, 403], (owner, results)
    assert app.test_client().get(f"/staff/bookings/{number}/print").status_code in (302, 401)


def test_an_address_with_umlauts_before_the_at_gets_the_message_the_readme_promises(
    app: Flask, client: FlaskClient
):
    response = client.post(DETAILS, data=details(email="jürgen@example.de"), headers=EN)
    assert response.status_code == 422
    assert "without letters like ü, ö or ß" in response.text and "juergen@example.de" in response.text
    assert "Please enter a valid email address" not in response.text
    german = client.post(DETAILS, data=details(email="jürgen@example.de"), headers=DE)
    assert "ohne Buchstaben wie ü, ö oder ß" in german.text
    api = client.post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": FIRST, "name": "Jürgen", "email": "jürgen@example.de"},
        headers=EN,
    )
    assert api.status_code == 422 and "juergen@example.de" in api.json["errors"]["email"][0]
    not_an_address = client.post(DETAILS, data=details(email="jürgen"), headers=EN)
    assert "Please enter a valid email address, for example name@example.org." in not_an_address.text
    international_domain = client.post(
        f"/book/beratung/details?start={quote(FIRST)}", data=details(email="anna@müller.de"), headers=EN
    )
    assert international_domain.status_code == 302  # a domain in Unicode is fine (punycode)


def test_the_error_summary_puts_no_colon_after_a_label_that_ends_in_punctuation(client: FlaskClient):
    for language in ("de", "en", "ar", "tr", "uk", "ru", "pl", "fa"):
        page = client.post(
            DETAILS,
            data=details(name="", email="x", note="x" * 5000, consent=None),
            headers={"Accept-Language": language},
        ).text
        summary = page[
            page.index('class="error-summary"') : page.index("</div>", page.index('class="error-summary"'))
        ]
        text = re.sub(r"<[^>]+>", "", unescape(summary))
        assert not re.search(r"[.?!:؟]\s*:", text), (language, text)
