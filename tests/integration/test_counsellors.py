"""Places are counsellors: on duty for the whole appointment, not away, not in an overlapping
appointment of any service; the database refuses the second overlap. A service no counsellor gives
keeps its anonymous places exactly as before."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from booking import absences, accounts, bookings, closures, places, roster
from booking.extensions import db
from booking.models import Booking, CounsellorClaim, SlotClaim, Staff
from booking.refusals import InvalidBooking, SlotFull
from tests.conftest import FIXED_NOW, SUITE_OFFICE_TEXT, snapshot
from tests.integration.staff_support import HOUR_LONG, create_counsellor, create_staff

TUESDAY = date(2027, 3, 30)
# The shipped office plus an hour-long service on a half-hour grid, and one nobody counsels.
OFFICE_FILE = (
    SUITE_OFFICE_TEXT
    + HOUR_LONG
    + """
[[services]]
id = "sprechstunde"
name = "Offene Sprechstunde"
duration_minutes = 30
capacity = 3
"""
)


@pytest.fixture
def office_app(app_with: Callable[..., Flask], tmp_path: Path) -> Flask:
    path = tmp_path / "office.toml"
    path.write_text(OFFICE_FILE, encoding="utf-8")
    return app_with(OFFICE_CONFIG=str(path))


def at(hhmm: str, day: date = TUESDAY) -> str:
    return f"{day.isoformat()}T{hhmm}"


RESIDENTS = itertools.count()


def book(
    app: Flask, start: str, service: str = "beratung", language: str | None = None, email: str | None = None
) -> Booking:
    """A resident's booking (each by another resident unless `email` is given), or the refusal raised."""
    with app.test_request_context():
        email = email or f"resident{next(RESIDENTS)}@example.org"
        request = bookings.BookingRequest(service, start, "Resident", email, counselling_language=language)
        booking = bookings.book(app.extensions["office"], request, FIXED_NOW)
        db.session.expunge(booking)
        return booking


def free(
    app: Flask, service: str = "beratung", language: str | None = None, day: date = TUESDAY
) -> dict[str, int]:
    """Free places per start time ("09:00") of the day."""
    with app.test_request_context():
        office = app.extensions["office"]
        found = places.availability(office, office.service(service), day, day, FIXED_NOW, language=language)
        return {slot.start.strftime("%H:%M"): count for slot, count in found}


def counsellor_of(app: Flask, booking: Booking) -> str:
    with app.app_context():
        return db.session.get(Staff, booking.counsellor_id).name


def two_counsellors(app: Flask) -> tuple[int, int]:
    anna = create_counsellor(app, "anna@ki.example", "Anna", ("de",))
    yusuf = create_counsellor(app, "yusuf@ki.example", "Yusuf", ("de", "ar", "tr"))
    return anna, yusuf


def test_a_service_with_two_counsellors_has_two_places_and_the_third_booking_is_refused(office_app):
    two_counsellors(office_app)
    first, second = book(office_app, at("08:30")), book(office_app, at("08:30"))
    assert {counsellor_of(office_app, first), counsellor_of(office_app, second)} == {"Anna", "Yusuf"}
    before = snapshot(office_app)
    with pytest.raises(SlotFull):
        book(office_app, at("08:30"))
    assert snapshot(office_app) == before
    assert free(office_app)["08:30"] == 0 and free(office_app)["09:00"] == 2


def test_counselling_in_arabic_goes_to_the_counsellor_who_speaks_it(office_app):
    two_counsellors(office_app)
    assert free(office_app, language="ar")["08:30"] == 1
    booking = book(office_app, at("08:30"), language="ar")
    assert counsellor_of(office_app, booking) == "Yusuf"
    assert free(office_app, language="ar")["08:30"] == 0
    assert free(office_app, language="de")["08:30"] == 1
    with pytest.raises(SlotFull):
        book(office_app, at("08:30"), language="tr")
    with pytest.raises(SlotFull):
        book(office_app, at("09:00"), language="uk")  # nobody speaks Ukrainian


def test_a_booking_without_a_wish_keeps_the_counsellor_with_rarer_languages_free(office_app):
    two_counsellors(office_app)
    assert counsellor_of(office_app, book(office_app, at("08:30"))) == "Anna"
    assert free(office_app, language="ar")["08:30"] == 1


def test_an_hour_long_appointment_at_nine_blocks_its_counsellor_at_nine_and_half_past(office_app):
    create_counsellor(office_app, "anna@ki.example", "Anna", ("de",))
    long = book(office_app, at("09:00"), service="lang")
    assert counsellor_of(office_app, long) == "Anna"
    short = free(office_app)
    assert (short["08:30"], short["09:00"], short["09:30"], short["10:00"]) == (1, 0, 0, 1)
    for hhmm in ("09:00", "09:30"):
        with pytest.raises(SlotFull):
            book(office_app, at(hhmm))
    assert book(office_app, at("10:00")).counsellor_id == long.counsellor_id


