"""Every text a person reads is translated into every language, with intact placeholders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_the_template_lists_every_text_in_the_code_and_templates(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(fresh),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    missing = message_ids(load(fresh)) - message_ids(load(TRANSLATIONS / "messages.pot"))
    assert not missing, f"run `make messages` and translate: {sorted(missing)[:10]}"


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
