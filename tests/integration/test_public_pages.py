"""The resident's HTML flow with the test client: home, week, details, confirmation, manage."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from booking import bookings
from booking import places as place_service
from booking.extensions import db
from booking.models import Booking, SlotClaim
from tests.conftest import FIXED_NOW, snapshot

EN = {"Accept-Language": "en"}
# FIXED_NOW is Good Friday 2027-03-26; Easter Monday is closed: the first free time is Tuesday 30 March.
FIRST = "2027-03-30T08:30:00+02:00"
DETAILS = f"/book/beratung/details?start={quote(FIRST)}"


def details(**overrides: str | None) -> dict[str, str]:
    data = {"name": "Anna Schmidt", "email": "anna@example.org", "phone": "", "note": "", "consent": "y"}
    data.update(overrides)  # type: ignore[arg-type]
    return {k: v for k, v in data.items() if v is not None}


def book(
    client: FlaskClient, start: str = FIRST, headers: dict[str, str] | None = None, **overrides: str | None
) -> str:
    """Book through the form (in the language of `headers`); the token of the new booking."""
    response = client.post(
        f"/book/beratung/details?start={quote(start)}", data=details(**overrides), headers=headers
    )
    assert response.status_code == 302, response.text
    match = re.search(r"/b/([A-Za-z0-9_-]+)\?new=1", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


class Inputs(HTMLParser):
    """Collects inputs, their labels and the page's `<html lang>` for the accessibility checks."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.viewport = False
        self.inputs: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "meta" and a.get("name") == "viewport":
            self.viewport = "width=device-width" in (a.get("content") or "")
        elif tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])  # type: ignore[arg-type]
        elif tag in ("input", "textarea", "select"):
            self.inputs.append({**a, "_wrapped": "yes" if self.label_depth else None, "_tag": tag})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1


def parse(html: str) -> Inputs:
    page = Inputs()
    page.feed(html)
    return page


# --- home page and language --------------------------------------------------------------------


def test_home_page_is_german_by_default_with_intro_hours_and_address(client: FlaskClient):
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="de"' in html
    assert "Etwa jede fünfte Person hat eine Einwanderungsgeschichte." in html  # the office's words
    assert "Öffnungszeiten" in html
    for day in ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag"):
        assert day in html
    assert "Samstag" not in html
    assert "08:30–12:00" in html and "14:00–17:00" in html
    assert "Oberbrucher Str. 1" in html and "Valkenburger Str. 45" in html
    assert "02452 / 13-4222" in html
    assert "Integrationsberatung" in html
    assert 'action="/book/beratung"' in html  # the choice of languages leads to the week of times


def test_accept_language_english_gives_the_english_page(client: FlaskClient):
    html = client.get("/", headers={"Accept-Language": "en-US,en;q=0.8"}).text
    assert '<html lang="en"' in html
    assert "Opening hours" in html and "Monday" in html
    assert "About one in five residents has a migration background." in html
    assert "Integration counselling" in html


def test_the_language_switch_chooses_english_and_returns_to_the_page(client: FlaskClient):
    response = client.get("/language/en?next=/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")
    html = client.get("/", headers={"Accept-Language": "de"}).text  # the choice beats the browser
    assert '<html lang="en"' in html and "Opening hours" in html
    client.get("/language/de?next=/")
    assert '<html lang="de"' in client.get("/", headers=EN).text
    back = client.get("/language/en", query_string={"next": "/book/beratung?week=2027-04-05"})
    assert back.headers["Location"].endswith("/book/beratung?week=2027-04-05")


def test_every_page_links_to_the_language_switch(client: FlaskClient):
    html = client.get("/book/beratung").text
    assert "/language/en?next=" in html and "/language/de?next=" in html


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "\\\\evil.example",
        "/\\evil.example",
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/evil\n",
        " //evil.example",
    ],
)
def test_the_language_switch_never_sends_to_another_site(client: FlaskClient, target: str):
    response = client.get(f"/language/en?next={quote(target)}")
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]
    assert response.headers["Location"] in ("/", "http://termine.test/")


# --- the week view -----------------------------------------------------------------------------


