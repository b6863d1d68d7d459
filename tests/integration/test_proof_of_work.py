"""Proof of work (`proof_of_work = true`): the API and the booking form need a solved ALTCHA
challenge, once, before it expires; without JavaScript the form books through email verification."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from altcha import solve_challenge_v1
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from booking import bookings
from booking.extensions import db
from booking.models import Booking
from booking.office import DEFAULT_OFFICE_FILE
from booking.proof_of_work import FIELDS, LIFETIME
from tests.conftest import required_service, snapshot
from tests.unit.test_challenge_verifier import JSON

FIRST = "2027-03-30T08:30:00+02:00"
SECOND = "2027-03-30T09:00:00+02:00"
DETAILS = f"/book/beratung/details?start={quote(FIRST)}"


def office_file(tmp_path: Path, proof_of_work: bool, verify_email_minutes: int = 0) -> str:
    """The shipped office file with `proof_of_work` and email verification set as asked (whatever it
    ships with): proof of work is tested on its own, verification off unless asked for."""
    text = DEFAULT_OFFICE_FILE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(proof_of_work|verify_email_minutes) = .*\n", "", text)
    settings = (
        f"proof_of_work = {str(proof_of_work).lower()}\nverify_email_minutes = {verify_email_minutes}\n"
    )
    text = text.replace("retention_days = 90\n", "retention_days = 90\n" + settings)
    path = tmp_path / f"office-pow-{proof_of_work}-{verify_email_minutes}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def pow_app(app_with: Callable[..., Flask], tmp_path: Path) -> Flask:
    app = app_with(OFFICE_CONFIG=office_file(tmp_path, True))
    assert app.extensions["office"].rules.proof_of_work
    return app


@pytest.fixture
def pow_client(pow_app: Flask) -> FlaskClient:
    return pow_app.test_client()


def solved(client: FlaskClient, **changes: Any) -> str:
    """A challenge from the API, solved as the widget solves it, as the field `altcha`."""
    challenge = client.get("/api/v1/challenge").json
    solution = solve_challenge_v1(
        challenge["challenge"], challenge["salt"], "SHA-256", challenge["maxnumber"]
    )
    assert solution is not None
    payload = {name: challenge[name] for name in ("algorithm", "challenge", "salt", "signature")}
    payload = {**payload, "number": solution.number, **changes}
    return base64.b64encode(json.dumps(payload).encode()).decode()


def post(client: FlaskClient, **overrides: Any):  # type: ignore[no-untyped-def]
    body = {"service": "beratung", "start": FIRST, "name": "Anna Schmidt", "email": "anna@example.org"}
    body.update(overrides)
    return client.post("/api/v1/bookings", json={k: v for k, v in body.items() if v is not ...})


def form(**fields: str) -> dict[str, str]:
    return {"name": "Anna Schmidt", "email": "anna@example.org", "consent": "y", **fields}


# --- the challenge --------------------------------------------------------------------------------


def test_a_challenge_has_altchas_open_format_and_is_never_cached(pow_client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    response = pow_client.get("/api/v1/challenge")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"algorithm", "challenge", "salt", "signature", "maxnumber"}
    assert body["algorithm"] == "SHA-256" and 0 < body["maxnumber"] <= 1_000_000
    assert re.fullmatch(r"[0-9a-f]{64}", body["challenge"]) and re.fullmatch(
        r"[0-9a-f]{64}", body["signature"]
    )
    expires = int(re.fullmatch(r"[0-9a-f]+\?expires=(\d+)&", body["salt"]).group(1))  # type: ignore[union-attr]
    assert expires == int((clock.now + LIFETIME).timestamp())
    assert pow_client.get("/api/v1/challenge").json["salt"] != body["salt"]


def test_the_difficulty_is_a_setting_and_a_solution_of_an_easier_challenge_books(
    app_with: Callable[..., Flask], tmp_path: Path
) -> None:
    """PROOF_OF_WORK_MAX_NUMBER (the benchmark's, to pre-solve thousands cheaply) lowers the
    `maxnumber` of new challenges; checking a solution is the same."""
    client = app_with(OFFICE_CONFIG=office_file(tmp_path, True), PROOF_OF_WORK_MAX_NUMBER=50).test_client()
    assert client.get("/api/v1/challenge").json["maxnumber"] == 50
    assert post(client, altcha=solved(client)).status_code == 201


def refused(response) -> bool:  # type: ignore[no-untyped-def]
    """Answered as the contract says: 422 with a message on `altcha` only."""
    errors = response.json.get("errors", {}) if response.status_code == 422 else {}
    return set(errors) == {"altcha"} and len(errors["altcha"]) == 1 and bool(errors["altcha"][0])


# --- the API --------------------------------------------------------------------------------------


def test_a_solved_challenge_books(pow_client: FlaskClient):
    response = post(pow_client, altcha=solved(pow_client))
    assert response.status_code == 201, response.json
    assert response.json["start"] == FIRST


def test_a_solved_challenge_books_once_only(pow_app: Flask, pow_client: FlaskClient):
    altcha = solved(pow_client)
    assert post(pow_client, altcha=altcha).status_code == 201
    before = snapshot(pow_app)
    again = post(pow_client, altcha=altcha, start=SECOND, email="bert@example.org")
    assert refused(again)
    assert snapshot(pow_app) == before


@pytest.mark.redis
def test_a_challenge_is_spent_for_every_web_worker_on_one_redis(app_with, tmp_path):  # type: ignore[no-untyped-def]
    """Two apps (two web workers) with their own connections to one Redis: a solution used at
    one is refused at the other."""
    redis_url = required_service("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: Redis tests skipped (CI sets it)")
    settings = {"OFFICE_CONFIG": office_file(tmp_path, True), "RATELIMIT_STORAGE_URI": redis_url}
    one, other = app_with(**settings), app_with(**settings)
    assert one.extensions["spent_challenges"] is not other.extensions["spent_challenges"]
    altcha = solved(one.test_client())
    assert post(one.test_client(), altcha=altcha).status_code == 201
    assert refused(post(other.test_client(), altcha=altcha, start=SECOND))


def test_an_expired_challenge_is_refused(pow_app: Flask, pow_client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    altcha = solved(pow_client)
    clock.now += LIFETIME
    before = snapshot(pow_app)
    assert refused(post(pow_client, altcha=altcha))
    assert snapshot(pow_app) == before


def test_a_challenge_just_before_it_expires_still_books(pow_client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    altcha = solved(pow_client)
    clock.now += LIFETIME - timedelta(seconds=1)
    assert post(pow_client, altcha=altcha).status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0" * 64},
        {"number": -1},
        {"algorithm": "SHA-512"},
        {"salt": "00?expires=9999999999&"},
        {"challenge": "f" * 64},
    ],
    ids=["signature", "number", "algorithm", "salt", "challenge"],
)
def test_a_changed_solution_is_refused(pow_app: Flask, pow_client: FlaskClient, change: dict[str, Any]):
    before = snapshot(pow_app)
    assert refused(post(pow_client, altcha=solved(pow_client, **change)))
    assert snapshot(pow_app) == before


def test_a_wrong_number_is_refused(pow_client: FlaskClient):
    altcha = json.loads(base64.b64decode(solved(pow_client)))
    altcha["number"] += 1
    assert refused(post(pow_client, altcha=base64.b64encode(json.dumps(altcha).encode()).decode()))


def test_the_challenge_of_another_secret_key_is_refused(app_with, tmp_path):  # type: ignore[no-untyped-def]
    ours = app_with(OFFICE_CONFIG=office_file(tmp_path, True)).test_client()
    theirs = app_with(OFFICE_CONFIG=office_file(tmp_path, True), SECRET_KEY="another").test_client()
    assert refused(post(ours, altcha=solved(theirs)))


@pytest.mark.parametrize("altcha", [..., None, "", 42, {"number": 1}, "not base64!"])
def test_a_missing_or_malformed_solution_is_refused(pow_app: Flask, pow_client: FlaskClient, altcha: Any):
    before = snapshot(pow_app)
    assert refused(post(pow_client, altcha=altcha))
    assert snapshot(pow_app) == before


def test_refusals_speak_the_language_of_the_booking(pow_client: FlaskClient):
    german = post(pow_client).json["errors"]["altcha"][0]
    english = post(pow_client, language="en").json["errors"]["altcha"][0]
    wrong = post(pow_client, language="en", altcha="x").json["errors"]["altcha"][0]
    assert "/api/v1/challenge" in english and english != german and wrong != english


def test_without_proof_of_work_the_field_is_ignored(client: FlaskClient):
    assert not client.application.extensions["office"].rules.proof_of_work
    assert post(client).status_code == 201
    assert post(client, start=SECOND, altcha="garbage").status_code == 201


# --- the booking form -----------------------------------------------------------------------------


def test_the_form_shows_the_widget_only_with_proof_of_work(pow_client: FlaskClient, client: FlaskClient):
    page = pow_client.get(DETAILS).text
    assert "<altcha-widget" in page and 'challenge="/api/v1/challenge"' in page
    assert "/static/altcha/altcha.css" in page and "/static/proof-of-work.js" in page
    assert "<noscript>" in page
    assert "<altcha-widget" not in client.get(DETAILS).text


def test_the_widget_speaks_the_page_language(pow_client: FlaskClient):
    page = pow_client.get(DETAILS, headers={"Accept-Language": "ar"}).text
    strings = json.loads(re.search(r"data-strings='([^']*)'", page).group(1))  # type: ignore[union-attr]
    english = json.loads(
        re.search(
            r"data-strings='([^']*)'", pow_client.get(DETAILS, headers={"Accept-Language": "en"}).text
        ).group(1)  # type: ignore[union-attr]
    )
    assert 'language="ar"' in page
    assert set(strings) == set(english) and strings["label"] != english["label"]
    assert english["label"] == "Automatic security check"


def test_the_form_books_with_a_solved_challenge(pow_app: Flask, pow_client: FlaskClient, monkeypatch):  # type: ignore[no-untyped-def]
    calls = spy_on_book(monkeypatch)
    response = pow_client.post(DETAILS, data=form(altcha=solved(pow_client)))
    assert response.status_code == 302 and "/b/" in response.headers["Location"]
    assert calls == [None]  # as the office file says: here without verification
    assert statuses(pow_app) == ["confirmed"]


def test_the_form_without_javascript_books_through_email_verification(
    pow_app: Flask, pow_client: FlaskClient
):
    """The office file has no email verification, yet a form without a solution must confirm by email."""
    assert not pow_app.extensions["office"].rules.verify_email_minutes
    response = pow_client.post(DETAILS, data=form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/book/check-email")
    assert statuses(pow_app) == ["pending"]


def test_with_verification_on_a_solved_challenge_is_pending_as_the_office_file_says(app_with, tmp_path):  # type: ignore[no-untyped-def]
    app = app_with(OFFICE_CONFIG=office_file(tmp_path, True, verify_email_minutes=30))
    client = app.test_client()
    assert (
        client.post(DETAILS, data=form(altcha=solved(client)))
        .headers["Location"]
        .endswith("/book/check-email")
    )
    assert (
        post(client, altcha=solved(client), start=SECOND, email="b@example.org").json["status"] == "pending"
    )
    assert statuses(app) == ["pending", "pending"]


def test_the_form_without_proof_of_work_leaves_verification_to_the_office_file(
    client: FlaskClient, monkeypatch
):  # type: ignore[no-untyped-def]
    calls = spy_on_book(monkeypatch)
    assert client.post(DETAILS, data=form()).status_code == 302
    assert calls == [None]


def statuses(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Booking.status).order_by(Booking.id)))


@pytest.mark.parametrize("reason", ["reused", "expired", "wrong"])
def test_the_form_with_a_refused_challenge_keeps_what_was_typed(
    pow_app: Flask,
    pow_client: FlaskClient,
    clock,
    reason: str,  # type: ignore[no-untyped-def]
):
    altcha = solved(pow_client, signature="0" * 64) if reason == "wrong" else solved(pow_client)
    if reason == "reused":
        assert post(pow_client, altcha=altcha, start=SECOND).status_code == 201
    if reason == "expired":
        clock.now += LIFETIME
    before = snapshot(pow_app)
    response = pow_client.post(DETAILS, data=form(altcha=altcha, note="Aufenthaltstitel"))
    assert response.status_code == 422
    assert snapshot(pow_app) == before
    page = response.text
    assert 'value="Anna Schmidt"' in page and "Aufenthaltstitel" in page and "checked" in page
    assert 'id="altcha-error" role="alert"' in page and 'href="#altcha"' in page  # at the widget and on top
    assert "<altcha-widget" in page  # which fetches and solves a fresh challenge


def spy_on_book(monkeypatch) -> list[bool | None]:  # type: ignore[no-untyped-def]
    """Record the `verify` each booking asks for (email verification itself: see main)."""
    calls: list[bool | None] = []
    real = bookings.book

    def book(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("verify"))
        return real(*args, **kwargs)

    monkeypatch.setattr(bookings, "book", book)
    return calls


# --- whatever is sent -----------------------------------------------------------------------------

ANY_ALTCHA = st.one_of(
    JSON,
    JSON.map(lambda value: base64.b64encode(json.dumps(value).encode()).decode()),
    st.fixed_dictionaries({name: JSON for name in FIELDS}).map(
        lambda value: base64.b64encode(json.dumps(value).encode()).decode()
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(altcha=ANY_ALTCHA)
def test_any_altcha_in_the_api_is_a_422_never_a_500(pow_app: Flask, altcha: Any):
    before = snapshot(pow_app)
    assert refused(post(pow_app.test_client(), altcha=altcha))
    assert snapshot(pow_app) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(altcha=ANY_ALTCHA.filter(lambda value: isinstance(value, str) and value))
def test_any_altcha_in_the_form_shows_the_form_again_never_a_500(pow_app: Flask, altcha: str):
    before = snapshot(pow_app)
    response = pow_app.test_client().post(DETAILS, data=form(altcha=altcha))
    assert response.status_code == 422 and 'id="altcha-error"' in response.text
    assert snapshot(pow_app) == before


def test_joining_the_waitlist_by_api_needs_a_solved_challenge_too(pow_client: FlaskClient):
    body = {
        "service": "beratung",
        "from": "2027-03-30",
        "to": "2027-04-02",
        "name": "W",
        "email": "w@example.org",
    }
    refused_answer = pow_client.post("/api/v1/waitlist", json=body)
    assert refused_answer.status_code == 422 and "altcha" in refused_answer.json["errors"]
    solution = solved(pow_client)
    assert pow_client.post("/api/v1/waitlist", json={**body, "altcha": solution}).status_code == 201
    again = pow_client.post("/api/v1/waitlist", json={**body, "altcha": solution, "email": "x@example.org"})
    assert again.status_code == 422  # spent
