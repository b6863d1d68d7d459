"""The desk finds a caller's booking by what the caller says: a name (any case, any script, any
order of its words), the booking reference (with or without its dash), an email address or a phone
number however it is written. Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from sqlalchemy import literal, select

from booking import booking_search
from booking.extensions import db
from booking.models import Booking
from booking.text_match import fold_text, folded
from tests.integration.staff_support import (
    PASSWORD,
    book_at,
    create_counsellor,
    create_staff,
    english,
    get_booking,
    sign_in,
)


@pytest.fixture
def desk(app, client):  # type: ignore[no-untyped-def]
    """A receptionist signed in, reading the pages in English."""
    create_staff(app)
    english(client)
    assert sign_in(client).status_code == 302
    return client


def found(client, query: str) -> list[int]:  # type: ignore[no-untyped-def]
    """The ids of the bookings the search page lists, in its order."""
    page = client.get("/staff/search?q=" + quote(query))
    assert page.status_code == 200
    return [int(i) for i in re.findall(r'data-booking="(\d+)"', page.text)]


def set_reference(app, booking_id: int, reference: str) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        db.session.execute(db.update(Booking).where(Booking.id == booking_id).values(reference=reference))
        db.session.commit()


def test_a_name_is_found_in_any_case_script_and_order_of_its_words(app, desk):
    jurgen = book_at(app, "2027-03-30T09:00", name="Jürgen Öztürk", email="j@example.org")
    olena = book_at(app, "2027-03-30T09:30", name="Олена Петренко", email="o@example.org")
    book_at(app, "2027-03-30T10:00", name="Anna Nowak", email="a@example.org")
    assert found(desk, "öztürk") == [jurgen]
    assert found(desk, "ÖZTÜRK") == [jurgen]
    assert found(desk, "  özt  JÜRG ") == [jurgen]  # parts of words, in another order
    assert found(desk, "ОЛЕНА") == [olena]
    assert found(desk, "петр") == [olena]
    assert found(desk, "Öztürk Nowak") == []  # every word must be in the one name


def test_a_name_is_found_as_a_german_keyboard_types_it(app, desk):
    jurgen = book_at(app, "2027-03-30T09:00", name="Jürgen Öztürk", email="j@example.org")
    ayse = book_at(app, "2027-03-30T09:30", name="Ayşe Yılmaz", email="a@example.org")
    ismail = book_at(app, "2027-03-30T10:00", name="İsmail Doğan", email="i@example.org")
    mueller = book_at(app, "2027-03-30T10:30", name="Hans Mueller-Straße", email="h@example.org")
    ahmad = book_at(app, "2027-03-30T11:00", name="أحمد الخطيب", email="m@example.org")
    for query in ("ozturk", "jurgen", "juergen oeztuerk", "OEZTUERK", "Jürgen", "oztuerk"):
        assert found(desk, query) == [jurgen], query
    for query in ("ayse yilmaz", "YILMAZ", "Ayse"):
        assert found(desk, query) == [ayse], query
    for query in ("ismail dogan", "ISMAIL", "İSMAİL DOĞAN"):
        assert found(desk, query) == [ismail], query
    for query in ("Müller", "mueller strasse", "straße"):
        assert found(desk, query) == [mueller], query
    assert found(desk, "احمد") == [ahmad]  # without the hamza, as often typed
    assert found(desk, "ozturk ayse") == []  # still every word in the one name


def test_a_name_typed_with_separate_accents_is_found_as_one_typed_with_letters(app, desk):
    decomposed = book_at(
        app, "2027-03-30T09:00", name="Ju\u0308rgen O\u0308ztu\u0308rk", email="j@example.org"
    )
    assert found(desk, "Öztürk") == [decomposed]
    assert found(desk, "oeztuerk jurgen") == [decomposed]


def test_the_database_folds_a_name_as_the_query_is_folded(app):
    """PostgreSQL's functions and the Python that folds the query (and SQLite's names) agree."""
    names = ["Jürgen Öztürk", "İSMAİL ŞAHİN", "Ayşe Yılmaz", "Łukasz Wąsik", "Straße", "Ju\u0308rgen",
             "أحمد إبراهيم", "Олена Йосипівна Ёлкина", "ﬁ Ｆull", "Ørsted Æbelø", "ΣΩΚΡΑΤΗΣ"]  # fmt: skip
    with app.app_context():
        for name in names:
            assert db.session.scalar(select(folded(literal(name)))) == fold_text(name), name


def test_a_reference_is_found_with_or_without_its_dash_and_in_parts(app, desk):
    booking = book_at(app, "2027-03-30T09:00")
    other = book_at(app, "2027-03-30T09:30", email="b@example.org")
    set_reference(app, booking, "K7QM-4XZP")
    set_reference(app, other, "AAAA-2222")
    for query in ("K7QM-4XZP", "k7qm4xzp", "k7qm 4xzp", "QM-4X", "qm4x"):
        assert found(desk, query) == [booking], query


def test_a_reference_or_phone_copied_from_a_plain_text_email_is_found(app, desk):
    booking = book_at(app, "2027-03-30T09:00", phone="02452 123456")
    set_reference(app, booking, "K7QM-4XZP")
    # the plain-text emails put references and phone numbers between U+2066 and U+2069
    assert found(desk, "\u2066K7QM-4XZP\u2069") == [booking]
    assert found(desk, " \u200f\u2066K7QM-4XZP\u2069 ") == [booking]
    assert found(desk, "\u206602452 123456\u2069") == [booking]
    assert found(desk, "\u2066\u2069") == []  # only marks: no query, nothing found


def test_an_email_address_is_found_in_parts_and_any_case(app, desk):
    booking = book_at(app, "2027-03-30T09:00", email="Olena.Petrenko@Example.org")
    book_at(app, "2027-03-30T09:30", email="someone@example.org")
    assert found(desk, "olena.petrenko@example.org") == [booking]
    assert found(desk, "PETRENKO@") == [booking]


def test_a_phone_number_is_compared_by_its_digits(app, desk):
    slashed = book_at(app, "2027-03-30T09:00", phone="+49 2452 / 99-123", email="a@example.org")
    spaced = book_at(app, "2027-03-30T09:30", phone="02452 123456", email="b@example.org")
    assert found(desk, "99123") == [slashed]
    assert found(desk, "2452 99 123") == [slashed]
    assert found(desk, "02452/123456") == [spaced]
    assert found(desk, "(02452) 12-34-56") == [spaced]
    assert sorted(found(desk, "2452")) == sorted([slashed, spaced])


def test_wildcards_in_the_query_are_plain_characters(app, desk):
    book_at(app, "2027-03-30T09:00", name="Ayşe Yılmaz")
    assert found(desk, "%") == []
    assert found(desk, "_") == []
    assert found(desk, "Ay_e") == []


def test_coming_appointments_come_first_soonest_first_then_past_ones_latest_first(app, desk, clock):
    days = ["2027-03-30", "2027-03-31", "2027-04-06", "2027-04-07"]
    ids = {day: book_at(app, f"{day}T09:00", name="Familie Kaya", email=f"{day}@example.org") for day in days}
    clock.now = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)  # the first two have passed
    assert found(desk, "kaya") == [ids["2027-04-06"], ids["2027-04-07"], ids["2027-03-31"], ids["2027-03-30"]]


def test_each_result_links_to_its_booking_page_with_name_contact_and_status(app, desk):
    booking = book_at(
        app, "2027-03-30T09:00", name="أحمد الخطيب", phone="0151 2345678", email="a@example.org"
    )
    desk.post(f"/staff/bookings/{booking}/cancel", data={"reason": "krank"})
    page = desk.get("/staff/search?q=" + quote("الخطيب")).text
    row = page.split(f'data-booking="{booking}"', 1)[1].split("</li>", 1)[0]
    assert f'href="/staff/bookings/{booking}"' in row
    assert "<bdi>أحمد الخطيب</bdi>" in row
    assert '<bdi dir="ltr">0151 2345678</bdi>' in row and "<bdi>a@example.org</bdi>" in row
    assert "Cancelled" in row and "Tuesday, March 30, 2027" in row
    assert "1 booking found." in page


def test_nothing_found_says_so_and_an_empty_query_only_shows_the_form(app, desk):
    book_at(app, "2027-03-30T09:00")
    page = desk.get("/staff/search?q=Niemand")
    assert page.status_code == 200
    assert "No booking matches “Niemand”" in page.text
    empty = desk.get("/staff/search?q=+")
    assert empty.status_code == 200
    assert 'id="search-count"' not in empty.text and 'name="q"' in empty.text


def test_a_search_with_many_results_shows_the_first_and_says_there_are_more(app, desk, monkeypatch):
    monkeypatch.setattr(booking_search, "LIMIT", 3)
    for index, hhmm in enumerate(["08:30", "09:00", "09:30", "10:00"]):
        book_at(app, f"2027-03-30T{hhmm}", name="Familie Kaya", email=f"k{index}@example.org")
    page = desk.get("/staff/search?q=kaya").text
    assert len(re.findall(r'data-booking="\d+"', page)) == 3
    assert "More than 3 bookings match. The first 3 are shown" in page
    monkeypatch.setattr(booking_search, "LIMIT", 4)
    assert "4 bookings found." in desk.get("/staff/search?q=kaya").text


def test_an_over_long_query_is_refused_with_a_message(app, desk):
    page = desk.get("/staff/search?q=" + "a" * 101)
    assert page.status_code == 400
    assert "at most 100 characters" in page.text and "data-booking" not in page.text


def test_removed_personal_data_is_not_found_by_the_placeholder_name(app, desk):
    from booking.retention import ANONYMOUS_NAME

    booking = book_at(app, "2027-03-30T09:00")
    with app.app_context():
        db.session.execute(
            db.update(Booking)
            .where(Booking.id == booking)
            .values(
                name=ANONYMOUS_NAME, email=None, phone=None, anonymised_at=datetime(2027, 7, 1, tzinfo=UTC)
            )
        )
        db.session.commit()
    assert found(desk, ANONYMOUS_NAME) == []
    assert found(desk, get_booking(app, booking).reference) == [booking]  # the reference still finds it


def test_every_staff_page_has_the_search_field_in_its_navigation(app, desk):
    page = desk.get("/staff/").text
    nav = page.split('<nav class="staff-nav"', 1)[1].split("</nav>", 1)[0]
    assert 'action="/staff/search"' in nav and 'name="q"' in nav and 'role="search"' in nav


def test_a_counsellor_finds_everyone_but_opens_only_their_own_appointments(app, client):
    mine_id = create_counsellor(app, "leyla@example.org", "Leyla Demir", ("de", "ar"))
    create_counsellor(app, "clara@example.org", "Clara Becker", ("de",))
    mine = book_at(
        app, "2027-03-30T09:00", name="Familie Kaya", email="a@example.org", counselling_language="ar"
    )
    theirs = book_at(
        app, "2027-03-30T09:00", name="Familie Kaya", email="b@example.org", counselling_language="de"
    )
    assert get_booking(app, mine).counsellor_id == mine_id != get_booking(app, theirs).counsellor_id
    sign_in(english(client), "leyla@example.org", PASSWORD)
    page = client.get("/staff/search?q=kaya")
    assert page.status_code == 200
    assert sorted(re.findall(r'data-booking="(\d+)"', page.text)) == sorted([str(mine), str(theirs)])
    assert f'href="/staff/bookings/{mine}"' in page.text
    assert f'href="/staff/bookings/{theirs}"' not in page.text
    assert 'href="/staff/?date=2027-03-30&amp;counsellor=all"' in page.text  # theirs: the day in the calendar
    assert client.get(f"/staff/bookings/{theirs}").status_code == 403


def test_the_search_needs_a_sign_in(client):
    response = client.get("/staff/search?q=kaya")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