def test_week_view_shows_the_earliest_free_week_first(client: FlaskClient):
    html = client.get("/book/beratung", headers=EN).text
    # this week (22 March) has no free time left after Good Friday; the next one does
    assert f'value="{FIRST}"' in html
    assert 'value="2027-03-29' not in html  # Easter Monday
    assert "Monday, March 29, 2027" in html  # shown, with no free time
    assert "Friday, April 2, 2027" in html
    assert "?week=2027-03-22" in html  # previous week
    assert "?week=2027-04-05" in html  # next week


def test_week_view_skips_a_week_whose_times_are_all_taken(app: Flask, client: FlaskClient):
    with app.app_context():
        office = app.extensions["office"]
        service = office.service("beratung")
        week = place_service.availability(office, service, date(2027, 3, 29), date(2027, 4, 4), FIXED_NOW)
        places = [slot for slot, free in week for _place in range(free)]
        assert len(places) == 2 * (13 + 7 + 13 + 7)
        for n, slot in enumerate(places):
            request = bookings.BookingRequest("beratung", slot.start, f"Person {n}", f"p{n}@example.org")
            bookings.book(office, request, FIXED_NOW)
    html = client.get("/book/beratung", headers=EN).text
    assert 'value="2027-04-05T08:30:00+02:00"' in html
    assert "?week=2027-03-29" in html  # the full week stays reachable
    assert 'value="2027-03-' not in html and 'value="2027-04-0' in html
    full = client.get("/book/beratung?week=2027-03-29", headers=EN).text
    assert 'type="radio"' not in full
    assert "There are no free times this week." in full


def test_week_view_starts_in_the_current_week_when_it_has_free_times(client: FlaskClient, clock):  # type: ignore[no-untyped-def]
    clock.now = datetime(2027, 4, 5, 6, 0, tzinfo=UTC)  # Monday 08:00
    html = client.get("/book/beratung", headers=EN).text
    assert 'value="2027-04-05T10:00:00+02:00"' in html
    assert 'value="2027-04-05T09:30:00+02:00"' not in html  # too soon
    assert "Previous week" not in html
    assert "?week=2027-04-12" in html


def test_week_view_next_and_previous_weeks(client: FlaskClient):
    html = client.get("/book/beratung?week=2027-04-05", headers=EN).text
    assert 'value="2027-04-05T08:30:00+02:00"' in html
    assert 'value="2027-04-09T11:30:00+02:00"' in html
    assert FIRST not in html
    assert "?week=2027-03-29" in html and "?week=2027-04-12" in html


def test_week_view_ends_at_the_horizon(client: FlaskClient):
    html = client.get("/book/beratung?week=2027-05-17", headers=EN).text
    assert 'value="2027-05-21T11:30:00+02:00"' in html
    assert "Next week" not in html  # the horizon ends on Friday 21 May


def test_week_view_offers_a_radio_per_free_time_with_a_full_hidden_label(client: FlaskClient):
    html = client.get("/book/beratung?week=2027-03-29", headers=EN).text
    radios = re.findall(r'<input type="radio" name="start" value="([^"]+)"', html)
    assert len(radios) == 13 + 7 + 13 + 7
    assert radios[0] == FIRST
    assert re.search(r'class="visually-hidden">Tuesday, March 30, 2027, 08:30<', html)


def test_full_times_are_not_offered(client: FlaskClient):
    book(client, email="a@example.org")
    book(client, email="b@example.org")
    html = client.get("/book/beratung?week=2027-03-29").text
    assert f'value="{FIRST}"' not in html
    assert 'value="2027-03-30T09:00:00+02:00"' in html


def test_unknown_service_is_404(client: FlaskClient):
    assert client.get("/book/nope").status_code == 404
    assert client.get(f"/book/nope/details?start={quote(FIRST)}").status_code == 404


# --- the details form --------------------------------------------------------------------------


