"""The database pulled away: a restart of PostgreSQL costs no request and no email task, an outage
answers with the app's own 503 page, and an email sent while the database went away is recorded
once it is back instead of going out twice.

The restart tests need PostgreSQL (TEST_DATABASE_URL; CI sets it): they end the backends of this
run's own database with `pg_terminate_backend`, and shut it off with `ALLOW_CONNECTIONS false`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select

from booking import bookings
from booking.extensions import db
from booking.models import Outbox
from booking.notify import tasks
from tests import database_server
from tests.conftest import Clock, make_app
from tests.database_server import Server
from tests.integration.staff_support import create_staff, sign_in
from tests.mailsink import Handler, SmtpSink, free_port

TUESDAY_0830 = datetime(2027, 3, 30, 6, 30, tzinfo=UTC)
BODY = {"service": "beratung", "start": "2027-03-30T08:30:00+02:00", "name": "A", "email": "a@example.org"}
SLOTS = "/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30"

server = database_server.server  # the run's PostgreSQL server, cut and restored


@pytest.fixture
def pg_app(app_with: Callable[..., Flask], postgres_url: str) -> Flask:
    """The suite's app on PostgreSQL even where the rest of the run uses SQLite."""
    app = app_with(SQLALCHEMY_DATABASE_URI=postgres_url, PROPAGATE_EXCEPTIONS=False)
    return app


def fill_the_pool(app: Flask, connections: int = 3) -> None:
    """Several requests at once leave several connections in the pool."""
    with app.app_context():
        held = [db.engine.connect() for _ in range(connections)]
        for connection in held:
            connection.execute(sa.text("SELECT 1"))
        for connection in held:
            connection.close()


def book(app: Flask, clock: Clock, email: str, start: datetime = TUESDAY_0830) -> int:
    """A booking made in the app; returns its email's outbox id."""
    with app.app_context():
        request = bookings.BookingRequest("beratung", start, "Anna Müller", email, language="de")
        booking = bookings.book(app.extensions["office"], request, clock.now)
        row_id = db.session.scalar(select(Outbox.id).where(Outbox.booking_id == booking.id))
        db.session.rollback()
        assert row_id is not None
        return row_id


# --- a restart of the database -------------------------------------------------------------------


def test_after_the_database_restarts_every_next_request_succeeds(pg_app: Flask, server: Server) -> None:
    fill_the_pool(pg_app)
    client = pg_app.test_client()
    assert client.get(SLOTS).status_code == 200
    assert server.terminate_backends() >= 3

    for _ in range(4):  # as many as the pool had connections, and one more
        assert client.get(SLOTS).status_code == 200
    response = client.post(
        "/api/v1/bookings",
        json={
            "service": "beratung",
            "start": "2027-03-30T08:30:00+02:00",
            "name": "A",
            "email": "a@example.org",
        },
    )
    assert response.status_code == 201, response.text


def test_a_healthy_connection_is_kept_and_only_a_closed_one_replaced(pg_app: Flask, server: Server) -> None:
    """The checkout's check costs no reconnects while the server is up (bookings, the pipeline
    statement, slots), and exactly one new connection for the one the server closed."""
    client = pg_app.test_client()
    assert client.get(SLOTS).status_code == 200
    opened: list[object] = []
    with pg_app.app_context():
        sa.event.listen(db.engine, "connect", lambda *_args: opened.append(1))
    for minutes in (0, 0, 30, 30, 60):
        start = (TUESDAY_0830 + timedelta(minutes=minutes)).isoformat()
        assert client.post("/api/v1/bookings", json={**BODY, "start": start}).status_code in (201, 409)
        assert client.get(SLOTS).status_code == 200
    assert opened == []
    server.terminate_backends()
    assert client.get(SLOTS).status_code == 200
    assert len(opened) == 1


