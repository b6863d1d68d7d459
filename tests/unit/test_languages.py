"""Language codes and their names, from Babel's CLDR data (pure)."""

from __future__ import annotations

from booking.languages import COMMON, choices, endonym, is_known, labels, name, parse_list


def test_codes_babel_names_are_languages_and_others_are_not():
    assert all(is_known(code) for code in COMMON)
    assert is_known("ti") and is_known("fa_AF")
    assert not is_known("xx") and not is_known("klingon") and not is_known(None) and not is_known(3)


def test_a_language_is_named_in_the_readers_language_with_a_capital():
    assert name("ar", "de") == "Arabisch"
    assert name("de", "ar") == "الألمانية"
    assert name("ar", "ru") == "Арабский"  # CLDR writes it in lower case
    assert name("ar", "no-such-reader") == "Arabic"


def test_a_language_is_named_in_itself_for_a_reader_who_cannot_read_the_page():
    assert endonym("ar") == "العربية"
    assert endonym("tr") == "Türkçe"
    assert endonym("xx") is None
    assert labels(["ar", "de"], "de") == [("ar", "Arabisch", "العربية"), ("de", "Deutsch", None)]


def test_a_list_of_codes_is_read_with_commas_or_spaces_and_unknown_ones_are_named():
    assert parse_list("de, ar tr,de") == (["de", "ar", "tr"], [])
    assert parse_list("de, xx, klingon") == (["de"], ["xx", "klingon"])
    assert parse_list("  ") == ([], [])


def test_choices_are_sorted_by_name_as_the_reader_reads_them():
    found = choices("de", ["tr", "ar", "de"])
    assert found == [("ar", "Arabisch"), ("de", "Deutsch"), ("tr", "Türkisch")]
