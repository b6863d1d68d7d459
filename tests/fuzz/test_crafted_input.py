"""Requests crafted as an attacker would: JSON nested thousands deep, text with lone UTF-16
surrogates and NUL, ids past what the id columns hold. Each is a clear 4xx that changes nothing,
never a 500 (they were RecursionError, UnicodeEncodeError in the driver, "integer out of range").
Runs on PostgreSQL too when TEST_DATABASE_URL is set: its driver and types refused what SQLite took."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from booking.web.hardening import LARGEST_ID
from tests.conftest import snapshot
from tests.integration.staff_support import create_staff, english, sign_in

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIRST = "2027-03-30T08:30:00+02:00"
# Any code point, lone surrogates (which a JSON "\ud800" decodes to) and NUL among them: hypothesis'
# own alphabets leave surrogates out.
ANY_CHARACTER = st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.just("\x00"),
)
TEXT = st.lists(ANY_CHARACTER, max_size=30).map("".join)
NOT_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def send_json(client: FlaskClient, path: str, text: str) -> Any:
    return client.post(path, data=text, content_type="application/json")


def nested(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"":' * depth + "1" + "}" * depth  # 12,000 deep stays under the 64 KiB limit


# --- JSON bodies ------------------------------------------------------------------------------------


@SETTINGS
@given(depth=st.integers(1_000, 12_000), kind=st.sampled_from(["list", "object"]))
@example(depth=10_000, kind="list")
@example(depth=10_000, kind="object")
def test_json_nested_thousands_deep_is_a_400_that_changes_nothing(app: Flask, depth: int, kind: str) -> None:
    client = english(app.test_client())
    before = snapshot(app)
    for path in ("/api/v1/bookings", "/api/v1/waitlist"):
        response = send_json(client, path, nested(depth, kind))
        if kind == "object" and response.status_code == 422:
            continue  # shallow enough for the parser: an object without the fields asked for
        assert response.status_code == 400, (path, response.text)
        assert response.json["error"] == "bad_request"
        assert response.json["message"] == "The body must be a JSON object."
    assert snapshot(app) == before


@SETTINGS
@given(
    field=st.sampled_from(["name", "note", "phone", "email", "interpreter", "counselling_language"]),
    text=TEXT,
)
@example(field="name", text="\ud800")
@example(field="note", text="Bitte \ud800 bis \udfff")
@example(field="name", text="A\x00B")
def test_any_text_in_a_booking_field_books_or_names_the_field(app: Flask, field: str, text: str) -> None:
    client = english(app.test_client())
    body = {"service": "beratung", "start": FIRST, "name": "Anna", "email": "anna@example.org", field: text}
    before = snapshot(app)
    response = send_json(client, "/api/v1/bookings", json.dumps(body))  # "\ud800" travels escaped
    assert response.status_code in (201, 409, 422), response.text
    if response.status_code == 422:
        assert response.json["errors"], response.text
        assert snapshot(app) == before
    if NOT_TEXT.search(text.strip()) and field in ("name", "note"):
        assert response.status_code == 422
        assert "contains characters that are not allowed" in response.json["errors"][field][0]
    if response.status_code == 201:  # stored and given back as sent: it was text
        client.delete(f"/api/v1/bookings/{response.json['token']}")


@SETTINGS
@given(name=TEXT, email=st.one_of(TEXT, st.just("anna@example.org")))
@example(name="\ud800", email="anna@example.org")
def test_any_text_in_a_waitlist_entry_joins_or_names_the_field(app: Flask, name: str, email: str) -> None:
    client = english(app.test_client())
    body = {"service": "beratung", "from": "2027-03-30", "to": "2027-04-02", "name": name, "email": email}
    before = snapshot(app)
    response = send_json(client, "/api/v1/waitlist", json.dumps(body))
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert set(response.json["errors"]) <= {"name", "email"}
        assert snapshot(app) == before
    if NOT_TEXT.search(name.strip()):
        assert response.status_code == 422 and "name" in response.json["errors"]


# --- staff URLs -------------------------------------------------------------------------------------


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    create_staff(app, role="admin")
    client = english(app.test_client())
    assert sign_in(client).status_code == 302
    return client


def id_routes(app: Flask) -> list[tuple[str, str, str]]:
    """Every staff route with an id in it: (rule, the id's name, a method)."""
    found = []
    for rule in app.url_map.iter_rules():
        ids = re.findall(r"<int:(\w+)>", rule.rule)
        if rule.rule.startswith("/staff/") and ids:
            method = "GET" if "GET" in (rule.methods or ()) else "POST"
            found.append((rule.rule, ids[0], method))
    return sorted(found)


def test_every_staff_route_with_an_id_is_covered(app: Flask) -> None:
    assert len(id_routes(app)) >= 15  # bookings, accounts, absences, closures and their actions


@SETTINGS
@given(number=st.one_of(st.integers(LARGEST_ID + 1, 10**30), st.integers(1, LARGEST_ID)), data=st.data())
@example(number=2**31, data=None)
@example(number=2**63, data=None)
@example(number=2**64 + 1, data=None)
def test_an_id_that_does_not_exist_is_refused_on_every_staff_route(
    app: Flask, admin: FlaskClient, number: int, data: st.DataObject | None
) -> None:
    routes = id_routes(app)
    chosen = data.draw(st.sampled_from(routes)) if data is not None else None
    before = snapshot(app)
    for rule, name, method in [chosen] if chosen else routes:
        path = rule.replace(f"<int:{name}>", str(number))
        response = admin.open(path, method=method)
        # A POST to an address that also answers GET, with an id no route takes, is "not allowed".
        assert response.status_code in ((404,) if method == "GET" else (404, 405)), (
            path,
            response.status_code,
        )
    assert snapshot(app) == before


@SETTINGS
@given(value=st.one_of(st.text(), st.integers(0, 10**30).map(str), st.sampled_from(["²", "٣", "all", "-1"])))
def test_any_counsellor_in_the_day_view_shows_a_day(app: Flask, admin: FlaskClient, value: str) -> None:
    """A URL is bytes: no lone surrogate arrives in one (werkzeug decodes with replacement)."""
    response = admin.get("/staff/", query_string={"counsellor": value})
    assert response.status_code == 200
