"""Finding a time on the week page: the next free appointment, mornings or afternoons, and closed
days that say why, in the reader's language."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from booking import closures
from tests.conftest import SUITE_OFFICE_TEXT, Clock
from tests.integration.staff_support import book_at, create_staff
from tests.integration.test_public_pages import FIRST, book

DE, EN = {"Accept-Language": "de"}, {"Accept-Language": "en"}
EASTER_WEEK = "/book/beratung?week=2027-03-29"  # Monday 29 March 2027 is Easter Monday


def offered(html: str) -> list[str]:
    """The times the week page offers to choose, in order."""
    return re.findall(r'name="start" value="([^"]+)"', html)


def next_free_link(html: str) -> str:
    match = re.search(r'class="next-free">.*?href="([^"]+)"', html, re.S)
    assert match, "no next free appointment on the page"
    return unescape(match.group(1))


def day_hint(html: str, day: str) -> str:
    """The text of the day's note (closed, or no free times), tags dropped."""
    match = re.search(rf'id="day-{day}">.*?<p class="hint[^"]*">(.*?)</p>', html, re.S)
    assert match, f"{day} has no note"
    return unescape(re.sub(r"<[^>]+>", "", match.group(1)).strip())


def test_the_next_free_appointment_leads_straight_to_the_form(client: FlaskClient):
    page = client.get("/book/beratung", headers=DE).text
    link = next_free_link(page)
    assert urlsplit(link).path == "/book/beratung/details"
    assert parse_qs(urlsplit(link).query)["start"] == [FIRST]
    assert "Nächster freier Termin:" in page
    form = client.get(link, headers=DE)
    assert form.status_code == 200 and "Dienstag, 30. März 2027" in form.text


def test_the_next_free_appointment_moves_on_when_its_places_are_taken(app: Flask, client: FlaskClient):
    book(client, email="one@example.org")
    book(client, email="two@example.org")  # both places of 08:30
    link = next_free_link(client.get("/book/beratung").text)
    assert parse_qs(urlsplit(link).query)["start"] == ["2027-03-30T09:00:00+02:00"]


def test_afternoons_show_only_times_from_noon_and_the_weeks_keep_the_filter(client: FlaskClient):
    page = client.get(EASTER_WEEK + "&part=afternoon", headers=EN).text
    times = offered(page)
    assert times and all(time[11:13] >= "12" for time in times)
    assert "2027-03-30T14:00:00+02:00" in times  # Tuesday afternoon opens at 14:00
    assert parse_qs(urlsplit(next_free_link(page)).query)["start"] == ["2027-03-30T14:00:00+02:00"]
    next_week = re.search(r'href="([^"]+)">Next week', page)
    assert next_week and "part=afternoon" in unescape(next_week.group(1))
    assert (
        day_hint(page, "2027-04-02") == "No free times in the afternoon on this day."
    )  # Friday: mornings only


def test_mornings_show_only_times_before_noon(client: FlaskClient):
    times = offered(client.get(EASTER_WEEK + "&part=morning").text)
    assert times and all(time[11:13] < "12" for time in times)
    assert len(times) == len(set(times))
    everything = offered(client.get(EASTER_WEEK).text)
    afternoon = offered(client.get(EASTER_WEEK + "&part=afternoon").text)
    assert sorted(times + afternoon) == sorted(everything)


def test_an_unknown_part_of_the_day_shows_the_whole_day(client: FlaskClient):
    assert offered(client.get(EASTER_WEEK + "&part=evening").text) == offered(client.get(EASTER_WEEK).text)


def test_a_public_holiday_says_its_name_in_the_readers_language(client: FlaskClient):
    assert day_hint(client.get(EASTER_WEEK, headers=DE).text, "2027-03-29") == "Geschlossen: Ostermontag"
    assert day_hint(client.get(EASTER_WEEK, headers=EN).text, "2027-03-29") == "Closed: Easter Monday"
    ukrainian = client.get(EASTER_WEEK, headers={"Accept-Language": "uk"}).text
    assert day_hint(ukrainian, "2027-03-29") == "Зачинено: Великодній понеділок"