def test_after_the_database_restarts_the_next_email_task_succeeds(
    pg_app: Flask, server: Server, clock: Clock
) -> None:
    first, second = book(pg_app, clock, "a@example.org"), book(pg_app, clock, "b@example.org")
    fill_the_pool(pg_app)
    assert server.terminate_backends() >= 3
    with pg_app.app_context():
        assert tasks.send_email([first]) == 1  # a worker's task, in process
    assert server.terminate_backends() >= 1
    with pg_app.app_context():
        assert tasks.relay_outbox() == 1  # beat's relay finds and sends the other
        assert db.session.scalar(select(sa.func.count()).where(Outbox.sent_at.is_(None))) == 0
        db.session.rollback()
    assert second


# --- an outage -----------------------------------------------------------------------------------


def test_during_an_outage_pages_and_api_answer_with_the_apps_own_503(
    app: Flask, clock: Clock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Signed in on a working app, then the same cookie on an app whose database port has nobody
    listening: the staff pages' error page used to fail while loading the user."""
    create_staff(app)
    working = app.test_client()
    assert sign_in(working).status_code == 302
    cookie = working.get_cookie("session", domain="termine.test")
    assert cookie is not None

    away = make_app(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/termine",
        clock,
        str(tmp_path / "away"),
        PROPAGATE_EXCEPTIONS=False,
    )
    client = away.test_client()
    client.set_cookie("session", cookie.value, domain="termine.test")
    for path in ("/staff/", "/staff/week", "/", "/book/beratung"):
        response = client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 503, path
        assert "The appointment system is not available at the moment" in response.text, path
        assert response.headers["Retry-After"] == "30"
        assert '<html lang="en"' in response.text  # the app's page, not the server's
    response = client.get("/api/v1/services", headers={"Accept-Language": "de"})
    assert response.status_code == 503
    assert response.json["error"] == "unavailable"
    assert "Bitte versuchen Sie es in einigen Minuten noch einmal" in response.json["message"]
    response = client.post("/api/v1/bookings", json=BODY)
    assert response.status_code == 503

    assert working.get("/staff/").status_code == 200  # the session lives on where the database is


def test_while_postgresql_refuses_connections_staff_see_503_and_afterwards_their_page(
    pg_app: Flask, server: Server
) -> None:
    create_staff(pg_app)
    client = pg_app.test_client()
    assert sign_in(client).status_code == 302
    with server.outage():
        response = client.get("/staff/", headers={"Accept-Language": "en"})
        assert response.status_code == 503
        assert "The appointment system is not available at the moment" in response.text
    assert client.get("/staff/").status_code == 200


# --- an email sent while the database goes away ------------------------------------------------------


class CutsTheDatabase(Handler):
    """Accepts each message, but the first time only after the database has gone away; it comes
    back a second later, while the worker is still recording."""

    server: Server
    cuts: list[threading.Timer]

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        if not self.cuts:
            self.server.allow_connections(False)
            self.server.terminate_backends()
            back = threading.Timer(1.0, self.server.allow_connections, args=(True,))
            self.cuts.append(back)
            back.start()
        return await super().handle_DATA(server, session, envelope)


def test_an_email_accepted_while_the_database_goes_away_is_recorded_and_not_sent_again(
    app_with: Callable[..., Flask], postgres_url: str, server: Server, sink: SmtpSink, clock: Clock
) -> None:
    app = app_with(
        SQLALCHEMY_DATABASE_URI=postgres_url, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port
    )
    ids = [
        book(app, clock, f"{name}@example.org", TUESDAY_0830 + timedelta(minutes=30 * i))
        for i, name in enumerate("abc")
    ]
    CutsTheDatabase.server, CutsTheDatabase.cuts = server, []
    sink.serve_with(CutsTheDatabase)
    try:
        with app.app_context():
            assert tasks.send_email(ids) == 3
    finally:
        for timer in CutsTheDatabase.cuts:
            timer.join()
    assert CutsTheDatabase.cuts  # the database did go away during the first send
    clock.now += timedelta(seconds=app.config["MAIL_LEASE_SECONDS"] + 1)  # any lease has run out
    with app.app_context():
        assert tasks.relay_outbox() == 0
        assert db.session.scalar(select(sa.func.count()).where(Outbox.sent_at.is_(None))) == 0
        db.session.rollback()
    assert sorted(r.rcpt_tos[0] for r in sink.messages) == ["a@example.org", "b@example.org", "c@example.org"]
