"""A counsellor is away: reception or an admin enters it (browser or `flask add-absence`), sees at
once the appointments it touches, gives them to a free colleague in one click (or all at once) and
moves or cancels the rest; `/staff/assign` lists every appointment that needs a counsellor.

The clock stands on Monday 29 March 2027, 10:00 in Heinsberg (Easter Monday); "tomorrow" is
Tuesday 30 March (08:30-12:00 and 14:00-17:00), the first open day."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Absence, AuditEvent, Outbox
from tests.conftest import snapshot
from tests.integration.staff_support import (
    PASSWORD,
    book_at,
    create_counsellor,
    create_staff,
    english,
    get_booking,
    sign_in,
)

TOMORROW = "2027-03-30"
WEDNESDAY = "2027-03-31"
MONDAY_10 = datetime(2027, 3, 29, 8, 0, tzinfo=UTC)
ADMIN = "leitung@kreis-heinsberg.example"
RECEPTION = "empfang@kreis-heinsberg.example"


@pytest.fixture
def monday(clock):  # type: ignore[no-untyped-def]
    clock.now = MONDAY_10
    return clock


@pytest.fixture
def admin(app, client, monday) -> int:  # type: ignore[no-untyped-def]
    """A signed-in admin reading the pages in English."""
    created = create_staff(app, ADMIN, "Lea Leitung", role="admin")
    english(client)
    assert sign_in(client, ADMIN).status_code == 302
    return created


def anna(app) -> int:  # type: ignore[no-untyped-def]
    """The counsellor who falls ill: German and Arabic."""
    return create_counsellor(app, "anna@kreis-heinsberg.example", "Anna Arslan", ("de", "ar"))


def ben(app) -> int:  # type: ignore[no-untyped-def]
    """Her colleague: German only."""
    return create_counsellor(app, "ben@kreis-heinsberg.example", "Ben Becker", ("de",))


def outbox_keys(app) -> set[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return set(db.session.scalars(select(Outbox.dedupe_key)))


def absence_ids(app) -> list[int]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(select(Absence.id).order_by(Absence.id)))


def listed(html: str, table: str = "affected") -> list[int]:
    """The booking ids in the page's table of appointments, in order."""
    found = re.search(rf'<table[^>]*id="{table}".*?</table>', html, re.S)
    return [int(i) for i in re.findall(r'data-booking="(\d+)"', found.group(0))] if found else []


def row_of(html: str, booking_id: int) -> str:
    match = re.search(rf'<tr[^>]*data-booking="{booking_id}".*?</tr>', html, re.S)
    assert match, f"booking {booking_id} is not listed"
    return match.group(0)


