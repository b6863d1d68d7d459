"""The resident's pages around a booking: cancelling asks first, "Lost your link?" (/find), the
legal pages from the office file, and a details form that keeps what was typed whatever fails."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from booking.extensions import db
from booking.models import AuditEvent, Booking, Outbox
from booking.notify import messages, tasks
from tests.conftest import FIXED_NOW, SUITE_OFFICE_TEXT, snapshot
from tests.integration.test_public_pages import DETAILS, FIRST, book, csrf_token, details
from tests.mailsink import SmtpSink

EN = {"Accept-Language": "en"}
DE = {"Accept-Language": "de"}


def book_en(client: FlaskClient, **overrides: str) -> str:
    """A booking made in English (its pages then speak English)."""
    return book(client, headers=EN, **overrides)


def booking_of(app: Flask, token: str) -> Booking:
    with app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.token == token))
        assert booking is not None
        db.session.expunge(booking)
        return booking


def link_emails(app: Flask) -> list[Outbox]:
    with app.app_context():
        rows = list(db.session.scalars(select(Outbox).where(Outbox.kind == "link").order_by(Outbox.id)))
        db.session.expunge_all()
        return rows


# --- cancelling asks first -----------------------------------------------------------------


def test_the_cancel_link_opens_a_question_and_changes_nothing(app: Flask, client: FlaskClient):
    token = book_en(client)
    before = snapshot(app)
    page = client.get(f"/b/{token}/cancel", headers=EN)
    assert page.status_code == 200
    assert "Cancel your appointment?" in page.text and "Reason (optional)" in page.text
    assert "No, keep my appointment" in page.text
    assert snapshot(app) == before  # a mail scanner opening the link cancels nothing
    assert booking_of(app, token).status == "confirmed"


def test_the_manage_page_links_to_the_question_instead_of_a_cancel_button(app: Flask, client: FlaskClient):
    token = book_en(client)
    page = client.get(f"/b/{token}", headers=EN).text
    assert f'href="/b/{token}/cancel"' in page
    assert f'action="/b/{token}/cancel"' not in page  # no form that cancels in one click
    assert page.index("Move to another time") < page.index("Cannot come?")


def test_confirming_cancels_with_the_reason_for_staff(app: Flask, client: FlaskClient):
    token = book_en(client)
    response = client.post(f"/b/{token}/cancel", data={"reason": "  Ich bin krank.  "}, headers=EN)
    assert response.status_code == 302 and response.location.endswith(f"/b/{token}")
    assert "This appointment is cancelled" in client.get(f"/b/{token}", headers=EN).text
    cancelled = booking_of(app, token)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "Ich bin krank."
    again = client.get(f"/b/{token}/cancel")  # nothing left to cancel: its page says so
    assert again.status_code == 302 and again.location.endswith(f"/b/{token}")


def test_a_too_long_reason_is_refused_and_keeps_the_booking(app: Flask, client: FlaskClient):
    token = book_en(client)
    response = client.post(f"/b/{token}/cancel", data={"reason": "x" * 501}, headers=EN)
    assert response.status_code == 422 and "under 500 characters" in response.text
    assert "x" * 501 in response.text  # what was typed is still there
    assert booking_of(app, token).status == "confirmed"


def test_an_appointment_that_has_begun_cannot_be_cancelled_from_the_question(
    app: Flask, client: FlaskClient, clock
):  # type: ignore[no-untyped-def]
    token = book_en(client)
    clock.now = booking_of(app, token).start_at
    page = client.get(f"/b/{token}/cancel", headers=EN)
    assert page.status_code == 302
    assert "already begun" in client.get(page.location, headers=EN).text
    assert client.post(f"/b/{token}/cancel").status_code == 302
    assert booking_of(app, token).status == "confirmed"


# --- "Lost your link?" ---------------------------------------------------------------------


def find(client: FlaskClient, reference: str, email: str, ip: str = "198.51.100.7", **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/find",
        data={"reference": reference, "email": email},
        headers={**EN, **headers},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_the_link_is_sent_again_and_the_answer_is_the_same_for_an_unknown_booking(
    app: Flask, client: FlaskClient
):
    booking = booking_of(app, book_en(client, email="anna@example.org"))
    found = find(client, booking.reference.lower().replace("-", " "), "Anna@Example.org")
    unknown = find(client, "ZZZZ-9999", "anna@example.org")
    wrong_address = find(client, booking.reference, "someone@example.org")
    assert found.status_code == unknown.status_code == wrong_address.status_code == 200
    assert found.text == unknown.text == wrong_address.text  # nothing tells them apart
    assert "If a booking with this reference and email address exists" in found.text
    [row] = link_emails(app)
    assert row.booking_id == booking.id
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.booking_id == booking.id))
        assert "link_sent" in list(actions)


def copied_reference(app: Flask, booking: Booking) -> str:
    """The reference as a resident selects and copies it in the plain text of their confirmation:
    with the invisible direction isolates around it that keep it in order in right-to-left text."""
    with app.test_request_context():
        stored = db.session.get(Booking, booking.id)
        mail = messages.build_message(
            "confirm", stored, app.extensions["office"], dedupe_key=f"confirm:{booking.id}", now=FIXED_NOW
        )
    plain = message_from_bytes(mail.raw, policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    copied = re.search(r"Booking reference: (\S+)", plain).group(1)  # type: ignore[union-attr]
    assert copied != booking.reference and booking.reference in copied  # the marks come along
    return f" {copied} "


def test_a_reference_copied_from_a_plain_text_email_finds_the_booking(app: Flask, client: FlaskClient):
    booking = booking_of(app, book_en(client, email="anna@example.org"))
    response = find(client, copied_reference(app, booking), "\u200eanna@example.org\u200f ")
    assert response.status_code == 200
    [row] = link_emails(app)
    assert row.booking_id == booking.id


def test_the_email_carries_the_manage_link_in_the_bookings_language(app_with, sink: SmtpSink):  # type: ignore[no-untyped-def]
    app = app_with(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_TIMEOUT=5)
    client = app.test_client()
    token = book(client, headers=DE)
    booking = booking_of(app, token)
    find(client, booking.reference, booking.email)
    [row] = link_emails(app)
    with app.app_context():
        assert tasks.send_email(row.id) == 1
    message = message_from_bytes(sink.wait_for(1)[-1].raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"].startswith("Ihr Link zum Termin am Dienstag, 30. März 2027")
    text = message.get_body(("plain",))
    assert text is not None and f"/b/{token}" in text.get_content()
    assert "Sie haben den Link zu Ihrem Termin noch einmal angefordert" in text.get_content()
    assert f"/b/{token}/calendar.ics" in text.get_content()
    # no calendar part: as a reminder, it could bring back an entry the resident deleted
    assert not any(p.get_content_type() == "text/calendar" for p in message.walk())


def test_no_link_for_a_cancelled_or_past_booking(app: Flask, client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    cancelled = booking_of(app, book_en(client, email="a@example.org"))
    client.post(f"/b/{cancelled.token}/cancel")
    find(client, cancelled.reference, "a@example.org")
    over = booking_of(app, book_en(client, start="2027-03-30T09:00:00+02:00", email="b@example.org"))
    clock.now = over.end_at
    find(client, over.reference, "b@example.org")
    assert link_emails(app) == []


@pytest.mark.parametrize(
    ("reference", "email", "field"),
    [("", "a@example.org", "reference"), ("ABCD", "a@example.org", "reference"), ("ABCD-2345", "", "email")],
)
def test_a_form_that_cannot_be_a_booking_says_which_field(
    app: Flask, client: FlaskClient, reference, email, field
):  # type: ignore[no-untyped-def]
    before = snapshot(app)
    response = find(client, reference, email)
    assert response.status_code == 422
    assert f'href="#{field}"' in response.text
    assert snapshot(app) == before


@pytest.fixture
def limited(app_with) -> Flask:  # type: ignore[no-untyped-def]
    return app_with(RATELIMIT_ENABLED=True, FIND_RATE_LIMIT="4 per minute", FIND_SEND_RATE_LIMIT="2 per hour")


def test_only_sends_count_per_booking_so_nobody_can_use_up_a_residents_link(limited: Flask):
    client = limited.test_client()
    booking = booking_of(limited, book_en(client, email="anna@example.org"))
    # someone else tries wrong pairs with Anna's reference, from many addresses: costs her nothing
    for n in range(6):
        assert (
            find(client, booking.reference, f"guess{n}@example.org", ip=f"203.0.113.{n}").status_code == 200
        )
    first = find(client, booking.reference, "anna@example.org", ip="198.51.100.1")
    second = find(client, booking.reference, "anna@example.org", ip="198.51.100.2")
    third = find(client, booking.reference, "anna@example.org", ip="198.51.100.3")
    assert first.text == second.text == third.text  # over the limit: the same answer, no email
    assert third.status_code == 200
    assert len(link_emails(limited)) == 2


def test_every_request_counts_per_ip_address(limited: Flask):
    client = limited.test_client()
    for _n in range(4):
        assert find(client, "ZZZZ-9999", "x@example.org").status_code == 200
    refused = find(client, "ZZZZ-9999", "x@example.org")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert find(client, "ZZZZ-9999", "x@example.org", ip="198.51.100.99").status_code == 200


def test_find_is_linked_from_home_and_from_a_manage_link_that_is_not_found(client: FlaskClient):
    assert 'href="/find"' in client.get("/", headers=EN).text
    missing = client.get("/b/not-a-token", headers=EN)
    assert missing.status_code == 404
    assert 'href="/find"' in missing.text and "some email programs break long links" in missing.text


# --- the legal pages -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/privacy", "/accessibility", "/leichte-sprache", "/find", DETAILS])
def test_every_page_links_the_legal_pages_in_its_footer(client: FlaskClient, path: str):
    page = client.get(path, headers=EN).text
    footer = page[page.index('<footer class="site-footer">') :]
    for link in ("/privacy", "/accessibility", "/leichte-sprache", "/find"):
        assert f'href="{link}"' in footer


def test_the_privacy_notice_names_what_art_13_asks_for(client: FlaskClient):
    page = client.get("/privacy", headers=EN).text
    assert "Kreis Heinsberg, Der Landrat" in page  # controller
    assert "datenschutz@kreis-heinsberg.example" in page  # data protection officer
    assert "Art. 6(1)(e) GDPR" in page and "§ 3 Datenschutzgesetz Nordrhein-Westfalen" in page
    assert "deleted 90 days after the appointment" in page  # retention_days of the office file
    assert "Art. 15 GDPR" in page and "Art. 21" in page  # rights
    assert "Landesbeauftragte für Datenschutz und Informationsfreiheit Nordrhein-Westfalen" in page
    assert "Kavalleriestraße 2–4, 40213 Düsseldorf" in page


def office_with(app_with, tmp_path: Path, text: str) -> Flask:  # type: ignore[no-untyped-def]
    path = tmp_path / "office.toml"
    path.write_text(text, encoding="utf-8")
    return app_with(OFFICE_CONFIG=str(path))


def test_the_privacy_notice_says_who_gets_the_data_once_and_retention_on_its_own(client: FlaskClient):
    page = client.get("/privacy", headers=DE).text
    assert page.count("weitergegeben") == 1  # under "who receives your data"
    retention = page.split("<h2>Wie lange wir sie speichern</h2>")[1].split("<h2>")[0]
    assert "90 Tage nach dem Termin gelöscht" in retention and "weitergegeben" not in retention


def test_the_forms_checkbox_acknowledges_the_privacy_notice_rather_than_consenting(client: FlaskClient):
    german = client.get(DETAILS, headers=DE).text
    assert '<label for="consent">Ich habe den Datenschutzhinweis gelesen.</label>' in german
    assert "einverstanden" not in german and 'href="/privacy" class="checkbox-link"' in german
    unticked = client.post(DETAILS, data=details(consent=None), headers=DE).text
    assert "Bitte bestätigen Sie, dass Sie den Datenschutzhinweis gelesen haben." in unticked
    waitlist = client.get("/book/beratung/waitlist", headers=DE).text
    assert '<label for="consent">Ich habe den Datenschutzhinweis gelesen.</label>' in waitlist


def test_the_legal_pages_take_the_office_files_values(app_with, tmp_path: Path):  # type: ignore[no-untyped-def]
    text = SUITE_OFFICE_TEXT.replace("retention_days = 90", "retention_days = 180")
    text = text.replace('dpo_email = "datenschutz@kreis-heinsberg.example"', 'dpo_email = "dsb@amt.example"')
    text = text.replace('status = "partial"', 'status = "full"')
    client = office_with(app_with, tmp_path, text).test_client()
    privacy = client.get("/privacy", headers=EN).text
    assert "deleted 180 days after" in privacy and "dsb@amt.example" in privacy
    statement = client.get("/accessibility", headers=EN).text
    assert "fully compliant" in statement and "partially" not in statement


def test_an_office_without_legal_tables_still_has_the_pages(app_with, tmp_path: Path):  # type: ignore[no-untyped-def]
    text = SUITE_OFFICE_TEXT[: SUITE_OFFICE_TEXT.index("[privacy]")]
    client = office_with(app_with, tmp_path, text).test_client()
    privacy = client.get("/privacy", headers=EN)
    assert (
        privacy.status_code == 200 and "Kommunales Integrationszentrum (KI) Kreis Heinsberg" in privacy.text
    )
    assert "Please ask the office for the contact details of the data protection officer." in privacy.text
    assert client.get("/accessibility", headers=EN).status_code == 200


def test_the_accessibility_statement_names_status_gaps_contact_and_enforcement(client: FlaskClient):
    page = client.get("/accessibility", headers=EN).text
    assert "partially compliant" in page
    assert "German Sign Language" in page  # a known gap
    assert "December 1, 2026" in page  # statement_date, in the reader's language
    assert "02452 / 13-4222" in page  # feedback contact
    assert "Ombudsstelle für barrierefreie Informationstechnik des Landes Nordrhein-Westfalen" in page
    assert "ombudsstelle-barrierefreie-it@mags.nrw.de" in page


def test_leichte_sprache_is_german_and_other_languages_say_so(client: FlaskClient):
    german = client.get("/leichte-sprache", headers=DE).text
    assert "Einen Termin machen" in german and "only available in German" not in german
    arabic = client.get("/leichte-sprache", headers={"Accept-Language": "ar"}).text
    assert '<html lang="ar"' in arabic
    assert '<div class="leichte-sprache" lang="de" dir="ltr">' in arabic  # read as German
    assert 'role="note"' in arabic


# --- the details form keeps what was typed -------------------------------------------------


def test_switching_language_on_the_form_keeps_what_was_typed(app: Flask, client: FlaskClient):
    before = snapshot(app)
    page = client.get(DETAILS, headers=DE).text
    assert 'name="switch_language" value="ar"' in page and 'form="booking-form"' in page
    response = client.post(
        DETAILS,
        data={**details(consent=None, note="Frage zum Aufenthalt"), "switch_language": "ar"},
        headers=DE,
    )
    assert response.status_code == 200
    assert '<html lang="ar"' in response.text
    assert 'value="Anna Schmidt"' in response.text and "Frage zum Aufenthalt" in response.text
    assert "error-summary" not in response.text  # not sent yet: no errors for the missing consent
    assert snapshot(app) == before
    assert '<html lang="ar"' in client.get("/", headers=DE).text  # the choice is kept


def test_an_expired_token_with_a_language_switch_keeps_both(app_with):  # type: ignore[no-untyped-def]
    client = app_with(WTF_CSRF_ENABLED=True).test_client()
    response = client.post(DETAILS, data={**details(), "switch_language": "tr"}, headers=DE)
    assert response.status_code == 400
    assert '<html lang="tr"' in response.text and 'value="Anna Schmidt"' in response.text
    assert csrf_token(response.text)


def test_an_expired_token_on_a_complete_form_shows_no_empty_error_box(app_with):  # type: ignore[no-untyped-def]
    client = app_with(WTF_CSRF_ENABLED=True).test_client()
    response = client.post(DETAILS, data=details(), headers=EN)  # no token: it expired
    assert response.status_code == 400 and "send the form again" in response.text
    assert 'class="error-summary"' not in response.text
    assert "<h2>Please check your entries</h2>" not in response.text
    unticked = client.post(DETAILS, data=details(consent=None), headers=EN)
    assert unticked.status_code == 400
    summary = re.search(r'<div class="error-summary".*?</div>', unticked.text, re.S)
    assert summary and '<a href="#consent">' in summary.group(0)  # a box when it has something to list


def test_a_time_taken_while_typing_offers_the_nearest_free_times_and_books_one(
    app: Flask, client: FlaskClient
):
    book_en(client, email="a@example.org")
    book_en(client, email="b@example.org")  # 08:30 is full now
    taken = client.post(DETAILS, data=details(email="c@example.org", phone="0151 1"), headers=EN)
    assert taken.status_code == 409
    offered = re.findall(r'type="radio" name="start" id="start-\d" value="([^"]+)"', taken.text)
    assert offered and FIRST not in offered
    assert offered[0] == "2027-03-30T09:00:00+02:00"  # the nearest first, all in time order
    assert offered == sorted(offered)
    chosen = client.post(DETAILS, data={**details(email="c@example.org"), "start": offered[0]})
    assert chosen.status_code == 302
    token = re.search(r"/b/([A-Za-z0-9_-]+)\?new=1", chosen.location).group(1)  # type: ignore[union-attr]
    assert booking_of(app, token).start_at.isoformat().startswith("2027-03-30T07:00")  # 09:00 CEST


TYPED = {"name": "Anna Schmidt", "email": "anna@example.org", "phone": "0151 2345", "note": "Frage zum Visum"}


def kept_what_was_typed(page: str) -> bool:
    fields = all(f'value="{TYPED[key]}"' in page for key in ("name", "email", "phone"))
    return fields and TYPED["note"] in page


def test_choosing_another_time_shows_the_week_inside_the_form_and_keeps_what_was_typed(
    app: Flask, client: FlaskClient
):
    form = client.get(DETAILS, headers=EN).text
    assert 'form="booking-form" name="pick_week" value="2027-03-29"' in form  # a button, not a link
    before = snapshot(app)
    week = client.post(DETAILS, data={**details(**TYPED), "pick_week": "2027-03-29"}, headers=EN)
    assert week.status_code == 200 and kept_what_was_typed(week.text)
    assert "error-summary" not in week.text and snapshot(app) == before  # nothing booked yet
    assert f'name="start" value="{FIRST}" required checked' in week.text  # the time chosen so far
    later = client.post(DETAILS, data={**details(**TYPED), "pick_week": "2027-04-05"}, headers=EN)
    assert later.status_code == 200 and kept_what_was_typed(later.text)
    assert 'value="2027-04-06T08:30:00+02:00"' in later.text  # the next week's times
    booked = client.post(DETAILS, data={**details(**TYPED), "start": "2027-04-06T08:30:00+02:00"})
    token = re.search(r"/b/([A-Za-z0-9_-]+)\?new=1", booked.location).group(1)  # type: ignore[union-attr]
    booking = booking_of(app, token)
    assert booking.start_at.isoformat().startswith("2027-04-06T06:30")  # 08:30 CEST
    assert (booking.name, booking.phone, booking.note) == (TYPED["name"], TYPED["phone"], TYPED["note"])


def test_all_times_of_the_week_after_a_time_was_taken_keep_what_was_typed(app: Flask, client: FlaskClient):
    book_en(client, email="a@example.org")
    book_en(client, email="b@example.org")  # 08:30 is full now
    taken = client.post(DETAILS, data=details(**TYPED), headers=EN)
    assert taken.status_code == 409
    assert 'name="pick_week" value="2027-03-29"' in taken.text and "/book/beratung?week=" not in taken.text
    week = client.post(DETAILS, data={**details(**TYPED), "pick_week": "2027-03-29"}, headers=EN)
    assert week.status_code == 200 and kept_what_was_typed(week.text)
    offered = re.findall(r'type="radio" name="start" value="([^"]+)"', week.text)
    assert FIRST not in offered and "2027-04-01T14:00:00+02:00" in offered  # the whole week, not four
    booked = client.post(DETAILS, data={**details(**TYPED), "start": "2027-04-01T14:00:00+02:00"})
    token = re.search(r"/b/([A-Za-z0-9_-]+)\?new=1", booked.location).group(1)  # type: ignore[union-attr]
    booking = booking_of(app, token)
    assert (booking.name, booking.phone, booking.note) == (TYPED["name"], TYPED["phone"], TYPED["note"])


def test_the_details_page_offers_the_switch_without_javascript(client: FlaskClient):
    page = client.get(f"/book/beratung/details?start={quote(FIRST)}", headers=EN).text
    buttons = re.findall(
        r'<button type="submit" form="booking-form" name="switch_language" value="(\w+)"', page
    )
    assert set(buttons) == {"de", "en", "tr", "ar", "uk", "ru", "pl", "fa"}


def test_find_sent_with_an_expired_token_keeps_what_was_typed_and_sends_nothing(app_with):  # type: ignore[no-untyped-def]
    app = app_with(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/find", data={"reference": "ABCD-2345", "email": "anna@example.org"}, headers=EN)
    assert response.status_code == 400 and "send the form again" in response.text
    assert 'value="ABCD-2345"' in response.text and 'value="anna@example.org"' in response.text
    assert csrf_token(response.text)
    assert link_emails(app) == []
