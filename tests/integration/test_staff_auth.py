"""Signing in to the staff pages: who gets in, who does not, and that no staff URL is open."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from booking import accounts
from booking.extensions import db
from booking.models import Closure, Staff
from booking.web.staff_base import OPEN
from tests.conftest import snapshot
from tests.integration.staff_support import EMAIL, PASSWORD, create_staff, english, sign_in

GENERIC_ERROR = "The email address or the password is not right, or the account is disabled."


def test_right_password_signs_in_and_opens_the_day_view(app, client):
    create_staff(app)
    response = sign_in(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/")
    assert client.get("/staff/").status_code == 200


def test_email_is_matched_without_regard_to_case_and_spaces(app, client):
    create_staff(app)
    assert sign_in(client, email="  " + EMAIL.upper()).status_code == 302


def test_wrong_password_is_refused_with_a_generic_message(app, client):
    create_staff(app)
    response = sign_in(english(client), password="wrong password")
    assert response.status_code == 401
    assert GENERIC_ERROR in response.text
    assert client.get("/staff/").status_code == 302


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(app, client):
    create_staff(app)
    response = sign_in(english(client), email="nobody@kreis-heinsberg.example")
    assert response.status_code == 401
    assert GENERIC_ERROR in response.text


def test_disabled_account_cannot_sign_in(app, client):
    create_staff(app)
    with app.app_context():
        accounts.disable_staff(EMAIL)
    response = sign_in(english(client))
    assert response.status_code == 401
    assert GENERIC_ERROR in response.text


def test_disabling_an_account_ends_its_open_session(app, client):
    create_staff(app)
    sign_in(client)
    assert client.get("/staff/").status_code == 200
    with app.app_context():
        accounts.disable_staff(EMAIL)
    response = client.get("/staff/")
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]


def test_password_is_stored_as_a_scrypt_hash(app):
    create_staff(app)
    with app.app_context():
        staff = db.session.scalar(db.select(Staff))
        assert staff.password_hash.startswith("scrypt:")
        assert PASSWORD not in staff.password_hash


def test_repeated_failures_are_rate_limited(app_with):
    app = app_with(RATELIMIT_ENABLED=True)
    create_staff(app)
    client = app.test_client()
    for _attempt in range(5):
        assert sign_in(client, password="wrong password").status_code == 401
    limited = sign_in(client, password="wrong password")
    assert limited.status_code == 429
    # Even the right password waits until the limit has passed.
    assert sign_in(client).status_code == 429


def test_successful_sign_ins_do_not_use_up_the_limit(app_with):
    app = app_with(RATELIMIT_ENABLED=True)
    create_staff(app)
    client = app.test_client()
    for _attempt in range(6):
        assert sign_in(client).status_code == 302


def test_sign_in_without_csrf_token_is_refused_when_csrf_is_on(app_with):
    app = app_with(WTF_CSRF_ENABLED=True)
    create_staff(app)
    client = app.test_client()
    refused = sign_in(client)
    assert refused.status_code == 302 and refused.location.endswith("/staff/login")  # back to the form
    assert client.get("/staff/").status_code == 302  # still signed out

    page = client.get("/staff/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post("/staff/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200


def feed_address(page: str) -> str | None:
    """The feed address the page shows (None before one is made); the rest of the page carries
    a CSRF token that changes every second."""
    found = re.search(r'id="feed-url" class="feed-url" value="([^"]*)"', page)
    return found.group(1) if found else None


def test_staff_actions_without_csrf_token_are_refused(app_with):
    app = app_with(WTF_CSRF_ENABLED=True)
    create_staff(app)
    client = app.test_client()
    page = client.get("/staff/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    client.post("/staff/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    feed_before = feed_address(client.get("/staff/feed").text)
    assert client.post("/staff/feed/rotate").status_code == 302
    assert client.post("/staff/close", data={"day": "2027-03-30", "reason": "x"}).status_code == 302
    assert client.post("/staff/logout").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Closure.id))) == 0
    assert client.get("/staff/").status_code == 200  # still signed in
    day = client.get("/staff/feed")
    assert feed_address(day.text) == feed_before  # not rotated
    assert 'name="csrf_token"' in day.text
    assert client.post("/staff/feed/rotate", data={"csrf_token": token}).status_code == 302


def test_sign_out_needs_a_post_and_ends_the_session(app, client):
    create_staff(app)
    sign_in(client)
    assert client.get("/staff/logout").status_code == 405
    response = client.post("/staff/logout")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/login")
    assert client.get("/staff/").status_code == 302


def test_after_sign_in_the_page_asked_for_opens(app, client):
    create_staff(app)
    first = client.get("/staff/week?date=2027-03-29")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    assert "/staff/login" in login_url
    page = client.get(login_url)
    assert 'value="/staff/week?date=2027-03-29"' in page.text
    response = client.post(
        "/staff/login", data={"email": EMAIL, "password": PASSWORD, "next": "/staff/week?date=2027-03-29"}
    )
    assert response.headers["Location"].endswith("/staff/week?date=2027-03-29")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/staff/", "/b/x"])
def test_sign_in_never_redirects_outside_the_staff_pages(app, client, target):
    create_staff(app)
    response = client.post("/staff/login", data={"email": EMAIL, "password": PASSWORD, "next": target})
    assert response.headers["Location"].endswith("/staff/")


def test_session_cookie_is_http_only_and_same_site(app, client):
    create_staff(app)
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_is_secure_behind_https(app_with):
    app = app_with(SESSION_COOKIE_SECURE=True)
    create_staff(app)
    cookie = sign_in(app.test_client()).headers["Set-Cookie"]
    assert "Secure" in cookie


def _example_url(rule) -> str:  # type: ignore[no-untyped-def]
    """The rule's URL with 1 for every argument (valid for int and string converters alike)."""
    return rule.build({name: 1 for name in rule.arguments})[1]


