"""The staff day as the desk reads it: a "now" line at the office's clock on today's page only,
the resident's language as a word, attendance that brings the reader back to the same row, the
history in dates and times rather than ISO strings, and the move page's times with their free
places apart.

The clock stands on Good Friday, 26 March 2027; Tuesday 30 March is a working day (summer time)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from booking import bookings
from booking.extensions import db
from booking.models import Booking
from tests.integration.staff_support import book_at, create_staff, english, sign_in

DAY = "2027-03-30"
TUESDAY_10_10 = datetime(2027, 3, 30, 8, 10, tzinfo=UTC)  # 10:10 in Heinsberg


def signed_in(app, client):  # type: ignore[no-untyped-def]
    create_staff(app)
    english(client)
    assert sign_in(client).status_code == 302
    return client


def order_of_rows(html: str) -> list[str]:
    """The slot starts and the now line, in the order the page draws them."""
    return re.findall(r'<tbody class="(?:slot[^"]*" data-start="[^"]*T(\d\d:\d\d)|now-line)', html)


def test_the_now_line_stands_between_the_past_and_the_coming_times_of_today(app, client, clock):
    clock.now = TUESDAY_10_10
    page = signed_in(app, client).get(f"/staff/?date={DAY}").text
    drawn = [start or "now" for start in order_of_rows(page)]
    assert drawn[drawn.index("now") - 1 : drawn.index("now") + 2] == ["10:00", "now", "10:30"]
    assert drawn.count("now") == 1
    assert re.search(r'class="now-label">Now <bdi dir="ltr">10:10</bdi>', page)


@pytest.mark.parametrize(
    ("language", "word"),
    [("de", "Jetzt"), ("tr", "Şimdi"), ("fa", "اکنون"), ("ar", "الآن"), ("pl", "Teraz"), ("ru", "Сейчас")],
)
def test_the_now_line_says_now_in_the_readers_language(app, client, clock, language, word):
    clock.now = TUESDAY_10_10
    signed_in(app, client).environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    page = client.get(f"/staff/?date={DAY}").text
    assert re.search(rf'class="now-label">{word} <bdi dir="ltr">10:10</bdi>', page)


def test_no_now_line_on_another_day(app, client, clock):
    clock.now = TUESDAY_10_10
    signed_in(app, client)
    assert "now-line" not in client.get("/staff/?date=2027-03-31").text
    clock.now = datetime(2027, 3, 30, 20, 0, tzinfo=UTC)  # Tuesday 22:00: after the last time
    drawn = [start or "now" for start in order_of_rows(client.get(f"/staff/?date={DAY}").text)]
    assert drawn[-1] == "now"


def test_the_residents_language_is_a_word(app, client):
    booking_id = book_at(app, f"{DAY}T09:00", name="Fatma Demir", email="f@example.org")
    with app.app_context():
        db.session.get(Booking, booking_id).language = "tr"
        db.session.commit()
    page = signed_in(app, client).get(f"/staff/?date={DAY}").text
    assert "Language: Turkish" in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    assert "Sprache: Türkisch" in client.get(f"/staff/?date={DAY}").text


def test_marking_attendance_returns_to_the_row(app, client, clock):
    booking_id = book_at(app, f"{DAY}T08:30", email="a@example.org")
    clock.now = TUESDAY_10_10
    page = signed_in(app, client).get(f"/staff/?date={DAY}").text
    back = re.search(
        rf'action="/staff/bookings/{booking_id}/attendance".*?name="next" value="([^"]+)"', page, re.S
    )
    assert back and back.group(1) == f"/staff/?date={DAY}#booking-{booking_id}"
    assert f'id="booking-{booking_id}"' in page
    response = client.post(
        f"/staff/bookings/{booking_id}/attendance", data={"attended": "attended", "next": back.group(1)}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/staff/?date={DAY}#booking-{booking_id}")


def test_the_history_names_moments_in_words(app, client):
    booking_id = book_at(app, f"{DAY}T08:30", email="a@example.org")
    with app.app_context():
        office = app.extensions["office"]
        bookings.move(
            office, db.session.get(Booking, booking_id), "2027-03-31T09:00:00+02:00", app.config["CLOCK"]()
        )
    page = signed_in(app, client).get(f"/staff/bookings/{booking_id}").text
    history = page.split('class="history"')[1].split("</table>")[0]
    assert "Tuesday, March 30, 2027, 08:30 → Wednesday, March 31, 2027, 09:00" in history
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", history)


def test_the_move_page_sets_each_time_apart_from_its_free_places(app, client):
    booking_id = book_at(app, f"{DAY}T08:30", email="a@example.org")
    page = signed_in(app, client).get(f"/staff/bookings/{booking_id}/move?date=2027-03-31").text
    label = re.search(r'<span class="time-label">(.*?)</label>', page, re.S)
    assert label
    words = " ".join(re.sub(r"<[^>]+>", "", label.group(1)).split())
    assert words == "08:30 – 2 free"


def test_the_move_page_says_why_a_day_is_closed(app, client):
    booking_id = book_at(app, f"{DAY}T08:30", email="a@example.org")
    desk = signed_in(app, client)
    easter_monday = desk.get(f"/staff/bookings/{booking_id}/move?date=2027-03-29").text
    assert '<p class="notice">Closed: Easter Monday</p>' in easter_monday
    saturday = desk.get(f"/staff/bookings/{booking_id}/move?date=2027-04-03").text
    assert '<p class="notice">Closed</p>' in saturday