def test_details_form_books_and_the_confirmation_shows_date_time_place_and_link(
    app: Flask, client: FlaskClient
):
    form = client.get(DETAILS, headers=EN)
    assert form.status_code == 200
    assert "Tuesday, March 30, 2027" in form.text and "08:30" in form.text
    token = book(client, phone="02452 123456", note="Mit Dolmetscher")
    client.get("/language/en")  # booked in German; the reader now chooses English
    page = client.get(f"/b/{token}?new=1")
    assert page.status_code == 200
    html = page.text
    assert "Your appointment is booked" in html
    assert "Tuesday, March 30, 2027" in html
    assert "08:30–09:00" in html
    assert "Oberbrucher Str. 1" in html
    assert f"http://termine.test/b/{token}" in html
    with app.app_context():
        booking = db.session.scalar(select(Booking))
        assert (booking.name, booking.email, booking.phone, booking.note) == (
            "Anna Schmidt",
            "anna@example.org",
            "02452 123456",
            "Mit Dolmetscher",
        )
        assert booking.start_at == datetime(2027, 3, 30, 6, 30, tzinfo=UTC)


def test_the_week_form_leads_to_the_details_form_which_posts_back_to_itself(app: Flask, client: FlaskClient):
    """Follow the pages as a browser would: the radio's value, then the form's own action."""
    week = client.get("/book/beratung").text
    action = re.search(r'<form method="get" action="([^"]+)"', week)
    assert action and action.group(1) == "/book/beratung/details"
    form = client.get(action.group(1), query_string={"start": FIRST})
    assert form.status_code == 200
    post_to = re.search(r'<form method="post" action="([^"]+)"', form.text)
    assert post_to
    response = client.post(post_to.group(1).replace("&amp;", "&"), data=details())
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Booking.start_at)) == datetime(2027, 3, 30, 6, 30, tzinfo=UTC)


def test_the_confirmation_is_german_for_a_german_reader(client: FlaskClient):
    token = book(client)
    html = client.get(f"/b/{token}?new=1").text
    assert "Ihr Termin ist gebucht" in html
    assert "Dienstag, 30. März 2027" in html


def test_consent_is_required(app: Flask, client: FlaskClient):
    before = snapshot(app)
    response = client.post(DETAILS, data=details(consent=None), headers=EN)
    assert response.status_code == 422
    assert "Please confirm that you have read the privacy notice." in response.text
    assert re.search(
        r'<input[^>]*aria-invalid="true"[^>]*name="consent"|name="consent"[^>]*aria-invalid', response.text
    )
    assert snapshot(app) == before


def test_errors_are_shown_next_to_each_field_with_a_summary(app: Flask, client: FlaskClient):
    before = snapshot(app)
    response = client.post(DETAILS, data=details(name="", email="not-an-email", consent=None), headers=EN)
    assert response.status_code == 422
    html = response.text
    assert 'class="error-summary"' in html
    assert 'href="#name"' in html and 'href="#email"' in html and 'href="#consent"' in html
    for field in ("name", "email", "consent"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', html)
        assert tag, field
        assert 'aria-invalid="true"' in tag.group(0), field
        assert f'aria-describedby="{field}-error"' in tag.group(0) or f"{field}-error" in tag.group(0)
        assert f'id="{field}-error"' in html
    assert "Please enter your name." in html
    assert "Please enter a valid email address" in html
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "x" * 101}, "at most 100 characters"),
        ({"email": ""}, "Please enter your email address."),
        ({"phone": "call me"}, "phone number"),
    ],
)
def test_bad_details_are_refused_and_change_nothing(
    app: Flask, client: FlaskClient, overrides: dict[str, str], message: str
):
    before = snapshot(app)
    response = client.post(DETAILS, data=details(**overrides), headers=EN)
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert snapshot(app) == before


def test_entries_are_kept_in_the_form_after_an_error(client: FlaskClient):
    response = client.post(DETAILS, data=details(email="nope", name="Şükrü Öztürk"), headers=EN)
    assert 'value="Şükrü Öztürk"' in response.text