def test_every_staff_url_sends_anonymous_visitors_to_the_login(app, client):
    """Walks every registered /staff/ route with every method, so a new route cannot forget the check."""
    create_staff(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff/") or rule.endpoint in OPEN:
            continue  # signing in, and choosing a password from a reset link (test_accounts.py)
        url = _example_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code == 302, (method, url, response.status_code)
            assert "/staff/login" in response.headers["Location"], (method, url)
            checked += 1
    assert checked >= 15  # the walk found the staff pages (day, week, book, cancel, move, ...)


def test_the_calendar_feed_is_outside_the_staff_pages_and_needs_its_token(app, client):
    assert client.get("/feed/not-the-token.ics").status_code == 404


# --- command line ------------------------------------------------------------------------


def test_create_staff_with_password_option(app, runner, client):
    result = runner.invoke(
        args=["create-staff", "--email", EMAIL, "--name", "Sabine", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert EMAIL in result.output
    assert sign_in(client).status_code == 302


def test_create_staff_asks_for_the_password_twice_when_it_is_left_out(app, runner, client):
    result = runner.invoke(
        args=["create-staff", "--email", EMAIL, "--name", "Sabine"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    assert PASSWORD not in result.output
    assert sign_in(client).status_code == 302


def test_create_staff_refuses_a_mistyped_confirmation(app, runner):
    result = runner.invoke(
        args=["create-staff", "--email", EMAIL, "--name", "Sabine"],
        input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Staff.id))) == 1


def test_create_staff_refuses_a_short_password_and_a_taken_address(app, runner):
    short = runner.invoke(args=["create-staff", "--email", EMAIL, "--name", "S", "--password", "short"])
    assert short.exit_code != 0
    assert "at least" in short.output
    create_staff(app)
    again = runner.invoke(args=["create-staff", "--email", EMAIL, "--name", "S", "--password", PASSWORD])
    assert again.exit_code != 0
    assert "exists already" in again.output


def test_disable_staff_stops_sign_in(app, runner, client):
    create_staff(app)
    result = runner.invoke(args=["disable-staff", "--email", EMAIL])
    assert result.exit_code == 0, result.output
    assert sign_in(client).status_code == 401
    assert runner.invoke(args=["enable-staff", "--email", EMAIL]).exit_code == 0
    assert sign_in(client).status_code == 302


def test_a_cookie_copied_before_disable_staff_does_not_get_in_after_enable_staff(app, runner, client):
    """The sessions end on the server when the account is disabled: enabling it again brings none
    of them back, not even a copy of the cookie kept meanwhile."""
    create_staff(app)
    assert sign_in(client).status_code == 302
    cookie = client.get_cookie("session", domain="termine.test")
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie("session", cookie.value, domain="termine.test")
    assert copy.get("/staff/").status_code == 200  # the copy works while the session lasts

    assert runner.invoke(args=["disable-staff", "--email", EMAIL]).exit_code == 0
    assert runner.invoke(args=["enable-staff", "--email", EMAIL]).exit_code == 0
    for browser in (copy, client):
        response = browser.get("/staff/")
        assert response.status_code == 302
        assert "/staff/login" in response.headers["Location"]
    assert sign_in(client).status_code == 302  # the account itself works again


def test_disable_staff_names_an_unknown_address(app, runner):
    result = runner.invoke(args=["disable-staff", "--email", "nobody@example.org"])
    assert result.exit_code != 0
    assert "no account" in result.output


def test_dev_staff_creates_an_admin_and_two_counsellors_once_and_prints_their_sign_ins(app, runner):
    first = runner.invoke(args=["dev-staff"])
    before = snapshot(app)
    again = runner.invoke(args=["dev-staff"])
    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert first.output == again.output
    assert snapshot(app) == before  # the second run created nothing
    sign_ins = dict(line.split()[-2:] for line in first.output.splitlines() if "@example.org" in line)
    assert set(sign_ins) == {"staff@example.org", "clara@example.org", "yusuf@example.org"}
    for email, password in sign_ins.items():
        client = app.test_client()
        assert sign_in(client, email=email, password=password).status_code == 302
        assert (Path(app.instance_path) / _password_file(email)).read_text() == password
    with app.app_context():
        roles = {
            s.email: (s.role, s.language_codes, s.service_ids) for s in db.session.scalars(select(Staff))
        }
    assert roles == {
        "staff@example.org": ("admin", ("de",), None),
        "clara@example.org": ("counsellor", ("de",), None),
        "yusuf@example.org": ("counsellor", ("de", "ar", "tr"), None),
    }


def _password_file(email: str) -> str:
    return {"staff@example.org": "dev-staff-password"}.get(email, f"dev-staff-password-{email.split('@')[0]}")


def test_dev_staff_prints_the_sign_in_of_the_server_make_run_starts(app_with):
    """`make run PORT=5123` sets PUBLIC_URL to its own address: the printed sign-in must open."""
    app = app_with(PUBLIC_URL="http://127.0.0.1:5123")
    output = app.test_cli_runner().invoke(args=["dev-staff"]).output
    assert "Staff sign-in: http://127.0.0.1:5123/staff/login" in output
