"""Email verification: an online booking is pending and holds its place until the link in its
email confirms it; a hold that runs out frees the place by itself (no task has to run), and only
the link confirms, never a GET and never the answer to the booking request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from booking import bookings, places, verification
from booking.extensions import db
from booking.models import Booking, Outbox, Staff
from booking.notify import messages, outbox, tasks
from booking.office import DEFAULT_OFFICE_FILE
from booking.refusals import InvalidBooking
from tests.conftest import FIXED_NOW, Clock
from tests.integration.staff_support import HOUR_LONG, create_counsellor, create_staff

TUESDAY = date(2027, 3, 30)
START = "2027-03-30T09:00"
HOLD = timedelta(minutes=30)
VERIFYING = DEFAULT_OFFICE_FILE.read_text(encoding="utf-8")  # the shipped file: verification on


@pytest.fixture
def office_path(tmp_path: Path) -> Callable[[str], str]:
    def write(text: str) -> str:
        path = tmp_path / "office.toml"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def app(app_with: Callable[..., Flask], office_path: Callable[[str], str]) -> Flask:
    return app_with(OFFICE_CONFIG=office_path(VERIFYING))


def post(client, start: str = START, email: str = "amira@example.org", **extra):  # type: ignore[no-untyped-def]
    body = {"service": "beratung", "start": start, "name": "Amira Haddad", "email": email, **extra}
    return client.post("/api/v1/bookings", json=body)


def free_at(app: Flask, hhmm: str, clock: Clock, service: str = "beratung") -> int:
    with app.test_request_context():
        office = app.extensions["office"]
        found = places.availability(office, office.service(service), TUESDAY, TUESDAY, clock.now)
        return {slot.start.strftime("%H:%M"): n for slot, n in found}[hhmm]


def emails(app: Flask) -> list[tuple[str, int]]:
    with app.app_context():
        return [(row.kind, row.booking_id) for row in db.session.scalars(select(Outbox).order_by(Outbox.id))]


def confirm_token(app: Flask, reference: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Booking.confirm_token).where(Booking.reference == reference))


def status(app: Flask, reference: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Booking.status).where(Booking.reference == reference))


def test_an_online_booking_is_pending_holds_its_place_and_its_answer_carries_no_key(app, clock):
    answer = post(app.test_client())
    assert answer.status_code == 201
    body = answer.json
    assert body["status"] == "pending"
    assert body["hold_until"] == "2027-03-26T10:30:00+01:00"
    assert "token" not in body and "manage_url" not in body and "Location" not in answer.headers
    assert confirm_token(app, body["reference"]) not in answer.text
    assert free_at(app, "09:00", clock) == 1  # of 2: the pending booking holds one
    assert [kind for kind, _id in emails(app)] == ["verify"]


def test_the_request_to_confirm_has_the_link_and_no_calendar_entry(app, clock):
    reference = post(app.test_client()).json["reference"]
    with app.test_request_context():
        booking = db.session.scalar(select(Booking).where(Booking.reference == reference))
        mail = messages.build_message(
            "verify", booking, app.extensions["office"], dedupe_key=f"verify:{booking.id}", now=clock.now
        )
    text = mail.raw.decode()
    assert "text/calendar" not in text and "invite.ics" not in text
    import email

    parsed = email.message_from_bytes(mail.raw)
    plain = next(p for p in parsed.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert f"://termine.test/confirm/{booking.confirm_token}" in plain.decode()
    assert "10:30" in plain.decode()


def test_opening_the_link_changes_nothing_only_its_button_confirms(app, clock):
    client = app.test_client()
    reference = post(client).json["reference"]
    token = confirm_token(app, reference)
    page = client.get(f"/confirm/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Confirm appointment" in page.text and 'method="post"' in page.text
    assert status(app, reference) == "pending"  # a mail scanner opening the link confirms nothing
    confirmed = client.post(f"/confirm/{token}")
    assert confirmed.status_code == 302 and "/b/" in confirmed.headers["Location"]
    assert status(app, reference) == "confirmed"
    assert [kind for kind, _id in emails(app)] == ["verify", "confirm"]
    again = client.post(f"/confirm/{token}")  # a second click is harmless
    assert again.status_code == 302
    assert [kind for kind, _id in emails(app)] == ["verify", "confirm"]
    assert free_at(app, "09:00", clock) == 1


def test_a_hold_that_ran_out_frees_the_place_by_itself_and_its_link_books_nothing(app, clock):
    client = app.test_client()
    reference = post(client).json["reference"]
    token = confirm_token(app, reference)
    clock.now = FIXED_NOW + HOLD
    assert free_at(app, "09:00", clock) == 2  # no task ran: availability ignores the expired hold
    page = client.get(f"/confirm/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 410 and "This link has run out" in page.text
    assert client.post(f"/confirm/{token}").status_code == 410
    assert status(app, reference) == "pending"
    assert [kind for kind, _id in emails(app)] == ["verify"]


def test_expired_holds_give_their_places_to_the_next_bookings(app, clock):
    client = app.test_client()
    assert post(client, email="a@example.org").status_code == 201
    assert post(client, email="b@example.org").status_code == 201
    assert post(client, email="c@example.org").status_code == 409  # both places held
    clock.now = FIXED_NOW + HOLD
    assert post(client, email="c@example.org").status_code == 201
    assert post(client, email="d@example.org").status_code == 201
    assert post(client, email="e@example.org").status_code == 409


def test_a_link_whose_place_went_to_someone_else_says_so(app, clock):
    client = app.test_client()
    first = post(client, email="a@example.org").json["reference"]
    post(client, email="b@example.org")
    clock.now = FIXED_NOW + HOLD
    post(client, email="c@example.org")  # takes a place, sweeping both expired holds at 09:00
    with app.test_request_context():
        booking = db.session.scalar(select(Booking).where(Booking.reference == first))
        booking.hold_until = clock.now + HOLD  # as if its hold ran on: the place is gone all the same
        db.session.commit()
        with pytest.raises(verification.HoldExpired):
            verification.confirm(booking, clock.now)
        assert db.session.get(Booking, booking.id).status == "pending"


def test_an_expired_hold_does_not_count_against_the_address_limit(app, clock):
    client = app.test_client()
    starts = ["2027-03-30T08:30", "2027-03-30T09:00", "2027-03-30T09:30", "2027-03-30T10:00"]
    assert [post(client, start).status_code for start in starts[:3]] == [201] * 3
    refused = post(client, starts[3])
    assert refused.status_code == 422 and "email" in refused.json["errors"]  # 3 holds count
    clock.now = FIXED_NOW + HOLD
    assert post(client, starts[3]).status_code == 201


def test_the_same_request_again_is_the_same_pending_booking_and_one_email(app):
    client = app.test_client()
    first, second = post(client).json, post(client).json
    assert first["reference"] == second["reference"]
    assert [kind for kind, _id in emails(app)] == ["verify"]


def test_staff_bookings_are_confirmed_at_once(app):
    with app.test_request_context():
        staff = db.session.get(Staff, create_staff(app))
        request = bookings.BookingRequest("beratung", START, "Caller", "caller@example.org")
        booking = bookings.book(app.extensions["office"], request, FIXED_NOW, staff=staff)
        assert booking.status == "confirmed"
    assert [kind for kind, _id in emails(app)] == ["confirm"]


def test_a_pending_booking_gets_no_reminder(app, clock):
    post(app.test_client())
    with app.app_context():
        assert outbox.scan_reminders(app.extensions["office"], FIXED_NOW + timedelta(days=4)) == 0


def test_the_request_to_confirm_is_not_sent_once_the_hold_ran_out(app, clock):
    post(app.test_client())
    with app.app_context():
        row = db.session.scalar(select(Outbox))
        booking = db.session.get(Booking, row.booking_id)
        assert outbox.skip_reason(row, booking, FIXED_NOW) is None
        assert outbox.skip_reason(row, booking, FIXED_NOW + HOLD) is not None


def test_verify_true_holds_even_when_the_office_file_asks_for_no_verification(app_with):
    app = app_with()  # the suite's office: verification off
    with app.test_request_context():
        request = bookings.BookingRequest("beratung", START, "Resident", "r@example.org")
        booking = bookings.book(app.extensions["office"], request, FIXED_NOW, verify=True)
        assert booking.status == "pending"
        assert booking.hold_until == FIXED_NOW + timedelta(minutes=verification.FALLBACK_HOLD_MINUTES)
        other = bookings.book(
            app.extensions["office"],
            bookings.BookingRequest("beratung", START, "R", "s@example.org"),
            FIXED_NOW,
        )
        assert other.status == "confirmed"


def test_the_form_says_what_happens_next_and_leads_to_a_page_without_a_key(app, clock):
    client = app.test_client()
    url = f"/book/beratung/details?start={START}"
    form = client.get(url, headers={"Accept-Language": "en"})
    assert "we email you a link" in form.text and "within 30 minutes" in form.text
    sent = client.post(
        url,
        data={"name": "Amira", "email": "amira@example.org", "consent": "y"},
        headers={"Accept-Language": "en"},
    )
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/book/check-email")
    page = client.get("/book/check-email", headers={"Accept-Language": "en"})
    assert "We are sending you an email to <bdi>amira@example.org</bdi>." in page.text
    assert "10:30" in page.text and "Waiting for your confirmation" in page.text
    with app.app_context():
        booking = db.session.scalar(select(Booking))
    assert booking.token not in page.text and booking.confirm_token not in page.text
    assert app.test_client().get("/book/check-email").status_code == 404  # another browser: nothing


def test_check_email_says_sending_until_the_request_to_confirm_has_left_the_outbox(app, clock):
    client = app.test_client()
    url = f"/book/beratung/details?start={START}"
    client.post(url, data={"name": "Amira", "email": "amira@example.org", "consent": "y"})
    page = client.get("/book/check-email", headers={"Accept-Language": "en"}).text
    assert "We are sending you an email to <bdi>amira@example.org</bdi>." in page
    assert "We have sent" not in page
    with app.app_context():
        [row] = db.session.scalars(select(Outbox.id).where(Outbox.kind == "verify"))
        assert tasks.send_email(row) == 1
    page = client.get("/book/check-email", headers={"Accept-Language": "en"}).text
    assert "We have sent an email to <bdi>amira@example.org</bdi>." in page
    assert "We are sending" not in page


def test_staff_see_a_pending_booking_as_such(app, clock):
    from tests.integration.staff_support import sign_in

    post(app.test_client())
    create_staff(app)
    client = app.test_client()
    sign_in(client)
    day = client.get("/staff/?date=2027-03-30", headers={"Accept-Language": "en"})
    assert "Waiting for the resident's confirmation until 10:30" in day.text
    assert "1 place free" in day.text
    clock.now = FIXED_NOW + HOLD
    day = client.get("/staff/?date=2027-03-30", headers={"Accept-Language": "en"})
    assert "Not confirmed in time (the place is free)" in day.text
    assert "1 place free" not in day.text


# --- counsellors: an hour-long hold covers two half-hour times of its counsellor -------------


def test_a_counsellors_expired_hold_frees_both_halves_and_a_partial_loss_is_no_confirmation(
    app_with, office_path, clock
):
    app = app_with(OFFICE_CONFIG=office_path(VERIFYING + HOUR_LONG))
    create_counsellor(app, "clara@example.org", "Clara Becker")
    client = app.test_client()
    long = post(client, "2027-03-30T09:00", service="lang").json["reference"]
    assert free_at(app, "09:30", clock, "beratung") == 0
    clock.now = FIXED_NOW + HOLD
    assert free_at(app, "09:30", clock, "beratung") == 1
    assert post(client, "2027-03-30T09:30", email="b@example.org").status_code == 201  # half of it
    with app.test_request_context():
        booking = db.session.scalar(select(Booking).where(Booking.reference == long))
        booking.hold_until = clock.now + HOLD
        db.session.commit()
        with pytest.raises(verification.HoldExpired):
            verification.confirm(booking, clock.now)


def test_bad_confirm_links_are_not_found(app):
    client = app.test_client()
    for token in ("nope", "x" * 65, ""):
        assert client.get(f"/confirm/{token}").status_code == 404
    assert client.post("/confirm/nope").status_code == 404


def test_a_pending_booking_cannot_be_moved(app, clock):
    reference = post(app.test_client()).json["reference"]
    with app.test_request_context():
        booking = db.session.scalar(select(Booking).where(Booking.reference == reference))
        with pytest.raises(InvalidBooking):
            bookings.move(app.extensions["office"], booking, "2027-03-30T10:00", FIXED_NOW)


# --- races: the expired holds go to exactly as many bookings as there are places ------------


@pytest.fixture(params=["sqlite", "postgresql"])
def race_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'race.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.mark.parametrize("extra", ["", HOUR_LONG], ids=["anonymous places", "counsellors"])
def test_thirty_bookings_at_once_after_two_holds_ran_out_give_exactly_two(
    race_uri: str, extra: str, clock: Clock, tmp_path: Path
):
    from tests.conftest import make_app
    from tests.integration.test_capacity import booking_call, statuses, together

    office = tmp_path / "office.toml"
    office.write_text(VERIFYING + extra, encoding="utf-8")
    app = make_app(race_uri, clock, str(tmp_path / "instance"), OFFICE_CONFIG=str(office))
    with app.app_context():
        db.drop_all()
        db.create_all()
    try:
        if extra:
            create_counsellor(app, "clara@example.org", "Clara Becker")
            create_counsellor(app, "yusuf@example.org", "Yusuf Demir", ("de", "ar", "tr"))
        client = app.test_client()
        assert post(client, email="a@example.org").status_code == 201
        assert post(client, email="b@example.org").status_code == 201
        clock.now = FIXED_NOW + HOLD
        body = {"service": "beratung", "start": START, "name": "N"}
        calls = [booking_call({**body, "email": f"r{n}@example.org"}) for n in range(30)]
        assert statuses(together(app, calls)) == {201: 2, 409: 28}
        assert free_at(app, "09:00", clock) == 0
        with app.app_context():
            holding = [b for b in db.session.scalars(select(Booking)) if b.holding(clock.now)]
        assert len(holding) == 2
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
