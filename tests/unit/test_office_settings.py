"""The office file, setting by setting: every whole number is accepted at both of its bounds and
refused one past them, every problem the file can have stops start-up with a message naming its key
and line, and the optional tables may be left out."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from booking.office import BookingRules, OfficeFileError, parse_office

# A small office file: each setting on a line of its own, so a message's line is that setting's.
MINIMAL = """\
[office]
name = "Bürgerbüro"
timezone = "Europe/Berlin"
location = "Rathaus, Markt 1"

[hours]
mon = ["08:30-12:15"]
wed = ["14:00-16:00"]

[[services]]
id = "beratung"
name = "Beratung"
duration_minutes = 30
"""


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    return [n for n, line in enumerate(text.splitlines(), start=1) if needle in line][occurrence]


def with_booking(setting: str) -> str:
    return MINIMAL.replace("[hours]", f"[booking]\n{setting}\n\n[hours]")


def with_service(setting: str) -> str:
    return MINIMAL + setting + "\n"


def problem(text: str) -> str:
    with pytest.raises(OfficeFileError) as caught:
        parse_office(text, source="amt.toml")
    return str(caught.value)


def assert_problem_at(text: str, key: str, marker: str, *words: str, occurrence: int = 0) -> None:
    """Start-up stops with a message naming the file, `key` (and `words`) and the line of `marker`."""
    message = problem(text)
    assert message.startswith(f"amt.toml, line {line_of(text, marker, occurrence)}: '{key}'"), message
    assert all(word in message for word in words), message


# --- every whole-number setting at its bounds ----------------------------------------------------

BOOKING_BOUNDS = [
    ("horizon_days", 1, 730),
    ("min_notice_minutes", 0, 60 * 24 * 30),
    ("reminder_hours_before", 0, 24 * 14),
    ("max_active_per_email", 1, 100),
    ("retention_days", 1, 3650),
    ("verify_email_minutes", 0, 60 * 24),
    ("no_show_limit", 0, 100),
    ("no_show_block_days", 1, 3650),
    ("waitlist_hold_minutes", 5, 60 * 24),
    ("release_delay_minutes", 0, 60 * 24),
]
SERVICE_BOUNDS = [("capacity", 1, 1000), ("step_minutes", 5, 8 * 60)]


@pytest.mark.parametrize(("key", "low", "high"), BOOKING_BOUNDS)
def test_a_booking_rule_is_read_at_both_of_its_bounds(key: str, low: int, high: int):
    for value in (low, high):
        rules = parse_office(with_booking(f"{key} = {value}")).rules
        assert getattr(rules, key) == value


@pytest.mark.parametrize(("key", "low", "high"), BOOKING_BOUNDS)
def test_a_booking_rule_one_past_a_bound_names_key_line_and_range(key: str, low: int, high: int):
    for value in (low - 1, high + 1):
        text = with_booking(f"{key} = {value}")
        assert_problem_at(text, f"booking.{key}", f"{key} =", f"must be a whole number from {low} to {high}")


@pytest.mark.parametrize(("key", "low", "high"), SERVICE_BOUNDS)
def test_a_service_setting_is_read_at_both_of_its_bounds(key: str, low: int, high: int):
    for value in (low, high):
        service = parse_office(with_service(f"{key} = {value}")).services[0]
        assert getattr(service, key) == value


@pytest.mark.parametrize(("key", "low", "high"), SERVICE_BOUNDS)
def test_a_service_setting_one_past_a_bound_names_key_line_and_range(key: str, low: int, high: int):
    for value in (low - 1, high + 1):
        text = with_service(f"{key} = {value}")
        assert_problem_at(text, f"services.{key}", f"{key} =", f"from {low} to {high}")


def test_a_service_as_long_as_the_longest_period_is_accepted_and_a_minute_more_is_not():
    longest = 3 * 60 + 45  # Monday 08:30-12:15
    office = parse_office(MINIMAL.replace("duration_minutes = 30", f"duration_minutes = {longest}"))
    assert office.services[0].duration_minutes == longest
    text = MINIMAL.replace("duration_minutes = 30", f"duration_minutes = {longest + 1}")
    assert_problem_at(
        text, "services.duration_minutes", "duration_minutes", "'beratung'", "longer than every"
    )
    early = MINIMAL.replace("08:30-12:15", "06:00-13:00").replace(
        "duration_minutes = 30", "duration_minutes = 420"
    )
    assert parse_office(early).services[0].duration_minutes == 7 * 60


@pytest.mark.parametrize(("value", "bound"), [(4, "from 5 to 480"), (481, "from 5 to 480")])
def test_a_duration_outside_five_minutes_to_eight_hours_is_refused(value: int, bound: str):
    text = MINIMAL.replace("duration_minutes = 30", f"duration_minutes = {value}")
    assert_problem_at(text, "services.duration_minutes", "duration_minutes", bound)


def test_a_service_takes_one_place_and_its_duration_as_step_unless_told():
    service = parse_office(MINIMAL).services[0]
    assert (service.capacity, service.step_minutes) == (1, 30)


# --- optional tables and keys ------------------------------------------------------------------


def test_an_office_file_without_booking_rules_has_the_documented_defaults():
    office = parse_office(MINIMAL)
    assert office.rules == BookingRules()
    assert dataclasses.asdict(office.rules) == {
        "horizon_days": 56,
        "min_notice_minutes": 120,
        "reminder_hours_before": 24,
        "max_active_per_email": 3,
        "retention_days": 90,
        "verify_email_minutes": 0,
        "proof_of_work": False,
        "no_show_limit": 0,
        "no_show_block_days": 90,
        "waitlist_hold_minutes": 30,
        "release_delay_minutes": 0,
    }


def test_an_office_file_without_optional_keys_loads():
    office = parse_office(MINIMAL)
    assert (office.holiday_country, office.holiday_subdivision) == (None, None)
    assert office.closures == frozenset()
    assert (office.postal_address, office.phone, office.intro) == ("", "", {})
    assert office.email == "termine@localhost"
    assert office.intro_text("de") == ""
    assert sorted(office.hours) == [0, 2]  # Monday and Wednesday


def test_holidays_of_a_country_without_subdivision():
    text = MINIMAL.replace(
        'location = "Rathaus, Markt 1"', 'location = "Rathaus"\nholidays = { country = "AT" }'
    )
    office = parse_office(text)
    assert (office.holiday_country, office.holiday_subdivision) == ("AT", None)


def test_several_closures_as_text_or_toml_dates_all_count():
    text = MINIMAL.replace(
        'location = "Rathaus, Markt 1"',
        'location = "Rathaus"\nclosures = [2026-12-24, "2026-12-28", 2026-12-31]',
    )
    assert parse_office(text).closures == frozenset(
        {date(2026, 12, 24), date(2026, 12, 28), date(2026, 12, 31)}
    )


def test_services_may_come_in_any_order_of_their_ids():
    more = "".join(
        f'\n[[services]]\nid = "{i}"\nname = "{i}"\nduration_minutes = 15\n' for i in ("anmeldung", "zuzug")
    )
    office = parse_office(MINIMAL + more)
    assert [s.id for s in office.services] == ["beratung", "anmeldung", "zuzug"]
    assert [office.service(i).id for i in ("zuzug", "anmeldung", "beratung")] == [
        "zuzug",
        "anmeldung",
        "beratung",
    ]
    assert office.service("abmeldung") is None


def test_a_loaded_office_cannot_be_changed():
    """The slot caches key on the office and its services: what was loaded stays as it was."""
    office = parse_office(MINIMAL)
    for thing, field in [
        (office, "name"),
        (office.rules, "horizon_days"),
        (office.services[0], "capacity"),
        (office.hours[0][0], "start"),
    ]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(thing, field, None)


# --- every problem names its key and line ------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key", "marker", "words"),
    [
        ('name = "Bürgerbüro"', 'name = "  "', "office.name", "name =", ["must be a non-empty string"]),
        ('name = "Bürgerbüro"', "name = 7", "office.name", "name =", ["must be a non-empty string"]),
        ('location = "Rathaus, Markt 1"', 'location = ""', "office.location", "location =", []),
        (
            'timezone = "Europe/Berlin"',
            'timezone = "Mars/Olympus"',
            "office.timezone",
            "timezone =",
            ["'Mars/Olympus'"],
        ),
        (
            'timezone = "Europe/Berlin"',
            'timezone = "../etc"',
            "office.timezone",
            "timezone =",
            ["no known time zone"],
        ),
        (
            'location = "Rathaus, Markt 1"',
            'location = "R"\nemail = "no address"',
            "office.email",
            "email =",
            ["email address"],
        ),
        (
            'location = "Rathaus, Markt 1"',
            'location = "R"\nholidays = "DE"',
            "office.holidays",
            "holidays =",
            ["must be a table"],
        ),
        (
            'location = "Rathaus, Markt 1"',
            'location = "R"\nclosures = "2026-12-24"',
            "office.closures",
            "closures =",
            ["must be a list"],
        ),
        (
            'location = "Rathaus, Markt 1"',
            'location = "R"\nintro = ""',
            "office.intro",
            "intro =",
            ["a text or a table"],
        ),
        (
            'location = "Rathaus, Markt 1"',
            'location = "R"\nintro = {}',
            "office.intro",
            "intro =",
            ["a text or a table"],
        ),
        (
            'location = "Rathaus, Markt 1"',
            'location = "R"\nintro = { de = " " }',
            "office.intro",
            "intro =",
            ["empty text for 'de'"],
        ),
        ('mon = ["08:30-12:15"]', 'mon = "08:30-12:15"', "hours.mon", "mon =", ["must be a list of periods"]),
        ('mon = ["08:30-12:15"]', 'mon = ["08:30-08:30"]', "hours.mon", "mon =", ["ends before it starts"]),
        ('mon = ["08:30-12:15"]', 'mon = ["08:30-12:60"]', "hours.mon", "mon =", ["no period like"]),
        ('id = "beratung"', 'id = "Beratung!"', "services.id", "id =", ["'Beratung!'", "lowercase letters"]),
        ('id = "beratung"', "id = 1", "services.id", "id =", ["lowercase letters"]),
        (
            'name = "Beratung"',
            'name = { de = "" }',
            "services.name",
            'name = { de = "" }',
            ["empty text for 'de'"],
        ),
        ('name = "Beratung"', "name = {}", "services.name", "name = {}", ["a text or a table"]),
        ("[[services]]", "[[services]]\ncolour = 1", "services.colour", "colour =", ["not a known setting"]),
    ],
)
def test_every_problem_names_its_key_and_line(old: str, new: str, key: str, marker: str, words: list[str]):
    assert old in MINIMAL
    assert_problem_at(MINIMAL.replace(old, new, 1), key, marker, *words)


def test_periods_that_touch_are_no_overlap_but_one_inside_another_is():
    touching = parse_office(MINIMAL.replace('mon = ["08:30-12:15"]', 'mon = ["12:15-13:00", "08:30-12:15"]'))
    assert [(p.start.isoformat(), p.end.isoformat()) for p in touching.hours[0]] == [
        ("08:30:00", "12:15:00"),
        ("12:15:00", "13:00:00"),
    ]
    text = MINIMAL.replace('mon = ["08:30-12:15"]', 'mon = ["08:30-12:15", "12:14-13:00"]')
    assert_problem_at(text, "hours.mon", "mon =", "overlapping")


def test_an_office_without_a_single_open_weekday_is_refused():
    text = MINIMAL.replace('mon = ["08:30-12:15"]\nwed = ["14:00-16:00"]', "mon = []")
    assert_problem_at(text, "hours", "[hours]", "at least one weekday")


def test_a_missing_table_is_named():
    assert_problem_at(MINIMAL.replace("[hours]", "[hour]"), "hour", "[hour]", "not a known setting")
    message = problem(MINIMAL.replace('[hours]\nmon = ["08:30-12:15"]\nwed = ["14:00-16:00"]\n', ""))
    assert message == "amt.toml: 'hours' must be a table"


def test_services_written_as_a_list_of_texts_are_refused():
    text = 'services = ["beratung"]\n' + MINIMAL.split("[[services]]")[0]
    assert_problem_at(text, "services", "services =", "must be tables written as [[services]]")


def test_a_later_service_is_pointed_at_by_its_own_lines():
    text = MINIMAL + '\n[[services]]\nid = "anmeldung"\nname = "Anmeldung"\nduration_minutes = 2\n'
    assert_problem_at(text, "services.duration_minutes", "duration_minutes", occurrence=1)
    text = MINIMAL + '\n[[services]]\nid = "anmeldung"\nname = ""\nduration_minutes = 15\n'
    assert_problem_at(text, "services.name", "name =", occurrence=2)
    text = MINIMAL + '\n[[services]]\nid = "beratung"\nname = "Noch einmal"\nduration_minutes = 15\n'
    assert_problem_at(text, "services.id", "id =", "twice", occurrence=1)


def test_of_several_misspelt_keys_the_first_is_named():
    text = MINIMAL.replace('location = "Rathaus, Markt 1"', 'location = "R"\nzimmer = "3"\netage = "1"')
    assert_problem_at(text, "office.etage", "etage =", "not a known setting")


def test_an_empty_list_of_services_is_refused():
    text = "services = []\n" + MINIMAL.split("[[services]]")[0]
    assert_problem_at(text, "services", "services =", "at least one service")


def test_a_setting_missing_from_a_later_service_is_pointed_at_by_that_service_s_header():
    nameless = '\n[[services]]\nid = "anmeldung"\nduration_minutes = 15\n'
    text = MINIMAL + nameless + '\n[[services]]\nid = "zuzug"\nname = "Zuzug"\nduration_minutes = 15\n'
    assert_problem_at(text, "services.name", "[[services]]", "a text or a table", occurrence=1)


def test_a_required_setting_missing_from_its_table_is_pointed_at_by_the_table():
    text = MINIMAL.replace('location = "Rathaus, Markt 1"\n', "")
    assert_problem_at(text, "office.location", "[office]", "must be a non-empty string")


def test_a_service_named_in_other_languages_only_is_called_by_its_first_name():
    text = MINIMAL.replace('name = "Beratung"', 'name = { en = "Counselling", tr = "Danışmanlık" }')
    service = parse_office(text).services[0]
    assert (service.name("tr"), service.name("ar"), service.name("de")) == (
        "Danışmanlık",
        "Counselling",
        "Counselling",
    )


def test_of_several_unknown_tables_the_first_is_named():
    text = "zeiten = 1\nextra = 2\n" + MINIMAL
    assert_problem_at(text, "extra", "extra =", "not a known setting")


def test_the_line_is_found_whatever_order_the_tables_come_in():
    services_first = (
        MINIMAL[MINIMAL.index("[[services]]") :] + "\n" + MINIMAL[: MINIMAL.index("[[services]]")]
    )
    assert_problem_at(services_first.replace('name = "Bürgerbüro"', 'name = ""'), "office.name", 'name = ""')


def test_a_key_missing_from_the_office_table_is_not_looked_for_in_a_service():
    text = MINIMAL.replace('name = "Bürgerbüro"\n', "")  # the service below has a `name`
    assert_problem_at(text, "office.name", "[office]", "must be a non-empty string")


def test_of_several_unknown_weekdays_the_first_is_named():
    text = MINIMAL.replace('wed = ["14:00-16:00"]', 'wed = ["14:00-16:00"]\nmonday = []\nfreitag = []')
    assert_problem_at(text, "hours.freitag", "freitag =", "is no weekday")


def test_a_key_missing_from_a_service_is_not_looked_for_in_a_table_after_it():
    services_first = MINIMAL[MINIMAL.index("[[services]]") :].replace('name = "Beratung"\n', "")
    text = services_first + "\n" + MINIMAL[: MINIMAL.index("[[services]]")]  # [office] has a `name`
    assert_problem_at(text, "services.name", "[[services]]", "a text or a table")
