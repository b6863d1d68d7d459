"""Personal data of past bookings is removed after the retention period (90 days in the office
file); the bookings themselves stay, so the statistics do not change. A lifted no-show block (an
address) is removed once it can no longer matter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from booking import retention
from booking.extensions import db
from booking.models import AuditEvent, Booking, NoShowLift
from tests.conftest import FIXED_NOW, SUITE_OFFICE_TEXT
from tests.integration.staff_support import book_at, get_booking

# Made and held long ago: 2026-12-15 09:00, ended 101 days before the clock's now.
LONG_AGO = FIXED_NOW - timedelta(days=102)
OLD_START = "2026-12-15T10:00"
# Held 30 days ago: inside the retention period.
RECENT = FIXED_NOW - timedelta(days=31)
RECENT_START = "2027-02-24T10:00"


def run(app, now=FIXED_NOW) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return retention.anonymise_expired(app.extensions["office"], now)


def counts(app) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with app.app_context():
        total = db.session.scalar(db.select(db.func.count(Booking.id)))
        attended = db.session.scalar(db.select(db.func.count(Booking.id)).where(Booking.attended.is_(True)))
        return total, attended


def old_booking(app, **fields) -> int:  # type: ignore[no-untyped-def]
    booking_id = book_at(
        app,
        OLD_START,
        name="Ayşe Yılmaz",
        email="ayse@example.org",
        phone="02452 123456",
        note="Aufenthaltstitel",
        booked_at=LONG_AGO,
    )
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        for key, value in fields.items():
            setattr(booking, key, value)
        db.session.add(
            AuditEvent(booking_id=booking_id, at=LONG_AGO, action="cancelled", details="Ayşe krank")
        )
        db.session.commit()
    return booking_id


def test_personal_data_is_removed_after_the_retention_period(app):
    booking_id = old_booking(app, attended=True)
    assert run(app) == 1
    booking = get_booking(app, booking_id)
    assert (booking.email, booking.phone, booking.note) == (None, None, None)
    assert "Ayşe" not in booking.name
    assert booking.anonymised_at == FIXED_NOW
    with app.app_context():
        details = db.session.scalars(db.select(AuditEvent.details).where(AuditEvent.booking_id == booking_id))
        assert all(detail is None or "Ayşe" not in detail for detail in details)


def test_what_statistics_need_stays(app):
    booking_id = old_booking(app, attended=True)
    before = get_booking(app, booking_id)
    counts_before = counts(app)
    run(app)
    after = get_booking(app, booking_id)
    assert counts(app) == counts_before == (1, 1)
    assert (after.service_id, after.start_at, after.end_at, after.status, after.attended) == (
        before.service_id,
        before.start_at,
        before.end_at,
        before.status,
        before.attended,
    )


def test_recent_bookings_are_untouched(app):
    recent = book_at(app, RECENT_START, name="Bernd Berger", email="bernd@example.org", booked_at=RECENT)
    old_booking(app)
    assert run(app) == 1
    booking = get_booking(app, recent)
    assert (booking.name, booking.email) == ("Bernd Berger", "bernd@example.org")
    assert booking.anonymised_at is None


def test_the_period_is_counted_from_the_end_of_the_appointment(app):
    booking_id = old_booking(app)
    ended = get_booking(app, booking_id).end_at
    assert run(app, now=ended + timedelta(days=90) - timedelta(minutes=1)) == 0
    assert run(app, now=ended + timedelta(days=90, minutes=1)) == 1


def test_running_it_again_changes_nothing(app):
    booking_id = old_booking(app)
    assert run(app) == 1
    first = get_booking(app, booking_id)
    assert run(app, now=FIXED_NOW + timedelta(days=1)) == 0
    again = get_booking(app, booking_id)
    assert (again.name, again.anonymised_at) == (first.name, first.anonymised_at)


def test_the_command_reports_how_many_were_anonymised(app, runner):
    old_booking(app)
    result = runner.invoke(args=["anonymise-expired"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 1 bookings." in result.output
    assert "Anonymised 0 bookings." in runner.invoke(args=["anonymise-expired"]).output


# --- lifted no-show blocks ----------------------------------------------------------------------


def no_show(app, start: str, email: str, booked_at: datetime) -> int:  # type: ignore[no-untyped-def]
    booking_id = book_at(app, start, email=email, booked_at=booked_at)
    with app.app_context():
        db.session.get_one(Booking, booking_id).attended = False
        db.session.commit()
    return booking_id


def lifted(app, email: str, at: datetime) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        db.session.add(NoShowLift(email=email, lifted_at=at))
        db.session.commit()


def lifts(app) -> set[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return set(db.session.scalars(db.select(NoShowLift.email)))


def test_a_lift_goes_with_the_addresses_of_the_no_shows_it_covers(app):
    no_show(app, OLD_START, "ayse@example.org", LONG_AGO)  # anonymised by this run
    no_show(app, RECENT_START, "bernd@example.org", RECENT)  # kept
    lifted(app, "ayse@example.org", LONG_AGO + timedelta(days=10))
    lifted(app, "bernd@example.org", RECENT + timedelta(days=10))
    assert lifts(app) == {"ayse@example.org", "bernd@example.org"}
    run(app)
    assert lifts(app) == {"bernd@example.org"}


def test_a_lift_older_than_a_year_and_the_block_goes_even_while_its_no_shows_are_kept(app_with, tmp_path):
    """An office keeping personal data for ten years: the lift of September 2025 (more than a year and
    the 90 block days before now) can no longer touch a block; that of March 2026 still can."""
    office = tmp_path / "office.toml"
    text = SUITE_OFFICE_TEXT
    office.write_text(text.replace("retention_days = 90", "retention_days = 3650"), encoding="utf-8")
    app = app_with(OFFICE_CONFIG=str(office))
    no_show(app, "2025-09-02T10:00", "old@example.org", datetime(2025, 8, 25, 8, tzinfo=UTC))
    no_show(app, "2026-02-24T10:00", "newer@example.org", datetime(2026, 2, 16, 8, tzinfo=UTC))
    lifted(app, "old@example.org", datetime(2025, 9, 10, 8, tzinfo=UTC))
    lifted(app, "newer@example.org", datetime(2026, 3, 3, 8, tzinfo=UTC))
    run(app)
    assert lifts(app) == {"newer@example.org"}
