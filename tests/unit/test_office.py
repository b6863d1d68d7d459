"""The office file: the shipped one loads, a bad one stops start-up with a message naming key and line."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from booking import create_app
from booking.extensions import db
from booking.office import DEFAULT_OFFICE_FILE, OfficeFileError, Period, load_office, parse_office
from booking.schedule import day_slots, is_open_day

SHIPPED = DEFAULT_OFFICE_FILE.read_text(encoding="utf-8")


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    """1-based number of the line holding `needle` (its `occurrence`-th appearance)."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence]


def changed(old: str, new: str) -> str:
    assert old in SHIPPED, f"the shipped office file no longer contains {old!r}"
    return SHIPPED.replace(old, new, 1)


def problem(text: str) -> str:
    with pytest.raises(OfficeFileError) as caught:
        parse_office(text, source="office.toml")
    return str(caught.value)


def assert_problem_at(text: str, key: str, marker: str, *also: str) -> None:
    """Start-up stops with a message naming `key` (and `also`) and the line that holds `marker`."""
    message = problem(text)
    assert all(word in message for word in (key, *also)), message
    assert f"line {line_of(text, marker)}" in message, message


# --- the shipped KI Kreis Heinsberg file -------------------------------------------------------


def test_shipped_office_file_loads_the_ki_kreis_heinsberg():
    office = load_office()
    assert office.name == "Kommunales Integrationszentrum (KI) Kreis Heinsberg"
    assert office.timezone.key == "Europe/Berlin"
    assert "Oberbrucher Str. 1" in office.location
    assert office.postal_address == "Valkenburger Str. 45, 52525 Heinsberg"
    assert office.phone == "02452 / 13-4222"
    assert "Kreis Heinsberg" in office.intro_text("de")
    assert "Heinsberg" in office.intro_text("en")


def test_shipped_office_is_open_mornings_and_tuesday_thursday_afternoons():
    office = load_office()
    morning = (Period(time(8, 30), time(12, 0)),)
    afternoon = (Period(time(8, 30), time(12, 0)), Period(time(14, 0), time(17, 0)))
    assert office.hours == {0: morning, 1: afternoon, 2: morning, 3: afternoon, 4: morning}


def test_shipped_office_booking_rules():
    rules = load_office().rules
    assert rules.horizon_days == 56
    assert rules.min_notice_minutes == 120
    assert rules.reminder_hours_before == 24
    assert rules.max_active_per_email == 3


def test_shipped_office_offers_counselling_for_two_in_parallel():
    office = load_office()
    (service,) = office.services
    assert service.id == "beratung"
    assert service.name("de") == "Integrationsberatung"
    assert service.name("en") == "Integration counselling"
    assert service.name("es") == "Integrationsberatung"  # a language without a name: German
    assert (service.duration_minutes, service.capacity, service.step_minutes) == (30, 2, 30)
    assert office.service("beratung") is service
    assert office.service("nope") is None


def test_shipped_office_closes_on_nrw_holidays_and_its_closure_days():
    office = load_office()
    assert (office.holiday_country, office.holiday_subdivision) == ("DE", "NW")
    assert office.closures == frozenset({date(2026, 12, 24), date(2026, 12, 31)})


def test_load_office_reads_a_given_path(tmp_path: Path):
    path = tmp_path / "office.toml"
    path.write_text(changed('name = "Kommunales', 'name = "Anderes Amt" # was "Kommunales'), "utf-8")
    assert load_office(path).name == "Anderes Amt"


def test_a_missing_office_file_is_an_office_file_error(tmp_path: Path):
    with pytest.raises(OfficeFileError, match="cannot read"):
        load_office(tmp_path / "nowhere.toml")


# --- bad office files: the message names the key and the line ----------------------------------


def test_invalid_toml_names_the_line():
    text = changed('mon = ["08:30-12:00"]', 'mon = ["08:30-12:00"')
    message = problem(text)
    assert "not valid TOML" in message
    assert re.search(r"line \d+", message)


def test_unknown_timezone_names_key_and_line():
    text = changed('"Europe/Berlin"', '"Europe/Atlantis"')
    message = problem(text)
    assert "office.timezone" in message
    assert "Europe/Atlantis" in message
    assert f"line {line_of(text, 'timezone =')}" in message


def test_period_that_ends_before_it_starts_names_key_and_line():
    text = changed('mon = ["08:30-12:00"]', 'mon = ["12:00-08:30"]')
    assert_problem_at(text, "hours.mon", "mon =", "12:00-08:30")


@pytest.mark.parametrize("period", ["8:30-12:00", "08:30 - 12:00", "25:00-26:00", "08:30", 830])
def test_malformed_period_names_key_and_line(period: object):
    value = f'"{period}"' if isinstance(period, str) else str(period)
    text = changed('wed = ["08:30-12:00"]', f"wed = [{value}]")
    assert_problem_at(text, "hours.wed", "wed =")


def test_overlapping_periods_name_key_and_line():
    text = changed('tue = ["08:30-12:00", "14:00-17:00"]', 'tue = ["08:30-12:00", "11:30-17:00"]')
    assert_problem_at(text, "hours.tue", "tue =", "overlapping")


