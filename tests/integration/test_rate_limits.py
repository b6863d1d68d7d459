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
