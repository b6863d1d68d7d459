"""Real `celery -A celery_worker worker` (and beat) processes on a real broker, sending to a real
SMTP server: each email arrives exactly once through worker restarts, SMTP and broker outages.

The Redis tests need TEST_REDIS_URL and TEST_DATABASE_URL (CI sets both; locally they skip when
unset). The embedded-broker test needs nothing but this machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from booking.extensions import db
from booking.models import Outbox
from booking.notify import tasks
from tests.conftest import SUITE_OFFICE_FILE, Clock, make_app, required_service
from tests.mailsink import SmtpSink, free_port

CELERY = str(Path(sys.executable).parent / "celery")
REDIS_DB = 13  # apart from the DB the rest of the suite may use
WAIT = 20.0


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


class Process:
    """A celery worker or beat, its output in a log file; always stopped by the fixture."""

    def __init__(self, kind: str, env: dict[str, str], log: Path, extra: tuple[str, ...] = ()) -> None:
        self.kind, self.env, self.log, self.extra = kind, env, log, extra
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        args = [CELERY, "-A", "celery_worker", self.kind, "--loglevel", "INFO", *self.extra]
        if self.kind == "worker":
            name = f"e2e-{uuid.uuid4().hex[:8]}@%h"
            args += ["--concurrency", "1", "--without-mingle", "--without-gossip", "-n", name]
        self.log.write_text("")
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        ready = "ready." if self.kind == "worker" else "beat: Starting"
        if not wait_until(lambda: ready in self.output() or self.popen.poll() is not None):  # type: ignore[union-attr]
            raise AssertionError(f"celery {self.kind} did not start:\n{self.output()}")
        if self.popen.poll() is not None:
            raise AssertionError(f"celery {self.kind} exited:\n{self.output()}")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, cold: bool = False) -> None:
        popen, self.popen = self.popen, None
        if popen is None or popen.poll() is not None:
            return
        # Warm shutdown gives unacknowledged messages back; cold (SIGQUIT) is quicker when none are left.
        popen.send_signal(signal.SIGQUIT if cold else signal.SIGTERM)
        try:
            popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=5)


def _real_clock_app(uri: str, instance: Path, broker: str | None, **overrides: object) -> Flask:
    """The web app as deployed: the real clock (the worker has no other), this broker."""
    return make_app(uri, Clock(), str(instance), CLOCK=None, CELERY_BROKER_URL=broker, **overrides)


def _dispose(app: Flask) -> None:
    app.extensions["celery"].close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _processes(
    env: dict[str, str], folder: Path, extra: tuple[str, ...] = (), cold: bool = False
) -> Iterator[Callable[[str], Process]]:
    started: list[Process] = []

    def start(kind: str) -> Process:
        process = Process(kind, env, folder / f"{kind}-{len(started)}.log", extra if kind == "worker" else ())
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop(cold=cold)


def _env(**values: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "SMTP_", "MAIL_", "DATABASE_"))
    }
    env.update(values)
    return env


def first_free_start(client: FlaskClient) -> str:
    today = date.today()
    response = client.get(f"/api/v1/slots?service=beratung&from={today}&to={today + timedelta(days=40)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return next(slot["start"] for slot in response.get_json()["slots"] if slot["available"])


def book(client: FlaskClient, email: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": first_free_start(client), "name": "E2E", "email": email},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


# --- Redis + PostgreSQL ---------------------------------------------------------------------------


def fresh_redis(database: int, what: str) -> str:
    """The URL of an emptied Redis database of TEST_REDIS_URL's server (skips `what` without it)."""
    base = required_service("TEST_REDIS_URL")
    if not base:
        pytest.skip(f"TEST_REDIS_URL is not set: {what} on Redis skipped (CI sets it)")
    import redis

    url = sa.make_url(base).set(database=str(database)).render_as_string(hide_password=False)
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
def redis_url() -> str:
    return fresh_redis(REDIS_DB, "worker tests")


