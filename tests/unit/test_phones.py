"""Phone numbers as residents type them, in whichever digits their keyboard has."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from booking.phones import normal_phone

SCRIPTS = ("0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹")  # Latin, Arabic-Indic, Persian


@given(
    number=st.lists(st.sampled_from("0123456789 +/-"), min_size=3, max_size=40).map("".join),
    scripts=st.lists(st.sampled_from(SCRIPTS), min_size=40, max_size=40),
)
def test_any_mix_of_digit_scripts_is_the_number_in_latin_digits(number: str, scripts: list[str]):
    typed = "".join(
        script[int(char)] if char.isdigit() else char for char, script in zip(number, scripts, strict=False)
    )
    expected = number.strip() if len(number.strip()) >= 3 else None  # too short: no number
    assert normal_phone(typed) == expected


def test_letters_are_no_phone_number():
    assert normal_phone("call me") is None
    assert normal_phone("0245２ 123") is None  # a full-width digit is no digit a keyboard here types


def test_spaces_slashes_and_dashes_stay_as_typed():
    assert normal_phone(" ۰۲۴۵۲ / ۱۳-۴۲۲۲ ") == "02452 / 13-4222"
