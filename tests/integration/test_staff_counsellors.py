"""The staff calendar with counsellors: who comes when and with whom, in which language, with or
without an interpreter (as words), one counsellor's day, a counsellor's own day first, booking for a
caller with the same choices as residents, the CSV columns, and giving an appointment to another."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, Outbox
from tests.conftest import snapshot
from tests.integration.staff_support import (
    PASSWORD,
    book_at,
    create_counsellor,
    create_staff,
    english,
    get_booking,
    sign_in,
)

DAY = "2027-03-30"


@pytest.fixture
def office(app: Flask) -> dict[str, int]:
    """Two counsellors and a reception account."""
    return {
        "anna": create_counsellor(app, "anna@ki.example", "Anna Becker", ("de",)),
        "yusuf": create_counsellor(app, "yusuf@ki.example", "Yusuf Demir", ("de", "ar", "tr")),
        "reception": create_staff(app, role="reception"),
    }


def signed_in(app: Flask, email: str = "sachbearbeitung@kreis-heinsberg.example") -> FlaskClient:
    client = english(app.test_client())
    assert sign_in(client, email=email, password=PASSWORD).status_code == 302
    return client


def booking_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="booking[^"]*"[^>]*>(.*?)</tr>', html, re.S)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_day_view_names_counsellor_language_and_interpreter_in_words(app, office):
    book_at(app, f"{DAY}T08:30", name="Layla Haddad", counselling_language="ar", email="layla@example.org")
    book_at(app, f"{DAY}T09:00", name="Mehmet Kaya", interpreter="tr", email="mehmet@example.org")
    page = signed_in(app).get(f"/staff/?date={DAY}").text
    rows = [text(row) for row in booking_rows(page)]
    assert "Layla Haddad" in rows[0] and "Yusuf Demir" in rows[0] and "Counselling in Arabic" in rows[0]
    assert "Mehmet Kaya" in rows[1] and "Anna Becker" in rows[1] and "Interpreter: Turkish" in rows[1]
    assert ">ar<" not in page and ">tr<" not in page


def test_the_day_view_names_the_languages_in_the_readers_language(app, office):
    book_at(app, f"{DAY}T08:30", counselling_language="ar", interpreter="ti")
    client = signed_in(app)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    row = text(booking_rows(client.get(f"/staff/?date={DAY}").text)[0])
    assert "Arabisch" in row and "Tigrinya" in row and "Arabic" not in row


def test_the_day_view_can_show_one_counsellors_day(app, office):
    book_at(app, f"{DAY}T08:30", name="Layla Haddad", counselling_language="ar", email="l@example.org")
    book_at(app, f"{DAY}T09:00", name="Mehmet Kaya", email="m@example.org")
    client = signed_in(app)
    everyone = text(client.get(f"/staff/?date={DAY}").text)
    assert "Layla Haddad" in everyone and "Mehmet Kaya" in everyone
    yusuf = text(client.get(f"/staff/?date={DAY}&counsellor={office['yusuf']}").text)
    assert "Layla Haddad" in yusuf and "Mehmet Kaya" not in yusuf


def test_a_counsellor_signed_in_sees_their_own_day_first_and_everyone_on_request(app, office):
    book_at(app, f"{DAY}T08:30", name="Layla Haddad", counselling_language="ar", email="l@example.org")
    book_at(app, f"{DAY}T09:00", name="Mehmet Kaya", email="m@example.org")
    anna = signed_in(app, "anna@ki.example")
    own = text(anna.get(f"/staff/?date={DAY}").text)
    assert "Mehmet Kaya" in own and "Layla Haddad" not in own
    assert "Layla Haddad" in text(anna.get(f"/staff/?date={DAY}&counsellor=all").text)


def test_free_places_of_a_slot_count_the_free_counsellors(app, office):
    book_at(app, f"{DAY}T08:30")
    page = signed_in(app).get(f"/staff/?date={DAY}").text
    slot = page.split(f'data-start="{DAY}T08:30:00+02:00"')[1].split("</tbody>")[0]
    assert "1 place free" in slot


def test_staff_book_for_a_caller_in_arabic_counselling_with_an_interpreter_wish(app, office):
    client = signed_in(app)
    url = f"/staff/book?service=beratung&start={DAY}T10:00%2B02:00"
    form = client.get(url).text
    assert (
        "Language of the counselling" in form and "Interpreter needed for" in form and "Yusuf Demir" in form
    )
    response = client.post(
        url,
        data={
            "name": "Anrufer",
            "phone": "02452 1",
            "counselling_language": "ar",
            "interpreter": "",
            "language": "de",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.name == "Anrufer"))
        assert (booking.counselling_language, booking.counsellor_id) == ("ar", office["yusuf"])


def test_staff_may_ask_for_one_counsellor_and_is_told_when_they_are_not_free(app, office):
    book_at(app, f"{DAY}T10:00", counselling_language="ar")  # Yusuf is taken at 10:00
    client = signed_in(app)
    url = f"/staff/book?service=beratung&start={DAY}T10:00%2B02:00"
    before = snapshot(app)
    refused = client.post(url, data={"name": "Anrufer", "counsellor": str(office["yusuf"]), "language": "de"})
    assert refused.status_code == 409
    assert snapshot(app) == before
    taken = client.post(url, data={"name": "Anrufer", "counsellor": str(office["anna"]), "language": "de"})
    assert taken.status_code == 302


def test_an_unknown_language_in_the_staff_form_names_the_field_and_books_nothing(app, office):
    client = signed_in(app)
    before = snapshot(app)
    response = client.post(
        f"/staff/book?service=beratung&start={DAY}T10:00%2B02:00",
        data={"name": "Anrufer", "counselling_language": "klingon", "language": "de"},
    )
    assert response.status_code == 422
    assert "Language of the counselling" in text(
        response.text.split('id="error-summary"')[1].split("</div>")[0]
    )
    assert snapshot(app) == before


def test_the_csv_export_carries_counsellor_language_and_interpreter(app, office):
    book_at(app, f"{DAY}T08:30", name="Layla Haddad", counselling_language="ar", interpreter=None)
    book_at(app, f"{DAY}T09:00", name="Mehmet Kaya", email="m@example.org", interpreter="ku")
    response = signed_in(app).get(f"/staff/export.csv?from={DAY}&to={DAY}")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    columns = [
        header.index(name) for name in ("Counsellor", "Language of the counselling", "Interpreter needed for")
    ]
    assert [[row[c] for c in columns] for row in rows[1:]] == [
        ["Yusuf Demir", "Arabic", ""],
        ["Anna Becker", "", "Kurdish"],
    ]


def test_giving_an_appointment_to_another_counsellor_keeps_its_time_and_sends_no_email(app, office):
    booking_id = book_at(app, f"{DAY}T08:30")
    assert get_booking(app, booking_id).counsellor_id == office["anna"]
    client = signed_in(app)
    page = client.get(f"/staff/bookings/{booking_id}").text
    assert "Give to" in page and "Yusuf Demir" in page
    with app.app_context():
        emails = db.session.scalars(select(Outbox.dedupe_key)).all()
    response = client.post(
        f"/staff/bookings/{booking_id}/reassign", data={"counsellor": str(office["yusuf"])}
    )
    assert response.status_code == 302
    moved = get_booking(app, booking_id)
    assert moved.counsellor_id == office["yusuf"] and moved.sequence == 0
    with app.app_context():
        assert db.session.scalars(select(Outbox.dedupe_key)).all() == emails
    assert "Given to another counsellor" in client.get(f"/staff/bookings/{booking_id}").text


def test_a_counsellor_opens_and_marks_only_their_own_appointments(app, office, clock):
    from datetime import UTC, datetime

    own = book_at(app, f"{DAY}T08:30")  # Anna
    other = book_at(app, f"{DAY}T09:00", counselling_language="ar", email="x@example.org")  # Yusuf
    clock.now = datetime(2027, 3, 30, 10, 0, tzinfo=UTC)
    anna = signed_in(app, "anna@ki.example")
    assert anna.get(f"/staff/bookings/{own}").status_code == 200
    assert anna.get(f"/staff/bookings/{other}").status_code == 403
    assert anna.post(f"/staff/bookings/{own}/attendance", data={"attended": "attended"}).status_code == 302
    assert get_booking(app, own).attended is True
    before = snapshot(app)
    assert anna.post(f"/staff/bookings/{other}/attendance", data={"attended": "no_show"}).status_code == 403
    assert snapshot(app) == before and get_booking(app, other).attended is None
    page = anna.get(f"/staff/bookings/{own}").text
    assert "Cancel appointment" not in page and "Move to another time" not in page
