"""The rules of `booking.bookings` one by one, through the service itself: what a request must be
(every field problem with its message, all at once), when a time can be booked, a double click,
the limit per address, pending bookings and offers, who may book what, references and tokens,
cancelling (at once or after a delay, twice, all of a closure), moving and attendance. Each rule
holds on SQLite and on PostgreSQL (there a booking is one statement: `booking.booking_statement`).

The clock stands on Friday 26 March 2027, 10:00 in Heinsberg (Good Friday; Monday is Easter Monday),
so the first open day is Tuesday 30 March: 08:30-12:00 and 14:00-17:00, half-hour appointments of
"beratung" with two places each, booked at least 120 minutes ahead and at most 56 days ahead."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from booking import accounts, bookings, closures, places
from booking.bookings import BookingRequest
from booking.extensions import db
from booking.models import AuditEvent, Booking, Outbox, SlotClaim, Staff
from booking.office import Office
from booking.refusals import InvalidBooking, SlotFull, TooLate
from tests.conftest import FIXED_NOW

NOW = FIXED_NOW
BERLIN = ZoneInfo("Europe/Berlin")
TUESDAY, WEDNESDAY, THURSDAY = date(2027, 3, 30), date(2027, 3, 31), date(2027, 4, 1)
# Eight characters in two fours, without the look-alikes I, O, 0 and 1.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
REFERENCE = re.compile(f"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")


@pytest.fixture
def office(app: Flask) -> Iterator[Office]:
    """The suite's office, inside a request in English (the messages read as their ids)."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield app.extensions["office"]


def at(hhmm: str, day: date = TUESDAY) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=BERLIN)


def ask(start: str | datetime = "2027-03-30T08:30", **fields: object) -> BookingRequest:
    values: dict[str, object] = {"name": "Ayşe Yılmaz", "email": "ayse@example.org", **fields}
    return BookingRequest("beratung", start, **values)  # type: ignore[arg-type]


def book(
    office: Office, start: str | datetime = "2027-03-30T08:30", now: datetime = NOW, **fields: object
) -> Booking:
    """A resident's online booking (`fields` of the request; book's own options are separate)."""
    return bookings.book(office, ask(start, **fields), now)


def with_rules(office: Office, **rules: object) -> Office:
    return dataclasses.replace(office, rules=dataclasses.replace(office.rules, **rules))


def refusal(call, *args, **kwargs) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidBooking) as refused:
        call(*args, **kwargs)
    return refused.value.errors


def free(office: Office, start: datetime, now: datetime = NOW) -> int:
    """Free places of the appointment at `start` as the booking pages see them at `now`."""
    day = start.astimezone(office.timezone).date()
    found = places.availability(office, office.service("beratung"), day, day, now, enforce_notice=False)
    return next(count for slot, count in found if slot.start == start)


