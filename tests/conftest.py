"""Shared fixtures: an app on a fresh database (SQLite, or PostgreSQL when TEST_DATABASE_URL
is set), a pinned clock, a test client and a CLI runner."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from booking import create_app
from booking.extensions import db
from booking.office import DEFAULT_OFFICE_FILE
from config import database_url
from tests.mailsink import SmtpSink

# A Friday morning; the next week (29 March 2027) is the first after the DST change.
FIXED_NOW = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)

# The suite's office: the shipped KI file without email verification, so that a booking is
# confirmed at once as the most tests need; tests/integration/test_verification.py and the flows
# in tests/e2e turn it on again (the shipped file has it on).
VERIFICATION_LINE = "verify_email_minutes = 30\n"
_SHIPPED = DEFAULT_OFFICE_FILE.read_text(encoding="utf-8")
assert VERIFICATION_LINE in _SHIPPED, "the shipped office file no longer turns verification on"
SUITE_OFFICE_TEXT = _SHIPPED.replace(VERIFICATION_LINE, "")
SUITE_OFFICE_FILE = os.path.join(tempfile.mkdtemp(prefix="termine-suite-"), "office.toml")
with open(SUITE_OFFICE_FILE, "w", encoding="utf-8") as _file:
    _file.write(SUITE_OFFICE_TEXT)


def required_service(variable: str) -> str | None:
    """The URL in `variable`; in CI (CI=true) a missing one is an error, never a skip."""
    value = os.environ.get(variable)
    if not value and os.environ.get("CI"):
        pytest.fail(f"{variable} must be set in CI; these tests may not skip there")
    return value


@dataclass
class Clock:
    """The app's notion of now; tests move it."""

    now: datetime = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    base = required_service("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped (CI sets it)")
    url = sa.make_url(database_url(base))
    name = f"termine_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_uri(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """PostgreSQL when TEST_DATABASE_URL is set, else a SQLite file of this test."""
    if os.environ.get("TEST_DATABASE_URL"):
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_app(uri: str, clock: Clock, instance: str, **overrides: object) -> Flask:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "CLOCK": clock,
        "SERVER_NAME": "termine.test",
        "MAIL_BACKEND": "file",
        "AVAILABILITY_CACHE_SECONDS": 0,  # tests read their own writes across apps and processes
        "INSTANCE_PATH": instance,
        "OFFICE_CONFIG": SUITE_OFFICE_FILE,
        **overrides,
    }
    return create_app(config)


def snapshot(app: Flask) -> dict[str, int]:
    """Row counts of every table: a rejected request must leave them all as they were."""
    with app.app_context():
        return {
            table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


@pytest.fixture
def app_with(database_uri: str, clock: Clock, tmp_path) -> Iterator[Callable[..., Flask]]:  # type: ignore[no-untyped-def]
    """Build apps with settings of their own (rate limits, CSRF, a cache) on this test's fresh
    database; every one is cleaned up afterwards."""
    made: list[Flask] = []

    def build(**overrides: object) -> Flask:
        app = make_app(database_uri, clock, str(tmp_path / f"instance{len(made)}"), **overrides)
        with app.app_context():
            db.drop_all()
            db.create_all()
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture
def app(app_with: Callable[..., Flask]) -> Flask:
    return app_with()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server on 127.0.0.1 that keeps what it receives; stopped after the test."""
    server = SmtpSink().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