def test_a_step_shorter_than_the_duration_can_no_longer_overbook_a_counsellor(office_app):
    create_counsellor(office_app, "anna@ki.example", "Anna", ("de",))
    book(office_app, at("09:00"), service="lang")
    long = free(office_app, service="lang")
    assert (long["08:30"], long["09:00"], long["09:30"], long["10:00"]) == (0, 0, 0, 1)
    for hhmm in ("08:30", "09:30"):
        with pytest.raises(SlotFull):
            book(office_app, at(hhmm), service="lang")
    with office_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_a_counsellor_who_works_mornings_only_is_no_place_in_the_afternoon(office_app):
    create_counsellor(office_app, "anna@ki.example", "Anna", ("de",))
    create_counsellor(
        office_app, "yusuf@ki.example", "Yusuf", ("de", "ar"), hours={d: ["08:30-12:00"] for d in range(5)}
    )
    day = free(office_app)
    assert day["11:30"] == 2 and day["14:00"] == 1 and day["16:30"] == 1
    assert free(office_app, language="ar")["14:00"] == 0
    assert counsellor_of(office_app, book(office_app, at("14:00"))) == "Anna"


def test_an_absent_counsellor_is_no_place_for_any_moment_of_the_absence(office_app):
    anna, _yusuf = two_counsellors(office_app)
    with office_app.test_request_context():
        office = office_app.extensions["office"]
        start, end = (
            absences.local(office, TUESDAY, datetime.min.time().replace(hour=9)),
            absences.local(office, TUESDAY, datetime.min.time().replace(hour=10, minute=15)),
        )
        absences.add(office, anna, start, end, "Arzttermin", None, FIXED_NOW)
    day = free(office_app)
    assert (day["08:30"], day["09:00"], day["09:30"], day["10:00"], day["10:30"]) == (2, 1, 1, 1, 2)
    assert counsellor_of(office_app, book(office_app, at("10:00"))) == "Yusuf"


def test_one_counsellor_cannot_hold_overlapping_appointments_of_two_services(office_app):
    create_counsellor(office_app, "anna@ki.example", "Anna", ("de",))
    book(office_app, at("09:30"))
    assert free(office_app, service="lang")["09:00"] == 0
    with pytest.raises(SlotFull):
        book(office_app, at("09:00"), service="lang")


def test_a_service_no_counsellor_gives_keeps_its_anonymous_places(office_app):
    create_counsellor(office_app, "lea@ki.example", "Lea", ("de", "uk"), services=("beratung",))
    assert free(office_app, service="sprechstunde")["08:30"] == 3
    assert free(office_app, service="sprechstunde", language="uk")["08:30"] == 0
    with office_app.test_request_context():
        assert roster.languages(office_app.extensions["office"].service("sprechstunde")) == ("de",)
    booking = book(office_app, at("08:30"), service="sprechstunde")
    assert booking.counsellor_id is None
    with office_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SlotClaim)) == 1
        assert db.session.scalar(select(func.count()).select_from(CounsellorClaim)) == 0
    with pytest.raises(SlotFull):
        book(office_app, at("09:00"), service="sprechstunde", language="uk")


def test_without_any_counsellor_the_office_works_exactly_as_before(app):
    assert free(app)["08:30"] == 2
    first, second = book(app, at("08:30")), book(app, at("08:30"))
    assert first.counsellor_id is None and second.counsellor_id is None
    with pytest.raises(SlotFull):
        book(app, at("08:30"))
    with app.test_request_context():
        office = app.extensions["office"]
        assert roster.capacity(office.service("beratung")) == 2
        assert places.needing_counsellor(office, FIXED_NOW) == []


def test_a_disabled_counsellor_is_no_place_and_their_appointments_need_another(office_app):
    anna, _yusuf = two_counsellors(office_app)
    booking = book(office_app, at("08:30"))
    assert booking.counsellor_id == anna
    with office_app.app_context():
        accounts.set_active(db.session.get(Staff, anna), False)
    assert free(office_app)["09:00"] == 1
    reception = create_staff(office_app, role="reception")
    with office_app.test_request_context():
        office = office_app.extensions["office"]
        needing = places.needing_counsellor(office, FIXED_NOW)
        assert [(a.booking.id, a.problem) for a in needing] == [(booking.id, "inactive")]
        staff = db.session.get(Staff, reception)
        places.reassign(office, db.session.get(Booking, booking.id), staff, FIXED_NOW)
        assert places.needing_counsellor(office, FIXED_NOW) == []
    assert counsellor_of(office_app, booking_of(office_app, booking.id)) == "Yusuf"


