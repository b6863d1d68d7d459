"""`flask init-db` creates the tables through Alembic and is idempotent; the migrations match the
models on SQLite and PostgreSQL; a plain postgresql:// URL gets the psycopg driver."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from booking.extensions import db
from booking.models import AuditEvent, Outbox, Staff
from booking.notify import outbox
from config import database_url
from tests.conftest import FIXED_NOW, Clock, make_app

ROOT = Path(__file__).resolve().parents[2]


def drop_everything(app: Flask) -> None:
    """Drop the model tables and Alembic's own version table (not in the models' metadata)."""
    with app.app_context():
        db.session.remove()
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request: pytest.FixtureRequest, clock: Clock, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database without any table."""
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        uri = request.getfixturevalue("postgres_url")
    app = make_app(uri, clock, str(tmp_path / "instance"))
    drop_everything(app)
    yield app
    drop_everything(app)
    with app.app_context():
        db.engine.dispose()


def table_names(app: Flask) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def test_init_db_creates_the_tables_through_alembic(empty_app: Flask):
    assert table_names(empty_app) == set()
    result = empty_app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    tables = table_names(empty_app)
    assert {"bookings", "slot_claims", "outbox", "alembic_version"} <= tables
    assert {t.name for t in db.metadata.sorted_tables} <= tables


def test_init_db_is_idempotent_and_keeps_data(empty_app: Flask):
    runner = empty_app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    client = empty_app.test_client()
    booked = client.post(
        "/api/v1/bookings",
        json={"service": "beratung", "start": "2027-03-30T08:30", "name": "Anna", "email": "a@example.org"},
    )
    assert booked.status_code == 201
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0, again.output
    assert client.get(f"/api/v1/bookings/{booked.json['token']}").status_code == 200


def test_the_migrations_match_the_models(empty_app: Flask):
    """No autogenerate difference between the Alembic head and the models."""
    assert empty_app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    with empty_app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_flask_db_check_finds_nothing_to_migrate(empty_app: Flask):
    runner = empty_app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_the_migration_history_is_one_line(empty_app: Flask):
    from alembic.script import ScriptDirectory

    with empty_app.app_context():
        config = empty_app.extensions["migrate"].migrate.get_config()
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_flask_init_db_command_reads_database_url(tmp_path: Path):
    """The real command line, configured from the environment only."""
    path = tmp_path / "cli.db"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{path}",
        "SECRET_KEY": "test",
        "FLASK_APP": "booking",
    }
    env.pop("OFFICE_CONFIG", None)
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "--app", "booking", "init-db"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        assert {"bookings", "slot_claims", "outbox"} <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_bad_office_file_in_office_config_stops_the_command_with_its_message(tmp_path: Path):
    bad = tmp_path / "office.toml"
    bad.write_text(
        (ROOT / "booking" / "offices" / "ki-kreis-heinsberg.toml")
        .read_text(encoding="utf-8")
        .replace('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"'),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "SECRET_KEY": "test",
        "OFFICE_CONFIG": str(bad),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "booking", "init-db"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "office.timezone" in result.stderr and "Mars/Olympus" in result.stderr
    assert not (tmp_path / "cli.db").exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/termine", "postgresql+psycopg://u:p@db:5432/termine"),
        ("postgres://u@db/termine", "postgresql+psycopg://u@db/termine"),
        ("postgresql+psycopg://u@db/termine", "postgresql+psycopg://u@db/termine"),
        ("sqlite:////var/lib/termine.db", "sqlite:////var/lib/termine.db"),
        (None, None),
        ("", ""),
    ],
)
def test_database_url_gives_postgresql_the_psycopg_driver(given: str | None, expected: str | None):
    assert database_url(given) == expected


OLD_HEAD = "a6c5f2d2743e"  # the last revision before counsellors (December 2026)


OLD_BOOKING = (
    "INSERT INTO bookings (id, reference, token, service_id, start_at, end_at, name, email, language, "
    "status, sequence, created_at) VALUES (:id, :ref, :token, 'beratung', :start, :end, 'Alte Buchung', "
    ":email, 'de', 'confirmed', 0, :at)"
)
OLD_CLAIM = (
    "INSERT INTO slot_claims (service_id, start_at, place_no, booking_id) "
    "VALUES ('beratung', :start, :id, :id)"
)
OLD_EMAIL = (
    "INSERT INTO outbox (dedupe_key, kind, booking_id, sequence, created_at, next_attempt_at, attempts) "
    "VALUES (:key, 'confirm', :id, 0, :at, :at, 0)"
)


def test_a_database_of_the_last_release_upgrades_and_keeps_every_booking_and_email(empty_app: Flask):
    """Built with the old migrations, filled as the old code wrote it (UTC; naive on SQLite), then
    `init-db`: two bookings of the 08:30 slot, their places and their unsent confirmations."""
    from flask_migrate import upgrade

    with empty_app.app_context():
        upgrade(revision=OLD_HEAD)
        sqlite = db.engine.dialect.name == "sqlite"

        def stored(moment: datetime) -> datetime:
            return moment.replace(tzinfo=None) if sqlite else moment

        start, end, at = (
            stored(datetime(2027, 3, 30, 6, 30, tzinfo=UTC)),
            stored(datetime(2027, 3, 30, 7, 0, tzinfo=UTC)),
            stored(FIXED_NOW),
        )
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO staff (id, email, name, password_hash, active, created_at) "
                    "VALUES (1, 'alt@kreis-heinsberg.example', 'Alt', 'scrypt:x', :yes, :at)"
                ),
                {"yes": True, "at": at},
            )
            for number in (1, 2):
                values = {"id": number, "start": start, "end": end, "at": at}
                connection.execute(
                    sa.text(OLD_BOOKING),
                    {
                        **values,
                        "ref": f"OLD{number}-0000",
                        "token": f"old-token-{number}",
                        "email": f"a{number}@x.de",
                    },
                )
                connection.execute(sa.text(OLD_CLAIM), values)
                connection.execute(sa.text(OLD_EMAIL), {**values, "key": f"confirm:{number}"})
            connection.execute(
                sa.text(
                    "INSERT INTO audit_events (booking_id, staff_id, at, action) VALUES (1, 1, :at, 'booked')"
                ),
                {"at": at},
            )
    result = empty_app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output

    client = empty_app.test_client()
    assert client.get("/api/v1/bookings/old-token-1").json["name"] == "Alte Buchung"
    slots = client.get("/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30").json["slots"]
    assert slots[0]["start"] == "2027-03-30T08:30:00+02:00" and slots[0]["available"] == 0
    with empty_app.app_context():
        staff = db.session.get(Staff, 1)
        assert staff.role == "admin" and staff.languages == "de" and not staff.custom_hours
        assert db.session.scalar(sa.select(AuditEvent.staff_id)) == 1  # the staff table was not copied
        rows = db.session.scalars(sa.select(Outbox).order_by(Outbox.id)).all()
        assert [(row.dedupe_key, row.booking_id, row.sent_at) for row in rows] == [
            ("confirm:1", 1, None),
            ("confirm:2", 2, None),
        ]
        assert outbox.deliver([row.id for row in rows]) == 2  # the old emails still go out
    assert client.delete("/api/v1/bookings/old-token-1").status_code == 200
    slots = client.get("/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30").json["slots"]
    assert slots[0]["available"] == 1
