"""Proof of work figures: what checking a solution costs the server (µs, pure function), and how
long the browser widget takes to solve the default difficulty on a phone-class CPU (Chromium with
4x CPU throttling). `make bench` reports the first; run this file for both:

    .venv/bin/python bench/proof_of_work.py        # BENCH_POW_RUNS=7, BENCH_POW_THROTTLE=4
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from altcha import solve_challenge_v1  # noqa: E402

from booking import proof_of_work  # noqa: E402

NOW = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)


def solution(challenge: dict[str, Any]) -> str:
    """The base64 payload the widget would send for `challenge`."""
    found = solve_challenge_v1(
        str(challenge["challenge"]), str(challenge["salt"]), "SHA-256", int(challenge["maxnumber"])
    )
    assert found is not None
    fields = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**fields, "number": found.number}).encode()).decode()


def verify_costs() -> dict[str, float]:
    """Microseconds per call of the verifier (best of 5 repeats): a valid solution, and garbage."""
    key = proof_of_work.hmac_key("bench")
    valid = solution(proof_of_work.create(key, NOW))
    assert proof_of_work.verify(valid, key, NOW) is not None
    costs = {}
    for label, payload in (("valid", valid), ("garbage", "bm90IGEgc29sdXRpb24=")):
        number = 20_000
        runs = timeit.repeat(lambda p=payload: proof_of_work.verify(p, key, NOW), number=number, repeat=5)
        costs[label] = min(runs) / number * 1e6
    return costs


def widget_solve_ms(runs: int, throttle: float, number: int | None) -> dict[str, Any]:
    """Solve times of the real widget in Chromium (the time the widget itself reports, `took`, and
    page load to solved), `runs` times, with CPU throttling `throttle`. `number`: the number every
    challenge hides (the worst case is MAX_NUMBER), else random as in production."""
    from playwright.sync_api import sync_playwright

    from booking.extensions import db
    from booking.office import DEFAULT_OFFICE_FILE
    from booking.web import challenges
    from tests.conftest import Clock, make_app
    from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, PHONE, serve

    folder = Path(tempfile.mkdtemp(prefix="bench-pow-"))
    office = folder / "office.toml"
    text = DEFAULT_OFFICE_FILE.read_text(encoding="utf-8")
    office.write_text(text.replace("retention_days = 90\n", "retention_days = 90\nproof_of_work = true\n"))
    app = make_app(
        f"sqlite:///{folder / 'bench.db'}",
        Clock(),
        str(folder / "instance"),
        OFFICE_CONFIG=str(office),
        SERVER_NAME=None,
    )
    with app.app_context():
        db.create_all()
    if number is not None:
        key = proof_of_work.hmac_key(app.config["SECRET_KEY"])
        challenges.new = lambda: proof_of_work.create(key, Clock()(), number=number)  # type: ignore[assignment]
    page_path = "/book/beratung/details?start=2027-03-30T08:30:00%2B02:00"
    solved = "() => { const e = document.querySelector('input[name=altcha]'); return !!(e && e.value); }"
    took, loaded_to_solved = [], []
    with serve(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE, locale="de-DE").new_page()
        cdp = page.context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        for _run in range(runs + 1):  # the first warms the caches and is not counted
            start = time.perf_counter()
            page.goto(base + page_path)
            page.wait_for_function(solved, timeout=60_000)
            elapsed = (time.perf_counter() - start) * 1000
            value = page.eval_on_selector("input[name=altcha]", "e => e.value")
            if _run:
                took.append(float(json.loads(base64.b64decode(value))["took"]))
                loaded_to_solved.append(elapsed)
        browser.close()
    return {
        "throttle": throttle,
        "number": number,
        "took_ms": took,
        "took_median_ms": statistics.median(took),
        "load_to_solved_median_ms": statistics.median(loaded_to_solved),
    }


def main() -> int:
    runs = int(os.environ.get("BENCH_POW_RUNS", "7"))
    throttle = float(os.environ.get("BENCH_POW_THROTTLE", "4"))
    print("verifying a challenge, µs:", {k: round(v, 1) for k, v in verify_costs().items()})
    for label, number in (("worst case", proof_of_work.MAX_NUMBER), ("random", None)):
        figures = widget_solve_ms(runs, throttle, number)
        print(f"widget, {label}, maxnumber {proof_of_work.MAX_NUMBER}, {throttle}x throttling:", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
