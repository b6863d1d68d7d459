"""Whatever an office file says, parsing it gives an office or an OfficeFileError naming
the problem: never another exception, never a half-read office."""

from __future__ import annotations

import copy
import tomllib

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking.office import DEFAULT_OFFICE_FILE, Office, OfficeFileError, parse_office

VALID = tomllib.loads(DEFAULT_OFFICE_FILE.read_text(encoding="utf-8"))
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.lists(st.text(max_size=12), max_size=3),
    st.sampled_from(
        [
            "08:30-12:00",
            "12:00-08:30",
            "25:00-26:00",
            "Europe/Berlin",
            "Mars/Base",
            "2026-02-30",
            "DE",
            "XX",
            "",
            "beratung",
        ]
    ),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)
PATHS = [
    ("office", "name"),
    ("office", "timezone"),
    ("office", "location"),
    ("office", "email"),
    ("office", "holidays"),
    ("office", "closures"),
    ("office", "intro"),
    ("hours", "mon"),
    ("hours", "tue"),
    ("hours", "xyz"),
    ("booking", "horizon_days"),
    ("booking", "min_notice_minutes"),
    ("booking", "max_active_per_email"),
    ("services", 0, "id"),
    ("services", 0, "name"),
    ("services", 0, "duration_minutes"),
    ("services", 0, "capacity"),
    ("services", 0, "step_minutes"),
    ("hours",),
    ("services",),
    ("office",),
]


def change(data: dict, path: tuple, value: object) -> None:  # type: ignore[type-arg]
    """Set (or, for None, remove) the value at `path`, where the path still exists."""
    target: object = data
    for part in path[:-1]:
        try:
            target = target[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(target, dict):
        if value is None:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_any_changed_office_file_loads_or_names_its_problem(changes):
    data = copy.deepcopy(VALID)
    for path, value in changes:
        change(data, path, value)
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):
        return  # not expressible as TOML
    try:
        office = parse_office(text, source="fuzz.toml")
    except OfficeFileError as error:
        assert str(error).startswith("fuzz.toml")
    else:
        assert isinstance(office, Office) and office.services and office.hours


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_an_office_or_a_clear_error(text):
    try:
        parse_office(text, source="fuzz.toml")
    except OfficeFileError as error:
        assert "fuzz.toml" in str(error)
