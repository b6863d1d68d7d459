"""The waitlist: a place that comes back goes to the person who joined first, held for them
`waitlist_hold_minutes`, offered once (whatever the race), then to the next; leaving is one link."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from booking import bookings, places, waitlist
from booking.extensions import db
from booking.models import Booking, Outbox, WaitlistEntry
from tests.conftest import FIXED_NOW, SUITE_OFFICE_TEXT, Clock, make_app, snapshot

TUESDAY = date(2027, 3, 30)
HOLD = timedelta(minutes=30)
PEOPLE = itertools.count()


@pytest.fixture
def app(app_with: Callable[..., Flask]) -> Flask:
    return app_with()


def fill(app: Flask, day: date = TUESDAY) -> dict[str, list[Booking]]:
    """Every place of the day booked; the bookings by start time ("09:00")."""
    found: dict[str, list[Booking]] = {}
    with app.test_request_context():
        office = app.extensions["office"]
        service = office.service("beratung")
        for slot, free in places.availability(office, service, day, day, FIXED_NOW):
            for _place in range(free):
                request = bookings.BookingRequest(
                    "beratung", slot.start, "Taken", f"t{next(PEOPLE)}@example.org"
                )
                booking = bookings.book(office, request, FIXED_NOW)
                db.session.expunge(booking)
                found.setdefault(slot.start.strftime("%H:%M"), []).append(booking)
    return found


def join(
    client, email: str, first: str = "2027-03-30", last: str = "2027-03-30", *, confirm: bool = True, **extra
):  # type: ignore[no-untyped-def]
    """Join by API and (unless `confirm` is False) confirm with the link of the email."""
    body = {"service": "beratung", "from": first, "to": last, "name": "Wartende", "email": email, **extra}
    answer = client.post("/api/v1/waitlist", json=body)
    if confirm and answer.status_code == 201:
        with client.application.app_context():
            token = db.session.scalar(
                select(WaitlistEntry.confirm_token).where(WaitlistEntry.token == answer.json["token"])
            )
        assert client.post(f"/waitlist/confirm/{token}").status_code == 302
    return answer


def scan(app: Flask, now) -> int:  # type: ignore[no-untyped-def]
    with app.test_request_context():
        return waitlist.scan(app.extensions["office"], now, app.config["LANGUAGES"])


def offers(app: Flask) -> list[tuple[str, str, str]]:
    """(address, start "HH:MM", status) of every offer made, in order."""
    with app.app_context():
        rows = db.session.execute(
            select(Booking.email, Booking.start_at, Booking.status)
            .where(Booking.waitlist_entry_id.is_not(None))
            .order_by(Booking.id)
        ).all()
    return [(email, start.astimezone(TZ).strftime("%H:%M"), status) for email, start, status in rows]


def offer_emails(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Outbox.id)).where(Outbox.kind == "offer"))


def cancel(app: Flask, booking: Booking) -> None:
    with app.test_request_context():
        bookings.cancel(db.session.get(Booking, booking.id), FIXED_NOW)


from zoneinfo import ZoneInfo  # noqa: E402

TZ = ZoneInfo("Europe/Berlin")


def test_joining_sends_one_request_to_confirm_and_only_its_link_confirms(app):
    fill(app)
    client = app.test_client()
    token = join(client, "new@example.org", confirm=False).json["token"]
    join(client, "new@example.org", confirm=False)  # sent twice: one entry, one email
    with app.app_context():
        kinds = list(db.session.scalars(select(Outbox.kind)))
        entry = db.session.scalar(select(WaitlistEntry))
    assert kinds.count("waitlist") == 1
    assert client.post(f"/waitlist/confirm/{token}").status_code == 404  # the answer's key confirms nothing
    page = client.get(f"/waitlist/confirm/{entry.confirm_token}", headers={"Accept-Language": "en"})
    assert "Confirm my place" in page.text
    with app.app_context():
        assert db.session.get(WaitlistEntry, entry.id).confirmed_at is None  # a GET confirms nothing
    assert client.post(f"/waitlist/confirm/{entry.confirm_token}").status_code == 302
    with app.app_context():
        assert db.session.get(WaitlistEntry, entry.id).confirmed_at is not None


def test_an_unconfirmed_entry_gets_no_offer(app):
    taken = fill(app)
    client = app.test_client()
    join(client, "unconfirmed@example.org", confirm=False)
    join(client, "confirmed@example.org")
    cancel(app, taken["09:00"][0])
    assert scan(app, FIXED_NOW) == 1
    assert offers(app) == [("confirmed@example.org", "09:00", "pending")]


def test_the_request_to_confirm_names_the_service_and_days_and_has_both_links(app):
    from booking.notify import messages

    join(app.test_client(), "mail@example.org", confirm=False)
    with app.test_request_context():
        entry = db.session.scalar(select(WaitlistEntry))
        mail = messages.build_waitlist_message(
            entry, app.extensions["office"], dedupe_key="waitlist:1", now=FIXED_NOW
        )
    import email

    parsed = email.message_from_bytes(mail.raw)
    plain = (
        next(p for p in parsed.walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    assert f"/waitlist/confirm/{entry.confirm_token}" in plain and f"/waitlist/{entry.token}" in plain
    assert "Integrationsberatung" in plain and "30. März 2027" in plain
    assert "text/calendar" not in mail.raw.decode()


def test_joining_answers_waiting_with_the_token_to_leave(app):
    answer = join(app.test_client(), "wait@example.org")
    assert answer.status_code == 201
    assert answer.json["status"] == "waiting" and len(answer.json["token"]) > 30
    again = join(app.test_client(), "WAIT@example.org")  # the same again: one place in the queue
    assert again.json["token"] == answer.json["token"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"service": "nope"}, "service"),
        ({"from": "30.03.2027"}, "from"),
        ({"to": "2027-03-29", "from": "2027-03-30"}, "to"),
        ({"to": "2027-09-30"}, "to"),
        ({"email": "not an address"}, "email"),
        ({"name": " "}, "name"),
        ({"counselling_language": "xx-nonsense"}, "counselling_language"),
        ({"counselling_language": "ar"}, "counselling_language"),  # no counsellor speaks it
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(app, change, field):
    before = snapshot(app)
    body = {
        "service": "beratung",
        "from": "2027-03-30",
        "to": "2027-04-02",
        "name": "W",
        "email": "w@example.org",
    }
    answer = app.test_client().post("/api/v1/waitlist", json={**body, **change})
    assert answer.status_code == 422
    assert field in answer.json["errors"]
    assert snapshot(app) == before


def test_a_freed_place_is_offered_to_the_first_who_joined_and_held_for_them(app, clock):
    taken = fill(app)
    client = app.test_client()
    join(client, "first@example.org")
    join(client, "second@example.org")
    assert scan(app, FIXED_NOW) == 0  # nothing free
    cancel(app, taken["09:00"][0])
    assert scan(app, FIXED_NOW) == 1
    assert offers(app) == [("first@example.org", "09:00", "pending")]
    assert offer_emails(app) == 1
    with app.test_request_context():
        office = app.extensions["office"]
        found = places.availability(office, office.service("beratung"), TUESDAY, TUESDAY, FIXED_NOW)
    assert dict((slot.start.strftime("%H:%M"), n) for slot, n in found)["09:00"] == 0  # held for them
    assert scan(app, FIXED_NOW + timedelta(minutes=5)) == 0  # one offer at a time, none twice
    assert offer_emails(app) == 1


def test_an_offer_not_taken_goes_to_the_next_after_the_hold(app):
    taken = fill(app)
    client = app.test_client()
    join(client, "first@example.org")
    join(client, "second@example.org")
    cancel(app, taken["09:00"][0])
    scan(app, FIXED_NOW)
    assert scan(app, FIXED_NOW + HOLD) == 1
    assert offers(app) == [
        ("first@example.org", "09:00", "pending"),
        ("second@example.org", "09:00", "pending"),
    ]
    assert scan(app, FIXED_NOW + 2 * HOLD) == 0  # the first is not offered the same time again
    assert offer_emails(app) == 2


def test_the_offers_link_books_it_and_the_entry_is_done(app):
    taken = fill(app)
    client = app.test_client()
    join(client, "first@example.org")
    cancel(app, taken["10:00"][1])
    scan(app, FIXED_NOW)
    with app.app_context():
        token = db.session.scalar(select(Booking.confirm_token).where(Booking.waitlist_entry_id.is_not(None)))
    assert client.post(f"/confirm/{token}").status_code == 302
    assert offers(app) == [("first@example.org", "10:00", "confirmed")]
    with app.app_context():
        assert db.session.scalar(select(WaitlistEntry.booked_at)) is not None
    cancel(app, taken["11:00"][0])
    assert scan(app, FIXED_NOW + timedelta(minutes=1)) == 0  # booked: no more offers


def test_leaving_gives_a_held_place_back_for_the_next(app):
    taken = fill(app)
    client = app.test_client()
    token = join(client, "first@example.org").json["token"]
    join(client, "second@example.org")
    cancel(app, taken["09:00"][0])
    scan(app, FIXED_NOW)
    assert client.delete(f"/api/v1/waitlist/{token}").json == {"status": "left"}
    assert client.delete(f"/api/v1/waitlist/{token}").status_code == 200  # twice: harmless
    assert client.delete("/api/v1/waitlist/nope").status_code == 404
    assert scan(app, FIXED_NOW) == 1
    assert offers(app) == [
        ("first@example.org", "09:00", "cancelled"),
        ("second@example.org", "09:00", "pending"),
    ]


def test_the_leave_link_of_the_page_leaves(app):
    client = app.test_client()
    token = join(client, "first@example.org").json["token"]
    page = client.get(f"/waitlist/{token}", headers={"Accept-Language": "en"})
    assert "You are on the waitlist" in page.text and "Leave the waitlist" in page.text
    client.post(f"/waitlist/{token}/leave")
    page = client.get(f"/waitlist/{token}", headers={"Accept-Language": "en"})
    assert "You are no longer on the waitlist" in page.text


def test_the_week_without_free_times_offers_the_waitlist_and_its_form_keeps_what_was_typed(app):
    for offset in range(5):  # Easter Monday is closed; Tuesday to Friday full
        fill(app, date(2027, 3, 29) + timedelta(days=offset))
    client = app.test_client()
    week = client.get("/book/beratung?week=2027-03-29", headers={"Accept-Language": "en"})
    assert "Join the waitlist" in week.text
    assert "Join the waitlist" not in client.get("/book/beratung?week=2027-04-05").text  # times free there
    form = client.get("/book/beratung/waitlist?week=2027-03-29", headers={"Accept-Language": "en"})
    assert form.status_code == 200 and 'value="2027-03-29"' in form.text
    refused = client.post(
        "/book/beratung/waitlist",
        data={
            "name": "Leyla",
            "email": "leyla@",
            "first_day": "2027-03-30",
            "last_day": "2027-04-02",
            "consent": "y",
        },
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 422 and "Leyla" in refused.text and "leyla@" in refused.text
    joined = client.post(
        "/book/beratung/waitlist",
        data={
            "name": "Leyla",
            "email": "leyla@example.org",
            "first_day": "2027-03-30",
            "last_day": "2027-04-02",
            "consent": "y",
        },
    )
    assert joined.status_code == 302 and "/waitlist/" in joined.headers["Location"]


def test_two_schedulers_at_once_make_one_offer_per_place(
    app_with, tmp_path: Path, clock: Clock, database_uri
):
    app = app_with()
    taken = fill(app)
    client = app.test_client()
    for n in range(4):
        join(client, f"w{n}@example.org")
    cancel(app, taken["09:00"][0])
    schedulers = [make_app(database_uri, clock, str(tmp_path / f"scheduler{n}")) for n in range(3)]
    barrier = threading.Barrier(len(schedulers))
    results: list[int] = []

    def run(other: Flask) -> None:
        try:
            barrier.wait(timeout=60)
            results.append(scan(other, FIXED_NOW))
        finally:  # its connections closed: on PostgreSQL a leaked one fails the run at exit
            with other.app_context():
                db.session.remove()
                db.engine.dispose()

    threads = [threading.Thread(target=run, args=(other,)) for other in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert offers(app) == [("w0@example.org", "09:00", "pending")]
    assert sum(results) == 1
    assert offer_emails(app) == 1


def test_an_offer_made_and_given_back_meanwhile_is_passed_over_and_the_next_is_offered(app, monkeypatch):
    """Between a scan's look at the times an entry was offered and its offer, another scan offers
    that time to the entry and the person leaves the list, giving it back: the unique key refuses
    the second offer (an IntegrityError on PostgreSQL as on SQLite) and the scan goes on."""
    taken = fill(app)
    client = app.test_client()
    first = join(client, "first@example.org").json["token"]
    join(client, "second@example.org")
    cancel(app, taken["09:00"][0])
    real_availability = places.availability
    raced: list[bool] = []

    def meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(True)  # another scan offers it to the first, who then leaves
            assert waitlist.scan(app.extensions["office"], FIXED_NOW, app.config["LANGUAGES"]) == 1
            assert waitlist.leave(waitlist.by_token(first), FIXED_NOW)
        return real_availability(*args, **kwargs)

    monkeypatch.setattr(places, "availability", meanwhile)
    assert scan(app, FIXED_NOW) == 1
    assert raced
    assert offers(app) == [
        ("first@example.org", "09:00", "cancelled"),
        ("second@example.org", "09:00", "pending"),
    ]


def test_retention_removes_entries_whose_days_have_passed(app):
    from booking import retention

    join(app.test_client(), "old@example.org")
    with app.app_context():
        retention.anonymise_expired(app.extensions["office"], FIXED_NOW + timedelta(days=3))
        assert db.session.scalar(select(func.count(WaitlistEntry.id))) == 1
        retention.anonymise_expired(app.extensions["office"], FIXED_NOW + timedelta(days=6))
        assert db.session.scalar(select(func.count(WaitlistEntry.id))) == 0


def test_a_place_cancelled_online_comes_back_after_the_release_delay(app_with, tmp_path: Path, monkeypatch):
    office = tmp_path / "office.toml"
    office.write_text(
        SUITE_OFFICE_TEXT.replace(
            "retention_days = 90\n", "retention_days = 90\nrelease_delay_minutes = 20\n"
        ),
        encoding="utf-8",
    )
    app = app_with(OFFICE_CONFIG=str(office))
    draw = bookings.secrets.randbelow  # references draw from it too: only the delay is pinned
    longest = 20 * 60 + 1
    monkeypatch.setattr(bookings.secrets, "randbelow", lambda n: n - 1 if n == longest else draw(n))
    taken = fill(app)
    client = app.test_client()
    assert client.delete(f"/api/v1/bookings/{taken['09:00'][0].token}").status_code == 200
    with app.test_request_context():
        office_ = app.extensions["office"]
        service = office_.service("beratung")

        def free(now) -> int:  # type: ignore[no-untyped-def]
            found = places.availability(office_, service, TUESDAY, TUESDAY, now)
            return dict((slot.start.strftime("%H:%M"), n) for slot, n in found)["09:00"]

        assert free(FIXED_NOW) == 0
        assert free(FIXED_NOW + timedelta(minutes=19)) == 0
        assert free(FIXED_NOW + timedelta(minutes=20)) == 1


def test_the_worker_sends_the_request_to_confirm_once_and_not_after_confirming(app):
    from booking.notify import outbox

    client = app.test_client()
    join(client, "send@example.org", confirm=False)
    join(client, "confirmed-first@example.org")  # confirmed before the worker came round
    with app.test_request_context():
        assert outbox.deliver(outbox.due_ids(FIXED_NOW)) == 1
        rows = list(db.session.scalars(select(Outbox).order_by(Outbox.id)))
        assert all(row.sent_at is not None for row in rows)
        assert rows[0].last_error is None  # sent
        assert (rows[1].last_error or "").startswith("skipped")  # confirmed meanwhile: not sent
        assert outbox.deliver(outbox.due_ids(FIXED_NOW)) == 0


def test_an_entry_asking_for_a_language_is_offered_only_a_counsellor_who_speaks_it(app):
    from tests.integration.staff_support import create_counsellor

    clara = create_counsellor(app, "clara@example.org", "Clara Becker")
    yusuf = create_counsellor(app, "yusuf@example.org", "Yusuf Demir", ("de", "ar", "tr"))
    taken = fill(app)
    client = app.test_client()
    join(client, "arabic@example.org", counselling_language="ar")
    join(client, "any@example.org")
    by_counsellor = {b.counsellor_id: b for b in taken["09:00"]}
    cancel(app, by_counsellor[clara])  # Clara speaks German only
    assert scan(app, FIXED_NOW) == 1
    assert offers(app) == [("any@example.org", "09:00", "pending")]  # the first in line waits on
    cancel(app, {b.counsellor_id: b for b in taken["10:00"]}[yusuf])
    assert scan(app, FIXED_NOW) == 1
    assert offers(app)[-1] == ("arabic@example.org", "10:00", "pending")
