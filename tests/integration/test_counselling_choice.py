"""What residents get from counsellors: they choose the language of the counselling (and ask for an
interpreter) on the home and week pages, see only the times with a counsellor free who speaks it,
and the choice goes through the details form into the booking, its page, its emails and its move.

Two counsellors give the service: Dora speaks German and works the opening hours; Amal speaks
German, Arabic and Turkish and works Tuesday 08:30-10:00 and Wednesday 09:00-11:00 only.
FIXED_NOW is Good Friday 2027-03-26 and Easter Monday is closed: the week of 29 March has free
times from Tuesday 30 March on.
"""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, Outbox
from booking.notify import messages
from tests.conftest import FIXED_NOW, snapshot
from tests.integration.staff_support import book_at, create_counsellor, english, get_booking

WEEK = "2027-03-29"
AMAL_FREE = [  # Amal's hours in the week of 29 March: the times of Arabic counselling
    "2027-03-30T08:30:00+02:00",
    "2027-03-30T09:00:00+02:00",
    "2027-03-30T09:30:00+02:00",
    "2027-03-31T09:00:00+02:00",
    "2027-03-31T09:30:00+02:00",
    "2027-03-31T10:00:00+02:00",
    "2027-03-31T10:30:00+02:00",
]
ALL_TIMES = 13 + 7 + 13 + 7  # Tuesday to Friday in the opening hours


@pytest.fixture
def counsellors(app: Flask) -> dict[str, int]:
    dora = create_counsellor(app, "dora@kreis-heinsberg.example", "Dora Deutsch", ("de",))
    amal = create_counsellor(
        app,
        "amal@kreis-heinsberg.example",
        "Amal Aydin",
        ("de", "ar", "tr"),
        hours={1: ["08:30-10:00"], 2: ["09:00-11:00"]},
    )
    return {"dora": dora, "amal": amal}


# --- reading pages as a browser does -------------------------------------------------------------