def emails(booking: Booking) -> list[tuple[str, int]]:
    """The booking's emails in the outbox: (kind, sequence)."""
    rows = db.session.execute(
        select(Outbox.kind, Outbox.sequence).where(Outbox.booking_id == booking.id).order_by(Outbox.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def audit(booking: Booking) -> list[tuple[str, str | None]]:
    rows = db.session.execute(
        select(AuditEvent.action, AuditEvent.details)
        .where(AuditEvent.booking_id == booking.id)
        .order_by(AuditEvent.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def reloaded(booking: Booking) -> Booking:
    found = db.session.get_one(Booking, booking.id)
    db.session.refresh(found)
    return found


def staff_member(email: str = "empfang@ki.example") -> Staff:
    return accounts.create_staff(email, "Empfang", None, NOW)


def counsellor(office: Office, email: str, name: str, languages: tuple[str, ...]) -> int:
    return accounts.create_staff(
        email, name, None, NOW, office=office, role="counsellor", languages=languages
    ).id


def rows() -> dict[str, int]:
    """Row counts of every table: a refused request must leave them all as they were."""
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements sent to the database meanwhile."""
    sent: list[str] = []

    def seen(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


# --- a booking and its fields ---------------------------------------------------------------------


def test_a_booking_is_confirmed_at_once_with_its_clean_fields_one_place_and_one_confirmation(office):
    booking = book(
        office,
        name="  Ayşe Yılmaz ",
        email=" Ayse@Example.ORG ",
        phone=" ٠٢٤٥٢ ١٢٣٤٥٦ ",  # Arabic digits
        note="  Bitte mit Dolmetscherin.\r\n\tZweite Zeile  ",
        language="en",
        counselling_language="de",
        interpreter="ar",
    )
    stored = reloaded(booking)
    assert (stored.name, stored.email, stored.phone, stored.note) == (
        "Ayşe Yılmaz",
        "ayse@example.org",
        "02452 123456",
        "Bitte mit Dolmetscherin.\r\n\tZweite Zeile",
    )
    assert (stored.language, stored.counselling_language, stored.interpreter) == ("en", "de", "ar")
    assert (stored.start_at, stored.end_at) == (at("08:30"), at("09:00"))
    assert (stored.status, stored.hold_until, stored.confirm_token, stored.waitlist_entry_id) == (
        "confirmed",
        None,
        None,
        None,
    )
    assert (stored.sequence, stored.created_at, stored.created_by_staff_id) == (0, NOW, None)
    assert (stored.counsellor_id, stored.attended, stored.cancelled_at, stored.cancel_reason) == (
        None,
        None,
        None,
        None,
    )
    assert booking.repeated is False
    assert free(office, at("08:30")) == 1  # of two
    assert emails(booking) == [("confirm", 0)]
    assert audit(booking) == [("booked", "2027-03-30T08:30+02:00")]


def test_empty_optional_fields_are_stored_as_none(office):
    stored = reloaded(book(office, phone="   ", note=" \n "))
    assert (stored.phone, stored.note, stored.counselling_language, stored.interpreter) == (
        None,
        None,
        None,
        None,
    )


def test_a_request_is_a_value_fixed_once_made(office):
    request = ask()
    assert hash(request) == hash(ask())
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.name = "Someone else"  # type: ignore[misc]


def test_every_field_problem_is_named_at_once_with_its_message_and_nothing_is_written(app, office):
    before = rows()
    request = BookingRequest(
        "nope", "", "", "", phone="12ab", note="a\x00b", counselling_language="klingon", interpreter="xx"
    )
    assert refusal(bookings.book, office, request, NOW) == {
        "service": ["Please choose a service."],
        "start": ["Please choose a time."],
        "name": ["Please enter your name."],
        "email": ["Please enter your email address."],
        "phone": ["Please enter a phone number, for example 02452 123456."],
        "note": ["The note contains characters that are not allowed."],
        "counselling_language": ["Please choose a language from the list."],
        "interpreter": ["Please choose a language from the list."],
    }
    assert rows() == before


def test_a_service_the_office_does_not_offer_is_named_alone(office):
    assert refusal(
        bookings.book, office, BookingRequest("nope", "2027-03-30T08:30", "A", "a@example.org"), NOW
    ) == {"service": ["Please choose a service."]}
    not_text = BookingRequest(7, "2027-03-30T08:30", "A", "a@example.org")  # type: ignore[arg-type]
    assert refusal(bookings.book, office, not_text, NOW) == {"service": ["Please choose a service."]}


def test_a_start_that_is_no_time_is_asked_for_again(office):
    for start in ("tomorrow", "2027-02-30T08:30", "9999-12-31T23:59-12:00", "", None):
        assert refusal(bookings.book, office, ask(start), NOW) == {"start": ["Please choose a time."]}
        if start is not None:
            assert bookings.parse_start(start, office) is None


def test_a_start_without_an_offset_is_office_time_and_one_with_an_offset_is_that_moment(office):
    moment = datetime(2027, 3, 30, 6, 30, tzinfo=UTC)
    assert bookings.parse_start("2027-03-30T08:30", office) == moment
    assert bookings.parse_start(" 2027-03-30T06:30+00:00 ", office) == moment
    assert bookings.parse_start(datetime(2027, 3, 30, 8, 30), office) == moment
    assert bookings.parse_start(moment, office) == moment
    assert bookings.parse_start("2027-03-30T06:30+00:00", office).utcoffset() == timedelta(0)  # type: ignore[union-attr]
    assert reloaded(book(office, "2027-03-30T06:30Z")).start_at == at("08:30")


def test_exactly_the_minimum_notice_is_bookable_and_a_minute_less_is_not(office):
    start = at("08:30")
    notice = timedelta(minutes=office.rules.min_notice_minutes)
    assert reloaded(book(office, start, now=start - notice)).start_at == start
    late = start - notice + timedelta(minutes=1)
    assert refusal(book, office, start, now=late, email="other@example.org") == {
        "start": ["This time is too soon to book online. Please choose a later time."]
    }
    staff_booking = bookings.book(office, ask(start, email="third@example.org"), late, enforce_notice=False)
    assert staff_booking.start_at == start


def test_the_last_day_of_the_horizon_is_bookable_and_the_next_is_not(office):
    monday = datetime(2027, 4, 5, 9, 0, tzinfo=UTC)
    last_day = date(2027, 4, 5) + timedelta(days=office.rules.horizon_days)  # Monday 31 May
    assert book(office, at("11:30", last_day), now=monday).start_at == at("11:30", last_day)
    assert refusal(book, office, at("08:30", last_day + timedelta(days=1)), now=monday) == {
        "start": ["This time is too far ahead. Please choose an earlier time."]
    }


def test_a_time_that_cannot_be_booked_says_why(office):
    for start, message in (
        ("2027-03-26T08:30", "This time is in the past."),
        ("2027-03-30T08:40", "There is no appointment at this time."),
        ("2027-04-04T10:00", "The office is closed at this time."),  # a Sunday
    ):
        assert refusal(book, office, start) == {"start": [message]}


def test_a_name_of_a_hundred_characters_is_fine_and_one_more_is_too_long(office):
    assert reloaded(book(office, name="A" * 100)).name == "A" * 100
    assert refusal(book, office, "2027-03-30T09:00", name="A" * 101) == {
        "name": ["Please enter at most 100 characters."]
    }
    assert bookings.name_problem("A" * 101) == "Please enter at most 100 characters."
    assert bookings.name_problem("Ayşe") is None


def test_a_name_with_control_characters_is_refused(office):
    for name in ("Ay\x00şe", "Ayşe\u2028Yılmaz", "Ayşe\nYılmaz", "Ay\ud800şe"):
        assert refusal(book, office, name=name) == {
            "name": ["The name contains characters that are not allowed."]
        }


def test_a_name_of_only_spaces_is_no_name(office):
    assert refusal(book, office, name="   ") == {"name": ["Please enter your name."]}
    assert refusal(book, office, name=None) == {"name": ["Please enter your name."]}


def test_a_note_of_a_thousand_characters_is_fine_and_one_more_is_too_long(office):
    assert reloaded(book(office, note="x" * 1000)).note == "x" * 1000
    assert refusal(book, office, "2027-03-30T09:00", note="x" * 1001) == {
        "note": ["Please enter at most 1000 characters."]
    }
    assert refusal(book, office, "2027-03-30T09:00", note="a\x07b") == {
        "note": ["The note contains characters that are not allowed."]
    }


def test_an_address_must_be_one_a_mail_server_can_deliver_to(office):
    assert refusal(book, office, email="not-an-address") == {
        "email": ["Please enter a valid email address, for example name@example.org."]
    }
    assert refusal(book, office, email="jürgen@example.org")["email"][0].startswith(
        "Please write the part before the @ without letters like ü, ö or ß"
    )
    assert refusal(book, office, email=None) == {"email": ["Please enter your email address."]}


def test_staff_may_book_a_caller_without_an_address_and_no_email_is_written(app, office):
    staff = staff_member()
    booking = bookings.book(
        office, ask(email="  "), NOW, enforce_notice=False, email_required=False, staff=staff
    )
    stored = reloaded(booking)
    assert (stored.email, stored.status, stored.created_by_staff_id) == (None, "confirmed", staff.id)
    assert emails(booking) == []
    assert audit(booking) == [("booked", "2027-03-30T08:30+02:00")]


def test_a_page_language_the_office_does_not_offer_becomes_its_first(office):
    languages = ("tr", "de", "en")
    offered = bookings.book(office, ask(language="en"), NOW, languages=languages)
    other = bookings.book(office, ask("2027-03-30T09:00", language="xx"), NOW, languages=languages)
    assert (offered.language, other.language) == ("en", "tr")


def test_check_request_names_every_problem_of_an_online_request_and_books_nothing(app, office):
    staff = staff_member()
    closures.close(office, at("10:00"), at("11:00"), "Teamsitzung", staff, NOW)
    before = rows()
    assert bookings.check_request(office, ask(), NOW) is None
    assert refusal(bookings.check_request, office, ask("2027-03-30T10:00"), NOW) == {
        "start": ["The office is closed at this time."]
    }
    soon = at("08:30") - timedelta(minutes=119)
    assert refusal(bookings.check_request, office, ask(email=None), soon) == {
        "start": ["This time is too soon to book online. Please choose a later time."],
        "email": ["Please enter your email address."],
    }
    assert rows() == before


def test_whether_staff_closed_a_time_is_asked_by_the_claim_of_the_place_alone(app, office):
    staff = staff_member()
    closures.close(office, at("10:00"), at("11:00"), "Teamsitzung", staff, NOW)
    with statements(app) as sent:
        book(office, "2027-03-30T09:00")
    asked = [statement for statement in sent if "FROM closures" in statement]
    assert all("INSERT INTO slot_claims" in statement for statement in asked)  # the claim alone asks
    assert refusal(book, office, "2027-03-30T10:30") == {"start": ["The office is closed at this time."]}


def test_a_full_time_is_refused_and_changes_nothing(app, office):
    book(office, email="one@example.org")
    book(office, email="two@example.org")
    before = rows()
    with pytest.raises(SlotFull):
        book(office, email="three@example.org")
    assert rows() == before


# --- the same request again, and the limit per address ---------------------------------------------


def test_a_double_click_gives_the_same_booking_with_one_place_and_one_email(office):
    first = book(office)
    again = book(office, name="Ayşe Y.")
    assert again.id == first.id and again.repeated is True
    assert free(office, at("08:30")) == 1
    assert emails(first) == [("confirm", 0)]


def test_other_times_of_one_address_and_the_same_time_of_another_are_new_bookings(office):
    ids = [book(office, start).id for start in ("2027-03-30T09:00", "2027-03-30T08:30", "2027-03-30T10:00")]
    other = book(office, "2027-03-30T08:30", email="other@example.org")
    assert len({*ids, other.id}) == 4
    assert free(office, at("08:30")) == 0


def test_the_fourth_upcoming_booking_of_an_address_is_refused_and_changes_nothing(app, office):
    for start in ("08:30", "09:00", "09:30"):
        book(office, at(start), email="Ayse@Example.org")
    before = rows()
    message = (
        "This email address already has 3 upcoming appointments, the most allowed. Please cancel one first."
    )
    assert refusal(book, office, at("10:00"), email="ayse@example.org") == {"email": [message]}
    assert rows() == before
    assert book(office, at("10:00"), email="other@example.org").status == "confirmed"


def test_the_limit_counts_only_the_addresss_own_bookings(office):
    for address in ("alice@example.org", "zoe@example.org"):  # one sorting before and one after
        for start in ("08:30", "09:00", "09:30"):
            book(office, at(start, WEDNESDAY), email=address)
    assert book(office, at("10:00"), email="mia@example.org").status == "confirmed"


def test_an_address_over_a_lowered_limit_still_may_not_book(office):
    for start in ("08:30", "09:00", "09:30"):
        book(office, at(start))
    stricter = with_rules(office, max_active_per_email=2)
    message = (
        "This email address already has 2 upcoming appointments, the most allowed. Please cancel one first."
    )
    assert refusal(book, stricter, at("10:00")) == {"email": [message]}


def test_a_booking_stops_counting_at_its_end(office):
    first = book(office, at("08:30"))
    for start in ("09:00", "09:30"):
        book(office, at(start, THURSDAY))
    assert refusal(book, office, at("10:00", THURSDAY), now=first.end_at - timedelta(minutes=1))
    fourth = book(office, at("10:00", THURSDAY), now=first.end_at)
    assert fourth.status == "confirmed"
    bookings.cancel(fourth, first.end_at)
    assert book(office, at("10:00", THURSDAY), now=at("12:00")).status == "confirmed"  # long over


def test_the_limit_counts_upcoming_confirmed_bookings_and_pending_ones_still_held(office):
    cancelled = book(office, at("08:30"))
    bookings.cancel(cancelled, NOW)
    bookings.book(office, ask(at("09:00")), NOW, verify=True)  # pending, held for 30 minutes
    book(office, at("09:30"))
    assert book(office, at("10:00")).status == "confirmed"  # three: the cancelled one does not count
    assert refusal(book, office, at("10:30"))
    after_the_hold = NOW + timedelta(minutes=30)
    assert book(office, at("10:30"), now=after_the_hold).status == "confirmed"


# --- pending bookings, offers, staff -------------------------------------------------------------


def test_a_form_sent_without_the_proof_of_work_is_pending_and_gets_the_request_to_confirm(office):
    booking = bookings.book(office, ask(), NOW, verify=True)
    stored = reloaded(booking)
    assert (stored.status, stored.hold_until) == ("pending", NOW + timedelta(minutes=30))
    assert len(stored.confirm_token) == 43  # 32 random bytes
    assert emails(booking) == [("verify", 0)]
    assert free(office, at("08:30")) == 1  # its place is held
    assert free(office, at("08:30"), now=NOW + timedelta(minutes=30)) == 2


def test_an_office_that_verifies_holds_online_bookings_its_own_minutes(office):
    verifying = with_rules(office, verify_email_minutes=45)
    assert reloaded(book(verifying)).hold_until == NOW + timedelta(minutes=45)
    assert bookings.book(verifying, ask("2027-03-30T09:00"), NOW, verify=False).status == "confirmed"
    no_address = bookings.book(verifying, ask("2027-03-30T09:30", email=None), NOW, email_required=False)
    assert (no_address.status, no_address.hold_until, emails(no_address)) == ("confirmed", None, [])


def test_staff_bookings_are_confirmed_at_once_even_when_the_office_verifies(app, office):
    staff = staff_member()
    verifying = with_rules(office, verify_email_minutes=45)
    booking = bookings.book(
        verifying, ask(), NOW, enforce_notice=False, email_required=False, staff=staff, verify=True
    )
    stored = reloaded(booking)
    assert (stored.status, stored.hold_until, stored.confirm_token) == ("confirmed", None, None)
    assert stored.created_by_staff_id == staff.id
    assert emails(booking) == [("confirm", 0)]


def test_a_waitlist_offer_is_held_for_the_waitlists_minutes_and_says_it_is_an_offer(office):
    offering = with_rules(office, waitlist_hold_minutes=20)
    booking = bookings.book(offering, ask(), NOW, offer_to=7)
    stored = reloaded(booking)
    assert (stored.status, stored.hold_until, stored.waitlist_entry_id) == (
        "pending",
        NOW + timedelta(minutes=20),
        7,
    )
    assert len(stored.confirm_token) == 43
    assert emails(booking) == [("offer", 0)]


def test_an_address_blocked_for_no_shows_cannot_book_online_but_staff_can_book_it(app, office):
    strict = with_rules(office, no_show_limit=1)
    staff = staff_member()
    missed = book(strict, at("08:30"))
    after = at("12:00")
    bookings.mark_attendance(strict, missed, False, staff, after)
    errors = refusal(book, strict, at("08:30", THURSDAY), now=after)
    assert list(errors) == ["email"]
    assert errors["email"][0].startswith(
        "Because of missed appointments, this email address can book online again"
    )
    by_staff = bookings.book(strict, ask(at("08:30", THURSDAY)), after, staff=staff, email_required=False)
    assert by_staff.status == "confirmed"


def test_staff_may_ask_for_a_counsellor_and_residents_may_not(app, office):
    counsellor(office, "anna@ki.example", "Anna", ("de",))
    yusuf = counsellor(office, "yusuf@ki.example", "Yusuf", ("de", "ar", "tr"))
    staff = staff_member()
    wished = bookings.book(office, ask(counsellor_id=yusuf), NOW, staff=staff, email_required=False)
    online = book(office, "2027-03-30T09:00", counsellor_id=yusuf)
    assert reloaded(wished).counsellor_id == yusuf
    assert reloaded(online).counsellor_id not in (None, yusuf)  # the one with rarer languages stays free


# --- references and tokens -------------------------------------------------------------------------


def test_a_reference_is_two_fours_of_the_alphabet_each_character_uniformly_random():
    drawn = [bookings._new_reference() for _ in range(2000)]
    assert all(REFERENCE.fullmatch(reference) for reference in drawn)
    for position in (0, 1, 2, 3, 5, 6, 7, 8):  # 2000 draws miss a character with odds of 1e-26
        assert {reference[position] for reference in drawn} == set(ALPHABET)


def test_every_one_of_the_forty_random_bits_of_a_reference_counts(monkeypatch):
    """One draw of 40 bits spells the reference: draws that differ in any one bit give references
    that differ (so all 2**40 are reachable), whichever bit goes to which character."""
    spelled = {}
    for value in [0] + [1 << bit for bit in range(40)]:
        monkeypatch.setattr(secrets, "token_bytes", lambda n, value=value: value.to_bytes(n, "big"))
        spelled[value] = bookings._new_reference()
    assert all(REFERENCE.fullmatch(reference) for reference in spelled.values())
    assert len(set(spelled.values())) == 41


def test_a_booking_has_its_own_reference_and_token_of_256_random_bits(office):
    first, second = book(office), book(office, email="other@example.org")
    assert REFERENCE.fullmatch(first.reference) and first.reference != second.reference
    assert len(first.token) == 43 and first.token != second.token


def test_a_token_finds_its_own_booking_and_no_other(app, office):
    found = [book(office, start) for start in ("2027-03-30T08:30", "2027-03-30T09:00", "2027-03-30T09:30")]
    for booking in found:
        assert bookings.get_by_token(booking.token).id == booking.id  # type: ignore[union-attr]
    for unknown in ("-", "z" * 43, "0" * 64):  # before, after and among the tokens there are
        assert bookings.get_by_token(unknown) is None


def test_a_token_no_booking_can_have_is_not_looked_up(app, office):
    book(office)
    for impossible in ("", "x" * 65):
        with statements(app) as sent:
            assert bookings.get_by_token(impossible) is None
        assert sent == []
    with statements(app) as sent:
        assert bookings.get_by_token("x" * 64) is None  # as long as the column allows: asked
    assert any("FROM bookings" in statement for statement in sent)


# --- cancelling --------------------------------------------------------------------------------------


def test_cancel_frees_the_place_at_once_and_writes_one_email(office):
    before, booking, after = (book(office, at(t)) for t in ("08:30", "09:00", "09:30"))
    assert bookings.cancel(booking, NOW, reason="  Krank  ") is True
    stored = reloaded(booking)
    assert (stored.status, stored.cancelled_at, stored.cancel_reason, stored.sequence) == (
        "cancelled",
        NOW,
        "Krank",
        1,
    )
    assert db.session.scalar(select(SlotClaim.id).where(SlotClaim.booking_id == booking.id)) is None
    assert free(office, at("09:00")) == 2
    assert emails(booking) == [("confirm", 0), ("cancel", 1)]
    assert audit(booking)[-1] == ("cancelled", "Krank")
    assert [reloaded(b).status for b in (before, after)] == ["confirmed", "confirmed"]


def test_cancelling_twice_is_harmless(office):
    booking = book(office)
    assert bookings.cancel(booking, NOW) is True
    assert bookings.cancel(booking, NOW + timedelta(minutes=1), reason="again") is False
    stored = reloaded(booking)
    assert (stored.sequence, stored.cancelled_at, stored.cancel_reason) == (1, NOW, None)
    assert emails(booking) == [("confirm", 0), ("cancel", 1)]
    assert audit(booking) == [("booked", "2027-03-30T08:30+02:00"), ("cancelled", None)]
    assert bookings.cancel(booking, at("10:00")) is False  # after its start too: no TooLate


def test_an_appointment_that_has_begun_cannot_be_cancelled_unless_staff_allow_it(app, office):
    booking = book(office)
    with pytest.raises(TooLate):
        bookings.cancel(booking, at("08:30"))
    with pytest.raises(TooLate):
        bookings.cancel(booking, at("08:45"))
    assert reloaded(booking).status == "confirmed"
    assert bookings.cancel(booking, at("08:45"), allow_past=True, staff=staff_member()) is True
    other = book(office, "2027-03-30T09:00")
    assert bookings.cancel(other, at("08:59")) is True  # a minute before its start


def test_cancel_changes_a_confirmed_booking_only_a_pending_one_stays_pending(office):
    pending = bookings.book(office, ask(), NOW, verify=True)
    assert bookings.cancel(pending, NOW) is False
    assert reloaded(pending).status == "pending"
    assert free(office, at("08:30")) == 1


def test_a_place_cancelled_with_a_release_delay_stays_taken_until_then(office):
    booking = book(office)
    assert bookings.cancel(booking, NOW, release_after=timedelta(minutes=10))
    assert db.session.scalar(
        select(SlotClaim.hold_until).where(SlotClaim.booking_id == booking.id)
    ) == NOW + timedelta(minutes=10)
    assert free(office, at("08:30"), now=NOW + timedelta(minutes=10) - timedelta(seconds=1)) == 1
    assert free(office, at("08:30"), now=NOW + timedelta(minutes=10)) == 2
    assert reloaded(booking).status == "cancelled"


def test_the_release_delay_is_a_random_whole_second_up_to_the_offices_longest(office):
    assert bookings.release_delay(office) == timedelta(0)
    one_minute = with_rules(office, release_delay_minutes=1)
    drawn = {bookings.release_delay(one_minute) for _ in range(3000)}
    assert drawn == {timedelta(seconds=s) for s in range(61)}  # 3000 draws miss one with odds of 1e-20


def test_cancel_all_cancels_what_has_not_begun_once_with_one_reason(app, office):
    staff = staff_member()
    begun, starting, coming, gone = (
        book(office, at(t), email=f"resident{n}@example.org")
        for n, t in enumerate(("08:30", "09:00", "09:30", "10:00"))
    )
    bookings.cancel(gone, NOW)
    now = at("09:00")
    found = [db.session.get_one(Booking, b.id) for b in (begun, starting, coming, gone)]
    assert [b.id for b in bookings.cancel_all(found, now, "Krankheit", staff)] == [coming.id]
    assert [reloaded(b).status for b in (begun, starting, coming)] == ["confirmed", "confirmed", "cancelled"]
    assert reloaded(coming).cancel_reason == "Krankheit"
    assert bookings.cancel_all(found, now, "Krankheit", staff) == []  # a second click
    assert emails(coming) == [("confirm", 0), ("cancel", 1)]


# --- moving ------------------------------------------------------------------------------------------


def test_moving_takes_the_new_place_frees_the_old_and_writes_one_email(office):
    before, booking, after = (book(office, at(t)) for t in ("08:30", "09:00", "09:30"))
    moved = bookings.move(office, booking, "2027-03-30T11:00", NOW)
    stored = reloaded(moved)
    assert (stored.start_at, stored.end_at, stored.sequence) == (at("11:00"), at("11:30"), 1)
    assert (free(office, at("09:00")), free(office, at("11:00"))) == (2, 1)
    assert emails(booking) == [("confirm", 0), ("move", 1)]
    assert db.session.scalar(select(Outbox.moved_from).where(Outbox.kind == "move")) == at("09:00")
    assert audit(booking)[-1] == ("moved", "2027-03-30T09:00+02:00 -> 2027-03-30T11:00+02:00")
    assert [reloaded(b).start_at for b in (before, after)] == [at("08:30"), at("09:30")]


def test_moving_earlier_works_and_a_reason_is_kept_in_the_audit(app, office):
    booking = book(office, at("11:00"))
    bookings.move(office, booking, at("08:30"), NOW, staff=staff_member(), reason="  Anruf  ")
    assert reloaded(booking).start_at == at("08:30")
    assert audit(booking)[-1] == ("moved", "2027-03-30T11:00+02:00 -> 2027-03-30T08:30+02:00: Anruf")


def test_moving_to_its_own_time_is_refused(office):
    booking = reloaded(book(office))  # as the manage page has it: read from the database
    assert refusal(bookings.move, office, booking, "2027-03-30T06:30+00:00", NOW) == {
        "start": ["This is already the time of your appointment."]
    }
    assert reloaded(booking).sequence == 0


def test_a_cancelled_appointment_cannot_be_moved(office):
    booking = book(office)
    bookings.cancel(booking, NOW)
    assert refusal(bookings.move, office, booking, "2027-03-30T09:00", NOW) == {
        "start": ["This appointment is cancelled."]
    }


def test_an_appointment_that_has_begun_cannot_be_moved(office):
    booking = book(office)
    for now in (at("08:30"), at("08:45")):
        with pytest.raises(TooLate):
            bookings.move(office, booking, "2027-03-30T14:00", now)
    assert bookings.move(
        office, booking, "2027-03-30T14:00", at("08:29"), enforce_notice=False
    ).start_at == at("14:00")


def test_moving_to_no_time_or_one_that_cannot_be_booked_says_why(office):
    booking = book(office, "2027-03-30T14:00")
    assert refusal(bookings.move, office, booking, "tomorrow", NOW) == {"start": ["Please choose a time."]}
    assert refusal(bookings.move, office, booking, "2027-03-30T12:00", NOW) == {
        "start": ["There is no appointment at this time."]
    }
    soon = at("11:30") - timedelta(minutes=119)
    assert refusal(bookings.move, office, booking, "2027-03-30T11:30", soon) == {
        "start": ["This time is too soon to book online. Please choose a later time."]
    }
    assert bookings.move(office, booking, "2027-03-30T11:30", soon, enforce_notice=False).start_at == at(
        "11:30"
    )
    gone = dataclasses.replace(office, services=())  # the office no longer offers its service
    assert refusal(bookings.move, gone, booking, "2027-03-30T14:00", NOW) == {
        "start": ["Please choose a time."]
    }


@pytest.mark.parametrize("meanwhile", ["cancelled", "moved"])
def test_an_appointment_changed_meanwhile_is_not_moved(office, meanwhile):
    booking = book(office)
    stale = reloaded(booking)
    db.session.expunge(stale)  # the page showed it before the change
    current = db.session.get_one(Booking, booking.id)
    if meanwhile == "cancelled":
        bookings.cancel(current, NOW)
    else:
        bookings.move(office, current, "2027-03-30T09:00", NOW)
    assert refusal(bookings.move, office, stale, "2027-03-30T10:00", NOW) == {
        "start": ["This appointment was changed meanwhile. Please reload."]
    }
    assert free(office, at("10:00")) == 2


def test_a_move_keeps_the_counsellor_when_free_and_takes_another_when_not(app, office):
    anna = counsellor(office, "anna@ki.example", "Anna", ("de",))
    yusuf = counsellor(office, "yusuf@ki.example", "Yusuf", ("de", "ar", "tr"))
    staff = staff_member()
    booking = bookings.book(office, ask(counsellor_id=yusuf), NOW, staff=staff)
    bookings.move(office, booking, at("09:00"), NOW)
    assert reloaded(booking).counsellor_id == yusuf
    bookings.book(office, ask(at("10:00"), email="other@example.org", counsellor_id=yusuf), NOW, staff=staff)
    bookings.move(office, booking, at("10:00"), NOW)
    assert reloaded(booking).counsellor_id == anna


# --- attendance ----------------------------------------------------------------------------------------


def test_attendance_is_recorded_for_appointments_of_today_or_earlier(app, office):
    staff = staff_member()
    today, yesterday = book(office, at("11:00")), book(office, at("08:30"), email="other@example.org")
    morning = at("08:00")  # Tuesday, before the appointment at 11:00
    bookings.mark_attendance(office, today, True, staff, morning)
    assert reloaded(today).attended is True
    bookings.mark_attendance(office, yesterday, False, staff, at("08:00", WEDNESDAY))
    assert reloaded(yesterday).attended is False
    bookings.mark_attendance(office, yesterday, None, staff, at("08:00", WEDNESDAY))
    assert reloaded(yesterday).attended is None
    assert [a for a, _d in audit(today)] == ["booked", "attended"]
    assert [a for a, _d in audit(yesterday)] == ["booked", "no_show", "attendance_cleared"]


def test_attendance_cannot_be_recorded_before_the_appointments_day(app, office):
    staff = staff_member()
    booking = book(office, at("08:30", WEDNESDAY))
    assert refusal(bookings.mark_attendance, office, booking, True, staff, at("16:00")) == {
        "attended": ["This appointment has not taken place yet."]
    }
    assert reloaded(booking).attended is None


def test_the_appointments_day_is_the_offices_day(app, office):
    booking = book(office, at("08:30"))
    half_past_midnight = at("00:30")  # still Monday in UTC
    bookings.mark_attendance(office, booking, True, staff_member(), half_past_midnight)
    assert reloaded(booking).attended is True


def test_a_cancelled_appointment_has_no_attendance(app, office):
    booking = book(office)
    bookings.cancel(booking, NOW)
    assert refusal(bookings.mark_attendance, office, booking, False, staff_member(), at("12:00")) == {
        "attended": ["This appointment is cancelled."]
    }
