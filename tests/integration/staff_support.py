"""Helpers for the staff page tests: an account, a signed-in client, bookings made at a given time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from booking import accounts, bookings
from booking.models import Booking

# An hour-long service on a half-hour grid (office file TOML, to add to the shipped office's):
# its appointments overlap those of the next start.
HOUR_LONG = """
[[services]]
id = "lang"
name = { de = "Ausführliche Beratung", en = "Long counselling" }
duration_minutes = 60
step_minutes = 30
capacity = 1
"""
EMAIL = "sachbearbeitung@kreis-heinsberg.example"
PASSWORD = "correct horse battery staple"
NAME = "Sabine Sachbearbeiterin"


def create_staff(
    app: Flask, email: str = EMAIL, name: str = NAME, password: str = PASSWORD, *, role: str = "reception"
) -> int:
    with app.app_context():
        return accounts.create_staff(email, name, password, app.config["CLOCK"](), role=role).id


def create_counsellor(
    app: Flask,
    email: str,
    name: str,
    languages: tuple[str, ...] = ("de",),
    *,
    services: tuple[str, ...] | None = None,
    hours: dict[int, list[str]] | None = None,
    password: str = PASSWORD,
) -> int:
    """A counsellor account; `hours` as {weekday: ["08:30-12:00", ...]} (None: the opening hours)."""
    from booking.rota import parse_periods

    with app.app_context():
        office = app.extensions["office"]
        staff = accounts.create_staff(
            email, name, password, app.config["CLOCK"](), office=office, role="counsellor",
            services=services, languages=languages,
        )  # fmt: skip
        if hours is not None:
            week = {day: parse_periods(", ".join(periods))[0] for day, periods in hours.items()}
            accounts.set_hours(office, staff, week)
        return staff.id


def sign_in(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD) -> Any:
    return client.post("/staff/login", data={"email": email, "password": password})


def english(client: FlaskClient) -> FlaskClient:
    """Pages in English, so tests read the message ids themselves."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def book_at(
    app: Flask,
    start: str,
    *,
    name: str = "Ayşe Yılmaz",
    email: str | None = "ayse@example.org",
    phone: str | None = "02452 123456",
    note: str | None = None,
    booked_at: datetime | None = None,
    counselling_language: str | None = None,
    interpreter: str | None = None,
    language: str = "de",
) -> int:
    """A resident's booking of `start` (office time), made at `booked_at` (default: the clock's now)."""
    with app.test_request_context():
        office = app.extensions["office"]
        booking = bookings.book(
            office,
            bookings.BookingRequest(
                "beratung",
                start,
                name,
                email,
                phone,
                note,
                counselling_language=counselling_language,
                interpreter=interpreter,
                language=language,
            ),  # fmt: skip
            booked_at or app.config["CLOCK"](),
            email_required=False,
            languages=app.config["LANGUAGES"],
        )
        return booking.id


def get_booking(app: Flask, booking_id: int) -> Booking:
    from booking.extensions import db

    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        assert booking is not None
        db.session.expunge(booking)
        return booking
