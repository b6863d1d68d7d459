"""The JSON API of the contract: services, slots, bookings; status codes and error bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking
from tests.conftest import snapshot

# FIXED_NOW is Good Friday 2027-03-26, 10:00 in Heinsberg; Easter Monday is closed too,
# so the first free slot is Tuesday 30 March 08:30 summer time.
FIRST = "2027-03-30T08:30:00+02:00"
SECOND = "2027-03-30T09:00:00+02:00"


def payload(**overrides: Any) -> dict[str, Any]:
    body = {"service": "beratung", "start": FIRST, "name": "Anna Schmidt", "email": "anna@example.org"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def post(client: FlaskClient, **overrides: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/bookings", json=payload(**overrides))


def free_places(client: FlaskClient, start: str, day: str = "2027-03-30") -> int:
    response = client.get(f"/api/v1/slots?service=beratung&from={day}&to={day}")
    assert response.status_code == 200
    return next(s["available"] for s in response.json["slots"] if s["start"] == start)


# --- services ----------------------------------------------------------------------------------


def test_services_are_named_in_german_by_default(client: FlaskClient):
    response = client.get("/api/v1/services")
    assert response.status_code == 200
    assert response.json == [
        {
            "id": "beratung",
            "name": "Integrationsberatung",
            "duration_minutes": 30,
            "capacity": 2,
            "languages": ["de"],  # a service without counsellors is counselled in German
        }
    ]


def test_services_are_named_in_the_accept_language(client: FlaskClient):
    response = client.get("/api/v1/services", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert response.json[0]["name"] == "Integration counselling"


# --- slots -------------------------------------------------------------------------------------


def test_slots_of_a_week_start_after_easter_in_summer_time(client: FlaskClient):
    response = client.get("/api/v1/slots?service=beratung&from=2027-03-29&to=2027-04-02")
    assert response.status_code == 200
    body = response.json
    assert body["service"] == "beratung" and body["timezone"] == "Europe/Berlin"
    assert body["slots"][0] == {"start": FIRST, "end": "2027-03-30T09:00:00+02:00", "available": 2}
    days = {s["start"][:10] for s in body["slots"]}
    assert days == {"2027-03-30", "2027-03-31", "2027-04-01", "2027-04-02"}  # Easter Monday closed
    assert len(body["slots"]) == 13 + 7 + 13 + 7


def test_slots_across_the_october_change_keep_the_wall_clock(app: Flask, client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    clock.now = datetime(2027, 10, 25, 6, 0, tzinfo=UTC)  # Monday before the change on 31 October
    response = client.get("/api/v1/slots?service=beratung&from=2027-10-26&to=2027-11-02")
    starts = [s["start"] for s in response.json["slots"]]
    assert starts[0] == "2027-10-26T08:30:00+02:00"
    assert "2027-11-02T08:30:00+01:00" in starts
    assert not [s for s in starts if s.startswith("2027-11-01")]  # All Saints
    booked = post(client, start="2027-11-02T08:30")
    assert booked.status_code == 201 and booked.json["start"] == "2027-11-02T08:30:00+01:00"
    with app.app_context():
        assert db.session.scalar(select(Booking.start_at)) == datetime(2027, 11, 2, 7, 30, tzinfo=UTC)


def test_slots_range_is_inclusive(client: FlaskClient):
    response = client.get("/api/v1/slots?service=beratung&from=2027-03-31&to=2027-03-31")
    starts = [s["start"][11:16] for s in response.json["slots"]]
    assert starts == ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]


def test_slots_apply_the_minimum_notice(client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    clock.now = datetime(2027, 3, 30, 8, 0, tzinfo=UTC)  # Tuesday 10:00 in Heinsberg
    response = client.get("/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30")
    assert response.json["slots"][0]["start"] == "2027-03-30T14:00:00+02:00"


def test_slots_apply_the_horizon(client: FlaskClient):
    response = client.get("/api/v1/slots?service=beratung&from=2027-05-18&to=2027-05-31")
    # today + 56 days = Friday 21 May; Whit Monday (17 May) is a holiday anyway
    assert {s["start"][:10] for s in response.json["slots"]} == {f"2027-05-{d}" for d in range(18, 22)}


def test_slots_in_the_past_are_not_listed(client: FlaskClient):
    response = client.get("/api/v1/slots?service=beratung&from=2027-03-01&to=2027-03-25")
    assert response.status_code == 200
    assert response.json["slots"] == []


def test_available_counts_down_after_bookings_and_up_after_cancel(client: FlaskClient):
    assert free_places(client, FIRST) == 2
    first = post(client, email="a@example.org")
    assert free_places(client, FIRST) == 1
    post(client, email="b@example.org")
    assert free_places(client, FIRST) == 0
    assert free_places(client, SECOND) == 2
    assert client.delete(f"/api/v1/bookings/{first.json['token']}").status_code == 200
    assert free_places(client, FIRST) == 1


@pytest.mark.parametrize(
    "query",
    [
        "service=nope&from=2027-03-29&to=2027-04-02",
        "from=2027-03-29&to=2027-04-02",
        "service=beratung&from=2027-13-01&to=2027-04-02",
        "service=beratung&from=2027-03-29&to=tomorrow",
        "service=beratung&from=2027-03-29",
        "service=beratung&to=2027-03-29",
        "service=beratung&from=2027-04-02&to=2027-03-29",
        "service=beratung&from=2027-04-01&to=2027-07-02",  # 93 days
    ],
)
def test_bad_slot_queries_are_400_with_an_error(client: FlaskClient, query: str):
    response = client.get(f"/api/v1/slots?{query}")
    assert response.status_code == 400
    assert isinstance(response.json["error"], str) and response.json["error"]


def test_a_range_of_92_days_is_allowed(client: FlaskClient):
    assert client.get("/api/v1/slots?service=beratung&from=2027-04-01&to=2027-07-01").status_code == 200


# --- booking -----------------------------------------------------------------------------------


def test_booking_returns_201_with_the_booking(app: Flask, client: FlaskClient):
    response = post(client, phone="02452 123456", note="Bitte mit Dolmetscher", language="en")
    assert response.status_code == 201
    body = response.json
    assert body["service"] == "beratung"
    assert body["start"] == FIRST and body["end"] == "2027-03-30T09:00:00+02:00"
    assert body["status"] == "confirmed"
    assert body["reference"]
    assert len(body["token"]) >= 22  # at least 128 bits of urlsafe base64
    assert body["manage_url"].endswith(f"/b/{body['token']}")
    assert response.headers["Location"].endswith(f"/api/v1/bookings/{body['token']}")
    with app.app_context():
        booking = db.session.scalar(select(Booking))
        assert booking.token == body["token"]
        assert booking.start_at == datetime(2027, 3, 30, 6, 30, tzinfo=UTC)  # stored in UTC
        assert (booking.phone, booking.note, booking.language) == (
            "02452 123456",
            "Bitte mit Dolmetscher",
            "en",
        )


def test_tokens_differ_between_bookings(client: FlaskClient):
    tokens = {post(client, email=f"{n}@example.org").json["token"] for n in range(2)}
    assert len(tokens) == 2


def test_start_without_offset_is_office_local_time(client: FlaskClient):
    response = post(client, start="2027-03-30T08:30")
    assert response.status_code == 201
    assert response.json["start"] == FIRST


def test_start_in_utc_is_the_same_slot(client: FlaskClient):
    response = post(client, start="2027-03-30T06:30:00Z")
    assert response.status_code == 201
    assert response.json["start"] == FIRST


def test_the_last_place_taken_gives_409_slot_full_and_changes_nothing(app: Flask, client: FlaskClient):
    assert post(client, email="a@example.org").status_code == 201
    assert post(client, email="b@example.org").status_code == 201
    before = snapshot(app)
    response = post(client, email="c@example.org")
    assert response.status_code == 409
    assert response.json["error"] == "slot_full"
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start": "2027-03-30T08:45:00+02:00"}, "start"),  # off the grid
        ({"start": "2027-03-30T12:00:00+02:00"}, "start"),  # the close
        ({"start": "2027-03-25T09:00:00+01:00"}, "start"),  # past
        ({"start": "2027-03-26T10:30:00+01:00"}, "start"),  # too soon (and Good Friday)
        ({"start": "2027-05-24T09:00:00+02:00"}, "start"),  # beyond the horizon
        ({"start": "2027-03-29T09:00:00+02:00"}, "start"),  # Easter Monday: closed
        ({"start": "2027-04-03T09:00:00+02:00"}, "start"),  # Saturday: closed
        ({"start": "not a time"}, "start"),
        ({"start": "9999-12-31T23:59:00-12:00"}, "start"),  # out of range in the office zone
        ({"start": "0001-01-01T00:00:00+14:00"}, "start"),
        ({"start": ...}, "start"),
        ({"service": "nope"}, "service"),
        ({"service": ...}, "service"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "anna@"}, "email"),
        ({"email": "a" * 250 + "@example.org"}, "email"),
        ({"email": "anna@example.org\r\nBcc: x@example.org"}, "email"),
        ({"name": "Anna\u0000Schmidt"}, "name"),
        ({"email": ...}, "email"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": ...}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"phone": "call me maybe"}, "phone"),
        ({"note": "x" * 1001}, "note"),
        ({"name": 123}, "name"),
        ({"start": 1774852200}, "start"),
        ({"service": ["beratung"]}, "service"),
        ({"email": True}, "email"),
        ({"phone": 2452123456}, "phone"),
        ({"note": {"text": "hi"}}, "note"),
    ],
)
def test_invalid_fields_get_422_with_field_errors_and_change_nothing(
    app: Flask, client: FlaskClient, overrides: dict[str, Any], field: str
):
    before = snapshot(app)
    response = post(client, **overrides)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert field in errors
    assert all(isinstance(m, str) and m for m in errors[field])
    assert snapshot(app) == before


def test_several_invalid_fields_are_reported_together(client: FlaskClient):
    response = post(client, name="", email="nope", start="2027-03-30T08:45:00+02:00")
    assert response.status_code == 422
    assert {"name", "email", "start"} <= set(response.json["errors"])


def test_a_start_that_is_too_soon_is_rejected_when_the_day_is_open(client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    clock.now = datetime(2027, 3, 30, 6, 0, tzinfo=UTC)  # Tuesday 08:00
    response = post(client, start="2027-03-30T09:30:00+02:00")
    assert response.status_code == 422 and "start" in response.json["errors"]
    assert post(client, start="2027-03-30T10:00:00+02:00").status_code == 201


def test_field_errors_come_in_the_requested_language(client: FlaskClient):
    response = post(client, email="nope", language="en")
    assert response.json["errors"]["email"] == [
        "Please enter a valid email address, for example name@example.org."
    ]


def test_names_in_any_script_are_kept_exactly(app: Flask, client: FlaskClient):
    names = ["Şükrü Öztürk", "محمد العلي", "Олена Ковальчук"]
    tokens = [
        post(client, name=n, email=f"{i}@example.org", start=SECOND).json for i, n in enumerate(names[:2])
    ]
    tokens.append(post(client, name=names[2], email="2@example.org").json)
    assert [t["name"] for t in tokens] == names
    with app.app_context():
        assert set(db.session.scalars(select(Booking.name))) == set(names)


def test_a_name_of_100_characters_in_any_script_is_kept_and_101_are_refused(app: Flask, client: FlaskClient):
    name = "Ї" * 100  # 200 bytes in UTF-8: the limit counts characters
    assert post(client, name=name).status_code == 201
    assert post(client, name="Ї" * 101, email="b@example.org").status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Booking.name)) == name


def test_surrounding_spaces_are_trimmed_but_the_name_is_otherwise_kept(app: Flask, client: FlaskClient):
    assert post(client, name="  Zoë  van der Berg ").json["name"] == "Zoë  van der Berg"


def test_more_active_bookings_per_email_than_allowed_is_422(app: Flask, client: FlaskClient):
    starts = ["2027-03-30T08:30:00+02:00", "2027-03-30T09:00:00+02:00", "2027-03-30T09:30:00+02:00"]
    for start in starts:
        assert post(client, start=start, email="anna@example.org").status_code == 201
    before = snapshot(app)
    response = post(client, start="2027-03-30T10:00:00+02:00", email="Anna@Example.org")
    assert response.status_code == 422
    assert "email" in response.json["errors"]
    assert snapshot(app) == before
    # cancelling one makes room again
    token = client.get("/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30")  # warm-up read
    assert token.status_code == 200
    with app.app_context():
        first = db.session.scalar(select(Booking.token).order_by(Booking.id))
    assert client.delete(f"/api/v1/bookings/{first}").status_code == 200
    assert post(client, start="2027-03-30T10:00:00+02:00", email="anna@example.org").status_code == 201


@pytest.mark.parametrize(
    "data",
    ['["beratung"]', '"beratung"', "42", "null", "{not json", ""],
)
def test_a_body_that_is_not_a_json_object_is_400(app: Flask, client: FlaskClient, data: str):
    before = snapshot(app)
    response = client.post("/api/v1/bookings", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]
    assert snapshot(app) == before


def test_a_form_encoded_body_is_400(client: FlaskClient):
    response = client.post("/api/v1/bookings", data=payload())
    assert response.status_code == 400


def test_a_body_over_64_kib_is_413(app: Flask, client: FlaskClient):
    before = snapshot(app)
    response = post(client, note="x" * (64 * 1024))
    assert response.status_code == 413
    assert response.json["error"] == "too_large"
    assert snapshot(app) == before


def test_a_body_just_under_64_kib_is_read(client: FlaskClient):
    response = post(client, note="x" * (60 * 1024))
    assert response.status_code == 422  # read and judged: the note is too long
    assert "note" in response.json["errors"]


# --- reading and cancelling by token -----------------------------------------------------------


def test_get_booking_by_token(client: FlaskClient):
    created = post(client).json
    response = client.get(f"/api/v1/bookings/{created['token']}")
    assert response.status_code == 200
    for key in ("reference", "token", "service", "start", "end", "status", "manage_url"):
        assert response.json[key] == created[key]


@pytest.mark.parametrize("method", ["get", "delete"])
@pytest.mark.parametrize("token", ["unknown", "A" * 43, "x" * 200])
def test_an_unknown_token_is_404(app: Flask, client: FlaskClient, method: str, token: str):
    post(client)
    before = snapshot(app)
    response = getattr(client, method)(f"/api/v1/bookings/{token}")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert snapshot(app) == before


def test_cancel_frees_the_place_at_once_and_twice_is_harmless(app: Flask, client: FlaskClient):
    tokens = [post(client, email=f"{n}@example.org").json["token"] for n in range(2)]
    assert post(client, email="c@example.org").status_code == 409
    response = client.delete(f"/api/v1/bookings/{tokens[0]}")
    assert response.status_code == 200
    assert response.json == {"status": "cancelled"}
    assert client.get(f"/api/v1/bookings/{tokens[0]}").json["status"] == "cancelled"
    before = snapshot(app)
    again = client.delete(f"/api/v1/bookings/{tokens[0]}")
    assert again.status_code == 200 and again.json == {"status": "cancelled"}
    assert snapshot(app) == before
    assert post(client, email="c@example.org").status_code == 201  # the place is free again


def test_an_appointment_that_has_begun_cannot_be_cancelled(client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    token = post(client).json["token"]
    clock.now = datetime(2027, 3, 30, 6, 45, tzinfo=UTC)
    response = client.delete(f"/api/v1/bookings/{token}")
    assert response.status_code == 409
    assert client.get(f"/api/v1/bookings/{token}").json["status"] == "confirmed"


# --- languages of counselling and interpreters ---------------------------------------------------

TUESDAY = "2027-03-30"
AMAL_ONLY = "2027-03-30T09:30:00+02:00"  # both on duty from 08:30; Amal until 10:00


@pytest.fixture
def counsellors(app: Flask) -> dict[str, int]:
    """Dora speaks German and works the opening hours; Amal speaks German, Arabic and Turkish and
    works Tuesday 08:30-10:00 only."""
    from tests.integration.staff_support import create_counsellor

    return {
        "dora": create_counsellor(app, "dora@kreis-heinsberg.example", "Dora", ("de",)),
        "amal": create_counsellor(
            app, "amal@kreis-heinsberg.example", "Amal", ("de", "ar", "tr"), hours={1: ["08:30-10:00"]}
        ),
    }


def available(client: FlaskClient, language: str | None = None, day: str = TUESDAY) -> dict[str, int]:
    query = f"/api/v1/slots?service=beratung&from={day}&to={day}"
    response = client.get(query + (f"&language={language}" if language is not None else ""))
    assert response.status_code == 200, response.json
    return {s["start"][11:16]: s["available"] for s in response.json["slots"]}


def test_services_name_the_languages_and_places_of_their_counsellors(client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    [service] = client.get("/api/v1/services").json
    assert service["languages"] == ["de", "ar", "tr"]
    assert service["capacity"] == 2  # two counsellors give it


def test_slots_in_a_language_count_only_counsellors_who_speak_it(client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    german, arabic = available(client, "de"), available(client, "ar")
    assert german == available(client)  # everyone speaks German here
    assert german["08:30"] == german["09:30"] == 2 and german["10:00"] == 1
    assert arabic["08:30"] == arabic["09:30"] == 1
    assert arabic["10:00"] == arabic["14:00"] == 0  # Amal has gone home
    assert available(client, "tr") == arabic
    assert set(available(client, "uk").values()) == {0}  # a language nobody speaks here
    assert post(client, counselling_language="ar", start=AMAL_ONLY).status_code == 201
    assert available(client, "ar")["09:30"] == 0
    assert available(client, "de")["09:30"] == 1  # Dora is still free


@pytest.mark.parametrize("language", ["xx", "", "AR", "de,ar", "<script>", "x" * 300])
def test_slots_in_an_unknown_language_are_400_naming_the_parameter(client: FlaskClient, language: str):
    response = client.get(
        f"/api/v1/slots?service=beratung&from={TUESDAY}&to={TUESDAY}&language={quote(language)}"
    )
    assert response.status_code == 400
    assert response.json["error"] == "bad_language"
    assert "language" in response.json["message"]


def test_the_cached_slots_answer_is_per_language(app_with, clock):  # type: ignore[no-untyped-def]
    cached = app_with(AVAILABILITY_CACHE_SECONDS=60)
    from tests.integration.staff_support import create_counsellor

    create_counsellor(cached, "dora@kreis-heinsberg.example", "Dora", ("de",))
    create_counsellor(
        cached, "amal@kreis-heinsberg.example", "Amal", ("de", "ar"), hours={1: ["08:30-10:00"]}
    )
    client = cached.test_client()
    assert available(client, "de")["10:00"] == 1
    assert available(client, "ar")["10:00"] == 0  # not the German answer of a moment ago
    assert available(client)["10:00"] == 1


def test_a_service_without_counsellors_has_its_places_in_german_only(app: Flask, client: FlaskClient):
    assert set(available(client, "de").values()) == {2}
    assert available(client, "de") == available(client)
    assert set(available(client, "ar").values()) == {0}
    before = snapshot(app)
    refused = post(client, counselling_language="ar")
    assert refused.status_code == 409 and refused.json["error"] == "slot_full"
    assert snapshot(app) == before
    booked = post(client, counselling_language="de", interpreter="ar")
    assert booked.status_code == 201
    assert (booked.json["counselling_language"], booked.json["interpreter"]) == ("de", "ar")
    assert available(client, "de")["08:30"] == 1


def test_booking_in_arabic_gets_the_arabic_speaking_counsellor(app: Flask, client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    response = post(client, counselling_language="ar", interpreter="ti")
    assert response.status_code == 201
    assert (response.json["counselling_language"], response.json["interpreter"]) == ("ar", "ti")
    again = client.get(f"/api/v1/bookings/{response.json['token']}").json
    assert (again["counselling_language"], again["interpreter"]) == ("ar", "ti")
    with app.app_context():
        booking = db.session.scalar(select(Booking))
        assert (booking.counsellor_id, booking.counselling_language, booking.interpreter) == (
            counsellors["amal"],
            "ar",
            "ti",
        )


def test_a_booking_without_a_choice_answers_null_for_both(client: FlaskClient):
    body = post(client).json
    assert body["counselling_language"] is None and body["interpreter"] is None


def test_no_counsellor_speaking_it_free_is_409_slot_full_and_changes_nothing(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    assert post(client, counselling_language="ar", start=AMAL_ONLY, email="a@example.org").status_code == 201
    before = snapshot(app)
    response = post(client, counselling_language="ar", start=AMAL_ONLY, email="b@example.org")
    assert response.status_code == 409 and response.json["error"] == "slot_full"
    assert snapshot(app) == before
    # Dora is free at that time: in German it can still be booked
    assert post(client, counselling_language="de", start=AMAL_ONLY, email="b@example.org").status_code == 201


def test_an_interpreter_does_not_change_the_places(app: Flask, client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    response = post(client, counselling_language="de", interpreter="ar", start=AMAL_ONLY)
    assert response.status_code == 201
    with app.app_context():
        assert db.session.scalar(select(Booking.counsellor_id)) == counsellors["dora"]  # no Arabic needed
    assert available(client, "ar")["09:30"] == 1  # Amal stays free for Arabic counselling


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"counselling_language": "xx"}, "counselling_language"),
        ({"counselling_language": ""}, "counselling_language"),
        ({"counselling_language": 42}, "counselling_language"),
        ({"counselling_language": ["ar"]}, "counselling_language"),
        ({"interpreter": "Arabic"}, "interpreter"),
        ({"interpreter": True}, "interpreter"),
        ({"interpreter": {"code": "ar"}}, "interpreter"),
    ],
)
def test_a_bad_language_is_422_naming_the_field_and_changes_nothing(
    app: Flask, client: FlaskClient, counsellors, overrides: dict[str, Any], field: str
):  # type: ignore[no-untyped-def]
    before = snapshot(app)
    response = post(client, language="en", **overrides)
    assert response.status_code == 422
    assert list(response.json["errors"]) == [field]
    assert all(isinstance(m, str) and m for m in response.json["errors"][field])
    assert snapshot(app) == before
