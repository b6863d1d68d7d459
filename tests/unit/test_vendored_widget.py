"""The ALTCHA widget served from booking/static/altcha/ is exactly what the pinned npm version
ships (`make vendor-altcha` copies it), so `make run` needs no npm and no third party."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "booking" / "static" / "altcha"
PACKAGE = ROOT / "node_modules" / "altcha"
# Where each vendored file comes from in the npm package (as in the Makefile's ALTCHA_FILES).
SOURCES = {
    "altcha.min.js": "dist/external/altcha.min.js",
    "altcha.css": "dist/external/altcha.css",
    "sha.js": "dist/workers/sha.js",
    "LICENSE.txt": "LICENSE.txt",
}


def pinned() -> str:
    return json.loads((ROOT / "package.json").read_text())["devDependencies"]["altcha"]


def test_the_widget_is_pinned_exactly_and_the_vendored_copy_names_that_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned()), "pin altcha exactly: the vendored copy is that version"
    assert (VENDORED / "VERSION").read_text().strip() == pinned()
    assert "MIT License" in (VENDORED / "LICENSE.txt").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert all(source in makefile for source in SOURCES.values())


def test_the_vendored_files_are_those_of_the_pinned_npm_package():
    if not (PACKAGE / "package.json").exists():
        message = "node_modules/altcha is missing (npm install; make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert json.loads((PACKAGE / "package.json").read_text())["version"] == pinned(), "run npm install"
    changed = [
        name
        for name, source in SOURCES.items()
        if (VENDORED / name).read_bytes() != (PACKAGE / source).read_bytes()
    ]
    assert not changed, f"run make vendor-altcha: {changed} differ from npm's altcha {pinned()}"


def test_nothing_else_is_vendored():
    assert {path.name for path in VENDORED.iterdir()} == {*SOURCES, "VERSION"}
