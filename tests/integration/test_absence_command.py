"""`flask --app booking add-absence`: whole days, a range, part of a day; the appointments it
touches are listed to be given to a colleague in the browser; bad options change nothing.
The clock stands on Monday 29 March 2027 (see test_absences)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Absence
from tests.conftest import snapshot
from tests.integration.staff_support import book_at, create_staff, get_booking
from tests.integration.test_absences import MONDAY_10, RECEPTION, TOMORROW, WEDNESDAY, absence_ids, anna


@pytest.fixture
def monday(clock):  # type: ignore[no-untyped-def]
    clock.now = MONDAY_10
    return clock


def test_add_absence_on_the_command_line_lists_the_appointments_to_give(app, runner, monday):
    anna(app)
    first = book_at(app, f"{TOMORROW}T08:30", name="Ayşe Yılmaz", email="a@example.org")
    second = book_at(app, f"{WEDNESDAY}T11:00", name="Bernd Berger", email="b@example.org")
    result = runner.invoke(
        args=["add-absence", "--email", "ANNA@kreis-heinsberg.example", "--from", TOMORROW,
              "--to", WEDNESDAY, "--reason", "Fortbildung"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (absence_id,) = absence_ids(app)
    assert "Absence entered: Anna Arslan" in result.output
    assert "Tue 2027-03-30 to Wed 2027-03-31 (whole days): Fortbildung." in result.output
    one, two = get_booking(app, first), get_booking(app, second)
    assert f"{one.reference}  Tue 2027-03-30 08:30  Ayşe Yılmaz" in result.output
    assert f"{two.reference}  Wed 2027-03-31 11:00  Bernd Berger" in result.output
    assert f"in the browser: http://termine.test/staff/absences/{absence_id}" in result.output
    with app.app_context():
        stored = db.session.get(Absence, absence_id)
        assert (stored.start_at, stored.end_at, stored.reason) == (
            datetime(2027, 3, 29, 22, 0, tzinfo=UTC),
            datetime(2027, 3, 31, 22, 0, tzinfo=UTC),
            "Fortbildung",
        )


@pytest.mark.parametrize(
    ("start", "end", "stored"),
    [
        ("2027-03-30T08:30", "2027-03-30T10:00", (datetime(2027, 3, 30, 6, 30, tzinfo=UTC),
                                                 datetime(2027, 3, 30, 8, 0, tzinfo=UTC))),
        ("2027-03-30T08:30+02:00", "2027-03-30T08:00Z", (datetime(2027, 3, 30, 6, 30, tzinfo=UTC),
                                                        datetime(2027, 3, 30, 8, 0, tzinfo=UTC))),
    ],
)  # fmt: skip
def test_add_absence_for_part_of_a_day(app, runner, monday, start, end, stored):
    anna(app)
    inside = book_at(app, f"{TOMORROW}T09:30", name="Karim Haddad", email="a@example.org")
    outside = book_at(app, f"{TOMORROW}T10:00", name="Olga Orlova", email="b@example.org")
    result = runner.invoke(args=["add-absence", "--email", "anna@kreis-heinsberg.example", "--from", start,
                                 "--to", end])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Tue 2027-03-30 08:30 to Tue 2027-03-30 10:00." in result.output
    assert f"{get_booking(app, inside).reference}  Tue 2027-03-30 09:30  Karim Haddad" in result.output
    assert get_booking(app, outside).reference not in result.output
    with app.app_context():
        row = db.session.scalars(select(Absence)).one()
        assert (row.start_at, row.end_at) == stored


def test_add_absence_without_appointments_says_so(app, runner, monday):
    anna(app)
    result = runner.invoke(
        args=["add-absence", "--email", "anna@kreis-heinsberg.example", "--from", TOMORROW]
    )
    assert result.exit_code == 0, result.output
    assert "Anna Arslan has no appointments in this time." in result.output


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (["--from", "2027-03-30", "--to", "2027-03-30T10:00"], "--to", "give a date like --from"),
        (["--from", "2027-03-30T08:30", "--to", "2027-03-31"], "--to", "give a date and time like --from"),
        (["--from", "2027-03-30T08:30"], "--to", "give the end of part of a day"),
        (["--from", "2027-03-31", "--to", "2027-03-30"], "--to", "The end must be after the start."),
        (["--from", "2027-03-30T10:00", "--to", "2027-03-30T09:00"], "--to",
         "The end must be after the start."),
        (["--from", "morgen"], "--from", "use a date (2027-04-20) or a date and time"),
        (["--from", "2027-03-30", "--to", "2027-02-30"], "--to", "use a date (2027-04-20)"),
        (["--from", "9999-12-31"], "--from", "use a real date"),
        (["--from", "0001-01-01"], "--from", "Please enter a real date."),
        (["--from", "2027-03-30", "--reason", "x" * 501], "--reason", "Please enter at most 500 characters."),
        (["--from", "2027-03-30", "--email", "nobody@example.org"], "--email", "there is no account"),
        (["--from", "2027-03-30", "--email", RECEPTION],
         "--email", "this account is no counsellor (role: reception)"),
    ],
)  # fmt: skip
def test_add_absence_refuses_bad_options_cleanly(app, runner, monday, args, option, message):
    anna(app)
    create_staff(app, RECEPTION, "Erika Empfang", role="reception")
    book_at(app, f"{TOMORROW}T08:30")
    before = snapshot(app)
    email = [] if "--email" in args else ["--email", "anna@kreis-heinsberg.example"]
    result = runner.invoke(args=["add-absence", *email, *args])
    assert result.exit_code != 0
    assert f"Invalid value for {option}" in result.output or f"Invalid value for '{option}'" in result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert snapshot(app) == before