def test_unknown_weekday_key_names_key_and_line():
    text = changed('fri = ["08:30-12:00"]', 'fri = ["08:30-12:00"]\nfry = ["08:30-12:00"]')
    assert_problem_at(text, "hours.fry", "fry =")


def test_missing_services_names_the_key():
    text = SHIPPED.split("[[services]]")[0]
    assert "services" in problem(text)


def test_duplicate_service_id_names_the_line_of_the_second_one():
    text = SHIPPED + '\n[[services]]\nid = "beratung"\nname = "Noch einmal"\nduration_minutes = 30\n'
    message = problem(text)
    assert "services.id" in message and "beratung" in message
    second = line_of(text, 'id = "beratung"', occurrence=1)
    assert f"line {second}" in message


def test_error_in_a_later_service_points_at_that_service():
    text = (
        SHIPPED + '\n[[services]]\nid = "sprache"\nname = "Sprachkurs"\nduration_minutes = 30\ncapacity = 0\n'
    )
    assert_problem_at(text, "services.capacity", "capacity = 0")


def test_capacity_zero_names_key_and_line():
    text = changed("capacity = 2", "capacity = 0")
    assert_problem_at(text, "services.capacity", "capacity = 0")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("horizon_days = 56", "horizon_days = true", "booking.horizon_days"),
        ("capacity = 2", "capacity = false", "services.capacity"),
        ("duration_minutes = 30", "duration_minutes = true", "services.duration_minutes"),
        ("min_notice_minutes = 120", 'min_notice_minutes = "120"', "booking.min_notice_minutes"),
        ("max_active_per_email = 3", "max_active_per_email = 2.5", "booking.max_active_per_email"),
    ],
)
def test_a_bool_or_other_non_integer_is_no_number(old: str, new: str, key: str):
    text = changed(old, new)
    message = problem(text)
    assert key in message
    assert f"line {line_of(text, new)}" in message


def test_bad_closure_date_names_key_and_line():
    text = changed('"2026-12-31"]', '"2026-13-31"]')
    assert_problem_at(text, "office.closures", "closures =", "2026-13-31")


def test_closure_dates_may_be_toml_dates():
    office = parse_office(changed('closures = ["2026-12-24", "2026-12-31"]', "closures = [2027-01-02]"))
    assert office.closures == frozenset({date(2027, 1, 2)})


def test_unknown_holiday_country_names_key_and_line():
    text = changed('country = "DE"', 'country = "XX"')
    assert_problem_at(text, "office.holidays", "holidays =", "country", "'XX'")


def test_unknown_holiday_subdivision_names_the_subdivision_not_the_country():
    text = changed('subdivision = "NW"', 'subdivision = "ZZ"')
    message = problem(text)
    assert "subdivision" in message and "'ZZ'" in message
    assert "unknown country" not in message
    assert f"line {line_of(text, 'holidays =')}" in message


def test_duration_longer_than_every_period_names_key_and_line():
    text = changed("duration_minutes = 30", "duration_minutes = 240")
    assert_problem_at(text, "services.duration_minutes", "duration_minutes = 240")


@pytest.mark.parametrize(
    ("old", "new", "key", "on_line"),
    [
        ("horizon_days = 56", "horizon_dayz = 56", "booking.horizon_dayz", "horizon_dayz"),
        ('phone = "02452', 'telephone = "02452', "office.telephone", "telephone ="),
        ("[booking]", "[bookings]", "bookings", "[bookings]"),
        ("capacity = 2", "capacity = 2\ncolour = 1", "services.colour", "colour ="),
        ('"NW" }', '"NW", region = "x" }', "office.holidays.region", "holidays ="),
    ],
)
def test_a_misspelt_key_is_refused_rather_than_ignored(old: str, new: str, key: str, on_line: str):
    text = changed(old, new)
    message = problem(text)
    assert f"'{key}'" in message and "not a known setting" in message
    assert f"line {line_of(text, on_line)}" in message


def test_bad_office_file_stops_start_up(tmp_path: Path):
    bad = tmp_path / "office.toml"
    bad.write_text(changed("capacity = 2", "capacity = 0"), "utf-8")
    with pytest.raises(OfficeFileError, match="services.capacity"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test",
                "OFFICE_CONFIG": str(bad),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}",
                "INSTANCE_PATH": str(tmp_path / "instance"),
            }
        )


# --- another office runs the same software from its own file -----------------------------------

SATURDAY_OFFICE = """
[office]
name = "Bürgerbüro Samstag"
timezone = "America/New_York"
location = "Main Street 1"
email = "office@example.org"
holidays = { country = "US", subdivision = "NY" }

[hours]
sat = ["09:00-13:00"]

[booking]
horizon_days = 14
min_notice_minutes = 0

[[services]]
id = "passport"
name = { en = "Passport", de = "Reisepass" }
duration_minutes = 60
step_minutes = 20
capacity = 1
"""


