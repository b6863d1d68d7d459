"""Opening hours through the night DST begins, through the app: a time the clock skips is refused
by the booking (no offset: office local time) and changes nothing; the slot before the gap lasts
its real half hour."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SUITE_OFFICE_TEXT, snapshot

NIGHT = 'sun = ["01:00-04:00"]\n'  # Sunday 28 March 2027: the clock goes from 02:00 to 03:00
ANCHOR = 'fri = ["08:30-12:00"]\n'
DAY = "2027-03-28"


@pytest.fixture
def app(app_with: Callable[..., Flask], tmp_path: Path) -> Flask:
    assert ANCHOR in SUITE_OFFICE_TEXT
    path = tmp_path / "office.toml"
    path.write_text(SUITE_OFFICE_TEXT.replace(ANCHOR, ANCHOR + NIGHT), encoding="utf-8")
    return app_with(OFFICE_CONFIG=str(path))


def book(client: FlaskClient, start: str):  # type: ignore[no-untyped-def]
    body = {"service": "beratung", "start": start, "name": "Anna Schmidt", "email": "anna@example.org"}
    return client.post("/api/v1/bookings", json=body)


def test_the_night_has_no_slot_in_the_hour_the_clock_skips(client: FlaskClient):
    response = client.get(f"/api/v1/slots?service=beratung&from={DAY}&to={DAY}")
    assert response.status_code == 200
    slots = response.json["slots"]
    assert [s["start"] for s in slots] == [
        f"{DAY}T01:00:00+01:00",
        f"{DAY}T01:30:00+01:00",
        f"{DAY}T03:00:00+02:00",
        f"{DAY}T03:30:00+02:00",
    ]
    assert slots[1]["end"] == f"{DAY}T03:00:00+02:00"  # half an hour after 01:30 winter time


def test_a_booking_at_a_skipped_wall_time_is_refused_and_changes_nothing(app: Flask, client: FlaskClient):
    before = snapshot(app)
    response = book(client, f"{DAY}T02:30")
    assert response.status_code == 422
    assert "start" in response.json["errors"]
    assert snapshot(app) == before


def test_the_slot_before_the_gap_is_booked_for_its_real_half_hour(client: FlaskClient):
    response = book(client, f"{DAY}T01:30")
    assert response.status_code == 201
    assert response.json["start"] == f"{DAY}T01:30:00+01:00"
    assert response.json["end"] == f"{DAY}T03:00:00+02:00"