def enter(client, counsellor: int | str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/staff/absences", data={"counsellor": str(counsellor), **fields})


# --- the story: away tomorrow, the day reassigned in a few clicks ------------------------------


def test_an_admin_marks_a_counsellor_away_for_tomorrow_and_reassigns_that_day(app, client, admin):
    anna_id = anna(app)
    # Booked while Anna was the only counsellor: every appointment is hers.
    ayse = book_at(app, f"{TOMORROW}T08:30", name="Ayşe Yılmaz", email="ayse@example.org")
    bernd = book_at(app, f"{TOMORROW}T09:00", name="Bernd Berger", email="bernd@example.org",
                    counselling_language="de")  # fmt: skip
    karim = book_at(app, f"{TOMORROW}T10:00", name="Karim Haddad", email="karim@example.org",
                    counselling_language="ar", interpreter="ku")  # fmt: skip
    later = book_at(app, f"{WEDNESDAY}T08:30", name="Wiebke Wolters", email="wiebke@example.org")
    ben_id = ben(app)
    bens_own = book_at(app, f"{TOMORROW}T11:00", name="Olga Orlova", email="olga@example.org")
    assert {get_booking(app, b).counsellor_id for b in (ayse, bernd, karim, later)} == {anna_id}
    assert get_booking(app, bens_own).counsellor_id == ben_id

    form = client.get("/staff/absences")
    assert form.status_code == 200
    assert "Anna Arslan" in form.text and "Ben Becker" in form.text

    entered = enter(client, anna_id, start_date=TOMORROW, reason="krank")
    assert entered.status_code == 302
    (absence_id,) = absence_ids(app)
    assert entered.headers["Location"].endswith(f"/staff/absences/{absence_id}")

    page = client.get(f"/staff/absences/{absence_id}")
    assert page.status_code == 200
    assert "Tuesday, March 30, 2027, whole day" in page.text
    assert listed(page.text) == [ayse, bernd, karim]  # not Wednesday's, not Ben's own
    karim_row = row_of(page.text, karim)
    assert "Counselling in Arabic" in karim_row and "Interpreter: Kurdish" in karim_row
    assert "No other counsellor is free at this time." in karim_row
    assert f'href="/staff/bookings/{karim}/move"' in karim_row
    assert f'href="/staff/bookings/{karim}#reason"' in karim_row
    ayse_row = row_of(page.text, ayse)
    assert f'action="/staff/bookings/{ayse}/reassign"' in ayse_row
    assert f'<option value="{ben_id}">Ben Becker</option>' in ayse_row
    assert f'name="next" value="/staff/absences/{absence_id}"' in ayse_row
    emails_before = outbox_keys(app)

    # One click: Ayşe's appointment to Ben, back on the absence's page.
    given = client.post(
        f"/staff/bookings/{ayse}/reassign",
        data={"counsellor": str(ben_id), "next": f"/staff/absences/{absence_id}"},
    )
    assert given.status_code == 302 and given.headers["Location"].endswith(f"/staff/absences/{absence_id}")
    assert get_booking(app, ayse).counsellor_id == ben_id
    after_one = client.get(f"/staff/absences/{absence_id}")
    assert "The appointment is now with Ben Becker." in after_one.text
    assert listed(after_one.text) == [bernd, karim]

    # All the rest where possible: Bernd goes to Ben, Karim (Arabic) stays to be moved or cancelled.
    everyone = client.post(f"/staff/absences/{absence_id}/reassign-all", follow_redirects=True)
    assert everyone.status_code == 200
    assert "1 appointment given to another counsellor: Ben Becker (1)." in everyone.text
    assert "1 appointment is left to move or cancel" in everyone.text
    assert listed(everyone.text) == [karim]
    assert get_booking(app, bernd).counsellor_id == ben_id
    assert get_booking(app, karim).counsellor_id == anna_id
    assert outbox_keys(app) == emails_before  # a new counsellor at the same time: no email

    day = client.get(f"/staff/?date={TOMORROW}")
    assert re.search(r"Ayşe Yılmaz.*?Ben Becker", day.text, re.S)
    assert re.search(r"Bernd Berger.*?Ben Becker", day.text, re.S)
    detail = client.get(f"/staff/bookings/{bernd}")
    assert re.search(r"<dt>Counsellor</dt><dd>Ben Becker", detail.text)

    # Karim's appointment nobody else can take is cancelled: he is emailed.
    cancelled = client.post(f"/staff/bookings/{karim}/cancel", data={"reason": "Beraterin erkrankt"})
    assert cancelled.status_code == 302
    assert get_booking(app, karim).status == "cancelled"
    assert {key for key in outbox_keys(app) - emails_before} == {f"cancel:{karim}:1"}
    assert listed(client.get(f"/staff/absences/{absence_id}").text) == []


def test_the_absences_page_lists_upcoming_absences_in_words(app, client, admin):
    anna_id, ben_id = anna(app), ben(app)
    assert (
        enter(client, anna_id, start_date=TOMORROW, end_date="2027-04-02", reason="Urlaub").status_code == 302
    )
    assert (
        enter(client, ben_id, start_date=WEDNESDAY, start_time="09:00", end_time="10:30").status_code == 302
    )
    page = client.get("/staff/absences")
    table = re.search(r'<table[^>]*id="absences".*?</table>', page.text, re.S).group(0)
    rows = re.findall(r"<tr>.*?</tr>", table.split("<tbody>")[1], re.S)
    assert len(rows) == 2
    assert (
        "Anna Arslan" in rows[0] and "Tuesday, March 30, 2027 to Friday, April 2, 2027, whole days" in rows[0]
    )
    assert "Urlaub" in rows[0]
    assert "Ben Becker" in rows[1] and "Wednesday, March 31, 2027, " in rows[1]
    assert '<bdi dir="ltr">09:00–10:30</bdi>' in rows[1]  # the times keep their order right to left
    first, second = absence_ids(app)
    assert f'href="/staff/absences/{first}"' in rows[0] and f'href="/staff/absences/{second}"' in rows[1]


def test_an_absence_over_a_change_of_days_is_named_with_both_days_and_times(app, client, admin):
    anna_id = anna(app)
    entered = enter(client, anna_id, start_date=TOMORROW, end_date=WEDNESDAY, start_time="14:00",
                    end_time="10:00")  # fmt: skip
    assert entered.status_code == 302
    page = client.get(entered.headers["Location"])
    assert (
        "Tuesday, March 30, 2027, <bdi>14:00</bdi> to Wednesday, March 31, 2027, <bdi>10:00</bdi>"
        in page.text
    )


def test_a_part_day_absence_touches_only_the_appointments_it_overlaps(app, client, admin):
    anna_id = anna(app)
    before = book_at(app, f"{TOMORROW}T08:30", email="a@example.org")  # ends 09:00 as she leaves
    first = book_at(app, f"{TOMORROW}T09:00", email="b@example.org")
    second = book_at(app, f"{TOMORROW}T09:30", email="c@example.org")
    after = book_at(app, f"{TOMORROW}T10:00", email="d@example.org")  # starts as she is back
    entered = enter(client, anna_id, start_date=TOMORROW, start_time="09:00", end_time="10:00")
    assert entered.status_code == 302
    page = client.get(entered.headers["Location"])
    assert "Tuesday, March 30, 2027, " in page.text and "09:00–10:00" in page.text
    assert listed(page.text) == [first, second]
    assert before not in listed(page.text) and after not in listed(page.text)
    with app.app_context():
        stored = db.session.scalars(select(Absence)).one()
        assert (stored.start_at, stored.end_at) == (
            datetime(2027, 3, 30, 7, 0, tzinfo=UTC),
            datetime(2027, 3, 30, 8, 0, tzinfo=UTC),
        )


def test_a_range_of_whole_days_lists_the_appointments_of_every_day(app, client, admin):
    anna_id = anna(app)
    tuesday = book_at(app, f"{TOMORROW}T16:30", email="a@example.org")
    wednesday = book_at(app, f"{WEDNESDAY}T11:30", email="b@example.org")
    thursday = book_at(app, "2027-04-01T08:30", email="c@example.org")
    entered = enter(client, anna_id, start_date=TOMORROW, end_date=WEDNESDAY)
    page = client.get(entered.headers["Location"])
    assert listed(page.text) == [tuesday, wednesday]
    assert thursday not in listed(page.text)


def test_an_absence_without_appointments_says_so(app, client, admin):
    anna_id = anna(app)
    entered = enter(client, anna_id, start_date=TOMORROW)
    page = client.get(entered.headers["Location"])
    assert "<bdi>Anna Arslan</bdi> has no appointments in this time." in page.text  # isolated
    assert "Give all to free counsellors" not in page.text


def test_an_absence_keeps_the_counsellor_out_of_new_bookings(app, client, admin):
    """Entered, she takes no new appointment; removed, she does again."""
    anna_id = anna(app)
    entered = enter(client, anna_id, start_date=TOMORROW)
    (absence_id,) = absence_ids(app)
    slots = client.get(f"/api/v1/slots?service=beratung&from={TOMORROW}&to={TOMORROW}").json["slots"]
    assert {slot["available"] for slot in slots} == {0}
    assert entered.status_code == 302
    removed = client.post(f"/staff/absences/{absence_id}/remove", follow_redirects=True)
    assert removed.status_code == 200
    assert "The absence is removed" in removed.text
    assert absence_ids(app) == []
    slots = client.get(f"/api/v1/slots?service=beratung&from={TOMORROW}&to={TOMORROW}").json["slots"]
    assert {slot["available"] for slot in slots} == {1}
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["absence", "absence_removed"]


def test_a_missing_absence_is_not_found(app, client, admin):
    anna(app)
    assert client.get("/staff/absences/999999").status_code == 404
    assert client.post("/staff/absences/999999/reassign-all").status_code == 404
    assert client.post("/staff/absences/999999/remove").status_code == 404


# --- bad input names the field and changes nothing ----------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"start_date": WEDNESDAY, "end_date": TOMORROW}, "To (date; empty: the same day)",
         "The end must be after the start."),
        ({"start_date": TOMORROW, "start_time": "10:00", "end_time": "09:00"}, "To (time; empty: whole days)",
         "The end must be after the start."),
        ({"start_date": TOMORROW, "start_time": "10:00", "end_time": "10:00"}, "To (time; empty: whole days)",
         "The end must be after the start."),
        ({"start_date": TOMORROW, "start_time": "10:00"}, "To (time; empty: whole days)",
         "Give both times for part of a day, or neither for whole days."),
        ({"start_date": TOMORROW, "end_time": "10:00"}, "From (time; empty: whole days)",
         "Give both times for part of a day, or neither for whole days."),
        ({"start_date": ""}, "From (date)", "Please enter a date."),
        ({"start_date": "2027-02-30"}, "From (date)", "Not a valid date value."),
        ({"start_date": TOMORROW, "end_date": "morgen"}, "To (date; empty: the same day)",
         "Not a valid date value."),
        ({"start_date": "9999-12-31"}, "From (date)", "Please enter a real date."),
        ({"start_date": "0001-01-01"}, "From (date)", "Please enter a real date."),
        ({"start_date": TOMORROW, "start_time": "25:00", "end_time": "26:00"},
         "From (time; empty: whole days)", "Not a valid time value."),
        ({"start_date": TOMORROW, "reason": "x" * 501}, "Reason (optional)",
         "Please enter at most 500 characters."),
    ],
)  # fmt: skip
def test_a_wrong_absence_names_the_field_and_changes_nothing(app, client, admin, fields, field, message):
    anna_id = anna(app)
    book_at(app, f"{TOMORROW}T08:30")
    before = snapshot(app)
    response = enter(client, anna_id, **fields)
    assert response.status_code == 422
    assert f"{field}: {message}" in response.text  # in the error summary, linked to the field
    assert 'aria-invalid="true"' in response.text
    assert snapshot(app) == before


