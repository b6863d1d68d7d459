"""Helpers for the browser tests: the app on a local port, Debian's Chromium through
Playwright, axe-core from npm, and screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium as root, with no calls to the outside (this machine's network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# The staff pages' screens: staff work at a desk, so both languages on a desktop and the phone's
# layout once, right to left (a variant of a walk costs 10-20 s of the suite's 15 minutes; the
# resident pages keep all four).
STAFF_VARIANTS = pytest.mark.parametrize(
    ("viewport", "language"),
    [(PHONE, "ar"), (DESKTOP, "de"), (DESKTOP, "ar")],
    ids=["phone-ar", "desktop-de", "desktop-ar"],
)
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def new_phone_page(browser: Any, locale: str = "de-DE") -> Any:
    """A page as a phone's browser draws it: the meta viewport applies (a page wider than the
    screen widens the layout until it fits), touch, three device pixels to a CSS pixel."""
    context = browser.new_context(
        viewport=PHONE, locale=locale, is_mobile=True, has_touch=True, device_scale_factor=3, bypass_csp=True
    )
    return context.new_page()


def slow_stylesheets(page: Any, milliseconds: int = 400) -> None:
    """The stylesheet arrives after the page itself, as on a slow mobile network: the browser
    lays the page out once without it."""

    def late(route: Any) -> None:
        page.wait_for_timeout(milliseconds)
        route.continue_()

    page.route("**/*.css", late)


def require_browser() -> None:
    """Skip with the reason outside CI; in CI a missing browser or axe-core is a failure."""
    missing = [str(p) for p in (Path(CHROMIUM), AXE) if not p.exists()]
    if not missing:
        return
    message = f"browser tests need {', '.join(missing)} (make test installs them; see README)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 with an ephemeral port in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def check_accessibility(page: Any, label: str) -> None:
    """axe-core finds no WCAG 2.0/2.1 A or AA violation on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert not problems, f"{label}: " + "; ".join(problems)


class Shots:
    """Numbered screenshots of a flow, so a person can look at each step."""

    def __init__(self, flow: str) -> None:
        self.folder = SCREENSHOTS / flow
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, page: Any, step: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{step}.png"), full_page=True)


class Steps:
    """What a person does in a flow, counted: each click on a link or button, each choice in a
    list, each field typed into. A task that needs few of them is a task done "in a few clicks"."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.done: list[str] = []

    def click(self, selector: str) -> None:
        """Click a link or button with the mouse and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.click(selector)
        self.done.append(f"click {selector}")

    def choose(self, selector: str, label: str) -> None:
        self.page.select_option(selector, label=label)
        self.done.append(f"choose {label!r} in {selector}")

    def type(self, selector: str, text: str) -> None:
        self.page.fill(selector, text)
        self.done.append(f"type {text!r} into {selector}")

    def __len__(self) -> int:
        return len(self.done)


# The box drawn for each character of an element's text (a Range per character), in the order of
# the text: what a person sees, whatever the markup and the bidi algorithm made of it.
GLYPH_BOXES = """element => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const boxes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getBoundingClientRect();
      boxes.push({char: node.data[i], left: box.left, right: box.right, top: box.top, width: box.width});
    }
  }
  return boxes;
}"""


def glyph_boxes(locator: Any) -> list[dict[str, Any]]:
    """Where each character of the element's text is drawn on screen."""
    return list(locator.evaluate(GLYPH_BOXES))