@pytest.mark.parametrize(
    "start",
    [
        "2027-03-30T08:45:00+02:00",
        "2027-03-29T09:00:00+02:00",
        "2027-03-25T09:00:00+01:00",
        "nonsense",
        "9999-12-31T23:59:00-12:00",
    ],
)
def test_a_time_that_is_no_open_slot_shows_the_form_again_with_the_nearest_free_times(
    app: Flask, client: FlaskClient, start: str
):
    before = snapshot(app)
    response = client.post(f"/book/beratung/details?start={quote(start)}", data=details(), headers=EN)
    assert snapshot(app) == before
    if start in ("nonsense", "9999-12-31T23:59:00-12:00"):  # no time at all: back to the week
        assert response.status_code == 302 and "/book/beratung" in response.headers["Location"]
        assert 'class="notice notice-error"' in client.get(response.headers["Location"]).text
        return
    assert response.status_code == 409
    assert 'class="notice notice-error"' in response.text
    assert 'value="Anna Schmidt"' in response.text and 'value="anna@example.org"' in response.text
    assert 'name="start" type="radio"' in response.text or 'type="radio" name="start"' in response.text


def test_a_full_time_shows_the_form_again_with_what_was_typed_and_other_times(
    app: Flask, client: FlaskClient
):
    book(client, email="a@example.org")
    book(client, email="b@example.org")
    before = snapshot(app)
    response = client.post(DETAILS, data=details(email="c@example.org", note="Aufenthalt"), headers=EN)
    assert response.status_code == 409
    assert snapshot(app) == before
    assert "just taken" in response.text
    assert 'value="c@example.org"' in response.text and "Aufenthalt" in response.text
    assert 'value="2027-03-30T09:00:00+02:00"' in response.text  # the next time that day


def test_the_per_email_limit_is_shown_next_to_the_email(app: Flask, client: FlaskClient):
    for minute in ("08:30", "09:00", "09:30"):
        book(client, start=f"2027-03-30T{minute}:00+02:00")
    before = snapshot(app)
    response = client.post(
        f"/book/beratung/details?start={quote('2027-03-30T10:00:00+02:00')}", data=details(), headers=EN
    )
    assert response.status_code == 422
    assert "already has 3 upcoming appointments" in response.text
    assert snapshot(app) == before


# --- CSRF --------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app_with) -> Flask:  # type: ignore[no-untyped-def]
    return app_with(WTF_CSRF_ENABLED=True)


def csrf_token(html: str) -> str:
    match = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token in the form"
    return match.group(1) or match.group(2)


def test_forms_carry_a_csrf_token_and_a_post_without_it_is_refused(csrf_app: Flask):
    client = csrf_app.test_client()
    before = snapshot(csrf_app)
    refused = client.post(DETAILS, data=details())
    assert refused.status_code == 400 and 'value="Anna Schmidt"' in refused.text  # the form again
    assert snapshot(csrf_app) == before
    token = csrf_token(client.get(DETAILS).text)
    response = client.post(DETAILS, data={**details(), "csrf_token": token})
    assert response.status_code == 302
    assert snapshot(csrf_app)["bookings"] == before["bookings"] + 1


def test_the_json_api_needs_no_csrf_token(csrf_app: Flask):
    response = csrf_app.test_client().post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": FIRST, "name": "Anna", "email": "anna@example.org"},
    )
    assert response.status_code == 201


def test_cancel_needs_the_csrf_token(csrf_app: Flask):
    client = csrf_app.test_client()
    token = csrf_token(client.get(DETAILS).text)
    location = client.post(DETAILS, data={**details(), "csrf_token": token}).headers["Location"]
    manage = location.split("?")[0]
    refused = client.post(f"{manage}/cancel")
    assert refused.status_code == 302 and refused.location.endswith(f"{manage}/cancel")  # asks again
    with csrf_app.app_context():
        assert db.session.scalar(select(Booking.status)) == "confirmed"
    form_token = csrf_token(client.get(f"{manage}/cancel").text)
    assert client.post(f"{manage}/cancel", data={"csrf_token": form_token}).status_code == 302
    with csrf_app.app_context():
        assert db.session.scalar(select(Booking.status)) == "cancelled"


# --- the manage page ---------------------------------------------------------------------------