@pytest.fixture
def office_file() -> str:
    """The office file of the web app and of the workers: the suite's (email verification off);
    a module whose flows need another overrides this fixture."""
    return SUITE_OFFICE_FILE


@pytest.fixture
def web(postgres_url: str, redis_url: str, office_file: str, tmp_path: Path) -> Iterator[Flask]:
    app = _real_clock_app(postgres_url, tmp_path / "web", redis_url, OFFICE_CONFIG=office_file)
    with app.app_context():
        db.drop_all()
        db.create_all()
    try:
        yield app
    finally:
        _dispose(app)
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def worker_env(
    postgres_url: str, redis_url: str, office_file: str, sink: SmtpSink, instance: Path, **overrides: str
) -> dict[str, str]:
    """The environment of the workers and beat: this database, broker and SMTP server, quick retries."""
    values = dict(
        DATABASE_URL=postgres_url,
        OFFICE_CONFIG=office_file,
        CELERY_BROKER_URL=redis_url,
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink.port),
        SMTP_TIMEOUT="5",
        OUTBOX_RELAY_SECONDS="1",
        MAIL_RETRY_SECONDS="1",
        MAIL_RETRY_MAX_SECONDS="2",
        MAIL_LEASE_SECONDS="30",
        INSTANCE_PATH=str(instance),
        SECRET_KEY="e2e",
    )
    return _env(**{**values, **overrides})


@pytest.fixture
def celery_process(
    web: Flask, postgres_url: str, redis_url: str, office_file: str, sink: SmtpSink, tmp_path: Path
) -> Iterator[Callable[[str], Process]]:
    env = worker_env(postgres_url, redis_url, office_file, sink, tmp_path / "worker")
    yield from _processes(env, tmp_path)


def confirmations_to(sink: SmtpSink, address: str) -> list[str]:
    return [r.message["Message-ID"] for r in sink.messages if r.rcpt_tos == [address]]


def test_a_worker_delivers_the_confirmation_end_to_end(
    web: Flask, celery_process: Callable[[str], Process], sink: SmtpSink
) -> None:
    celery_process("worker")
    booking = book(web.test_client(), "first@example.org")
    [received] = sink.wait_for(1)
    assert received.rcpt_tos == ["first@example.org"]
    message = received.message
    assert booking["reference"] in message.get_body(("plain",)).get_content()
    assert any(p.get_content_type() == "text/calendar" for p in message.walk())
    time.sleep(1)
    assert len(sink.messages) == 1


def test_a_booking_made_while_the_worker_is_down_is_sent_once_when_it_starts(
    web: Flask, celery_process: Callable[[str], Process], sink: SmtpSink
) -> None:
    celery_process("worker").stop()
    book(web.test_client(), "later@example.org")
    time.sleep(1)
    assert sink.messages == []
    celery_process("worker")
    celery_process("beat")  # its relay races the queued message for the same row
    assert len(sink.wait_for(1)) == 1
    time.sleep(2)
    assert len(confirmations_to(sink, "later@example.org")) == 1


def test_an_smtp_outage_ends_in_exactly_one_email(
    web: Flask, celery_process: Callable[[str], Process], sink: SmtpSink
) -> None:
    sink.stop()
    celery_process("worker")
    celery_process("beat")
    book(web.test_client(), "patient@example.org")

    def attempted_twice() -> bool:
        with web.app_context():
            row = db.session.scalar(select(Outbox))
            db.session.rollback()
            return row is not None and row.attempts >= 2 and row.last_error is not None

    assert wait_until(attempted_twice)
    sink.start()
    assert len(sink.wait_for(1)) == 1
    time.sleep(2)
    assert len(confirmations_to(sink, "patient@example.org")) == 1


