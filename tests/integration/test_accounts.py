"""Staff accounts in the browser: admins create and change accounts (role, services, languages,
weekly hours), disable them and send password links; everyone changes their own password; a
reset link works once. Sessions end on the server, so a copied cookie stops working."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import event, select, update

from booking import accounts, staff_sessions
from booking.extensions import db
from booking.models import Outbox, PasswordReset, Staff
from booking.notify import outbox
from tests.conftest import Clock, snapshot
from tests.integration.staff_support import (
    PASSWORD,
    book_at,
    create_counsellor,
    create_staff,
    english,
    get_booking,
    sign_in,
)
from tests.mailsink import Received

ADMIN = "ada@kreis-heinsberg.example"
RECEPTION = "rita@kreis-heinsberg.example"
COUNSELLOR = "clara@kreis-heinsberg.example"
NEW_PASSWORD = "a new and long enough password"


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    """A signed-in admin, pages in English."""
    create_staff(app, ADMIN, "Ada Admin", role="admin")
    client = english(app.test_client())
    assert sign_in(client, ADMIN).status_code == 302
    return client


def signed_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = english(app.test_client())
    assert sign_in(client, email, password).status_code == 302
    return client


def is_in(client: FlaskClient) -> bool:
    """Whether the client's session still opens the staff pages (else: sent to the login)."""
    response = client.get("/staff/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def account(app: Flask, email: str) -> Staff:
    with app.app_context():
        staff = accounts.get_by_email(email)
        assert staff is not None
        db.session.expunge(staff)
        return staff


def reset_rows(app: Flask) -> list[Outbox]:
    with app.app_context():
        rows = list(
            db.session.scalars(select(Outbox).where(Outbox.kind == "password_reset").order_by(Outbox.id))
        )
        db.session.expunge_all()
        return rows


def deliver(app: Flask, row: Outbox) -> int:
    with app.app_context():
        return outbox.deliver([row.id])


def written_email(app: Flask, row: Outbox) -> Received:
    [path] = list((Path(app.instance_path) / "outbox").glob(f"{row.id:07d}-*.eml"))
    return Received("", [], path.read_bytes())


def link_path(message: Received) -> str:
    """The path of the reset link in the plain-text part."""
    body = message.message.get_body(("plain",))
    assert body is not None
    [url] = re.findall(r"https?://\S+/staff/reset/\S+", body.get_content())
    return urlsplit(url).path


def send_link(app: Flask, email: str) -> str:
    """A reset link as the email carries it (the path of /staff/reset/<token>)."""
    with app.test_request_context():
        staff = accounts.get_by_email(email)
        assert staff is not None
        reset = staff_sessions.send_reset(staff, app.config["CLOCK"]())
        return f"/staff/reset/{staff_sessions.reset_token(reset)}"


def ticked(page: str, name: str) -> set[str]:
    """The values of the ticked checkboxes called `name` on the page."""
    boxes = re.findall(r"<input ([^>]*)>", page)
    return {
        re.search(r'value="([^"]*)"', box).group(1)  # type: ignore[union-attr]
        for box in boxes
        if f'name="{name}"' in box and 'type="checkbox"' in box and re.search(r"\bchecked\b", box)
    }


def choose(client: FlaskClient, path: str, password: str = NEW_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(path, data={"new": password, "repeat": password})


# --- creating accounts --------------------------------------------------------------------


def test_admin_creates_a_counsellor_with_role_services_and_languages(app, admin):
    page = admin.get("/staff/accounts/new")
    assert page.status_code == 200
    assert (
        'value="counsellor"' in page.text and "Arabic" in page.text and "Integration counselling" in page.text
    )
    response = admin.post(
        "/staff/accounts/new",
        data={
            "email": " Yusuf@Kreis-Heinsberg.example ",
            "name": "Yusuf Demir",
            "role": "counsellor",
            "services": ["beratung"],
            "languages": ["de", "ar", "tr"],
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    created = account(app, "yusuf@kreis-heinsberg.example")
    assert response.headers["Location"].endswith(f"/staff/accounts/{created.id}")
    assert (created.role, created.service_ids, created.language_codes) == (
        "counsellor",
        {"beratung"},
        ("de", "ar", "tr"),
    )
    assert reset_rows(app) == []  # it has a password: no link is sent

    listing = admin.get("/staff/accounts")
    assert listing.status_code == 200
    row = re.search(
        r"<tr>\s*<th scope=\"row\"><a [^>]*><bdi>Yusuf Demir</bdi></a>.*?</tr>", listing.text, re.S
    )
    assert row is not None
    expected = [
        "yusuf@kreis-heinsberg.example", "Counsellor", "Integration counselling", "German, Arabic, Turkish",
        "Opening hours", "Active",
    ]  # fmt: skip
    for shown in expected:
        assert shown in row.group(0), shown
    assert "Ada Admin" in listing.text and "Admin" in listing.text
    assert signed_in(app, "yusuf@kreis-heinsberg.example")


def test_no_service_ticked_means_every_service_and_german_is_the_default_language(app, admin):
    page = admin.get("/staff/accounts/new").text
    assert ticked(page, "languages") == {"de"} and ticked(page, "services") == set()
    response = admin.post(
        "/staff/accounts/new",
        data={
            "email": COUNSELLOR,
            "name": "Clara Becker",
            "role": "counsellor",
            "languages": ["de"],
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    created = account(app, COUNSELLOR)
    assert created.service_ids is None
    assert "All services" in admin.get("/staff/accounts").text


def test_an_account_without_a_password_gets_a_link_by_email_that_sets_it(app, admin):
    response = admin.post(
        "/staff/accounts/new", data={"email": RECEPTION, "name": "Rita Empfang", "role": "reception"}
    )
    assert response.status_code == 302
    assert "link to choose a password is on its way" in admin.get(response.headers["Location"]).text
    [row] = reset_rows(app)
    assert row.booking_id is None and row.password_reset_id is not None
    assert deliver(app, row) == 1
    path = link_path(written_email(app, row))
    assert choose(english(app.test_client()), path).status_code == 302
    assert signed_in(app, RECEPTION, NEW_PASSWORD)


def test_wrong_entries_are_named_per_field_and_create_nothing(app, admin):
    before = snapshot(app)
    response = admin.post(
        "/staff/accounts/new",
        data={
            "email": "not an address",
            "name": "",
            "role": "boss",
            "services": ["nope"],
            "languages": ["xx"],
            "password": "short",
        },
    )
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S)
    assert summary is not None
    for field, message in [
        ("email", "Please enter a valid email address"),
        ("name", "Please enter a name."),
        ("role", "Please choose a role"),
        ("services", "There is no service nope."),
        ("languages", "Unknown language code: xx."),
        ("password", "at least 10 characters"),
    ]:
        assert f'href="#{field}"' in summary.group(0), field
        assert message in response.text, message
    assert 'value="not an address"' in response.text  # what was typed stays
    assert snapshot(app) == before


def test_a_counsellor_needs_a_language_and_an_address_is_taken_once(app, admin):
    create_staff(app, RECEPTION, "Rita Empfang")
    before = snapshot(app)
    response = admin.post(
        "/staff/accounts/new",
        data={"email": RECEPTION.upper(), "name": "Rita Zwei", "role": "counsellor", "password": PASSWORD},
    )
    assert response.status_code == 422
    assert "Please choose at least one language of counselling." in response.text
    assert f"An account for {RECEPTION} exists already." in response.text
    assert snapshot(app) == before


# --- who may use the account pages -----------------------------------------------------------


def account_urls(app: Flask, staff_id: int) -> list[tuple[str, str]]:
    """(method, url) of every route under /staff/accounts, for an existing account."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/staff/accounts"):
            url = rule.build({name: staff_id for name in rule.arguments})[1]
            found += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


@pytest.mark.parametrize("role", ["reception", "counsellor"])
def test_only_admins_may_use_any_account_page(app, role):
    admin_id = create_staff(app, ADMIN, "Ada Admin", role="admin")
    create_staff(app, RECEPTION, "Rita", role=role)
    client = signed_in(app, RECEPTION)
    urls = account_urls(app, admin_id)
    assert {url for _method, url in urls} >= {
        "/staff/accounts",
        "/staff/accounts/new",
        f"/staff/accounts/{admin_id}",
    }
    assert sum(method == "POST" for method, _url in urls) >= 5  # new, profile, hours, disable, enable, link
    before = snapshot(app)
    data = {
        "name": "Mallory",
        "role": "reception",
        "email": "m@example.org",
        "password": PASSWORD,
        "mode": "opening",
    }
    for method, url in urls:
        assert client.open(url, method=method, data=data).status_code == 403, (method, url)
    assert snapshot(app) == before
    assert account(app, ADMIN).active and account(app, ADMIN).role == "admin"
    assert "/staff/accounts" not in client.get("/staff/").text  # no link to a page it may not open


# --- changing an account ----------------------------------------------------------------------


def test_admin_changes_name_role_services_and_languages(app, admin):
    staff_id = create_staff(app, RECEPTION, "Rita Empfang")
    page = admin.get(f"/staff/accounts/{staff_id}")
    assert page.status_code == 200 and 'value="Rita Empfang"' in page.text
    response = admin.post(
        f"/staff/accounts/{staff_id}",
        data={
            "name": "Rita Beraterin",
            "role": "counsellor",
            "services": ["beratung"],
            "languages": ["ar", "de"],
        },
    )
    assert response.status_code == 302
    changed = account(app, RECEPTION)
    assert (changed.name, changed.role, changed.service_ids, changed.language_codes) == (
        "Rita Beraterin", "counsellor", {"beratung"}, ("ar", "de"),
    )  # fmt: skip
    page = admin.get(f"/staff/accounts/{staff_id}").text
    assert ticked(page, "languages") == {"ar", "de"} and ticked(page, "services") == {"beratung"}
    assert f'action="/staff/accounts/{staff_id}/hours"' in page  # a counsellor's page offers the hours


def test_a_bad_change_names_the_field_and_changes_nothing(app, admin):
    staff_id = create_counsellor(app, COUNSELLOR, "Clara Becker", ("de",))
    before = snapshot(app)
    response = admin.post(
        f"/staff/accounts/{staff_id}",
        data={"name": "", "role": "counsellor", "services": ["x"], "languages": []},
    )
    assert response.status_code == 422
    for message in ("Please enter a name.", "There is no service x.", "Please choose at least one language"):
        assert message in response.text
    assert snapshot(app) == before
    unchanged = account(app, COUNSELLOR)
    assert (unchanged.name, unchanged.language_codes) == ("Clara Becker", ("de",))


def test_an_unknown_account_is_not_found(admin):
    assert admin.get("/staff/accounts/999").status_code == 404
    assert admin.post("/staff/accounts/999/disable").status_code == 404


# --- weekly hours ---------------------------------------------------------------------------


def post_hours(client: FlaskClient, staff_id: int, **days: str):  # type: ignore[no-untyped-def]
    return client.post(f"/staff/accounts/{staff_id}/hours", data={"mode": "own", **days})


def test_hours_form_has_a_field_for_each_open_weekday_only(app, admin):
    staff_id = create_counsellor(app, COUNSELLOR, "Clara Becker")
    page = admin.get(f"/staff/accounts/{staff_id}").text
    for day, name in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]):
        assert f'<label for="hours_{day}">{name}</label>' in page
    assert 'id="hours_5"' not in page and 'id="hours_6"' not in page  # the office is closed at weekends
    assert 'Opening hours: <bdi dir="ltr">08:30-12:00, 14:00-17:00</bdi>' in page  # Tuesday's hint


def test_own_hours_with_several_periods_inside_the_opening_hours_are_saved(app, admin):
    staff_id = create_counsellor(app, COUNSELLOR, "Clara Becker")
    response = post_hours(
        admin, staff_id, hours_0="08:30-10:00", hours_1="08:30-10:00, 14:00-15:30", hours_3="14:00-17:00"
    )
    assert response.status_code == 302
    with app.app_context():
        week = accounts.weekly_hours(accounts.get(staff_id))
        assert week is not None
        from booking.rota import format_periods

        assert {day: format_periods(periods) for day, periods in week.items() if periods} == {
            0: "08:30-10:00", 1: "08:30-10:00, 14:00-15:30", 3: "14:00-17:00",
        }  # fmt: skip
    page = admin.get(f"/staff/accounts/{staff_id}").text
    assert 'value="08:30-10:00, 14:00-15:30"' in page
    assert "Mon 08:30-10:00 · Tue 08:30-10:00, 14:00-15:30 · Thu 14:00-17:00" in re.sub(
        r"</?bdi[^>]*>", "", page
    )
    assert admin.post(f"/staff/accounts/{staff_id}/hours", data={"mode": "opening"}).status_code == 302
    assert account(app, COUNSELLOR).custom_hours is False


@pytest.mark.parametrize(
    ("days", "field", "message"),
    [
        ({"hours_0": "07:30-12:00"}, "hours_0", "inside the opening hours"),
        ({"hours_2": "14:00-16:00"}, "hours_2", "inside the opening hours"),  # Wednesday: mornings only
        ({"hours_1": "08:30-10:00, 09:30-11:00"}, "hours_1", "These periods overlap."),
        ({"hours_4": "mornings"}, "hours_4", "Not a time span: mornings."),
        ({"hours_3": "12:00-08:30"}, "hours_3", "Not a time span: 12:00-08:30."),
    ],
)
def test_bad_hours_name_the_weekday_and_change_nothing(app, admin, days, field, message):
    staff_id = create_counsellor(app, COUNSELLOR, "Clara Becker", hours={0: ["08:30-12:00"]})
    before = snapshot(app)
    response = post_hours(admin, staff_id, **{"hours_1": "08:30-12:00", **days})
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', response.text)
    assert error is not None and message in error.group(1)
    assert f'href="#{field}"' in response.text  # in the error summary, linked to the field
    assert snapshot(app) == before
    with app.app_context():
        week = accounts.weekly_hours(accounts.get(staff_id))
        assert week is not None and [day for day, periods in week.items() if periods] == [0]


# --- disabling -------------------------------------------------------------------------------


def test_disabling_ends_the_accounts_sessions_at_once_and_enabling_lets_it_sign_in_again(app, admin):
    staff_id = create_counsellor(app, COUNSELLOR, "Clara Becker")
    counsellor = signed_in(app, COUNSELLOR)
    assert is_in(counsellor)
    response = admin.post(f"/staff/accounts/{staff_id}/disable")
    assert response.status_code == 302
    assert "its sessions have ended" in admin.get(response.headers["Location"]).text
    assert not is_in(counsellor)
    assert sign_in(counsellor, COUNSELLOR).status_code == 401
    assert "Disabled" in admin.get("/staff/accounts").text

    assert admin.post(f"/staff/accounts/{staff_id}/enable").status_code == 302
    assert not is_in(counsellor)  # the old session stays ended
    assert signed_in(app, COUNSELLOR)


def test_a_change_that_leaves_appointments_uncovered_lists_them_on_the_account(app, admin):
    staff_id = create_counsellor(app, COUNSELLOR, "Clara Becker", ("de",))
    create_counsellor(app, "yusuf@kreis-heinsberg.example", "Yusuf Demir", ("de", "ar"))
    booking_id = book_at(app, "2027-03-30T08:30", name="Ayşe Yılmaz")
    assert get_booking(app, booking_id).counsellor_id == staff_id  # the one with fewer languages
    assert "needs another counsellor" not in admin.get(f"/staff/accounts/{staff_id}").text
    post_hours(admin, staff_id, hours_0="08:30-12:00")  # no longer on Tuesdays
    page = admin.get(f"/staff/accounts/{staff_id}").text
    assert "1 upcoming appointment of this account needs another counsellor." in page
    assert "Ayşe Yılmaz" in page


def test_the_last_active_admin_can_neither_disable_nor_demote_itself(app, admin):
    me = account(app, ADMIN)
    assert "This is the last active admin account" in admin.get(f"/staff/accounts/{me.id}").text
    before = snapshot(app)
    response = admin.post(f"/staff/accounts/{me.id}/disable")
    assert response.status_code == 302
    assert "This is the last active admin account" in admin.get(response.headers["Location"]).text
    demoted = admin.post(
        f"/staff/accounts/{me.id}", data={"name": "Ada", "role": "reception", "languages": ["de"]}
    )
    assert demoted.status_code == 422
    assert "This is the last active admin account: make another account admin first." in demoted.text
    assert snapshot(app) == before
    assert account(app, ADMIN).active and account(app, ADMIN).role == "admin"
    assert is_in(admin)


def test_with_a_second_admin_an_admin_may_step_down(app, admin):
    create_staff(app, "bert@kreis-heinsberg.example", "Bert Admin", role="admin")
    me = account(app, ADMIN)
    response = admin.post(
        f"/staff/accounts/{me.id}", data={"name": "Ada", "role": "reception", "languages": ["de"]}
    )
    assert response.status_code == 302
    assert account(app, ADMIN).role == "reception"
    assert admin.get("/staff/accounts").status_code == 403  # from now on a reception account


def test_an_admin_who_disables_their_own_account_is_signed_out(app, admin):
    create_staff(app, "bert@kreis-heinsberg.example", "Bert Admin", role="admin")
    response = admin.post(f"/staff/accounts/{account(app, ADMIN).id}/disable")
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/login")
    assert not is_in(admin)
    assert not account(app, ADMIN).active


def test_no_password_link_goes_to_a_disabled_account(app, admin):
    staff_id = create_staff(app, RECEPTION, "Rita")
    with app.app_context():
        accounts.disable_staff(RECEPTION)
    before = snapshot(app)
    response = admin.post(f"/staff/accounts/{staff_id}/password-link")
    assert response.status_code == 302
    notice = re.search(
        r'<div class="notice notice-error"[^>]*>([^<]*)</div>', admin.get(response.headers["Location"]).text
    )
    assert notice is not None and "enable it first" in notice.group(1)
    assert snapshot(app) == before


# --- signing out, one's own password -----------------------------------------------------------


def copy_session(source: FlaskClient, app: Flask) -> FlaskClient:
    """A second browser holding a copy of `source`'s session cookie."""
    cookie = source.get_cookie("session", domain="termine.test")
    assert cookie is not None
    thief = english(app.test_client())
    thief.set_cookie("session", cookie.value, domain="termine.test")
    return thief


def test_a_cookie_copied_before_sign_out_does_not_get_in_afterwards(app):
    create_staff(app, RECEPTION, "Rita")
    client = signed_in(app, RECEPTION)
    copy = copy_session(client, app)
    assert is_in(copy)  # the copy works while the session lasts
    copy = copy_session(client, app)
    assert client.post("/staff/logout").status_code == 302
    assert not is_in(copy)
    assert not is_in(client)


def test_changing_ones_password_ends_the_other_sessions_but_not_this_one(app):
    create_counsellor(app, COUNSELLOR, "Clara Becker")
    here, elsewhere = signed_in(app, COUNSELLOR), signed_in(app, COUNSELLOR)
    copy = copy_session(here, app)
    assert here.get("/staff/password").status_code == 200
    response = here.post(
        "/staff/password", data={"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert "Your password is changed" in here.get(response.headers["Location"]).text
    assert is_in(here) and is_in(copy)  # this session (and so its cookie) stays
    assert not is_in(elsewhere)
    assert sign_in(english(app.test_client()), COUNSELLOR, PASSWORD).status_code == 401
    assert signed_in(app, COUNSELLOR, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"current": "wrong password", "new": NEW_PASSWORD, "repeat": NEW_PASSWORD},
            "current",
            "The current password is not right.",
        ),  # noqa: E501
        (
            {"current": PASSWORD, "new": NEW_PASSWORD, "repeat": "something else"},
            "repeat",
            "The two new passwords are not the same.",
        ),  # noqa: E501
        ({"current": PASSWORD, "new": "short", "repeat": "short"}, "new", "at least 10 characters"),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(app, data, field, message):
    create_staff(app, RECEPTION, "Rita")
    here, elsewhere = signed_in(app, RECEPTION), signed_in(app, RECEPTION)
    before = snapshot(app)
    response = here.post("/staff/password", data=data)
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', response.text)
    assert error is not None and message in error.group(1)
    assert snapshot(app) == before
    assert is_in(elsewhere)
    assert signed_in(app, RECEPTION, PASSWORD)


def test_every_role_may_change_its_own_password(app):
    for role in ("admin", "reception", "counsellor"):
        email = f"{role}@kreis-heinsberg.example"
        create_staff(app, email, role.title(), role=role)
        assert signed_in(app, email).get("/staff/password").status_code == 200, role


# --- reset links --------------------------------------------------------------------------------


def test_a_reset_link_works_once_and_ends_every_session(app, clock: Clock):
    create_staff(app, RECEPTION, "Rita")
    session = signed_in(app, RECEPTION)
    path = send_link(app, RECEPTION)
    visitor = english(app.test_client())
    before = snapshot(app)
    for _look in range(2):  # a mail scanner opening the link changes nothing
        page = visitor.get(path)
        assert page.status_code == 200 and RECEPTION in page.text
    assert snapshot(app) == before
    response = choose(visitor, path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/login")
    assert "Your new password is set" in visitor.get(response.headers["Location"]).text
    assert not is_in(session)
    assert signed_in(app, RECEPTION, NEW_PASSWORD)

    again = choose(english(app.test_client()), path, "yet another long password")
    assert again.status_code == 410
    assert "This link has expired or was used already" in again.text
    assert visitor.get(path).status_code == 410
    assert signed_in(app, RECEPTION, NEW_PASSWORD)


def test_a_reset_link_does_not_work_after_it_expired(app, clock: Clock):
    create_staff(app, RECEPTION, "Rita")
    path = send_link(app, RECEPTION)
    clock.now += timedelta(hours=staff_sessions.RESET_HOURS, seconds=1)
    visitor = english(app.test_client())
    assert visitor.get(path).status_code == 410
    before = snapshot(app)
    assert choose(visitor, path).status_code == 410
    assert snapshot(app) == before
    assert signed_in(app, RECEPTION, PASSWORD)


def test_only_the_newest_reset_link_works(app):
    create_staff(app, RECEPTION, "Rita")
    older = send_link(app, RECEPTION)
    newer = send_link(app, RECEPTION)
    visitor = english(app.test_client())
    assert choose(visitor, older).status_code == 410
    assert signed_in(app, RECEPTION, PASSWORD)
    assert choose(visitor, newer).status_code == 302
    assert signed_in(app, RECEPTION, NEW_PASSWORD)


def test_a_reset_link_does_not_work_for_a_disabled_account(app):
    create_staff(app, RECEPTION, "Rita")
    path = send_link(app, RECEPTION)
    with app.app_context():
        accounts.disable_staff(RECEPTION)
    visitor = english(app.test_client())
    assert visitor.get(path).status_code == 410
    assert choose(visitor, path).status_code == 410
    with app.app_context():
        accounts.enable_staff(RECEPTION)
    assert signed_in(app, RECEPTION, PASSWORD)


@pytest.mark.parametrize("token", ["1", "not-a-token", "MQ.forged-signature"])
def test_a_made_up_reset_link_gets_the_same_clear_page(app, token):
    create_staff(app, RECEPTION, "Rita")
    visitor = english(app.test_client())
    page = visitor.get(f"/staff/reset/{token}")
    assert page.status_code == 410
    assert "This link has expired or was used already" in page.text
    assert choose(visitor, f"/staff/reset/{token}").status_code == 410


def test_choosing_a_too_short_password_from_a_link_keeps_the_link(app):
    create_staff(app, RECEPTION, "Rita")
    path = send_link(app, RECEPTION)
    visitor = english(app.test_client())
    short = choose(visitor, path, "short")
    assert short.status_code == 422 and "at least 10 characters" in short.text
    mismatch = visitor.post(path, data={"new": NEW_PASSWORD, "repeat": NEW_PASSWORD + "!"})
    assert mismatch.status_code == 422 and "The two new passwords are not the same." in mismatch.text
    assert choose(visitor, path).status_code == 302


# --- the reset email ----------------------------------------------------------------------------


def test_the_password_link_email_is_sent_once_through_the_outbox_and_its_link_works(app, admin):
    staff_id = create_staff(app, RECEPTION, "Rita Empfang")
    response = admin.post(f"/staff/accounts/{staff_id}/password-link")
    assert response.status_code == 302
    assert f"on its way to {RECEPTION}" in admin.get(response.headers["Location"]).text
    [row] = reset_rows(app)
    assert (row.booking_id, row.dedupe_key) == (None, f"password_reset:{row.password_reset_id}")
    assert deliver(app, row) == 1
    assert deliver(app, row) == 0  # the worker's retry or the relay: sent once
    with app.app_context():
        assert outbox.deliver(outbox.due_ids(app.config["CLOCK"]() + timedelta(days=1))) == 0

    message = written_email(app, row).message
    assert message["To"].addresses[0].addr_spec == RECEPTION
    with app.app_context(), force_locale("de"):  # the office's language
        assert message["Subject"] == _("Choose your password for the staff pages")
    assert message["Content-Language"] == "de"
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    html = message.get_body(("html",)).get_content()
    path = link_path(written_email(app, row))
    assert path in html
    visitor = english(app.test_client())
    assert visitor.get(path).status_code == 200
    assert choose(visitor, path).status_code == 302
    assert signed_in(app, RECEPTION, NEW_PASSWORD)


def test_a_password_email_whose_link_no_longer_works_is_skipped_with_the_reason(app, clock: Clock):
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        create_staff(app, email, email)
    send_link(app, "a@example.org")
    send_link(app, "a@example.org")  # replaces the first: its email would carry a dead link
    send_link(app, "b@example.org")
    send_link(app, "c@example.org")
    with app.app_context():
        accounts.disable_staff("b@example.org")
    first, second, disabled, late = reset_rows(app)
    clock.now += timedelta(hours=1)
    with app.app_context():
        reset = db.session.get(PasswordReset, late.password_reset_id)
        reset.expires_at = clock.now - timedelta(minutes=1)
        db.session.commit()
        assert outbox.deliver([r.id for r in (first, second, disabled, late)]) == 1
        db.session.expire_all()
        notes = {r.id: (r.sent_at is not None, r.last_error) for r in db.session.scalars(select(Outbox))}
    assert notes == {
        first.id: (True, "skipped: the link was used or a newer one was sent"),
        second.id: (True, None),
        disabled.id: (True, "skipped: the account is disabled"),
        late.id: (True, "skipped: the link has expired"),
    }
    assert [p.name.split("-", 1)[0] for p in (Path(app.instance_path) / "outbox").glob("*.eml")] == [
        f"{second.id:07d}"
    ]


def test_an_undelivered_password_email_is_listed_for_staff(app, admin):
    create_staff(app, RECEPTION, "Rita Empfang")
    send_link(app, RECEPTION)
    [row] = reset_rows(app)
    with app.app_context():
        db.session.execute(update(Outbox).values(last_error="SMTPServerDisconnected: gone", attempts=1))
        db.session.commit()
        [failed] = outbox.failed_emails()
    assert (failed.booking_id, failed.reference, failed.email) == (None, "", RECEPTION)
    page = admin.get("/staff/emails")
    assert page.status_code == 200
    assert "Password link" in page.text and RECEPTION in page.text


# --- the command line ----------------------------------------------------------------------------


def test_create_staff_takes_role_services_and_languages(app, runner):
    result = runner.invoke(
        args=[
            "create-staff", "--email", COUNSELLOR, "--name", "Clara Becker", "--password", PASSWORD,
            "--role", "counsellor", "--services", "beratung", "--languages", "de,ar",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Staff account created: clara@kreis-heinsberg.example (counsellor" in result.output
    created = account(app, COUNSELLOR)
    assert (created.role, created.service_ids, created.language_codes) == (
        "counsellor",
        {"beratung"},
        ("de", "ar"),
    )


def test_create_staff_defaults_to_reception_with_every_service_and_german(app, runner):
    result = runner.invoke(
        args=["create-staff", "--email", RECEPTION, "--name", "Rita", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    created = account(app, RECEPTION)
    assert (created.role, created.service_ids, created.language_codes) == ("reception", None, ("de",))


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--role", "boss", "'boss' is not one of 'admin', 'reception', 'counsellor'"),
        ("--services", "beratung,asyl", "there is no service asyl"),
        ("--languages", "de,klingon", "unknown language code klingon"),
        ("--languages", ",", "name at least one language"),
    ],
)
def test_create_staff_refuses_an_unknown_value_naming_the_option(app, runner, option, value, message):
    before = snapshot(app)
    # Without --password: the refusal comes before the password is asked for.
    result = runner.invoke(args=["create-staff", "--email", COUNSELLOR, "--name", "Clara", option, value])
    assert result.exit_code != 0
    assert f"Invalid value for '{option}'" in result.output
    assert message in result.output
    assert "Password" not in result.output
    assert snapshot(app) == before


def test_create_staff_messages_are_in_english(app, runner):
    result = runner.invoke(args=["create-staff", "--email", "nope", "--name", " ", "--password", PASSWORD])
    assert result.exit_code != 0
    assert "Invalid value for '--email': Please enter a valid email address" in result.output
    assert "Invalid value for '--name': Please enter a name." in result.output


def test_disable_staff_refuses_the_last_admin(app, runner):
    create_staff(app, ADMIN, "Ada", role="admin")
    result = runner.invoke(args=["disable-staff", "--email", ADMIN])
    assert result.exit_code != 0
    assert "last active admin" in result.output
    assert account(app, ADMIN).active


def test_a_batch_of_password_emails_reads_nothing_more_while_it_sends(app):
    """The claimed rows come with their resets and accounts in one query: a later load would take
    SQLite's write lock that the batch's marks wait for (and cost a query per email)."""
    for number in range(3):
        create_staff(app, f"s{number}@example.org", f"Staff {number}")
        send_link(app, f"s{number}@example.org")
    ids = [row.id for row in reset_rows(app)]
    statements: list[str] = []
    with app.app_context():

        def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert outbox.deliver(ids) == 3
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects
