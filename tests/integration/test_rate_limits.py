"""Rate limits: bookings per IP address and per email, slot look-ups; a 429 with Retry-After
and a friendly page, and nothing booked by a refused request."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Booking

LIMITS = {
    "RATELIMIT_ENABLED": True,
    "BOOKING_RATE_LIMIT": "2 per minute",
    "BOOKING_EMAIL_RATE_LIMIT": "2 per minute",
    "SLOTS_RATE_LIMIT": "3 per minute",
}
STARTS = ["2027-03-30T08:30", "2027-03-30T09:00", "2027-03-30T09:30", "2027-03-30T10:00"]


@pytest.fixture
def limited(app_with):  # type: ignore[no-untyped-def]
    return app_with(**LIMITS)


def post(client, start, email, ip="198.51.100.1"):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/bookings",
        environ_base={"REMOTE_ADDR": ip},
        json={"service": "beratung", "start": start, "name": "A", "email": email},
    )


def count(app) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(func.count(Booking.id)))


def test_a_third_booking_from_one_address_in_a_minute_is_refused_with_retry_after(limited):
    client = limited.test_client()
    assert post(client, STARTS[0], "a@example.org").status_code == 201
    assert post(client, STARTS[1], "b@example.org").status_code == 201
    refused = post(client, STARTS[2], "c@example.org")
    assert refused.status_code == 429
    assert refused.json["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert count(limited) == 2
    assert post(client, STARTS[2], "c@example.org", ip="198.51.100.2").status_code == 201


def test_one_email_cannot_book_from_many_addresses(limited):
    client = limited.test_client()
    assert post(client, STARTS[0], "same@example.org", ip="203.0.113.1").status_code == 201
    assert post(client, STARTS[1], "same@example.org", ip="203.0.113.2").status_code == 201
    assert post(client, STARTS[2], "SAME@example.org", ip="203.0.113.3").status_code == 429
    assert count(limited) == 2


def test_slot_lookups_are_limited_per_address(limited):
    client = limited.test_client()
    url = "/api/v1/slots?service=beratung&from=2027-03-29&to=2027-04-02"
    assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_resident_sees_a_friendly_page_when_limited(limited):
    client = limited.test_client()
    for _ in range(4):  # the limit is 3 per minute
        response = client.get("/book/beratung", headers={"Accept-Language": "en"})
    assert response.status_code == 429
    assert "Too many requests. Please wait a moment and try again." in response.text
    assert "Retry-After" in response.headers
    assert '<html lang="en"' in response.text


# --- a limit is no weapon against a resident -------------------------------------------------------

SHIPPED_LIMITS = {"RATELIMIT_ENABLED": True}  # the limits of config.py, as in production


def refused(client, email: str, ip: str):  # type: ignore[no-untyped-def]
    """A request carrying `email` that is refused (no name): what anyone can send."""
    return client.post(
        "/api/v1/bookings",
        environ_base={"REMOTE_ADDR": ip},
        json={"service": "beratung", "start": STARTS[0], "name": "", "email": email},
    )


def test_refused_requests_carrying_someones_address_do_not_lock_them_out(app_with):
    """The attack: requests with the victim's address that are refused on purpose, from many
    addresses, used to count against the victim's per-email limit (429 for a day)."""
    app = app_with(**SHIPPED_LIMITS)
    client = app.test_client()
    for n in range(40):
        assert refused(client, "victim@example.org", f"203.0.113.{n}").status_code == 422
    assert post(client, STARTS[1], "victim@example.org", ip="198.51.100.7").status_code == 201


def test_spellings_of_one_address_count_as_one(app_with):
    app = app_with(**LIMITS)  # 2 bookings per minute per email
    client = app.test_client()
    assert post(client, STARTS[0], "Jana@Bücher.example", ip="203.0.113.1").status_code == 201
    assert post(client, STARTS[1], "jana@xn--bcher-kva.example", ip="203.0.113.2").status_code == 201
    assert post(client, STARTS[2], "JANA@BÜCHER.EXAMPLE", ip="203.0.113.3").status_code == 429
    with app.app_context():
        stored = set(db.session.scalars(select(Booking.email)))
    assert stored == {"jana@xn--bcher-kva.example"}


def test_a_family_booking_from_one_phone_is_not_stopped_by_its_own_typos(app_with):
    app = app_with(**SHIPPED_LIMITS)
    client = app.test_client()
    phone = "198.51.100.30"
    for person, start in enumerate(STARTS):
        for _typo in range(4):
            assert refused(client, f"person{person}@example.org", phone).status_code == 422
        assert post(client, start, f"person{person}@example.org", ip=phone).status_code == 201
    assert count(app) == len(STARTS)


def test_a_flood_of_refused_requests_from_one_address_is_limited(app_with):
    app = app_with(**{**LIMITS, "BOOKING_ATTEMPT_RATE_LIMIT": "5 per minute"})
    client = app.test_client()
    answers = [refused(client, f"x{n}@example.org", "192.0.2.9").status_code for n in range(6)]
    assert answers == [422] * 5 + [429]
    assert post(client, STARTS[0], "other@example.org", ip="192.0.2.10").status_code == 201


def test_a_limited_form_is_shown_again_with_what_was_typed_and_how_long_to_wait(limited):
    client = limited.test_client()
    url = "/book/beratung/details?start=2027-03-30T10:00"
    typed = {"name": "Amira Haddad", "email": "amira@example.org", "phone": "02452 99", "consent": "y"}
    for start in STARTS[:2]:  # two bookings from this address: the limit of the fixture
        client.post(
            f"/book/beratung/details?start={start}", data={**typed, "email": f"{start[-5:-3]}@example.org"}
        )
    response = client.post(url, data={**typed, "note": "Aufenthaltstitel"}, headers={"Accept-Language": "en"})
    assert response.status_code == 429
    assert "Please wait 1 minute and send the form again." in response.text
    for value in ("Amira Haddad", "amira@example.org", "02452 99", "Aufenthaltstitel"):
        assert value in response.text
    assert int(response.headers["Retry-After"]) > 0
    assert count(limited) == 2