def test_a_booking_is_kept_when_the_broker_is_down_and_its_email_follows(
    web: Flask, postgres_url: str, celery_process: Callable[[str], Process], sink: SmtpSink, tmp_path: Path
) -> None:
    offline = _real_clock_app(
        postgres_url, tmp_path / "offline", f"redis://127.0.0.1:{free_port()}/{REDIS_DB}"
    )
    try:
        started = time.monotonic()
        booking = book(offline.test_client(), "unlucky@example.org")
        assert time.monotonic() - started < 10
    finally:
        tasks._broker_down_until.clear()
        _dispose(offline)
    with web.app_context():
        [row] = db.session.scalars(select(Outbox)).all()
        assert row.sent_at is None
        db.session.rollback()
    celery_process("worker")
    celery_process("beat")
    [received] = sink.wait_for(1)
    assert received.rcpt_tos == ["unlucky@example.org"]
    assert booking["reference"] in received.message.get_body(("plain",)).get_content()


# --- the embedded broker ---------------------------------------------------------------------------


def test_the_embedded_filesystem_broker_carries_a_task_to_another_process(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    uri = f"sqlite:///{tmp_path / 'termine.db'}"
    app = _real_clock_app(uri, instance, None)
    with app.app_context():
        db.create_all()
    env = _env(DATABASE_URL=uri, INSTANCE_PATH=str(instance), SECRET_KEY="e2e", MAIL_BACKEND="file")
    processes = _processes(env, tmp_path, extra=("--pool", "solo"), cold=True)
    start = next(processes)
    try:
        start("worker")
        book(app.test_client(), "local@example.org")
        outbox = instance / "outbox"
        assert wait_until(lambda: any(outbox.glob("*.eml")))
        [written] = list(outbox.glob("*.eml"))
        assert b"local@example.org" in written.read_bytes()
        assert b"text/calendar" in written.read_bytes()
    finally:
        processes.close()
        _dispose(app)


# --- load and faults together -----------------------------------------------------------------------


def test_parallel_bookings_through_a_worker_restart_and_an_smtp_drop_each_get_one_email(
    web: Flask, celery_process: Callable[[str], Process], sink: SmtpSink
) -> None:
    """Bounded: 8 clients x 5 bookings on a few slots (some full), while the worker restarts and
    the mail server goes away for a while. Every accepted booking is stored, gets exactly one
    confirmation, and no slot holds more than its capacity."""
    import threading

    from booking.models import Booking, SlotClaim

    client = web.test_client()
    today = date.today()
    slots = client.get(f"/api/v1/slots?service=beratung&from={today}&to={today + timedelta(days=40)}")
    starts = [s["start"] for s in slots.get_json()["slots"] if s["available"] == 2][:6]
    accepted: list[dict[str, str]] = []
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def resident(number: int) -> None:
        own = web.test_client()
        barrier.wait()
        for attempt in range(5):
            response = own.post(
                "/api/v1/bookings",
                json={
                    "service": "beratung",
                    "start": starts[(number + attempt) % len(starts)],
                    "name": f"Last {number}",
                    "email": f"load{number}-{attempt}@example.org",
                },
            )
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 201:
                    accepted.append(response.get_json())
            time.sleep(0.1)

    worker = celery_process("worker")
    celery_process("beat")
    clients = [threading.Thread(target=resident, args=(n,)) for n in range(8)]
    for thread in clients:
        thread.start()
    time.sleep(0.5)
    worker.stop()  # a restart in the middle of the load
    sink.stop()  # and the mail server drops
    celery_process("worker")
    time.sleep(2)
    sink.start()
    for thread in clients:
        thread.join(timeout=60)

    assert set(statuses) <= {201, 409}, statuses
    assert len(accepted) == len(starts) * 2  # every place of the six slots, no more
    assert len(sink.wait_for(len(accepted), timeout=60)) >= len(accepted)
    time.sleep(2)
    for booking in accepted:
        assert len(confirmations_to(sink, booking["email"])) == 1, booking["email"]
    assert len(sink.messages) == len(accepted)
    with web.app_context():
        stored = set(db.session.scalars(select(Booking.token)))
        assert {b["token"] for b in accepted} <= stored
        per_slot = db.session.execute(
            select(SlotClaim.start_at, sa.func.count()).group_by(SlotClaim.start_at)
        ).all()
        assert all(count <= 2 for _start, count in per_slot)
        db.session.rollback()