def test_christmas_day_is_named_in_arabic_and_turkish_though_the_holidays_package_has_no_such_names(
    client: FlaskClient, clock: Clock
):
    clock.now = datetime.fromisoformat("2026-12-01T09:00:00+01:00")
    christmas_week = "/book/beratung?week=2026-12-21"
    arabic = client.get(christmas_week, headers={"Accept-Language": "ar"}).text
    assert day_hint(arabic, "2026-12-25") == "مغلق: أول أيام عيد الميلاد"
    assert day_hint(arabic, "2026-12-24") == "مغلق: ليلة عيد الميلاد"  # the office file's closure
    assert '<span lang="de">' not in arabic
    turkish = client.get(christmas_week, headers={"Accept-Language": "tr"}).text
    assert day_hint(turkish, "2026-12-25") == "Kapalı: Noel'in Birinci Günü"
    assert (
        day_hint(client.get(christmas_week, headers=DE).text, "2026-12-25")
        == "Geschlossen: Erster Weihnachtstag"
    )


def client_of_office(app_with, tmp_path: Path, line: str, instead: str):  # type: ignore[no-untyped-def]
    """A client of an app on the suite's office file with one line of it changed."""
    office = tmp_path / "office.toml"
    office.write_text(SUITE_OFFICE_TEXT.replace(line, instead), encoding="utf-8")
    assert instead in office.read_text(encoding="utf-8")
    return app_with(OFFICE_CONFIG=str(office)).test_client()


def test_a_holiday_we_have_no_name_for_is_named_in_german_marked_german(
    app_with, tmp_path: Path, clock: Clock
):  # type: ignore[no-untyped-def]
    clock.now = datetime.fromisoformat("2027-10-18T09:00:00+02:00")
    client = client_of_office(
        app_with,
        tmp_path,
        'holidays = { country = "DE", subdivision = "NW" }',
        'holidays = { country = "AT" }',
    )
    week = "/book/beratung?week=2027-10-25"  # Tuesday 26 October: Austria's National Day
    arabic = client.get(week, headers={"Accept-Language": "ar"}).text
    assert '<span lang="de">Nationalfeiertag</span>' in arabic
    assert day_hint(arabic, "2027-10-26") == "مغلق: Nationalfeiertag"
    german = client.get(week, headers=DE).text  # the package's own names where it has the language
    assert (
        day_hint(german, "2027-10-26") == "Geschlossen: Nationalfeiertag" and '<span lang="de">' not in german
    )


def test_a_closure_day_of_the_office_file_says_closed_and_christmas_eve_by_name(
    app_with, tmp_path: Path, clock: Clock
):  # type: ignore[no-untyped-def]
    clock.now = datetime.fromisoformat("2027-12-13T09:00:00+01:00")
    client = client_of_office(
        app_with,
        tmp_path,
        'closures = ["2026-12-24", "2026-12-31"]',
        'closures = ["2027-12-21", "2027-12-24"]',
    )
    page = client.get("/book/beratung?week=2027-12-20", headers=DE).text
    assert day_hint(page, "2027-12-21") == "Geschlossen"
    assert day_hint(page, "2027-12-24") == "Geschlossen: Heiligabend"
    assert not [time for time in offered(page) if time.startswith(("2027-12-21", "2027-12-24"))]


def test_a_day_staff_closed_says_closed_without_their_reason(app: Flask, client: FlaskClient):
    create_staff(app)
    with app.app_context():
        from booking import accounts

        staff = accounts.get_by_email("sachbearbeitung@kreis-heinsberg.example")
        closures.close(
            app.extensions["office"],
            datetime.fromisoformat("2027-03-31T00:00:00+02:00"),
            datetime.fromisoformat("2027-04-01T00:00:00+02:00"),
            "Personalversammlung",
            staff,
            app.config["CLOCK"](),
        )
    page = client.get(EASTER_WEEK, headers=DE).text
    assert day_hint(page, "2027-03-31") == "Geschlossen"
    assert "Personalversammlung" not in page
    assert any(time.startswith("2027-03-30") for time in offered(page))  # the day before stays open