class Forms(HTMLParser):
    """The forms of a page with their fields, enough to send one as a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append({**a, "inputs": [], "selects": {}})
        elif not self.forms:
            return
        elif tag == "input":
            self.forms[-1]["inputs"].append(a)
        elif tag == "select":
            self.select = a["name"]
            self.forms[-1]["selects"][self.select] = []
        elif tag == "option" and self.select:
            self.forms[-1]["selects"][self.select].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None


def form_of(html: str, action: str) -> dict[str, Any]:
    page = Forms()
    page.feed(html)
    found = [f for f in page.forms if f.get("action", "").replace("&amp;", "&").split("?")[0] == action]
    assert len(found) == 1, f"no single form to {action}"
    return found[0]


def values_of(form: dict[str, Any], **changes: str) -> dict[str, str]:
    """What the browser sends: hidden and text fields, checked radios, the selected options."""
    values: dict[str, str] = {}
    for field in form["inputs"]:
        if field.get("type") in ("radio", "checkbox"):
            if "checked" in field:
                values[field["name"]] = field.get("value", "on")
        elif field.get("name"):
            values[field["name"]] = field.get("value", "")
    for name, options in form["selects"].items():
        chosen = [o for o in options if "selected" in o] or options[:1]
        values[name] = chosen[0].get("value", "")
    values.update(changes)
    return values


def send(client: FlaskClient, html: str, action: str, **changes: str) -> Any:
    """Fill in the form of `html` that goes to `action` and send it."""
    form = form_of(html, action)
    target = form["action"].replace("&amp;", "&")
    if form.get("method", "get").lower() == "get":
        return client.get(target, query_string=values_of(form, **changes))
    return client.post(target, data=values_of(form, **changes))


def times(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="start" value="([^"]+)"', html)


def checked_counselling(html: str) -> list[str]:
    return re.findall(r'name="counselling" value="([^"]+)" checked', html)


def book_through_the_pages(
    client: FlaskClient, start: str, counselling: str, email: str = "ayse@example.org", **choice: str
) -> Any:
    """Home page -> week -> details -> booked, as a resident clicks through it."""
    week = send(client, client.get("/").text, "/book/beratung", counselling=counselling, **choice)
    assert week.status_code == 200
    assert start in times(week.text), start
    form = send(client, week.text, "/book/beratung/details", start=start)
    assert form.status_code == 200
    details = {"name": "Ayşe Yılmaz", "email": email, "consent": "y"}
    return send(client, form.text, "/book/beratung/details", **details)


def token_of(response: Any) -> str:
    assert response.status_code == 302, response.text
    match = re.search(r"/b/([A-Za-z0-9_-]+)\?new=1", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def booking_of(app: Flask, token: str) -> Booking:
    with app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.token == token))
        assert booking is not None
        db.session.expunge(booking)
        return booking


def confirmation(app: Flask, booking_id: int) -> tuple[str, str]:
    """The plain text and HTML of the confirmation the worker would send for this booking."""
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        row = db.session.scalar(select(Outbox).where(Outbox.dedupe_key == f"confirm:{booking_id}"))
        assert booking is not None and row is not None
        email = messages.build_message(
            "confirm", booking, app.extensions["office"], dedupe_key=row.dedupe_key, now=FIXED_NOW
        )
    message = BytesParser(policy=policy.default).parsebytes(email.raw)
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


# --- choosing ------------------------------------------------------------------------------------


def test_the_home_page_asks_for_the_language_of_the_counselling_and_an_interpreter(
    app: Flask, client: FlaskClient, counsellors: dict[str, int]
):
    html = english(client).get("/").text
    form = form_of(html, "/book/beratung")
    assert form["method"] == "get"
    assert "In which language would you like the counselling?" in html
    offered = [f["value"] for f in form["inputs"] if f.get("name") == "counselling"]
    assert offered == ["de", "ar", "tr"]  # the languages its counsellors speak, German first
    assert checked_counselling(html) == ["de"]  # an English page: the service is not offered in English
    assert re.search(r"Arabic <bdi lang=\"ar\">\(العربية\)</bdi>", html)  # also named in itself
    assert "I need an interpreter for …" in html
    interpreters = form["selects"]["interpreter"]
    assert interpreters[0] == {"value": ""} and "No interpreter needed" in html
    assert {"ti", "fa_AF", "uk", "ar"} <= {o["value"] for o in interpreters}
    assert re.search(r'<button type="submit"[^>]*>Show times</button>', html)


def test_the_choice_from_the_home_page_is_on_the_week_page(app: Flask, client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    week = send(english(client), client.get("/").text, "/book/beratung", counselling="ar", interpreter="ti")
    assert week.status_code == 200
    assert checked_counselling(week.text) == ["ar"]
    assert '<option value="ti" selected>Tigrinya' in week.text
    assert "Times with a counsellor who speaks Arabic:" in week.text
    assert "counselling=ar&amp;interpreter=ti" in week.text  # the other weeks keep it
    assert form_of(week.text, "/book/beratung")["method"] == "get"  # "Show times" changes it


def test_the_week_in_arabic_shows_exactly_the_times_the_arabic_speaking_counsellor_is_free(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    assert times(client.get(f"/book/beratung?counselling=ar&week={WEEK}").text) == AMAL_FREE
    assert len(times(client.get(f"/book/beratung?counselling=de&week={WEEK}").text)) == ALL_TIMES
    # Two German bookings at 08:30 take both counsellors; one at 09:00 goes to Dora, who speaks
    # only German, so Amal stays free for Arabic; an Arabic booking at 10:00 on Wednesday takes Amal.
    book_at(app, "2027-03-30T08:30", email="a@example.org", counselling_language="de")
    book_at(app, "2027-03-30T08:30", email="b@example.org", counselling_language="de")
    book_at(app, "2027-03-30T09:00", email="c@example.org", counselling_language="de")
    book_at(app, "2027-03-31T10:00", email="d@example.org", counselling_language="ar")
    arabic = times(client.get(f"/book/beratung?counselling=ar&week={WEEK}").text)
    assert arabic == [t for t in AMAL_FREE if t[:16] not in ("2027-03-30T08:30", "2027-03-31T10:00")]
    turkish = times(client.get(f"/book/beratung?counselling=tr&week={WEEK}").text)
    assert turkish == arabic  # the same one counsellor
    german = times(client.get(f"/book/beratung?counselling=de&week={WEEK}").text)
    assert "2027-03-30T08:30:00+02:00" not in german and "2027-03-30T09:00:00+02:00" in german


def test_the_week_page_opens_on_the_first_week_with_a_counsellor_free_in_that_language(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    for n, start in enumerate(AMAL_FREE):
        book_at(app, start, email=f"p{n}@example.org", counselling_language="ar")
    html = client.get("/book/beratung?counselling=ar").text
    assert times(html)[0] == "2027-04-06T08:30:00+02:00"  # the next Tuesday
    assert times(client.get("/book/beratung?counselling=de").text)[0] == AMAL_FREE[0]  # Dora is free


@pytest.mark.parametrize(
    ("page_language", "default"),
    [("de", "de"), ("ar", "ar"), ("tr", "tr"), ("en", "de"), ("uk", "de")],
)
def test_the_default_is_the_pages_language_when_the_service_is_offered_in_it_else_german(
    client: FlaskClient, counsellors, page_language: str, default: str
):  # type: ignore[no-untyped-def]
    headers = {"Accept-Language": page_language}
    assert checked_counselling(client.get("/", headers=headers).text) == [default]
    assert checked_counselling(client.get("/book/beratung", headers=headers).text) == [default]


@pytest.mark.parametrize(
    "query",
    [
        "counselling=xx&interpreter=yy",
        "counselling=uk",  # a language, but nobody gives the service in it
        "counselling=%3Cscript%3E&interpreter=%22%3E%3Cscript%3E",
        "counselling=&interpreter=",
        "counselling=ar&counselling=de&interpreter=" + "x" * 500,
    ],
)
def test_a_tampered_choice_in_the_address_falls_back_to_the_default(
    client: FlaskClient, counsellors, query: str
):  # type: ignore[no-untyped-def]
    week = english(client).get(f"/book/beratung?{query}&week={WEEK}")
    assert week.status_code == 200
    if not query.startswith("counselling=ar"):
        assert checked_counselling(week.text) == ["de"]
        assert len(times(week.text)) == ALL_TIMES
    assert "<script>" not in week.text and " selected>" not in week.text
    details = client.get(f"/book/beratung/details?start={quote(AMAL_FREE[0])}&{query}")
    assert details.status_code == 200
    assert "<script>" not in details.text


# --- booking -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_language", "arabic", "label", "interp"),
    [
        ("en", "Arabic", "Language of the counselling", "Interpreter"),
        ("de", "Arabisch", "Sprache der Beratung", "Dolmetsch"),
    ],
)
def test_booking_in_arabic_gives_the_arabic_speaking_counsellor_and_the_email_names_the_language(
    app: Flask, client: FlaskClient, counsellors, page_language: str, arabic: str, label: str, interp: str
):  # type: ignore[no-untyped-def]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = page_language
    # 09:00 on Tuesday: both are on duty; a German booking would go to Dora.
    token = token_of(book_through_the_pages(client, "2027-03-30T09:00:00+02:00", "ar"))
    booking = booking_of(app, token)
    assert (booking.counselling_language, booking.interpreter) == ("ar", None)
    assert booking.counsellor_id == counsellors["amal"]
    assert booking.language == page_language
    plain, html = confirmation(app, booking.id)
    assert f"{label}: {arabic}" in plain
    assert re.search(rf"{label}</th><td[^>]*>{arabic}</td>", html)
    assert interp not in plain  # none asked for


def test_a_german_booking_goes_to_the_counsellor_who_speaks_only_german(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    token = token_of(book_through_the_pages(client, "2027-03-30T09:00:00+02:00", "de"))
    booking = booking_of(app, token)
    assert (booking.counselling_language, booking.counsellor_id) == ("de", counsellors["dora"])


def test_the_details_page_shows_the_choice_and_posts_it_back(app: Flask, client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    week = english(client).get(f"/book/beratung?counselling=ar&interpreter=ti&week={WEEK}")
    form = send(client, week.text, "/book/beratung/details", start=AMAL_FREE[1])
    assert form.status_code == 200
    assert "<dt>Language of the counselling</dt><dd>Arabic</dd>" in form.text
    assert "<dt>Interpreter</dt><dd>Tigrinya</dd>" in form.text
    action = urlsplit(form_of(form.text, "/book/beratung/details")["action"].replace("&amp;", "&"))
    assert parse_qs(action.query) == {"start": [AMAL_FREE[1]], "counselling": ["ar"], "interpreter": ["ti"]}
    # "Choose another time" is a button of this form: its week inside the form keeps the choice
    again = send(client, form.text, "/book/beratung/details", pick_week=WEEK)
    assert again.status_code == 200 and "<dd>Arabic</dd>" in again.text and "<dd>Tigrinya</dd>" in again.text
    assert re.findall(r'type="radio" name="start" value="([^"]+)"', again.text) == AMAL_FREE


def test_the_choice_survives_a_failed_form(app: Flask, client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    english(client)
    form = client.get(f"/book/beratung/details?start={quote(AMAL_FREE[1])}&counselling=ar&interpreter=ti")
    before = snapshot(app)
    failed = send(client, form.text, "/book/beratung/details", email="ayse@example.org", consent="y")
    assert failed.status_code == 422
    assert "Please enter your name." in failed.text
    assert snapshot(app) == before
    assert "<dd>Arabic</dd>" in failed.text and "<dd>Tigrinya</dd>" in failed.text
    assert 'value="ayse@example.org"' in failed.text
    token = token_of(send(client, failed.text, "/book/beratung/details", name="Ayşe Yılmaz"))
    booking = booking_of(app, token)
    assert (booking.counselling_language, booking.interpreter) == ("ar", "ti")
    assert booking.counsellor_id == counsellors["amal"]


def test_a_time_without_a_free_counsellor_speaking_it_offers_the_nearest_arabic_ones_and_changes_nothing(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    form = english(client).get(f"/book/beratung/details?start={quote(AMAL_FREE[1])}&counselling=ar")
    book_at(app, AMAL_FREE[1], email="first@example.org", counselling_language="ar")  # Amal, a moment ago
    before = snapshot(app)
    response = send(
        client, form.text, "/book/beratung/details", name="Ayşe", email="a@example.org", consent="y"
    )
    assert response.status_code == 409
    assert snapshot(app) == before
    assert "just taken" in response.text and 'value="Ayşe"' in response.text
    offered = re.findall(r'type="radio" name="start" id="start-\d" value="([^"]+)"', response.text)
    assert offered and set(offered) <= set(AMAL_FREE) - {
        AMAL_FREE[1]
    }  # Dora is free then, but speaks no Arabic
    assert "counselling=ar" in re.search(r'<form method="post" action="([^"]+)"', response.text).group(1)  # type: ignore[union-attr]


def test_a_language_nobody_speaks_any_more_is_not_booked_in_another_one(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    """The choice posted is the resident's: a language no counsellor gives the service in (a
    counsellor left meanwhile) is refused, never booked in German instead."""
    before = snapshot(app)
    response = client.post(
        f"/book/beratung/details?start={quote(AMAL_FREE[1])}&counselling=uk",
        data={"name": "Olena", "email": "olena@example.org", "consent": "y"},
    )
    assert response.status_code == 409 and 'value="Olena"' in response.text
    assert 'type="radio" name="start"' not in response.text  # no time in Ukrainian to offer
    assert snapshot(app) == before


def test_an_unknown_code_posted_falls_back_to_the_default(app: Flask, client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    response = client.post(
        f"/book/beratung/details?start={quote(AMAL_FREE[1])}&counselling=xx&interpreter=zz",
        data={"name": "Anna", "email": "anna@example.org", "consent": "y"},
    )
    booking = booking_of(app, token_of(response))
    assert (booking.counselling_language, booking.interpreter) == ("de", None)


def test_an_interpreter_is_stored_and_shown_and_does_not_change_the_places(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    english(client)
    plain_week = times(client.get(f"/book/beratung?counselling=de&week={WEEK}").text)
    assert times(client.get(f"/book/beratung?counselling=de&interpreter=ar&week={WEEK}").text) == plain_week
    token = token_of(book_through_the_pages(client, "2027-03-30T09:00:00+02:00", "de", interpreter="ar"))
    booking = booking_of(app, token)
    # German counselling with an Arabic interpreter: the counsellor who speaks only German takes it
    assert (booking.counselling_language, booking.interpreter) == ("de", "ar")
    assert booking.counsellor_id == counsellors["dora"]
    page = client.get(f"/b/{token}").text
    assert "<dt>Interpreter</dt><dd>Arabic</dd>" in page
    assert "<dt>Language of the counselling</dt><dd>German</dd>" in page
    plain, _html = confirmation(app, booking.id)
    assert "Interpreter: Arabic" in plain and "Language of the counselling: German" in plain


# --- the booking's page and moving it ------------------------------------------------------------


def test_the_manage_page_names_the_language_and_the_interpreter(app: Flask, client: FlaskClient, counsellors):  # type: ignore[no-untyped-def]
    booking_id = book_at(app, AMAL_FREE[0], counselling_language="ar", interpreter="ti")
    token = get_booking(app, booking_id).token
    german = english(client).get(f"/b/{token}").text  # the booking's language wins the browser's
    assert "<dd>Arabisch</dd>" in german and "<dd>Tigrinya</dd>" in german
    client.get("/language/en")  # the reader's own choice wins
    page = client.get(f"/b/{token}").text
    assert "<dt>Language of the counselling</dt><dd>Arabic</dd>" in page
    assert "<dt>Interpreter</dt><dd>Tigrinya</dd>" in page


def test_moving_offers_only_times_with_a_counsellor_speaking_it_and_keeps_the_language(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    booking_id = book_at(app, AMAL_FREE[0], counselling_language="ar", interpreter="ti")
    token = get_booking(app, booking_id).token
    client.get("/language/en")
    page = client.get(f"/b/{token}/move?week={WEEK}")
    assert page.status_code == 200
    assert "The counselling is in Arabic." in page.text
    # Amal's times, without the one the appointment already has (its own time is no move)
    assert times(page.text) == AMAL_FREE[1:]
    moved = send(client, page.text, f"/b/{token}/move", start="2027-03-31T10:30:00+02:00")
    assert moved.status_code == 302 and moved.headers["Location"].endswith(f"/b/{token}")
    booking = get_booking(app, booking_id)
    assert booking.start_at.isoformat() == "2027-03-31T08:30:00+00:00"
    assert (booking.counselling_language, booking.interpreter) == ("ar", "ti")
    assert booking.counsellor_id == counsellors["amal"]


def test_moving_to_a_time_when_only_german_is_spoken_changes_nothing(
    app: Flask, client: FlaskClient, counsellors
):  # type: ignore[no-untyped-def]
    booking_id = book_at(app, AMAL_FREE[0], counselling_language="ar")
    token = get_booking(app, booking_id).token
    before = snapshot(app)
    response = client.post(f"/b/{token}/move", data={"start": "2027-04-01T09:00:00+02:00"})  # Amal is off
    assert response.status_code == 302 and response.headers["Location"].endswith("/move")
    assert snapshot(app) == before
    assert get_booking(app, booking_id).start_at.isoformat() == "2027-03-30T06:30:00+00:00"


# --- a service no counsellor gives ---------------------------------------------------------------


def test_without_counsellors_the_pages_say_german_and_keep_every_place(app: Flask, client: FlaskClient):
    english(client)
    home = client.get("/").text
    assert "The counselling is in German." in home
    assert 'type="radio" name="counselling"' not in home  # nothing to choose
    assert "I need an interpreter for …" in home
    week = send(client, home, "/book/beratung", interpreter="tr")
    assert len(times(week.text)) == ALL_TIMES
    assert times(client.get(f"/book/beratung?counselling=ar&week={WEEK}").text) == times(week.text)
    token = token_of(book_through_the_pages(client, AMAL_FREE[0], "de", interpreter="tr"))
    booking = booking_of(app, token)
    assert (booking.counselling_language, booking.interpreter, booking.counsellor_id) == ("de", "tr", None)
    token_of(book_through_the_pages(client, AMAL_FREE[0], "de", email="b@example.org"))  # the second place
    assert AMAL_FREE[0] not in times(client.get(f"/book/beratung?week={WEEK}").text)  # capacity 2