def test_another_office_runs_from_its_own_file():
    office = parse_office(SATURDAY_OFFICE)
    service = office.service("passport")
    assert service is not None
    assert office.timezone.key == "America/New_York"
    assert (office.holiday_country, office.holiday_subdivision) == ("US", "NY")
    assert office.rules.max_active_per_email == 3  # default
    saturday = date(2027, 3, 13)
    assert not is_open_day(office, date(2027, 3, 15))  # a Monday: no hours
    slots = day_slots(office, service, saturday)
    starts = [s.start.strftime("%H:%M") for s in slots]
    # every 20 minutes while a 60-minute appointment still ends by 13:00
    assert starts == [f"{9 + m // 60:02d}:{m % 60:02d}" for m in range(0, 181, 20)]  # 09:00 .. 12:00
    assert slots[-1].end.strftime("%H:%M") == "13:00"
    assert slots[0].start.utcoffset() == datetime(2027, 3, 13, 12, tzinfo=office.timezone).utcoffset()


def test_another_office_serves_the_app(tmp_path: Path):
    """Slots, booking and local times come from the other office's file, not from Heinsberg."""
    path = tmp_path / "saturday.toml"
    path.write_text(SATURDAY_OFFICE, "utf-8")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "OFFICE_CONFIG": str(path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "RATELIMIT_ENABLED": False,
            "CLOCK": lambda: datetime(2027, 3, 12, 15, 0, tzinfo=UTC),  # Friday 10:00 in New York
        }
    )
    with app.app_context():
        db.create_all()
    client = app.test_client()
    response = client.get("/api/v1/services", headers={"Accept-Language": "en"})
    assert response.json == [
        {"id": "passport", "name": "Passport", "duration_minutes": 60, "capacity": 1, "languages": ["de"]}
    ]
    slots = client.get("/api/v1/slots?service=passport&from=2027-03-12&to=2027-03-21").json
    assert slots["timezone"] == "America/New_York"
    starts = [s["start"] for s in slots["slots"]]
    assert starts[0] == "2027-03-13T09:00:00-05:00"  # Saturday, still standard time
    assert "2027-03-20T09:00:00-04:00" in starts  # after the US change on 14 March
    assert {s[:10] for s in starts} == {"2027-03-13", "2027-03-20"}
    booked = client.post(
        "/api/v1/bookings",
        json={"service": "passport", "start": "2027-03-20T09:20", "name": "Ann", "email": "ann@example.org"},
    )
    assert booked.status_code == 201, booked.json
    assert booked.json["start"] == "2027-03-20T09:20:00-04:00"
    assert booked.json["end"] == "2027-03-20T10:20:00-04:00"
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- fair access ---------------------------------------------------------------------------------

FAIR_ACCESS = "retention_days = 90\n"


def with_setting(setting: str) -> str:
    """The shipped file with only `setting` of the fair-access ones."""
    without = SHIPPED.replace("verify_email_minutes = 30\n", "")
    return without.replace(FAIR_ACCESS, FAIR_ACCESS + setting + "\n")


def test_fair_access_is_off_when_the_file_says_nothing_of_it():
    rules = parse_office(SHIPPED.replace("verify_email_minutes = 30\n", ""), source="x").rules
    assert rules.verify_email_minutes == 0
    assert (rules.proof_of_work, rules.no_show_limit, rules.release_delay_minutes) == (False, 0, 0)
    assert (rules.no_show_block_days, rules.waitlist_hold_minutes) == (90, 30)


def test_fair_access_settings_are_read():
    text = changed(
        FAIR_ACCESS,
        FAIR_ACCESS + "proof_of_work = true\nno_show_limit = 2\nno_show_block_days = 60\n"
        "waitlist_hold_minutes = 45\nrelease_delay_minutes = 20\n",
    )
    rules = parse_office(text, source="x").rules
    assert rules.proof_of_work is True
    assert (rules.no_show_limit, rules.no_show_block_days) == (2, 60)
    assert (rules.waitlist_hold_minutes, rules.release_delay_minutes) == (45, 20)


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("verify_email_minutes = 1441", "booking.verify_email_minutes"),
        ("verify_email_minutes = -1", "booking.verify_email_minutes"),
        ('proof_of_work = "yes"', "booking.proof_of_work"),
        ("proof_of_work = 1", "booking.proof_of_work"),
        ("no_show_limit = 101", "booking.no_show_limit"),
        ("no_show_block_days = 0", "booking.no_show_block_days"),
        ("waitlist_hold_minutes = 4", "booking.waitlist_hold_minutes"),
        ("release_delay_minutes = 1441", "booking.release_delay_minutes"),
    ],
)
def test_a_fair_access_setting_out_of_range_names_key_and_line(setting: str, key: str):
    text = with_setting(setting)
    assert_problem_at(text, key, setting)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("verify_email_minutes = 1440", 1440), ("waitlist_hold_minutes = 5", 5), ("no_show_limit = 100", 100)],
)
def test_a_fair_access_setting_at_its_bound_is_accepted(setting: str, value: int):
    text = with_setting(setting)
    key = setting.split(" =")[0]
    assert getattr(parse_office(text, source="x").rules, key) == value
