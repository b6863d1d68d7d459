"""The no-show rule through the app: two no-shows within a year (marked by staff) keep an address
from booking online (form and API) for 90 days, with a kind message naming the office's phone and
the day it may book again; staff still book for the caller, see the blocked addresses and lift a
block (audited); counsellors may not. Off when the office file does not set `no_show_limit`.

The no-shows are the appointments of Tuesday 2 and 9 March 2027 (booked on 20 February); the
clock stands on 26 March. Blocked through 7 June (9 March + 90 days): online again from 8 June."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from booking import bookings
from booking.extensions import db
from booking.models import AuditEvent, Booking, NoShowLift, Staff
from tests.conftest import FIXED_NOW, SUITE_OFFICE_TEXT, snapshot
from tests.integration.staff_support import book_at, create_counsellor, create_staff, english, sign_in

RULE = "no_show_limit = 2\nno_show_block_days = 90\n"
ANCHOR = "retention_days = 90\n"
BOOKED_AT = datetime(2027, 2, 20, 9, 0, tzinfo=UTC)
MISSED = ("2027-03-02T09:00", "2027-03-09T09:00")
ADDRESS = "ayse@example.org"
PHONE = "02452 / 13-4222"
FIRST = "2027-03-30T08:30:00+02:00"  # the first bookable time after the clock's Good Friday
EN = {"Accept-Language": "en"}
DE = {"Accept-Language": "de"}


def office_with(text: str, tmp_path: Path) -> str:
    shipped = SUITE_OFFICE_TEXT
    assert ANCHOR in shipped
    path = tmp_path / "office.toml"
    path.write_text(shipped.replace(ANCHOR, ANCHOR + text), encoding="utf-8")
    return str(path)


@pytest.fixture
def app(app_with: Callable[..., Flask], tmp_path: Path) -> Flask:
    """The shipped office with the no-show rule on: 2 within a year, 90 days."""
    return app_with(OFFICE_CONFIG=office_with(RULE, tmp_path))


@pytest.fixture
def desk(app: Flask) -> FlaskClient:
    """Reception, signed in, reading English."""
    create_staff(app, "empfang@ki.example", "Empfang", role="reception")
    client = english(app.test_client())
    assert sign_in(client, "empfang@ki.example").status_code == 302
    return client


def staff_id(app: Flask, email: str = "empfang@ki.example") -> int | None:
    with app.app_context():
        return db.session.scalar(select(Staff.id).where(Staff.email == email))


def marker(app: Flask) -> int:
    """The admin who marks no-shows through the service (created once)."""
    email = "leitung@ki.example"
    return staff_id(app, email) or create_staff(app, email, "Leitung", role="admin")


def missed(app: Flask, start: str, email: str = ADDRESS, name: str = "Ayşe Yılmaz") -> int:
    """A booking of `start` that staff marked as a no-show through the booking service."""
    booking_id = book_at(app, start, email=email, name=name, booked_at=BOOKED_AT)
    by = marker(app)
    with app.test_request_context():
        booking = db.session.get_one(Booking, booking_id)
        staff = db.session.get_one(Staff, by)
        bookings.mark_attendance(app.extensions["office"], booking, False, staff, FIXED_NOW)
    return booking_id


def block(app: Flask, email: str = ADDRESS) -> list[int]:
    """Two no-shows of `email`: the first marked through the service, the second on the staff page."""
    first = missed(app, MISSED[0], email)
    second = book_at(app, MISSED[1], email=email, name="Ayşe Yılmaz", booked_at=BOOKED_AT)
    client = english(app.test_client())
    assert sign_in(client, "leitung@ki.example").status_code == 302
    response = client.post(f"/staff/bookings/{second}/attendance", data={"attended": "no_show"})
    assert response.status_code == 302
    return [first, second]


def form_booking(client: FlaskClient, email: str, headers: dict[str, str] = EN):  # type: ignore[no-untyped-def]
    data = {"name": "Ayşe Yılmaz", "email": email, "phone": "", "note": "", "consent": "y"}
    return client.post(f"/book/beratung/details?start={quote(FIRST)}", data=data, headers=headers)


def api_booking(client: FlaskClient, email: str, start: str = FIRST):  # type: ignore[no-untyped-def]
    body = {"service": "beratung", "start": start, "name": "Ayşe Yılmaz", "email": email, "language": "en"}
    return client.post("/api/v1/bookings", json=body)


def count_bookings(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Booking.id)))


# --- residents ----------------------------------------------------------------------------------


def test_two_no_shows_keep_the_address_from_the_form_with_the_phone_and_the_day_it_may_book_again(
    app: Flask, client: FlaskClient
):
    block(app)
    response = form_booking(client, ADDRESS)
    assert response.status_code == 422
    assert "Because of missed appointments, this email address can book online again from June 8, 2027" in (
        response.text
    )
    assert PHONE in response.text


def test_the_message_is_in_the_readers_language_with_the_date_in_words(app: Flask, client: FlaskClient):
    block(app)
    response = form_booking(client, ADDRESS, DE)
    assert response.status_code == 422
    assert "8. Juni 2027" in response.text and PHONE in response.text
    assert "Because of missed appointments" not in response.text


def test_the_phone_keeps_its_left_to_right_order_inside_arabic_text(app: Flask, client: FlaskClient):
    block(app)
    response = form_booking(client, ADDRESS, {"Accept-Language": "ar"})
    assert response.status_code == 422
    assert f"\u2066{PHONE}\u2069" in response.text


def test_a_blocked_address_gets_422_on_its_email_from_the_api_and_nothing_is_written(
    app: Flask, client: FlaskClient
):
    block(app)
    before = snapshot(app)
    response = api_booking(client, ADDRESS)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["email"]
    (message,) = response.json["errors"]["email"]
    assert "June 8, 2027" in message and PHONE in message
    assert snapshot(app) == before


def test_the_spelling_of_the_address_does_not_get_around_the_block(app: Flask, client: FlaskClient):
    block(app)
    assert api_booking(client, "A" + ADDRESS[1:].replace("example", "Example")).status_code == 422
    assert api_booking(client, f"  {ADDRESS.upper()} ").status_code == 422
    assert form_booking(client, "Ayse@EXAMPLE.org").status_code == 422


def test_another_address_books_as_ever(app: Flask, client: FlaskClient):
    block(app)
    assert api_booking(client, "someone.else@example.org").status_code == 201


def test_one_no_show_below_the_limit_blocks_nothing(app: Flask, client: FlaskClient):
    missed(app, MISSED[0])
    assert api_booking(client, ADDRESS).status_code == 201


def test_attendance_reset_after_a_mistaken_no_show_unblocks(app: Flask, client: FlaskClient, desk):
    first, _second = block(app)
    desk.post(f"/staff/bookings/{first}/attendance", data={"attended": "clear"})
    assert api_booking(client, ADDRESS).status_code == 201


def test_the_block_ends_on_the_day_the_message_names(app: Flask, client: FlaskClient, clock):
    block(app)
    clock.now = datetime(2027, 6, 7, 21, 59, tzinfo=UTC)  # 23:59 on 7 June in Heinsberg
    start = "2027-06-10T08:30:00+02:00"
    assert api_booking(client, ADDRESS, start).status_code == 422
    clock.now = datetime(2027, 6, 7, 22, 0, tzinfo=UTC)  # midnight: 8 June
    assert api_booking(client, ADDRESS, start).status_code == 201


def test_the_rule_is_off_when_the_office_file_does_not_set_it(app_with: Callable[..., Flask]):
    plain = app_with()
    for start in MISSED:
        missed(plain, start)
    assert api_booking(plain.test_client(), ADDRESS).status_code == 201


def test_limit_zero_never_blocks(app_with: Callable[..., Flask], tmp_path: Path):
    off = app_with(OFFICE_CONFIG=office_with("no_show_limit = 0\n", tmp_path))
    for start in (*MISSED, "2027-03-16T09:00"):
        missed(off, start)
    assert api_booking(off.test_client(), ADDRESS).status_code == 201
    admin = english(off.test_client())
    assert sign_in(admin, "leitung@ki.example").status_code == 302
    assert "The no-show rule is off" in admin.get("/staff/no-shows").text
    assert 'href="/staff/no-shows"' not in admin.get("/staff/").text


# --- staff --------------------------------------------------------------------------------------


def test_staff_still_book_a_blocked_address_for_a_caller_and_see_the_block(app: Flask, desk: FlaskClient):
    block(app)
    start = FIRST.replace("+", "%2B")
    response = desk.post(
        f"/staff/book?service=beratung&start={start}",
        data={"name": "Ayşe Yılmaz", "email": ADDRESS, "language": "de"},
    )
    assert response.status_code == 302, response.text
    detail = desk.get(response.headers["Location"]).text
    assert "No-shows: online booking again from June 8, 2027" in detail
    day = desk.get("/staff/?date=2027-03-30").text
    assert day.count("No-shows: online booking again from June 8, 2027") == 1


def test_the_staff_page_lists_the_blocked_address_with_name_count_latest_and_end(app: Flask, desk):
    block(app)
    missed(app, MISSED[0], email="once@example.org", name="Nur Einmal")
    page = desk.get("/staff/no-shows")
    assert page.status_code == 200
    table = page.text.split('id="no-show-blocks"')[1].split("</table>")[0]
    assert ADDRESS in table and "Ayşe Yılmaz" in table and "once@example.org" not in table
    assert "<td>2</td>" in table
    assert "Tuesday, March 9, 2027, 09:00" in table and "Tuesday, June 8, 2027" in table
    assert 'href="/staff/no-shows"' in desk.get("/staff/").text  # the navigation links to it


def test_lifting_a_block_lets_the_address_book_online_again_and_is_audited(
    app: Flask, client: FlaskClient, desk: FlaskClient
):
    _first, latest = block(app)
    response = desk.post("/staff/no-shows/lift", data={"email": ADDRESS})
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/no-shows")
    page = desk.get("/staff/no-shows").text
    assert f"{ADDRESS} can book online again." in page and "No address is blocked." in page
    reception = staff_id(app)
    with app.app_context():
        lifts = db.session.execute(select(NoShowLift.email, NoShowLift.lifted_at, NoShowLift.staff_id)).all()
        assert [tuple(row) for row in lifts] == [(ADDRESS, FIXED_NOW, reception)]
        audit = db.session.execute(
            select(AuditEvent.booking_id, AuditEvent.staff_id).where(AuditEvent.action == "no_show_lifted")
        ).all()
        assert [tuple(row) for row in audit] == [(latest, reception)]
    assert "No-show block lifted" in desk.get(f"/staff/bookings/{latest}").text  # in its history
    assert api_booking(client, ADDRESS).status_code == 201


def test_lifting_an_address_that_is_not_blocked_writes_nothing(app: Flask, desk: FlaskClient):
    block(app)
    assert desk.post("/staff/no-shows/lift", data={"email": ADDRESS}).status_code == 302
    before = snapshot(app)
    again = desk.post("/staff/no-shows/lift", data={"email": ADDRESS}, follow_redirects=True)
    assert f"{ADDRESS} is not blocked." in again.text
    assert snapshot(app) == before
    assert desk.post("/staff/no-shows/lift", data={}).status_code == 400


def test_no_shows_after_a_lift_count_again(app: Flask, client: FlaskClient, desk: FlaskClient, clock):
    block(app)
    desk.post("/staff/no-shows/lift", data={"email": ADDRESS})
    clock.now = datetime(2027, 3, 29, 9, 0, tzinfo=UTC)
    booked_now = clock.now
    for start in ("2027-03-30T09:00", "2027-03-31T09:00"):
        booking_id = book_at(app, start, email=ADDRESS, booked_at=booked_now)
        clock.now = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)
        desk.post(f"/staff/bookings/{booking_id}/attendance", data={"attended": "no_show"})
    response = api_booking(client, ADDRESS, "2027-04-06T08:30")
    assert response.status_code == 422 and "June 30, 2027" in response.json["errors"]["email"][0]


def test_counsellors_may_neither_see_nor_lift_blocks(app: Flask):
    block(app)
    create_counsellor(app, "berater@ki.example", "Berater")
    counsellor = english(app.test_client())
    assert sign_in(counsellor, "berater@ki.example").status_code == 302
    assert counsellor.get("/staff/no-shows").status_code == 403
    before = snapshot(app)
    assert counsellor.post("/staff/no-shows/lift", data={"email": ADDRESS}).status_code == 403
    assert snapshot(app) == before
    assert 'href="/staff/no-shows"' not in counsellor.get("/staff/").text