@pytest.mark.parametrize("choice", ["", "999999", "abc", "reception", "inactive"])
def test_only_an_active_counsellor_can_be_away(app, client, monday, choice):
    """Reception (who may enter absences) chooses nobody, an unknown id, itself or a disabled
    counsellor: the counsellor field says so and nothing is stored."""
    from booking import accounts

    reception = create_staff(app, role="reception")
    anna(app)
    disabled = create_counsellor(app, "gone@kreis-heinsberg.example", "Gerd Gone")
    with app.app_context():
        accounts.set_active(accounts.get(disabled), False)
    english(client)
    sign_in(client)
    before = snapshot(app)
    value = {"reception": str(reception), "inactive": str(disabled)}.get(choice, choice)
    response = enter(client, value, start_date=TOMORROW)
    assert response.status_code == 422
    assert "Counsellor: Please choose a counsellor." in response.text
    assert snapshot(app) == before


def test_reception_enters_absences_and_gives_appointments(app, client, monday):
    create_staff(app, role="reception")
    anna_id = anna(app)
    booked = book_at(app, f"{TOMORROW}T08:30")
    ben_id = ben(app)
    english(client)
    sign_in(client)
    entered = enter(client, anna_id, start_date=TOMORROW)
    assert entered.status_code == 302
    (absence_id,) = absence_ids(app)
    assert client.post(f"/staff/absences/{absence_id}/reassign-all").status_code == 302
    assert get_booking(app, booked).counsellor_id == ben_id


