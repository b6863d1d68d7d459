"""`make bench`: the production stack on this machine under load, each figure as a ratio
against a baseline measured in the same run. Prints a table, writes bench/results.json.

Stack: gunicorn (one worker per core, gthread), PostgreSQL, Redis as broker, Celery workers,
a local SMTP server (aiosmtpd). Load: wrk, several runs per figure, medians reported. The office
(bench/office.toml) has anonymous services and one given by four counsellors (bench/counsellors.py);
the fair-access figure runs a second gunicorn on a copy of it with email verification and proof of
work on.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import os
import platform
import re
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import counsellors, proof_of_work  # noqa: E402
from config import database_url  # noqa: E402

BIN = Path(sys.executable).parent
CORES = os.cpu_count() or 1
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CLIENTS = 32
EMAILS = int(os.environ.get("BENCH_EMAILS", "2000"))
# Celery worker processes: sending waits on the mail server and the database, so two per core
# keep the cores busy (README, "Deployment").
WORKER_PROCESSES = int(os.environ.get("BENCH_WORKER_PROCESSES", str(2 * CORES)))
# Which figures to measure (all by default): web (slots, bookings, one slot, each also with
# counsellors), flat (free places in process on the empty and the filled database), generation, worker,
# fair (bookings with email verification and proof of work on), pow (checking a proof-of-work
# solution, in process; bench/proof_of_work.py also times the widget).
PARTS = set(os.environ.get("BENCH_PARTS", "web,fair,flat,generation,worker,pow").split(","))
THREADS = min(CLIENTS, 4)  # wrk threads
_TAGS = itertools.count(1)  # one per wrk run, in the names and addresses it books with
DB_NAME = "termine_bench"
# The `maxnumber` of the fair-access figure's challenges (PROOF_OF_WORK_MAX_NUMBER of its gunicorn):
# solving is the client's cost and happens before the timed runs, so thousands of solutions must be
# cheap to find; checking one costs the server the same whatever the difficulty.
FAIR_MAX_NUMBER = 100
# Bodies written for a run of the fair-access figure: its rate so far times the run's seconds times this.
FAIR_MARGIN = 1.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@contextmanager
def process(command: list[str], env: dict[str, str], name: str) -> Iterator[subprocess.Popen[bytes]]:
    logfile = (ROOT / "bench" / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        logfile.close()


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


Run = dict[str, float | str]


def wrk(
    url: str, *, script: Path | None = None, env: dict[str, str] | None = None, seconds: int = SECONDS
) -> dict[str, float | str]:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CLIENTS}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        command += ["-s", str(script)]
    out = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_TAG": str(next(_TAGS)), **(env or {})},
        check=True,
    ).stdout
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "status": (re.search(r"STATUS (\S*)", out).group(1) if "STATUS" in out else ""),  # type: ignore[union-attr]
        **({"reused": float(re.search(r"REUSED (\d+)", out).group(1))} if "REUSED" in out else {}),  # type: ignore[union-attr]
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def median_of(runs: list[dict[str, float | str]]) -> dict[str, float]:
    return {key: statistics.median(float(r[key]) for r in runs) for key in ("rps", "p50_ms", "p99_ms")}


def status_counts(text: str) -> dict[int, int]:
    return {int(code): int(n) for code, n in re.findall(r"(\d+)=(\d+)", text)}


def fresh_database() -> str:
    admin = sa.create_engine(database_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    return sa.make_url(database_url(ADMIN_URL)).set(database=DB_NAME).render_as_string(False)


def booking_row(number: int, service_id: str, slot: Any, now: datetime) -> dict[str, object]:
    """A confirmed booking as the filled database holds it (no counsellor: an anonymous place)."""
    return {
        "id": number,
        "reference": f"B{number:07d}",
        "token": f"bench-token-{number:012d}",
        "service_id": service_id,
        "start_at": slot.start,
        "end_at": slot.end,
        "name": f"Bewohner {number}",
        "email": f"r{number}@example.org",
        "language": "de",
        "status": "confirmed",
        "sequence": 0,
        "created_at": now - timedelta(days=400),
        "counsellor_id": None,
        "counselling_language": None,
    }


def fill(app, now: datetime, first: date, last: date, number: int = 0) -> int:  # type: ignore[no-untyped-def]
    """The bookings of these days (ids after `number`; returns the last): every place taken up
    to today, about half of them after. Called for the booking window, then for the year before
    it (the history the queries must not get slower with). The anonymous services take places
    (slot_claims); the counsellors' service takes its counsellors' time (counsellor_id,
    counselling_language and counsellor_claims)."""
    from booking import rota
    from booking.extensions import db
    from booking.models import Booking, CounsellorClaim, SlotClaim
    from booking.schedule import day_slots

    office = app.extensions["office"]
    today = now.astimezone(office.timezone).date()
    team = counsellors.roster(app)
    rows, claims, cells = [], [], []
    for service in office.services:
        if any(c.gives(service.id) for c in team):
            continue  # below
        day = first
        while day <= last:
            for slot in day_slots(office, service, day):
                taken = service.capacity // 2 if day > today else service.capacity
                for place in range(1, min(taken, 4) + 1):
                    number += 1
                    rows.append(booking_row(number, service.id, slot, now))
                    claims.append(
                        {
                            "service_id": service.id,
                            "start_at": slot.start,
                            "place_no": place,
                            "booking_id": number,
                        }
                    )
            day += timedelta(days=1)
    for service, slot, counsellor in counsellors.taken(office, team, today, first, last):
        number += 1
        language = None if number % 2 else counsellor.languages[number % len(counsellor.languages)]
        rows.append(
            {
                **booking_row(number, service.id, slot, now),
                "counsellor_id": counsellor.id,
                "counselling_language": language,
            }
        )
        cells += [
            {"counsellor_id": counsellor.id, "minute": minute, "booking_id": number}
            for minute in rota.cells(slot.start, slot.end)
        ]
    with app.app_context():
        for table, values in ((Booking, rows), (SlotClaim, claims), (CounsellorClaim, cells)):
            for start in range(0, len(values), 5000):
                db.session.execute(sa.insert(table), values[start : start + 5000])
        db.session.execute(sa.text("SELECT setval('bookings_id_seq', :n)"), {"n": number})
        db.session.execute(
            sa.text("CREATE TABLE IF NOT EXISTS bench_rows (id serial primary key, name text)")
        )
        db.session.commit()
    analyse(app)
    return number


def analyse(app) -> None:  # type: ignore[no-untyped-def]
    """Statistics, as a database in service has them: right after a bulk load the planner would
    guess, and the first runs would measure autovacuum catching up rather than the service."""
    from booking.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")


def slot_generation_costs(office) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Microseconds per day of slot generation over a week, a month and a year."""
    from dataclasses import replace

    from booking.schedule import bookable_slots, day_slots

    office = replace(office, rules=replace(office.rules, horizon_days=800))  # a year must fit the window
    service = office.services[0]
    now = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)

    def generate(first: date, last: date) -> None:
        day_slots.cache_clear()  # measure the generation, not the cache
        bookable_slots(office, service, first, last, now)

    costs = {}
    for label, span in (("week", 7), ("month", 30), ("year", 365)):
        first = date(2027, 1, 1)
        last = first + timedelta(days=span - 1)
        runs = timeit.repeat(lambda f=first, la=last: generate(f, la), number=max(1, 2000 // span), repeat=5)
        costs[label] = min(runs) / max(1, 2000 // span) / span * 1e6
    return costs


class Sink:
    """A local SMTP server that counts what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
                sink.count += 1
                return "250 OK"

        self.count = 0
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def raw_smtp_rate(sink: Sink, messages: list[bytes]) -> float:
    """Baseline: prebuilt messages over one smtplib connection, emails/s."""
    before = sink.count
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
        for raw in messages:
            smtp.sendmail("bench@localhost", ["r@example.org"], raw)
    while sink.count < before + len(messages):
        time.sleep(0.01)
    return len(messages) / (time.perf_counter() - started)


def measure_pair(
    labels: tuple[str, str], runs: int, actions: tuple[Callable[[], Run], Callable[[], Run]]
) -> tuple[list[Run], list[Run]]:
    """Runs of a figure and of its baseline, taken in turns (after one warm-up run of each:
    connections, prepared statements, caches), so a slow spell of the machine hits both alike."""
    pairs: tuple[list[Run], list[Run]] = ([], [])
    for action in actions:
        action()
    for number in range(runs):
        for label, action, found in zip(labels, actions, pairs, strict=True):
            found.append(action())
            log(f"{label} run {number + 1}: {found[-1]}")
    return pairs


def main() -> int:  # noqa: C901  (one linear script)
    if not shutil.which("wrk"):
        log("installing wrk (Debian package)")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    db_url = fresh_database()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": REDIS_URL,
        "OFFICE_CONFIG": str(ROOT / "bench" / "office.toml"),
        "RATELIMIT_ENABLED": "0",
        "SECRET_KEY": "bench",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [str(BIN / "flask"), "--app", "booking", "init-db"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    from booking import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "CELERY_BROKER_URL": REDIS_URL,
            "OFFICE_CONFIG": env["OFFICE_CONFIG"],
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "bench",
            # In process the free places are timed as computed (gunicorn keeps production's cache).
            "AVAILABILITY_CACHE_SECONDS": 0,
        }
    )
    office = app.extensions["office"]
    now = datetime.now(UTC)
    today = now.astimezone(office.timezone).date()
    counsellors.create_team(app, now)
    costs: dict[str, dict[str, float]] = {}
    if "flat" in PARTS:
        analyse(app)
        costs["empty"] = counsellors.availability_costs(app, now)
    window = fill(app, now, today, today + timedelta(days=office.rules.horizon_days))
    if "flat" in PARTS:
        costs["window"] = counsellors.availability_costs(app, now)
    total = fill(app, now, today - timedelta(days=365), today - timedelta(days=1), window)
    log(f"filled {total} bookings, {window} of them from today on")
    results: dict[str, object] = {
        "machine": f"{platform.node()} {platform.machine()}, {CORES} cores, "
        f"Python {platform.python_version()}",
        "date": now.isoformat(timespec="seconds"),
        "runs": RUNS,
        "seconds_per_run": SECONDS,
        "clients": CLIENTS,
    }
    if "flat" in PARTS:
        costs["filled"] = counsellors.availability_costs(app, now)
        results["availability_ms"] = {
            label: {
                **{stage: found[label] for stage, found in costs.items()},
                # the same days filled alike, with and without a year of bookings before them
                "ratio": costs["filled"][label] / costs["window"][label],
                "filled_over_empty": costs["filled"][label] / costs["empty"][label],
            }
            for label in costs["filled"]
        }
        log(f"free places in process, ms per call: {results['availability_ms']}")
    if "web" in PARTS:
        results.update(web_figures(app, env, office, now))
    if "fair" in PARTS:
        results["fair_bookings"] = fair_figures(app, env, now)
    if "generation" in PARTS:
        results["slot_generation_us_per_day"] = costs = slot_generation_costs(office)
        results["slot_generation_linear"] = costs["year"] / costs["week"]
    if "worker" in PARTS:
        results.update(worker_figures(app, env))
    if "pow" in PARTS:
        results["challenge_verify_us"] = proof_of_work.verify_costs()
    report(results)
    return 0


def free_starts(base: str, service: str, today: date, language: str = "") -> list[str]:
    """The starts with a free place (in `language`) from tomorrow on, as the API lists them."""
    first, last = today + timedelta(days=1), today + timedelta(days=55)
    url = f"{base}/api/v1/slots?service={service}&from={first.isoformat()}&to={last.isoformat()}"
    if language:
        url += f"&language={language}"
    return [s["start"] for s in json.loads(urllib.request.urlopen(url).read())["slots"] if s["available"]]


def slots_figure(base: str, path: str, label: str) -> dict[str, object]:
    """GET `path` against the bare JSON endpoint answering as many bytes, runs taken in turns."""
    size = len(urllib.request.urlopen(base + path).read())
    bare_path = f"/bench/json?bytes={size}"
    bare_size = len(urllib.request.urlopen(base + bare_path).read())
    log(f"{label}: answer {size} bytes, baseline answer {bare_size} bytes")
    slot_runs, bare_runs = measure_pair(
        (label, "bare json"), RUNS, (lambda: wrk(base + path), lambda: wrk(base + bare_path))
    )
    slots, bare = median_of(slot_runs), median_of(bare_runs)
    return {
        **slots,
        "baseline": bare,
        "ratio": slots["rps"] / bare["rps"],
        "bytes": size,
        "baseline_bytes": bare_size,
    }


def status_share(runs: list[Run]) -> dict[str, float]:
    """The share of each status over all these runs."""
    total: dict[int, int] = {}
    for run in runs:
        for code, n in status_counts(str(run["status"])).items():
            total[code] = total.get(code, 0) + n
    answered = sum(total.values()) or 1
    return {str(code): n / answered for code, n in sorted(total.items())}


def gunicorn(port: int) -> list[str]:
    """The web server as production runs it (README, "Deployment"), on `port`."""
    return [
        str(BIN / "gunicorn"),
        "-w",
        str(CORES),
        "-k",
        "gthread",
        "--threads",
        "4",
        # wrk's keep-alive connections spread evenly over the workers; else one worker may take
        # most of them and a run measures one core (the runs varied by 2x before)
        "--worker-connections",
        str(max(1, CLIENTS // CORES)),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "bench.wsgi:app",
    ]


def web_figures(app, env: dict[str, str], office, now: datetime) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Slots and bookings through gunicorn against their bare baselines, and all POSTs on one slot;
    each also for the service of the counsellors."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, object] = {}
    today = now.astimezone(office.timezone).date()
    span = f"from={today.isoformat()}&to={(today + timedelta(days=55)).isoformat()}"
    with process(gunicorn(port), env, "gunicorn") as web:
        wait_http(base + "/api/v1/services")
        figures["slots"] = slots_figure(base, f"/api/v1/slots?service=beratung&{span}", "slots")
        figures["counsellor_slots"] = {
            language or "any": slots_figure(
                base,
                f"/api/v1/slots?service={counsellors.SERVICE}&{span}"
                + (f"&language={language}" if language else ""),
                f"slots {counsellors.SERVICE} {language or 'any language'}",
            )
            for language in counsellors.SLOT_LANGUAGES
        }

        starts = free_starts(base, "sprechstunde", today)
        post = Path(__file__).with_name("post.lua")
        spread = {
            "BENCH_PATH": "/api/v1/bookings",
            "BENCH_SERVICE": "sprechstunde",
            "BENCH_STARTS": ",".join(starts),
        }
        booking_runs, insert_runs = measure_pair(
            ("bookings", "bare insert"),
            RUNS,
            (
                lambda: wrk(base, script=post, env=spread),
                lambda: wrk(base, script=post, env={**spread, "BENCH_PATH": "/bench/insert"}),
            ),
        )
        bookings = median_of(booking_runs)
        baseline = median_of(insert_runs)
        figures["bookings"] = {
            **bookings,
            "baseline": baseline,
            "ratio": bookings["rps"] / baseline["rps"],
            "statuses": [status_counts(str(r["status"])) for r in booking_runs],
            "status_share": status_share(booking_runs),
        }

        one = free_starts(base, "beratung", today)[-1]
        capacity = office.service("beratung").capacity
        with app.app_context():  # empty that slot, so the whole capacity is up for grabs
            from booking.extensions import db
            from booking.models import Booking as BookingRow
            from booking.models import SlotClaim

            start = datetime.fromisoformat(one)
            taken = db.session.scalars(
                sa.select(SlotClaim.booking_id).where(
                    SlotClaim.service_id == "beratung", SlotClaim.start_at == start
                )
            ).all()
            db.session.execute(sa.delete(SlotClaim).where(SlotClaim.booking_id.in_(taken)))
            db.session.execute(sa.delete(BookingRow).where(BookingRow.id.in_(taken)))
            db.session.commit()
        single = wrk(
            base, script=post, seconds=3, env={**spread, "BENCH_SERVICE": "beratung", "BENCH_STARTS": one}
        )
        counts = status_counts(str(single["status"]))
        figures["one_slot"] = {
            "capacity_left": capacity,
            "accepted": counts.get(201, 0),
            "server_errors": sum(n for code, n in counts.items() if code >= 500),
            "statuses": counts,
        }
        figures.update(counsellor_booking_figures(app, base, now, post))
        figures["web_worker_peak_mb"] = max((peak_rss_mb(pid) for pid in children(web.pid)), default=0.0)

    return figures


def counsellor_booking_figures(app, base: str, now: datetime, post: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Bookings of the counsellors' service spread over its free starts (every second one asking
    for a language of counselling) against the bare INSERT, each run into the same free places;
    then all POSTs on one time with every counsellor on duty there free."""
    service = counsellors.SERVICE
    today = now.astimezone(app.extensions["office"].timezone).date()
    places, free = counsellors.places_in_window(app, now)
    starts = free_starts(base, service, today)
    spread = {
        "BENCH_PATH": "/api/v1/bookings",
        "BENCH_SERVICE": service,
        "BENCH_STARTS": ",".join(starts),
        "BENCH_STRIDE": str(THREADS),
        "BENCH_LANGUAGES": ",".join(counsellors.BOOKING_LANGUAGES),
    }
    for language in counsellors.BOOKING_LANGUAGES:
        spread[f"BENCH_STARTS_{language.upper()}"] = ",".join(free_starts(base, service, today, language))
    log(f"{service}: {free} of {places} places free at {len(starts)} starts from tomorrow on")
    mark = counsellors.last_booking_id(app)

    def book() -> Run:
        gone = counsellors.give_back(app, mark)  # before wrk starts its clock
        if gone:
            log(f"gave back the {gone} places of the run before")
        return wrk(base, script=post, env=spread)

    booking_runs, insert_runs = measure_pair(
        ("bookings with counsellors", "bare insert"),
        RUNS,
        (book, lambda: wrk(base, script=post, env={**spread, "BENCH_PATH": "/bench/insert"})),
    )
    counsellors.give_back(app, mark)
    bookings, baseline = median_of(booking_runs), median_of(insert_runs)
    figures: dict[str, object] = {
        "counsellor_bookings": {
            **bookings,
            "baseline": baseline,
            "ratio": bookings["rps"] / baseline["rps"],
            "places": places,
            "free_places": free,
            "statuses": [status_counts(str(r["status"])) for r in booking_runs],
            "status_share": status_share(booking_runs),
        }
    }

    one, on_duty = counsellors.crowded_start(app, starts)
    counsellors.empty_start(app, one)  # every counsellor on duty then is free
    single = wrk(base, script=post, seconds=3, env={**spread, "BENCH_STARTS": one, "BENCH_LANGUAGES": ""})
    counts = status_counts(str(single["status"]))
    booked = counsellors.booked_at(app, one)
    figures["counsellor_one_slot"] = {
        "start": one,
        "on_duty": on_duty,
        "accepted": counts.get(201, 0),
        "server_errors": sum(n for code, n in counts.items() if code >= 500),
        "statuses": counts,
        "booked": len(booked),
        "distinct_counsellors": len(set(booked)),
    }
    log(f"one time with counsellors: {figures['counsellor_one_slot']}")
    return figures


def fair_office_file(folder: Path) -> Path:
    """A copy of bench/office.toml in `folder` with email verification (30 minutes) and proof of
    work on."""
    text = (ROOT / "bench" / "office.toml").read_text(encoding="utf-8")
    assert (
        text.count("\n[booking]\n") == 1
        and "verify_email_minutes" not in text
        and "proof_of_work" not in text
    )
    text = text.replace("\n[booking]\n", "\n[booking]\nverify_email_minutes = 30\nproof_of_work = true\n")
    path = folder / "office.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fetch_challenges(port: int, count: int, connections: int = 8) -> list[dict[str, Any]]:
    """`count` challenges from GET /api/v1/challenge, as an API client gets them (over a few
    keep-alive connections at once)."""

    def fetch(number: int) -> list[dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            found = []
            for _ in range(number):
                conn.request("GET", "/api/v1/challenge")
                found.append(json.loads(conn.getresponse().read()))
            return found
        finally:
            conn.close()

    shares = [count // connections + (i < count % connections) for i in range(connections)]
    with ThreadPoolExecutor(connections) as pool:
        return [c for share in pool.map(fetch, shares) for c in share]


class Bodies:
    """Request bodies of bookings with proof of work, one a line, for bench/bodies.lua: each with
    a challenge of its own from the server, solved here (the client's work, before wrk's clock
    starts), and a name and address of its own (tagged per instance, as BENCH_TAG: the API answers
    a repeated booking with the one made before). Line i goes to wrk thread i % THREADS; a thread's
    j-th request books `starts[j]` (onwards from where the run before stopped), as post.lua spreads
    the bookings without fair access."""

    def __init__(self, port: int, service: str, starts: list[str], folder: Path) -> None:
        self.port, self.service, self.starts = port, service, starts
        self.tag = next(_TAGS)
        self.made = 0  # bodies so far, in all runs
        self.position = 0  # the start the next run's first requests book
        self.path = folder / "bodies.txt"

    def write(self, count: int) -> Path:
        """`count` new bodies in the file (the old ones are gone: each is sent once only)."""
        started = time.perf_counter()
        challenges = fetch_challenges(self.port, count)
        fetched = time.perf_counter()
        lines = []
        for i, challenge in enumerate(challenges):
            self.made += 1
            body = {
                "service": self.service,
                "start": self.starts[(self.position + i // THREADS) % len(self.starts)],
                "name": f"Fair {self.tag}-{self.made}",
                "email": f"fair-{self.tag}-{self.made}@example.org",
                "altcha": proof_of_work.solution(challenge),
            }
            lines.append(json.dumps(body, separators=(",", ":")))
        self.position += math.ceil(count / THREADS)
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        log(
            f"{count} bodies: challenges fetched in {fetched - started:.1f} s, "
            f"solved in {time.perf_counter() - fetched:.1f} s"
        )
        return self.path


def send_again(app, base: str, path: Path) -> list[int]:  # type: ignore[no-untyped-def]
    """The statuses of a few bodies of the last run that booked, each sent once more (outside the
    timed runs): a spent challenge is refused (422), whichever web worker gets it. (wrk calls
    request() once before its run to check the script and drops that body: not every line booked.)"""
    from booking.extensions import db
    from booking.models import Booking

    lines = path.read_text(encoding="utf-8").splitlines()[: 4 * THREADS]
    with app.app_context():
        booked = set(db.session.scalars(sa.select(Booking.email).where(Booking.email.like("fair-%"))))
    statuses = []
    for line in lines:
        if json.loads(line)["email"] not in booked:
            continue
        request = urllib.request.Request(
            base + "/api/v1/bookings", data=line.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            statuses.append(urllib.request.urlopen(request).status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    return statuses


def fair_figures(app, env: dict[str, str], now: datetime) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Bookings with email verification and proof of work on (a second gunicorn on a copy of the
    bench office with both on, spent challenges in Redis) against the bare INSERT, runs in turns.
    Every request carries its own pre-solved challenge; the server checks it (HMAC and SHA-256),
    spends it in Redis and makes a pending booking: its place held, its "verify" email queued."""
    with tempfile.TemporaryDirectory(prefix="bench-fair-") as folder:  # the office file, the bodies
        return _fair_figures(app, env, now, Path(folder))


def _fair_figures(app, env: dict[str, str], now: datetime, folder: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from booking.extensions import db
    from booking.models import Booking, Outbox, SlotClaim

    office_file = fair_office_file(folder)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fair_env = {
        **env,
        "OFFICE_CONFIG": str(office_file),
        "RATELIMIT_STORAGE_URI": REDIS_URL,  # where production keeps spent challenges
        "PROOF_OF_WORK_MAX_NUMBER": str(FAIR_MAX_NUMBER),
    }
    today = now.astimezone(app.extensions["office"].timezone).date()
    with app.app_context():
        mark = db.session.scalar(sa.select(sa.func.max(Booking.id))) or 0
    with process(gunicorn(port), fair_env, "gunicorn-fair"):
        wait_http(base + "/api/v1/services")
        starts = free_starts(base, "sprechstunde", today)
        post = Path(__file__).with_name("post.lua")
        insert = {
            "BENCH_PATH": "/bench/insert",
            "BENCH_SERVICE": "sprechstunde",
            "BENCH_STARTS": ",".join(starts),
        }
        bodies = Bodies(port, "sprechstunde", starts, folder)
        # A first guess at the rate (the bookings' cannot be higher), for the warm-up's bodies.
        guess = float(wrk(base, script=post, env=insert, seconds=2)["rps"])
        rates: list[float] = []
        answered: dict[int, int] = {}  # statuses of every run, the warm-up's too (all made bookings)

        def book() -> Run:
            file = bodies.write(math.ceil(max(rates, default=guess) * SECONDS * FAIR_MARGIN) + 200)
            run = wrk(
                base,
                script=Path(__file__).with_name("bodies.lua"),
                env={
                    "BENCH_PATH": "/api/v1/bookings",
                    "BENCH_BODIES": str(file),
                    "BENCH_STRIDE": str(THREADS),
                },
            )
            rates.append(float(run["rps"]))
            for code, n in status_counts(str(run["status"])).items():
                answered[code] = answered.get(code, 0) + n
            if run.get("reused"):
                log(f"ran out of bodies: {run['reused']:.0f} sent again (answered 422, spent)")
            return run

        booking_runs, insert_runs = measure_pair(
            ("bookings with verification and proof of work", "bare insert"),
            RUNS,
            (book, lambda: wrk(base, script=post, env=insert)),
        )
        resent = send_again(app, base, bodies.path)
    with app.app_context():
        made = sa.and_(Booking.id > mark, Booking.email.like("fair-%"))
        statuses = dict(
            db.session.execute(
                sa.select(Booking.status, sa.func.count()).where(made).group_by(Booking.status)
            ).all()
        )
        held = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SlotClaim)
            .join(Booking)
            .where(made, SlotClaim.hold_until.is_not(None))
        )
        verify_emails = db.session.scalar(
            sa.select(sa.func.count()).select_from(Outbox).join(Booking).where(made, Outbox.kind == "verify")
        )
    bookings, baseline = median_of(booking_runs), median_of(insert_runs)
    share = status_share(booking_runs)
    figure: dict[str, object] = {
        **bookings,
        "baseline": baseline,
        "ratio": bookings["rps"] / baseline["rps"],
        "statuses": [status_counts(str(r["status"])) for r in booking_runs],
        "status_share": share,
        "refused_422": sum(status_counts(str(r["status"])).get(422, 0) for r in booking_runs),
        "reused_bodies": sum(float(r.get("reused", 0)) for r in booking_runs),
        "bodies": bodies.made,
        "answered_201_all_runs": answered.get(201, 0),
        "max_number": FAIR_MAX_NUMBER,
        "made": {str(k): v for k, v in statuses.items()},
        "held_places": held,
        "verify_emails": verify_emails,
        "resent_statuses": resent,
    }
    log(f"fair access: {figure}")
    return figure


def queue_confirmations(app, booking_ids: list[int], label: str, now: datetime) -> list[int]:  # type: ignore[no-untyped-def]
    """Outbox rows for a confirmation of each booking, as a burst of bookings leaves them."""
    from booking.extensions import db
    from booking.models import Outbox

    rows = [
        {
            "dedupe_key": f"bench:{label}:{booking_id}",
            "kind": "confirm",
            "booking_id": booking_id,
            "sequence": 0,
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        }
        for booking_id in booking_ids
    ]
    with app.app_context():
        ids = list(db.session.scalars(sa.insert(Outbox).returning(Outbox.id), rows))
        db.session.commit()
    return ids


def worker_figures(app, env: dict[str, str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Runs of 2,000 confirmations with .ics through real Celery workers on Redis to a local SMTP
    server, each after a run of raw smtplib sending as many prebuilt messages over one connection."""
    from booking.extensions import db
    from booking.models import Booking
    from booking.notify.messages import build_message
    from booking.notify.tasks import enqueue

    now = datetime.now(UTC)
    office = app.extensions["office"]
    with app.app_context():
        # The bookings measured above queued their own confirmations: not part of this figure.
        log(f"purged {app.extensions['celery'].control.purge()} queued tasks of the web figures")
        future = db.session.scalars(
            sa.select(Booking).where(Booking.start_at > now).order_by(Booking.id).limit(EMAILS)
        ).all()
        booking_ids = [b.id for b in future]
        prebuilt = build_message("confirm", future[0], office, dedupe_key="bench:0", now=now).raw
    rates, baselines = [], []
    with Sink() as sink:
        worker_env = {**env, "MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port)}
        command = [
            str(BIN / "celery"),
            "-A",
            "celery_worker",
            "worker",
            "--concurrency",
            str(WORKER_PROCESSES),
            "--loglevel",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ]
        with process(command, worker_env, "celery-worker") as worker:
            time.sleep(6)  # the worker connects and forks its pool
            for run in range(RUNS + 1):  # the first is a warm-up: connections, imports, caches
                baseline = raw_smtp_rate(sink, [prebuilt] * len(booking_ids))
                outbox_ids = queue_confirmations(app, booking_ids, str(run), now)
                before = sink.count
                started = time.perf_counter()
                with app.app_context():  # handed over as production's publisher does: 50 per task
                    enqueue(outbox_ids)
                deadline = time.monotonic() + 600
                while sink.count < before + len(outbox_ids) and time.monotonic() < deadline:
                    time.sleep(0.02)
                rate = (sink.count - before) / (time.perf_counter() - started)
                log(f"emails run {run} {'(warm-up)' if run == 0 else ''}: {rate:.0f}/s, raw {baseline:.0f}/s")
                if run:
                    rates.append(rate)
                    baselines.append(baseline)
            worker_peak = max((peak_rss_mb(pid) for pid in [worker.pid, *children(worker.pid)]), default=0.0)
    rate, baseline = statistics.median(rates), statistics.median(baselines)
    return {
        "emails": {"per_run": len(booking_ids), "rate": rate, "baseline": baseline, "ratio": rate / baseline},
        "celery_worker_peak_mb": worker_peak,
    }


def counsellor_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The rows of the service given by four counsellors."""
    rows = []
    for language, slots in results["counsellor_slots"].items():
        asked = "any language" if language == "any" else f"language={language}"
        rows.append(
            (
                f"GET /api/v1/slots with counsellors, {asked}, 8 weeks, 32 clients",
                f"{slots['rps']:.0f} req/s, p50 {slots['p50_ms']:.1f} ms, p99 {slots['p99_ms']:.1f} ms",
                f"{slots['baseline']['rps']:.0f} req/s ({slots['bytes'] // 1000} kB)",
                f"{slots['ratio']:.2f} (goal >= 1.0)",
            )
        )
    b, one = results["counsellor_bookings"], results["counsellor_one_slot"]
    share = ", ".join(f"{b['status_share'].get(code, 0):.0%} {code}" for code in ("201", "409"))
    rows += [
        (
            "POST /api/v1/bookings with counsellors, 32 clients, many times, 1/2 with a language",
            f"{b['rps']:.0f} req/s ({share}), p99 {b['p99_ms']:.1f} ms",
            f"{b['baseline']['rps']:.0f} inserts/s",
            f"{b['ratio']:.2f} (goal >= 0.5)",
        ),
        (
            "same POSTs with counsellors all on one time",
            f"{one['accepted']} accepted of {one['on_duty']} counsellors on duty "
            f"({one['distinct_counsellors']} different), {one['server_errors']} 5xx",
            "",
            "exactly counsellors on duty, no 5xx",
        ),
    ]
    return rows


def report(results: dict[str, Any]) -> None:
    """The table (the parts measured in this run) on stdout, everything in bench/results.json."""
    out = ROOT / "bench" / "results.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    rows = []
    if "slots" in results:
        slots, b, one = results["slots"], results["bookings"], results["one_slot"]
        rows += [
            (
                "GET /api/v1/slots, 8 weeks, 32 clients",
                f"{slots['rps']:.0f} req/s, p50 {slots['p50_ms']:.1f} ms, p99 {slots['p99_ms']:.1f} ms",
                f"{slots['baseline']['rps']:.0f} req/s",
                f"{slots['ratio']:.2f} (goal >= 1.0)",
            ),
            (
                "POST /api/v1/bookings, 32 clients, many slots",
                f"{b['rps']:.0f} bookings/s, p99 {b['p99_ms']:.1f} ms",
                f"{b['baseline']['rps']:.0f} inserts/s",
                f"{b['ratio']:.2f} (goal >= 0.5)",
            ),
            (
                "same POSTs all on one slot",
                f"{one['accepted']} accepted of {one['capacity_left']} free, {one['server_errors']} 5xx",
                "",
                "exactly capacity, no 5xx",
            ),
        ]
    if "counsellor_slots" in results:
        rows += counsellor_rows(results)
    if "fair_bookings" in results:
        f = results["fair_bookings"]
        rows += [
            (
                "POST /api/v1/bookings with email verification and proof of work on, 32 clients, many slots",
                f"{f['rps']:.0f} bookings/s ({f['status_share'].get('201', 0):.0%} 201, "
                f"{f['refused_422']} 422), p99 {f['p99_ms']:.1f} ms",
                f"{f['baseline']['rps']:.0f} inserts/s",
                f"{f['ratio']:.2f} (goal >= 0.5)",
            ),
            (
                "same: what the server made (warm-up included), and bodies that booked sent again",
                f"{f['made'].get('pending', 0)} pending bookings ({f['answered_201_all_runs']} answered "
                f"201 in time), {f['held_places']} held places, {f['verify_emails']} verify emails; "
                f"again: {', '.join(map(str, f['resent_statuses']))}",
                "",
                "a held place and a verify email each, 422 again",
            ),
        ]
    if "emails" in results:
        e = results["emails"]
        rows.append(
            (
                "worker: confirmations with .ics to local SMTP",
                f"{e['rate']:.0f} emails/s",
                f"{e['baseline']:.0f} emails/s raw smtplib",
                f"{e['ratio']:.2f} (goal >= 0.5)",
            )
        )
    for label, cost in results.get("availability_ms", {}).items():
        rows.append(
            (
                f"free places in process, 8 weeks, {label}: ms per call, empty / window filled / "
                "and a year before",
                f"{cost['empty']:.1f} / {cost['window']:.1f} / {cost['filled']:.1f} ms",
                "",
                f"{cost['ratio']:.2f} with the year (flat ≈ 1), {cost['filled_over_empty']:.2f} vs empty",
            )
        )
    if "slot_generation_us_per_day" in results:
        c = results["slot_generation_us_per_day"]
        rows.append(
            (
                "slot generation, µs per day: week / month / year",
                f"{c['week']:.1f} / {c['month']:.1f} / {c['year']:.1f}",
                "",
                f"year/week per-day cost {results['slot_generation_linear']:.2f} (linear ≈ 1)",
            )
        )
    if "challenge_verify_us" in results:
        v = results["challenge_verify_us"]
        rows.append(
            (
                "verifying a challenge (proof of work), µs: a solution / garbage",
                f"{v['valid']:.1f} / {v['garbage']:.1f}",
                "",
                "reported",
            )
        )
    memory = [
        f"{label} {results[key]:.0f} MiB"
        for label, key in (("web worker", "web_worker_peak_mb"), ("Celery worker", "celery_worker_peak_mb"))
        if key in results
    ]
    if memory:
        rows.append(("peak memory", ", ".join(memory), "", "reported"))
    print(
        f"\nMachine: {results['machine']}; "
        f"{results['runs']} runs of {results['seconds_per_run']} s, medians\n"
    )
    print("| figure | measured | baseline | ratio |\n| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