def booking_of(app: Flask, booking_id: int) -> Booking:
    with app.app_context():
        found = db.session.get(Booking, booking_id)
        db.session.expunge(found)
        return found


def test_bookings_made_before_the_service_had_counsellors_are_listed_and_assigned(office_app):
    old = book(office_app, at("08:30"))
    assert old.counsellor_id is None
    two_counsellors(office_app)
    reception = create_staff(office_app, role="reception")
    with office_app.test_request_context():
        office = office_app.extensions["office"]
        assert [a.problem for a in places.needing_counsellor(office, FIXED_NOW)] == ["none"]
        staff = db.session.get(Staff, reception)
        left = places.reassign_all(office, [db.session.get(Booking, old.id)], staff, FIXED_NOW)
        assert left == []
        assert db.session.scalar(select(func.count()).select_from(SlotClaim)) == 0  # anonymous place freed
    assert booking_of(office_app, old.id).counsellor_id is not None
    assert free(office_app)["08:30"] == 1


def test_a_move_keeps_the_counsellor_and_may_overlap_its_own_old_time(office_app):
    create_counsellor(office_app, "anna@ki.example", "Anna", ("de",))
    long = book(office_app, at("09:00"), service="lang")
    with office_app.test_request_context():
        office = office_app.extensions["office"]
        moved = bookings.move(office, db.session.get(Booking, long.id), at("09:30"), FIXED_NOW)
        assert moved.counsellor_id == long.counsellor_id
    day = free(office_app)
    assert (day["09:00"], day["09:30"], day["10:00"], day["10:30"]) == (1, 0, 0, 1)


def test_a_move_to_a_time_nobody_speaking_the_language_is_free_is_refused_and_changes_nothing(office_app):
    two_counsellors(office_app)
    arabic = book(office_app, at("08:30"), language="ar")
    book(office_app, at("09:00"), language="ar", email="other@example.org")
    before = snapshot(office_app)
    with office_app.test_request_context(), pytest.raises(SlotFull):
        bookings.move(
            office_app.extensions["office"], db.session.get(Booking, arabic.id), at("09:00"), FIXED_NOW
        )
    assert snapshot(office_app) == before
    assert booking_of(office_app, arabic.id).start_at == datetime.fromisoformat(at("08:30") + "+02:00")


def test_a_cancel_frees_the_counsellors_time_at_once(office_app):
    create_counsellor(office_app, "anna@ki.example", "Anna", ("de",))
    booking = book(office_app, at("08:30"))
    assert free(office_app)["08:30"] == 0
    with office_app.test_request_context():
        assert bookings.cancel(db.session.get(Booking, booking.id), FIXED_NOW)
        assert db.session.scalar(select(func.count()).select_from(CounsellorClaim)) == 0
    assert free(office_app)["08:30"] == 1
    assert booking_of(office_app, booking.id).counsellor_id is not None  # the history keeps who it was


def test_an_unknown_language_is_refused_naming_the_field_and_books_nothing(office_app):
    two_counsellors(office_app)
    before = snapshot(office_app)
    with office_app.test_request_context(), pytest.raises(InvalidBooking) as refused:
        request = bookings.BookingRequest(
            "beratung", at("08:30"), "A", "a@example.org", counselling_language="klingon", interpreter="xx"
        )
        bookings.book(office_app.extensions["office"], request, FIXED_NOW)
    assert set(refused.value.errors) == {"counselling_language", "interpreter"}
    assert snapshot(office_app) == before


def test_an_interpreter_wish_is_kept_and_does_not_change_the_places(office_app):
    create_counsellor(office_app, "anna@ki.example", "Anna", ("de",))
    with office_app.test_request_context():
        request = bookings.BookingRequest("beratung", at("08:30"), "A", "a@example.org", interpreter="ti")
        booking = bookings.book(office_app.extensions["office"], request, FIXED_NOW)
        assert (booking.interpreter, booking.counselling_language) == ("ti", None)
    assert free(office_app)["09:00"] == 1


def test_a_time_staff_closed_is_refused_as_closed_and_not_as_full(office_app, clock):
    two_counsellors(office_app)
    reception = create_staff(office_app, role="reception")
    with office_app.test_request_context():
        office = office_app.extensions["office"]
        staff = db.session.get(Staff, reception)
        start = datetime.fromisoformat(at("09:00") + "+02:00")
        closures.close(office, start, start.replace(hour=10), "Teamsitzung", staff, FIXED_NOW)
    before = snapshot(office_app)
    with pytest.raises(InvalidBooking) as refused:
        book(office_app, at("09:30"))
    assert list(refused.value.errors) == ["start"]
    assert snapshot(office_app) == before
    assert "09:30" not in free(office_app)