# --- who may ---------------------------------------------------------------------------------


def test_a_counsellor_gets_403_on_every_absence_and_assignment_url(app, client, monday):
    anna_id = anna(app)
    booked = book_at(app, f"{TOMORROW}T08:30")
    ben_id = ben(app)
    create_staff(app, role="admin")
    admin_client = app.test_client()
    sign_in(admin_client)
    enter(admin_client, anna_id, start_date=TOMORROW)
    (absence_id,) = absence_ids(app)
    sign_in(client, "ben@kreis-heinsberg.example")
    before = snapshot(app)
    for method, url in [
        ("get", "/staff/absences"),
        ("post", "/staff/absences"),
        ("get", f"/staff/absences/{absence_id}"),
        ("post", f"/staff/absences/{absence_id}/reassign-all"),
        ("post", f"/staff/absences/{absence_id}/remove"),
        ("get", "/staff/assign"),
        ("post", "/staff/assign/all"),
        ("post", f"/staff/bookings/{booked}/reassign"),
    ]:
        data = {"counsellor": str(ben_id), "start_date": WEDNESDAY}
        response = getattr(client, method)(url, data=data) if method == "post" else client.get(url)
        assert response.status_code == 403, url
    assert snapshot(app) == before
    assert get_booking(app, booked).counsellor_id == anna_id
    assert 'href="/staff/absences"' not in client.get("/staff/").text


