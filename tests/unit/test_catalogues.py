"""Every text a person reads is translated into every language, with intact placeholders."""

from __future__ import annotations

import re
from functools import cache
from gettext import c2py
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from config import Config

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "booking" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")
# English is the language of the message ids themselves.
TRANSLATED = [code for code in Config.LANGUAGES if code != "en"]


def load(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        return read_po(handle)


def message_ids(catalog) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


@cache
def extracted_ids() -> frozenset[str]:
    """Every message id in the code and the templates, extracted as `make messages` does (babel.cfg,
    the same keywords), except that a template the extractor cannot parse fails instead of being
    skipped in silence (Babel's default): a missing Jinja extension once hid a whole template."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    for pattern, method in method_map:
        if method == "jinja2":
            options_map[pattern] = {**options_map.get(pattern, {}), "silent": "false"}
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    found = extract_from_dir(ROOT, method_map, options_map, keywords, directory_filter=_source_folder)
    return frozenset(message if isinstance(message, str) else message[0] for _, _, message, _, _ in found)


def _source_folder(path: str) -> bool:
    """The folders `pybabel extract .` walks, without the virtualenv and the npm packages."""
    return Path(path).name not in {".venv", "node_modules", ".git", "test-artifacts"}


def test_every_template_parses_for_the_extractor_and_every_text_is_in_the_template():
    missing = extracted_ids() - message_ids(load(TRANSLATIONS / "messages.pot"))
    assert not missing, f"run `make messages` and translate: {sorted(missing)[:10]}"


@pytest.mark.parametrize("language", [*TRANSLATED, "en"])
def test_every_extracted_text_is_in_the_catalogue(language):
    catalog = message_ids(load(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"))
    missing = sorted(extracted_ids() - catalog)
    assert not missing, f"{language} misses {len(missing)}, e.g. {missing[:5]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogue_translates_every_message(language):
    template = message_ids(load(TRANSLATIONS / "messages.pot"))
    catalog = load(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    translated = set()
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and "fuzzy" not in message.flags and all(strings):
            translated.add(message.id if isinstance(message.id, str) else message.id[0])
    missing = sorted(template - translated)
    assert not missing, f"{language}: {len(missing)} untranslated, e.g. {missing[:5]}"


@pytest.mark.parametrize("language", [*TRANSLATED, "en"])
def test_catalogue_keeps_every_placeholder(language):
    catalog = load(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    broken = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = sorted(set(PLACEHOLDER.findall(ids[-1])))
        for string in strings:
            if string and sorted(set(PLACEHOLDER.findall(string))) != expected:
                broken.append(ids[0])
    assert not broken, f"{language}: placeholders differ in {broken[:5]}"


@pytest.mark.parametrize("language", Config.LANGUAGES)
def test_every_service_and_the_introduction_speak_every_language(app, language):
    office = app.extensions["office"]
    for service in office.services:
        assert language in service.names, f"service {service.id} has no {language} name"
    assert language in office.intro, f"the office introduction has no {language} text"


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_plural_form_is_the_one_cldr_names_for_the_number(language):
    """Plural-Forms must number the forms in CLDR's order of categories (zero, one, two, few,
    many, other: the order tools write them in): Arabic's once swapped "many" and "other"."""
    catalog = load(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    rule = Locale.parse(language).plural_form
    numbers = range(0, 1001)
    used = {rule(n) for n in numbers}
    categories = [c for c in ("zero", "one", "two", "few", "many", "other") if c in used]
    if catalog.num_plurals == 1:  # Turkish, Persian: one form for every number
        categories = ["any"]
        rule = lambda n: "any"  # noqa: E731
    assert len(categories) == catalog.num_plurals
    form = c2py(catalog.plural_expr)  # the rule as gettext evaluates it from the header
    wrong = [n for n in numbers if categories[form(n)] != rule(n)]
    assert not wrong, f"{language}: numbers given the wrong form, e.g. {wrong[:5]}"