def test_a_full_day_is_not_called_closed(app: Flask, client: FlaskClient):
    for start in ("08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"):
        for n in (1, 2):
            book_at(app, f"2027-04-02T{start}:00+02:00", email=f"{start[:2]}{start[3:]}-{n}@example.org")
    page = client.get(EASTER_WEEK, headers=DE).text
    assert day_hint(page, "2027-04-02") == "An diesem Tag sind keine Zeiten frei."


def test_moving_offers_the_next_free_time_other_than_its_own(app: Flask, client: FlaskClient):
    token = book(client)
    page = client.get(f"/b/{token}/move", headers=EN).text
    link = next_free_link(page)
    assert urlsplit(link).path == f"/b/{token}/move"  # a jump to its week: a move is a POST
    assert "08:30" not in re.search(r'class="next-free">(.*?)</p>', page, re.S).group(1)  # type: ignore[union-attr]
    assert "09:00" in re.search(r'class="next-free">(.*?)</p>', page, re.S).group(1)  # type: ignore[union-attr]


def test_the_month_links_the_days_with_free_times_to_their_week(app: Flask, client: FlaskClient):
    for n in (1, 2):  # Friday 2 April full: both places of each of its times
        for start in ("08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"):
            book_at(app, f"2027-04-02T{start}:00+02:00", email=f"{start[:2]}{start[3:]}-{n}@example.org")
    page = client.get("/book/beratung/month?month=2027-04", headers=DE)
    assert page.status_code == 200 and "April 2027" in page.text
    linked = re.findall(r'<td class="free"><a href="([^"]+)">', page.text)
    days = [unescape(link).split("#day-")[1] for link in linked]
    assert "2027-04-01" in days and "2027-04-06" in days
    assert "2027-04-02" not in days  # full
    assert "2027-04-03" not in days and "2027-04-04" not in days  # the weekend
    week = client.get(unescape(linked[0]).split("#")[0], headers=DE).text
    assert 'id="day-2027-04-01"' in week and offered(week)


def closed_in_month(html: str) -> dict[str, str]:
    """The month's list of closed days: the numeric date → why, tags dropped."""
    items = re.findall(r"<li>.*?\((\d\d\.\d\d\.\d{4})\).*?: (.*?)</li>", html, re.S)
    return {day: unescape(re.sub(r"<[^>]+>", "", reason)).strip() for day, reason in items}


def test_the_month_view_says_why_a_day_is_closed(client: FlaskClient, clock: Clock):
    clock.now = datetime.fromisoformat("2026-12-01T09:00:00+01:00")
    page = client.get("/book/beratung/month?month=2026-12", headers=DE).text
    assert closed_in_month(page) == {
        "24.12.2026": "Geschlossen: Heiligabend",
        "25.12.2026": "Geschlossen: Erster Weihnachtstag",
        "31.12.2026": "Geschlossen: Silvester",
    }  # weekends are no opening days, so not "closed"
    assert "Donnerstag, 24. Dezember 2026: Geschlossen: Heiligabend</span>" in page  # in the day's cell
    arabic = client.get("/book/beratung/month?month=2026-12", headers={"Accept-Language": "ar"}).text
    assert closed_in_month(arabic)["25.12.2026"] == "مغلق: أول أيام عيد الميلاد"


def test_the_month_stays_inside_the_booking_window(client: FlaskClient):
    early = client.get("/book/beratung/month?month=2020-01", headers=EN).text
    assert "March 2027" in early and "Previous month" not in early
    late = client.get("/book/beratung/month?month=2030-01", headers=EN).text
    assert "May 2027" in late and "Next month" not in late  # 56 days after 26 March: 21 May
    assert client.get("/book/beratung/month?month=nonsense").status_code == 200
    assert client.get("/book/nothing/month").status_code == 404