def test_every_absence_form_needs_its_csrf_token(app_with, monday):
    """With CSRF protection on (as in production), a forged post changes nothing; the pages' own
    forms carry the token."""
    app = app_with(WTF_CSRF_ENABLED=True)
    create_staff(app, ADMIN, "Lea Leitung", role="admin")
    anna_id = anna(app)
    booked = book_at(app, f"{TOMORROW}T08:30")
    ben_id = ben(app)
    client = english(app.test_client())

    def token(html: str) -> str:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)

    login = client.get("/staff/login").text
    client.post("/staff/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": token(login)})
    expired = "The form was open too long"
    before = snapshot(app)
    forged = enter(client, anna_id, start_date=TOMORROW)
    assert expired in client.get(forged.headers["Location"]).text
    assert snapshot(app) == before
    form = client.get("/staff/absences").text
    assert enter(client, anna_id, start_date=TOMORROW, csrf_token=token(form)).status_code == 302
    (absence_id,) = absence_ids(app)
    page = client.get(f"/staff/absences/{absence_id}").text
    before = snapshot(app)
    for url in (f"/staff/absences/{absence_id}/remove", f"/staff/absences/{absence_id}/reassign-all",
                "/staff/assign/all", f"/staff/bookings/{booked}/reassign"):  # fmt: skip
        forged = client.post(url, data={"counsellor": str(ben_id)}, follow_redirects=True)
        assert expired in forged.text, url
    assert snapshot(app) == before
    assert absence_ids(app) == [absence_id] and get_booking(app, booked).counsellor_id == anna_id
    give = re.search(rf'<form[^>]*action="/staff/bookings/{booked}/reassign".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', give))
    given = client.post(f"/staff/bookings/{booked}/reassign", data={**fields, "counsellor": str(ben_id)})
    assert given.headers["Location"].endswith(f"/staff/absences/{absence_id}")
    assert get_booking(app, booked).counsellor_id == ben_id


def test_without_signing_in_the_absence_pages_send_to_the_login(app, client, monday):
    for url in ["/staff/absences", "/staff/absences/1", "/staff/assign"]:
        response = client.get(url)
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert client.post("/staff/absences", data={"start_date": TOMORROW}).status_code == 302
    assert absence_ids(app) == []


# --- appointments that need a counsellor --------------------------------------------------------