def test_manage_page_cancels_and_the_place_is_free_at_once(app: Flask, client: FlaskClient):
    first = book(client, email="a@example.org", headers=EN)
    book(client, email="b@example.org")
    assert f'value="{FIRST}"' not in client.get("/book/beratung?week=2027-03-29").text
    page = client.get(f"/b/{first}", headers=EN)
    assert "Cancel appointment" in page.text
    response = client.post(f"/b/{first}/cancel", headers=EN)
    assert response.status_code == 302
    after = client.get(f"/b/{first}", headers=EN).text
    assert "This appointment is cancelled" in after
    assert "Cancel appointment" not in after
    with app.app_context():
        assert db.session.scalar(select(func.count(SlotClaim.id))) == 1
    assert f'value="{FIRST}"' in client.get("/book/beratung?week=2027-03-29").text
    assert client.post(f"/b/{first}/cancel").status_code == 302  # twice is harmless


@pytest.mark.parametrize("token", ["unknown", "A" * 43])
def test_an_unknown_token_is_a_plain_404(app: Flask, client: FlaskClient, token: str):
    book(client)
    before = snapshot(app)
    assert client.get(f"/b/{token}").status_code == 404
    assert client.post(f"/b/{token}/cancel").status_code == 404
    assert snapshot(app) == before


# --- names in any script, escaped everywhere ---------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Şükrü Öztürk", "محمد العلي", "Олена Ковальчук", "İlkay Gündoğan-Çelik"],
)
def test_names_in_any_script_are_kept_exactly(app: Flask, client: FlaskClient, name: str):
    token = book(client, name=name)
    with app.app_context():
        assert db.session.scalar(select(Booking.name)) == name
    assert name in client.get(f"/b/{token}").text


def test_names_are_escaped_in_pages(app: Flask, client: FlaskClient):
    name = '<script>alert("x")</script> O\'Brien & Co'
    token = book(client, name=name)
    with app.app_context():
        assert db.session.scalar(select(Booking.name)) == name
    html = client.get(f"/b/{token}").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; O&#39;Brien &amp; Co" in html


def test_a_rejected_name_is_escaped_when_shown_again(client: FlaskClient):
    response = client.post(DETAILS, data=details(name="<b>bold</b>", email="nope"))
    assert "<b>bold</b>" not in response.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in response.text


# --- every page: language, viewport, labels ----------------------------------------------------


@pytest.mark.parametrize("language", ["de", "en"])
def test_pages_declare_language_viewport_and_label_every_input(client: FlaskClient, language: str):
    headers = {"Accept-Language": language}
    token = book(client, headers=headers)  # manage pages speak the booking's language
    for url in ("/", "/privacy", "/book/beratung", DETAILS, f"/b/{token}", f"/b/{token}?new=1"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        page = parse(response.text)
        assert page.lang == language, url
        assert page.viewport, url
        assert 'href="#main"' in response.text and 'id="main"' in response.text, url  # skip link
        for field in page.inputs:
            if field.get("type") in ("hidden", "submit"):
                continue
            labelled = field["_wrapped"] or field.get("id") in page.label_for or field.get("aria-label")
            assert labelled, f"{url}: unlabelled {field}"


def test_the_details_form_is_labelled_and_uses_autocomplete(client: FlaskClient):
    page = parse(client.get(DETAILS).text)
    by_name = {f.get("name"): f for f in page.inputs}
    assert {"name", "email", "phone", "note", "consent", "start"} <= set(by_name)
    assert by_name["name"]["autocomplete"] == "name"
    assert by_name["email"]["autocomplete"] == "email"
    assert by_name["email"]["type"] == "email"
    assert by_name["phone"]["type"] == "tel"
    for field in ("name", "email", "phone", "note", "consent"):
        assert by_name[field]["id"] in page.label_for


def test_a_form_without_its_token_shows_the_form_again_with_what_was_typed(csrf_app: Flask):
    client = csrf_app.test_client()
    response = client.post(DETAILS, data=details(phone="0151 234567", note="Bitte vormittags"), headers=EN)
    assert response.status_code == 400
    assert "send the form again" in response.text
    entries = ('value="Anna Schmidt"', 'value="anna@example.org"', 'value="0151 234567"', "Bitte vormittags")
    for typed in entries:
        assert typed in response.text
    with csrf_app.app_context():
        assert db.session.scalar(select(func.count(Booking.id))) == 0
    again = client.post(DETAILS, data={**details(), "csrf_token": csrf_token(response.text)})
    assert again.status_code == 302  # the fresh token of the page sent again books
