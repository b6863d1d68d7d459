"""What residents read: phone numbers in their own digits, the error summary in their language,
English sentences that start with a capital, and the numeric date beside the words."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking
from booking.notify.messages import HELD, KINDS
from tests.integration.test_api import post
from tests.integration.test_email_format import NOW, build
from tests.integration.test_public_pages import DETAILS, details

LANGUAGES = ("de", "en", "tr", "ar", "uk", "ru", "pl", "fa")


@pytest.mark.parametrize(
    "typed", ["۰۲۴۵۲ ۱۲۳۴۵۶", "٠٢٤٥٢ ١٢٣٤٥٦", "02452 ۱۲۳۴۵۶"], ids=["persian", "arabic", "mixed"]
)
def test_a_phone_number_typed_in_persian_or_arabic_digits_is_kept_with_latin_ones(
    app: Flask, client: FlaskClient, typed: str
):
    response = post(client, phone=typed, language="fa")
    assert response.status_code == 201, response.json
    assert response.json["phone"] == "02452 123456"
    with app.app_context():
        assert db.session.scalar(select(Booking.phone)) == "02452 123456"


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_a_phone_number_with_letters_is_refused_with_an_example_in_every_language(
    client: FlaskClient, language
):
    response = post(client, phone="call me", language=language)
    assert response.status_code == 422
    [message] = response.json["errors"]["phone"]
    assert "02452 123456" in message and "Please enter" not in message  # translated, with the example


def test_the_form_says_what_a_phone_number_looks_like(client: FlaskClient):
    html = client.get(DETAILS, headers={"Accept-Language": "tr"}).text
    assert 'id="phone-hint">Örneğin 02452 123456</p>' in html


def test_the_error_summary_speaks_german_and_gives_the_consent_its_message_alone(client: FlaskClient):
    html = client.post(DETAILS, data=details(name="", consent=None)).text
    summary = html[
        html.index('class="error-summary"') : html.index("</ul>", html.index('class="error-summary"'))
    ]
    assert "Bitte prüfen Sie Ihre Angaben" in summary
    assert "Name: Bitte geben Sie Ihren Namen ein." in summary
    assert ">Bitte bestätigen Sie, dass Sie den Datenschutzhinweis" in summary  # the message alone
    assert ".: " not in summary


def held(kind: str) -> dict[str, object]:
    """What a booking that waits for its confirmation has besides (the kinds about a held place)."""
    return (
        {"status": "pending", "hold_until": NOW.replace(minute=30), "confirm_token": "c" * 43}
        if kind in HELD
        else {}
    )


@pytest.mark.parametrize("kind", KINDS)
def test_an_english_email_starts_each_sentence_with_a_capital(app: Flask, kind: str):
    with app.app_context():
        message = message_from_bytes(build(app, kind, language="en", **held(kind)).raw, policy=default)
    text = message.get_body(("plain",)).get_content()
    greeting, first = [line for line in text.splitlines() if line.strip()][:2]
    assert greeting == "Hello Anna Müller,"
    assert first[0].isupper(), first


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_email_gives_the_date_in_digits_beside_the_words(app: Flask, language: str):
    with app.app_context():
        message = message_from_bytes(build(app, "confirm", language=language).raw, policy=default)
    for part in ("plain", "html"):
        assert "(30.03.2027)" in message.get_body((part,)).get_content()


def test_a_plain_text_email_keeps_the_office_phone_and_the_times_left_to_right_in_arabic(app: Flask):
    with app.app_context():
        message = message_from_bytes(build(app, "reminder", language="ar").raw, policy=default)
    text = message.get_body(("plain",)).get_content()
    assert "\u206602452 / 13-4222\u2069" in text  # LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE
    assert "\u206608:30–09:00\u2069" in text


def test_the_resident_page_gives_the_date_in_digits_and_the_time_left_to_right(client: FlaskClient):
    response = post(client, language="fa")
    html = client.get(f"/b/{response.json['token']}").text
    assert re.search(r'<bdi dir="ltr">\(30\.03\.2027\)</bdi>', html)
    assert '<bdi dir="ltr">08:30–09:00</bdi>' in html