def test_assign_lists_a_booking_made_before_the_service_had_counsellors_and_give_all_assigns_it(
    app, client, admin
):
    old = book_at(app, f"{TOMORROW}T09:00", name="Hatice Demir")
    assert get_booking(app, old).counsellor_id is None  # an anonymous place of the office file
    ben_id = ben(app)
    page = client.get("/staff/assign")
    assert page.status_code == 200
    assert listed(page.text, "needing") == [old]
    row = row_of(page.text, old)
    assert "Hatice Demir" in row and "Needs a counsellor" in row
    assert f'<option value="{ben_id}">Ben Becker</option>' in row
    emails = outbox_keys(app)
    done = client.post("/staff/assign/all", follow_redirects=True)
    assert "1 appointment given to another counsellor: Ben Becker (1)." in done.text
    assert get_booking(app, old).counsellor_id == ben_id
    assert listed(done.text, "needing") == []
    assert "Every upcoming appointment has a counsellor who can take it." in done.text
    assert outbox_keys(app) == emails


def test_assign_lists_the_appointments_of_an_absent_counsellor_with_why(app, client, admin):
    anna_id = anna(app)
    german = book_at(app, f"{TOMORROW}T08:30", email="a@example.org")
    arabic = book_at(app, f"{TOMORROW}T09:00", email="b@example.org", counselling_language="ar")
    fine = book_at(app, f"{WEDNESDAY}T08:30", email="c@example.org")
    ben_id = ben(app)
    assert listed(client.get("/staff/assign").text, "needing") == []
    enter(client, anna_id, start_date=TOMORROW)
    page = client.get("/staff/assign")
    assert listed(page.text, "needing") == [german, arabic]
    assert fine not in listed(page.text, "needing")
    for booking_id in (german, arabic):
        row = row_of(page.text, booking_id)
        assert "Anna Arslan" in row and "Counsellor is away" in row
    assert "No other counsellor is free at this time." in row_of(page.text, arabic)
    one = client.post(
        f"/staff/bookings/{german}/reassign", data={"counsellor": str(ben_id), "next": "/staff/assign"}
    )
    assert one.headers["Location"].endswith("/staff/assign")
    done = client.post("/staff/assign/all", follow_redirects=True)
    assert "1 appointment is left to move or cancel" in done.text
    assert listed(done.text, "needing") == [arabic]
    assert get_booking(app, german).counsellor_id == ben_id


def test_give_all_with_nobody_free_changes_nothing(app, client, admin):
    anna_id = anna(app)
    booked = book_at(app, f"{TOMORROW}T08:30", counselling_language="ar")
    ben(app)
    enter(client, anna_id, start_date=TOMORROW)
    (absence_id,) = absence_ids(app)
    page = client.get(f"/staff/absences/{absence_id}")
    assert "Give all to free counsellors" not in page.text  # nobody could take any
    before = snapshot(app)
    done = client.post(f"/staff/absences/{absence_id}/reassign-all", follow_redirects=True)
    assert "1 appointment is left to move or cancel" in done.text
    assert "given to another counsellor" not in done.text
    assert snapshot(app) == before
    assert get_booking(app, booked).counsellor_id == anna_id


def test_giving_to_a_counsellor_who_is_busy_is_refused(app, client, admin):
    """A stale page (or a forged form) names a colleague who took another appointment meanwhile."""
    anna_id = anna(app)
    hers = book_at(app, f"{TOMORROW}T08:30", email="a@example.org")
    ben_id = ben(app)
    enter(client, anna_id, start_date=TOMORROW)
    (absence_id,) = absence_ids(app)
    book_at(app, f"{TOMORROW}T08:30", email="b@example.org")  # Ben's now
    before = snapshot(app)
    refused = client.post(
        f"/staff/bookings/{hers}/reassign",
        data={"counsellor": str(ben_id), "next": f"/staff/absences/{absence_id}"},
        follow_redirects=True,
    )
    assert "No other counsellor is free at this time." in refused.text
    assert get_booking(app, hers).counsellor_id == anna_id
    assert snapshot(app) == before
