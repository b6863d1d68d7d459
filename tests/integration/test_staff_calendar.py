"""A staff member runs the day through the pages: views, bookings for callers, cancel, move,
closures, attendance, export and the calendar feed. Each action goes through the test client.

The clock stands on Good Friday, 26 March 2027 (a holiday: the office is closed); Easter Monday
is closed too, so the days worked here are Tuesday 30 and Wednesday 31 March, in summer time.
Tests about "today" move the clock to Tuesday 10:00 in Heinsberg."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from booking.extensions import db
from booking.models import AuditEvent, Booking, Outbox
from tests.conftest import FIXED_NOW
from tests.integration.staff_support import NAME, book_at, create_staff, english, get_booking, sign_in

DAY = "2027-03-30"  # Tuesday, 08:30-12:00 and 14:00-17:00
NEXT = "2027-03-31"  # Wednesday, 08:30-12:00
DAY_SLOTS = ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
DAY_SLOTS += ["14:00", "14:30", "15:00", "15:30", "16:00", "16:30"]
TUESDAY_10 = datetime(2027, 3, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
def staff_id(app, client) -> int:
    """A signed-in staff member; the client reads the pages in English."""
    created = create_staff(app)
    english(client)
    assert sign_in(client).status_code == 302
    return created


def outbox_keys(app) -> set[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return set(db.session.scalars(db.select(Outbox.dedupe_key)))


def audit_of(app, booking_id: int) -> list[tuple[str, int | None, str | None]]:  # type: ignore[no-untyped-def]
    with app.app_context():
        events = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.booking_id == booking_id).order_by(AuditEvent.id)
        )
        return [(e.action, e.staff_id, e.details) for e in events]


def slot_groups(html: str) -> dict[str, str]:
    """The HTML of each slot group of the day view, by its start."""
    parts = re.split(r"(?=<tbody )", html)
    found = {}
    for part in parts:
        match = re.match(r'<tbody class="slot[^"]*" data-start="([^"]+)"', part)
        if match:
            found[match.group(1)] = part.split("</tbody>")[0]
    return found


def book_url(start: str) -> str:
    return "/staff/book?" + f"service=beratung&start={start.replace('+', '%2B')}"


# --- day and week views ------------------------------------------------------------------


def test_day_view_lists_every_slot_in_time_order_with_its_bookings(app, client, staff_id):
    book_at(app, f"{DAY}T09:00", name="Bernd Berger", email=None, note="Wohnsitzauflage")
    book_at(app, f"{DAY}T08:30", name="Ayşe Yılmaz", phone="0171 2345678")
    response = client.get(f"/staff/?date={DAY}")
    assert response.status_code == 200
    starts = re.findall(r'<tbody class="slot[^"]*" data-start="([^"]+)"', response.text)
    assert starts == [f"{DAY}T{hhmm}:00+02:00" for hhmm in DAY_SLOTS]
    groups = slot_groups(response.text)
    first, second = groups[f"{DAY}T08:30:00+02:00"], groups[f"{DAY}T09:00:00+02:00"]
    assert "Ayşe Yılmaz" in first and "0171 2345678" in first and "ayse@example.org" in first
    assert "1 place free" in first
    assert "Bernd Berger" in second and "Wohnsitzauflage" in second
    assert "2 places free" in groups[f"{DAY}T10:00:00+02:00"]
    assert 'href="/staff/?date=2027-03-29"' in response.text
    assert 'href="/staff/?date=2027-03-31"' in response.text


def test_day_view_shows_today_in_office_time_by_default(app, client, clock, staff_id):
    clock.now = datetime(2027, 3, 29, 22, 30, tzinfo=UTC)  # already Tuesday in Heinsberg
    response = client.get("/staff/")
    starts = re.findall(r'data-start="([^"]+)"', response.text)
    assert starts[0] == f"{DAY}T08:30:00+02:00"


@pytest.mark.parametrize("closed_day", ["2027-03-26", "2027-03-28", "2027-03-29"])
def test_day_view_says_when_the_office_is_closed(app, client, staff_id, closed_day):
    response = client.get(f"/staff/?date={closed_day}")  # Good Friday, Sunday, Easter Monday
    assert "The office is closed on this day." in response.text
    assert "data-start" not in response.text


def test_day_view_escapes_what_residents_typed(app, client, staff_id):
    book_at(app, f"{DAY}T09:00", name="<script>alert(1)</script>")
    response = client.get(f"/staff/?date={DAY}")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_day_view_offers_booking_only_for_free_future_slots(app, client, clock, staff_id):
    start = f"{DAY}T11:00:00+02:00"
    book_at(app, start, email="a@example.org")
    book_at(app, start, email="b@example.org")
    clock.now = TUESDAY_10
    groups = slot_groups(client.get("/staff/").text)
    assert "Book for a caller" not in groups[f"{DAY}T08:30:00+02:00"]  # already over
    assert "Book for a caller" in groups[f"{DAY}T10:30:00+02:00"]
    assert "Book for a caller" not in groups[start]  # full


# --- booking for a caller ----------------------------------------------------------------


def test_staff_books_for_a_caller_without_email_and_no_email_is_queued(app, client, staff_id):
    start = f"{DAY}T10:00:00+02:00"
    assert client.get(book_url(start)).status_code == 200
    response = client.post(book_url(start), data={"name": "Olena Kovalenko", "phone": "02452 98765"})
    assert response.status_code == 302
    booking_id = int(response.headers["Location"].rsplit("/", 1)[1])
    booking = get_booking(app, booking_id)
    assert booking.name == "Olena Kovalenko" and booking.email is None
    assert booking.created_by_staff_id == staff_id
    assert outbox_keys(app) == set()
    assert audit_of(app, booking_id)[0][:2] == ("booked", staff_id)


def test_staff_booking_with_email_queues_the_confirmation(app, client, staff_id):
    start = f"{DAY}T10:00:00+02:00"
    response = client.post(
        book_url(start), data={"name": "Olena Kovalenko", "email": "olena@example.org", "language": "en"}
    )
    booking_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert outbox_keys(app) == {f"confirm:{booking_id}"}
    assert get_booking(app, booking_id).language == "en"


def test_staff_booking_needs_a_name(app, client, staff_id):
    response = client.post(book_url(f"{DAY}T10:00:00+02:00"), data={"name": " ", "phone": "02452 1"})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Booking.id))) == 0


def test_staff_may_book_within_the_minimum_notice_residents_may_not(app, client, clock, staff_id):
    clock.now = TUESDAY_10
    soon = f"{DAY}T10:30:00+02:00"  # half an hour from now; online needs two hours
    online = client.post(
        "/api/v1/bookings", json={"service": "beratung", "start": soon, "name": "A", "email": "a@example.org"}
    )
    assert online.status_code == 422
    response = client.post(book_url(soon), data={"name": "Walk-in caller"})
    assert response.status_code == 302


def test_staff_cannot_book_a_slot_that_has_begun(app, client, clock, staff_id):
    clock.now = TUESDAY_10
    response = client.get(book_url(f"{DAY}T08:30:00+02:00"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/staff/?date={DAY}")


def test_staff_cannot_book_beyond_the_capacity(app, client, staff_id):
    start = f"{DAY}T10:00:00+02:00"
    book_at(app, start, email="a@example.org")
    book_at(app, start, email="b@example.org")
    response = client.post(book_url(start), data={"name": "Third caller"})
    assert response.status_code == 409
    assert "Every place at this time is taken" in response.text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Booking.id))) == 2


# --- cancel and move ---------------------------------------------------------------------


def test_cancel_with_reason_frees_the_place_queues_the_email_and_is_recorded(app, client, staff_id):
    booking_id = book_at(app, f"{DAY}T09:00")
    response = client.post(f"/staff/bookings/{booking_id}/cancel", data={"reason": "Beraterin erkrankt"})
    assert response.status_code == 302
    booking = get_booking(app, booking_id)
    assert booking.status == "cancelled" and booking.cancel_reason == "Beraterin erkrankt"
    assert f"cancel:{booking_id}:1" in outbox_keys(app)
    assert audit_of(app, booking_id)[-1] == ("cancelled", staff_id, "Beraterin erkrankt")
    groups = slot_groups(client.get(f"/staff/?date={DAY}").text)
    assert "2 places free" in groups[f"{DAY}T09:00:00+02:00"]


def test_cancel_needs_a_reason(app, client, staff_id):
    booking_id = book_at(app, f"{DAY}T09:00")
    response = client.post(f"/staff/bookings/{booking_id}/cancel", data={"reason": ""})
    assert response.status_code == 422
    assert "Please enter a reason." in response.text
    assert get_booking(app, booking_id).status == "confirmed"
    assert outbox_keys(app) == {f"confirm:{booking_id}"}


def test_cancel_of_a_booking_without_email_sends_nothing(app, client, staff_id):
    booking_id = book_at(app, f"{DAY}T09:00", email=None)
    client.post(f"/staff/bookings/{booking_id}/cancel", data={"reason": "Anruf"})
    assert get_booking(app, booking_id).status == "cancelled"
    assert outbox_keys(app) == set()


def test_move_keeps_the_event_and_raises_its_sequence(app, client, staff_id):
    from booking.notify.ics import booking_calendar

    booking_id = book_at(app, f"{DAY}T09:00")
    before = get_booking(app, booking_id)
    page = client.get(f"/staff/bookings/{booking_id}/move?date=2027-03-31")
    assert page.status_code == 200
    new_start = "2027-03-31T10:00:00+02:00"
    assert f'value="{new_start}"' in page.text
    response = client.post(
        f"/staff/bookings/{booking_id}/move?date=2027-03-31",
        data={"start": new_start, "reason": "Beraterin nur nachmittags da"},
    )
    assert response.status_code == 302
    after = get_booking(app, booking_id)
    assert after.start_at == datetime(2027, 3, 31, 8, 0, tzinfo=UTC)
    assert after.sequence == before.sequence + 1 and after.reference == before.reference
    assert f"move:{booking_id}:1" in outbox_keys(app)
    with app.app_context():
        office = app.extensions["office"]
        old = Calendar.from_ical(booking_calendar(before, office, manage_url="x", method="PUBLISH"))
        new = Calendar.from_ical(booking_calendar(after, office, manage_url="x", method="PUBLISH"))
    old_event, new_event = old.walk("VEVENT")[0], new.walk("VEVENT")[0]
    assert new_event["UID"] == old_event["UID"]
    assert new_event["SEQUENCE"] == old_event["SEQUENCE"] + 1
    action, who, details = audit_of(app, booking_id)[-1]
    assert (action, who) == ("moved", staff_id)
    assert "2027-03-31T10:00" in details and "Beraterin nur nachmittags da" in details


def test_move_offers_only_free_times_and_refuses_a_full_one(app, client, staff_id):
    booking_id = book_at(app, f"{DAY}T09:00")
    full = "2027-03-31T10:00:00+02:00"
    book_at(app, full, email="a@example.org")
    book_at(app, full, email="b@example.org")
    page = client.get(f"/staff/bookings/{booking_id}/move?date=2027-03-31")
    assert f'value="{full}"' not in page.text
    assert 'value="2027-03-31T10:30:00+02:00"' in page.text
    response = client.post(
        f"/staff/bookings/{booking_id}/move?date=2027-03-31", data={"start": full, "reason": "x"}
    )
    assert response.status_code == 422
    assert get_booking(app, booking_id).start_at == datetime(2027, 3, 30, 7, 0, tzinfo=UTC)


def test_audit_trail_is_shown_on_the_booking(app, client, staff_id):
    response = client.post(book_url(f"{DAY}T10:00:00+02:00"), data={"name": "Caller", "phone": "0245 1"})
    booking_id = int(response.headers["Location"].rsplit("/", 1)[1])
    client.post(
        f"/staff/bookings/{booking_id}/move?date={DAY}",
        data={"start": f"{DAY}T11:00:00+02:00", "reason": "Wunsch"},
    )
    client.post(f"/staff/bookings/{booking_id}/cancel", data={"reason": "Abgesagt am Telefon"})
    page = client.get(f"/staff/bookings/{booking_id}")
    assert page.status_code == 200
    assert re.findall(r'data-action="(\w+)"', page.text) == ["booked", "moved", "cancelled"]
    assert page.text.count(NAME) >= 3
    assert "Abgesagt am Telefon" in page.text


def test_booking_page_shows_emails_that_could_not_be_delivered(app, client, staff_id):
    booking_id = book_at(app, f"{DAY}T09:00")
    with app.app_context():
        row = db.session.scalar(db.select(Outbox))
        row.failed_at = FIXED_NOW
        row.attempts = 5
        row.last_error = "550 mailbox unavailable"
        db.session.commit()
    page = client.get(f"/staff/bookings/{booking_id}")
    assert "These emails could not be delivered" in page.text
    assert "550 mailbox unavailable" in page.text


# --- attendance --------------------------------------------------------------------------


def test_attendance_is_marked_and_counted_on_the_day_view(app, client, clock, staff_id):
    came = book_at(app, f"{DAY}T08:30", email="a@example.org")
    missed = book_at(app, f"{DAY}T09:00", email="b@example.org")
    clock.now = TUESDAY_10
    back = f"/staff/?date={DAY}"
    response = client.post(f"/staff/bookings/{came}/attendance", data={"attended": "attended", "next": back})
    assert response.status_code == 302 and response.headers["Location"].endswith(back)
    client.post(f"/staff/bookings/{missed}/attendance", data={"attended": "no_show", "next": back})
    assert get_booking(app, came).attended is True
    assert get_booking(app, missed).attended is False
    page = client.get(back).text
    assert re.search(r'id="count-attended">1<', page) and re.search(r'id="count-no-show">1<', page)
    assert audit_of(app, missed)[-1][:2] == ("no_show", staff_id)
    client.post(f"/staff/bookings/{missed}/attendance", data={"attended": "clear", "next": back})
    assert get_booking(app, missed).attended is None


def test_attendance_cannot_be_marked_before_the_day(app, client, staff_id):
    booking_id = book_at(app, f"{NEXT}T09:00")
    client.post(f"/staff/bookings/{booking_id}/attendance", data={"attended": "no_show"})
    assert get_booking(app, booking_id).attended is None


# --- export and feed ---------------------------------------------------------------------


def test_csv_export_of_a_date_range_reads_back_in_a_spreadsheet(app, client, staff_id):
    book_at(app, f"{DAY}T09:00", name='=HYPERLINK("http://evil.example")', email="a@example.org")
    book_at(app, f"{NEXT}T10:00", name="Jürgen Öztürk", email="b@example.org", note="Übersetzung; bitte")
    gone = book_at(app, f"{NEXT}T10:30", name="Cancelled One", email="c@example.org")
    client.post(f"/staff/bookings/{gone}/cancel", data={"reason": "Urlaub"})
    book_at(app, "2027-04-01T08:30", name="Outside Range", email="d@example.org")
    response = client.get(f"/staff/export.csv?from={DAY}&to={NEXT}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    header, body = rows[0], rows[1:]
    assert header[:6] == ["Date", "Start", "End", "Service", "Booking reference", "Name"]
    assert [(row[0], row[1], row[5]) for row in body] == [
        (DAY, "09:00", '\'=HYPERLINK("http://evil.example")'),
        (NEXT, "10:00", "Jürgen Öztürk"),
        (NEXT, "10:30", "Cancelled One"),
    ]
    assert body[1][8] == "Übersetzung; bitte"
    assert body[2][9] == "Cancelled" and body[2][11] == "Urlaub"


def test_csv_export_refuses_a_backwards_range(app, client, staff_id):
    assert client.get(f"/staff/export.csv?from={DAY}&to=2027-03-01").status_code == 400


def feed_path(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/staff/feed").text
    url = re.search(r'value="(https?://[^"]+\.ics)"', page).group(1)
    return url.split("termine.test", 1)[1]


def test_calendar_feed_works_without_a_session_and_rotating_ends_the_old_url(app, client, staff_id):
    book_at(app, f"{DAY}T09:00", name="Ayşe Yılmaz", email="a@example.org")
    gone = book_at(app, f"{DAY}T10:00", name="Cancelled One", email="b@example.org")
    client.post(f"/staff/bookings/{gone}/cancel", data={"reason": "x"})
    assert client.post("/staff/feed/rotate").status_code == 302
    old = feed_path(client)

    outlook = app.test_client()  # no session, only the URL
    response = outlook.get(old)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(response.data).walk("VEVENT")
    assert [str(event["SUMMARY"]) for event in events] == ["Integrationsberatung: Ayşe Yılmaz"]
    start = events[0].decoded("DTSTART")
    assert start == datetime(2027, 3, 30, 7, 0, tzinfo=UTC)
    assert start.utcoffset() == timedelta(hours=2)

    client.post("/staff/feed/rotate")
    new = feed_path(client)
    assert new != old
    assert outlook.get(old).status_code == 404
    assert outlook.get(new).status_code == 200


def test_day_and_week_views_need_the_same_few_queries_however_full_the_day_is(app, client, staff_id):
    from sqlalchemy import event

    def statements(path: str) -> int:
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    empty = statements(f"/staff/?date={DAY}"), statements(f"/staff/week?date={DAY}")
    for index, hhmm in enumerate(DAY_SLOTS):
        book_at(app, f"{DAY}T{hhmm}", email=f"r{index}@example.org")
    full = statements(f"/staff/?date={DAY}"), statements(f"/staff/week?date={DAY}")
    assert full == empty
    # the account, the bookings, the closures, the counsellors, their time taken (and names),
    # and the navigation's count of undelivered emails
    assert 2 <= min(full) and max(full) <= 7


def test_undelivered_emails_are_listed_for_staff(app, client):
    create_staff(app)
    sign_in(english(client))
    booking_id = book_at(app, "2027-03-30T08:30", email="lost@example.org")
    with app.app_context():
        row = db.session.scalar(select(Outbox).where(Outbox.booking_id == booking_id))
        row.attempts, row.last_error = 3, "SMTPServerDisconnected: gone"
        db.session.commit()
    page = client.get("/staff/emails")
    assert page.status_code == 200
    assert "lost@example.org" in page.text and "SMTPServerDisconnected: gone" in page.text
    with app.app_context():
        row = db.session.scalar(select(Outbox).where(Outbox.booking_id == booking_id))
        row.sent_at = row.created_at
        db.session.commit()
    assert "lost@example.org" not in client.get("/staff/emails").text


def test_the_day_view_offers_no_booking_beyond_the_horizon(app, client):
    create_staff(app)
    sign_in(client)
    inside = client.get("/staff/?date=2027-05-21").text  # 56 days after Friday 26 March
    beyond = client.get("/staff/?date=2027-05-24").text
    assert "/staff/book?" in inside
    assert "/staff/book?" not in beyond
