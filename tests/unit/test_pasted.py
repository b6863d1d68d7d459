"""Text pasted into a search field loses the invisible direction marks our plain-text emails and
right-to-left pages put around references, times and phone numbers."""

from __future__ import annotations

import pytest

from booking.pasted import clean

BIDI_CONTROLS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize("mark", list(BIDI_CONTROLS))
def test_every_direction_mark_is_removed_wherever_it_is(mark: str):
    assert clean(f"{mark}ABCD{mark}-2345{mark}") == "ABCD-2345"


def test_the_spaces_around_go_and_the_text_between_stays():
    assert clean(" \u2066ABCD-2345\u2069 \n") == "ABCD-2345"
    assert clean("\u2066 02452 / 13-4222 \u2069") == "02452 / 13-4222"
    assert clean("Ayşe Yılmaz") == "Ayşe Yılmaz"
    assert clean("\u2066\u2069") == clean(None) == ""


def test_other_invisible_characters_stay():
    assert clean("\u200d\u00adA") == "\u200d\u00adA"  # joiners and soft hyphens are no direction marks
