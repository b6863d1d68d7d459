"""Printing the staff day and week as Chromium prints them (Playwright's page.pdf with the
pages' own print CSS), read back by poppler's pdftotext and pdfinfo: the residents are on paper,
no button is, and the week fills one landscape page. The PDFs go to test-artifacts/print/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import test_browser
from tests.e2e.browser import DESKTOP, ROOT
from tests.e2e.test_browser import new_page, sign_in
from tests.e2e.test_staff_grid_browser import DAY, WEEK, a_desk_week

pytestmark = pytest.mark.browser

browser = test_browser.browser
live_app = test_browser.live_app
base_url = test_browser.base_url
staff_login = test_browser.staff_login

PRINTS = ROOT / "test-artifacts" / "print"

# The first words of each button on the page (without the visually hidden rest), less those
# words that also stand on the page outside a button ("Erschienen" is a count's name too).
BUTTON_WORDS = """() => {
  const first = b => (b.tagName === 'INPUT' ? b.value : [...b.childNodes].filter(n => n.nodeType === 3)
                      .map(n => n.textContent).join(' ')).replace(/\\s+/g, ' ').trim();
  const buttons = document.querySelectorAll('button, .button, input[type=submit]');
  const words = [...buttons].map(first).filter(Boolean);
  const rest = document.body.cloneNode(true);
  rest.querySelectorAll('button, .button, .visually-hidden, script').forEach(b => b.remove());
  const text = rest.textContent.replace(/\\s+/g, ' ');
  return [...new Set(words)].filter(w => !text.includes(w));
}"""
# Gives every button a word of its own ("KNOPF0KNOPF", …) and says how many: a button drawn on
# paper brings its word into the PDF's text, in any language and whatever else the page says.
MARK_BUTTONS = """() => {
  const buttons = [...document.querySelectorAll('button, .button, input[type=submit]')];
  buttons.forEach((b, n) => {
    if (b.tagName === 'INPUT') b.value += ` KNOPF${n}KNOPF`; else b.append(` KNOPF${n}KNOPF`);
  });
  return buttons.length;
}"""


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        message = f"the print tests need {tool} (poppler-utils; make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def pdf_text(path: Path) -> str:
    out = subprocess.run([poppler("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def pdf_pages(path: Path) -> tuple[int, float, float]:
    """Number of pages and the first page's width and height in points."""
    out = subprocess.run([poppler("pdfinfo"), str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    width, height = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+)", out, re.M).groups()
    return pages, float(width), float(height)


def printed(page: Any, name: str) -> Path:
    PRINTS.mkdir(parents=True, exist_ok=True)
    path = PRINTS / f"{name}.pdf"
    page.pdf(path=str(path), prefer_css_page_size=True, print_background=True)
    return path


@pytest.mark.parametrize("language", ["de", "ar"])
def test_day_and_week_print_without_buttons_and_the_week_on_one_landscape_page(
    browser, base_url, live_app, staff_login, clock, language
):
    poppler("pdftotext")
    a_desk_week(live_app, clock)
    page = new_page(browser, DESKTOP)
    page.goto(f"{base_url}/language/{language}?next=/staff/login")
    sign_in(page, base_url, *staff_login)

    for name, path in (("day", DAY), ("week", WEEK)):  # Tuesday is today: attendance buttons shown
        page.goto(base_url + path)
        words = page.evaluate(BUTTON_WORDS)
        assert page.evaluate(MARK_BUTTONS) >= 3, f"{name}: the page on screen has buttons to leave off"
        text = pdf_text(printed(page, f"{name}-{language}"))
        assert "Jürgen Öztürk" in text
        assert "KNOPF" not in text
        assert [word for word in words if word in text] == []  # the buttons' own words
        assert "Leitung" not in text  # the navigation (the signed-in name) is not printed

    pages, width, height = pdf_pages(PRINTS / f"week-{language}.pdf")
    assert pages == 1 and width > height
