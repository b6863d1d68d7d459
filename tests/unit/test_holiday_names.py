"""Our list of Germany's holiday names is the one the holidays package gives in English, so every
closed day of any German office can be named in every language of our catalogues."""

from __future__ import annotations

import holidays

from booking.holiday_names import ENGLISH, translated


def test_every_name_the_package_gives_for_any_german_state_is_in_our_list():
    given = set()
    for subdivision in holidays.country_holidays("DE").subdivisions:
        days = holidays.country_holidays("DE", subdiv=subdivision, language="en_US", years=range(1990, 2041))
        given |= {part for name in days.values() for part in name.split("; ")}
    assert given - ENGLISH == set()
    assert ENGLISH - given == set()  # nothing kept that the package no longer names


def test_two_holidays_on_one_day_are_each_translated():
    german = {"Ascension Day": "Christi Himmelfahrt", "Labor Day": "Erster Mai"}
    assert translated("Ascension Day; Labor Day", german.__getitem__) == "Christi Himmelfahrt; Erster Mai"


def test_a_name_that_is_not_ours_has_no_translation():
    assert translated("National Day", str.upper) is None  # Austria's 26 October
    assert translated("Christmas Day; National Day", str.upper) is None
