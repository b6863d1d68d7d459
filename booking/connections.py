"""Database connections that outlive a restart of the server, and the app's answer while it is away.

After PostgreSQL restarts (or an administrator ends the app's backends), every pooled connection
is dead, and each one failed one request (or one email task) before the pool noticed.
SQLAlchemy's `pool_pre_ping` finds them with a round trip per checkout, one more for a booking
that takes two. Instead a checkout asks the socket, which costs no round trip: the
server says goodbye before it closes a connection, so an idle connection with something to read
(or a hang-up) is dead, and the pool replaces it before anyone uses it (the checkout event's
`DisconnectionError`, as in SQLAlchemy's "Disconnect Handling - Pessimistic").

While the database cannot be reached at all, `unavailable()` answers 503 with the app's own page
(or JSON error), and staff count as signed out for that answer: loading the user needs the database.
"""

from __future__ import annotations

import select
from typing import Any

from flask import g
from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# Exceptions that mean "the database is away" (not a bug, not bad input): 503, try again later.
OUTAGE = (OperationalError, InterfaceError, PoolTimeout)
RETRY_AFTER_SECONDS = 30


def alive(dbapi_connection: Any) -> bool:
    """Whether an idle DBAPI connection is still open on the server's side, without a round trip."""
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        return False
    try:
        descriptor = dbapi_connection.fileno()
    except Exception:  # closed underneath us
        return False
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLPRI)
    return not poller.poll(0)  # POLLHUP and POLLERR are reported whatever was asked


def watch(engine: Engine) -> None:
    """Replace dead connections at checkout (PostgreSQL; SQLite has no server to lose)."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "checkout")
    def check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not alive(dbapi_connection):
            raise DisconnectionError("the server closed this connection (it restarted?)")


def mark_unavailable() -> None:
    """This request met an outage: what it still renders must not ask the database again."""
    g.database_unavailable = True


def unavailable() -> bool:
    return bool(g.get("database_unavailable"))


def usable(connection: Connection) -> bool:
    """Whether a checked-out SQLAlchemy connection is still open on the server's side."""
    if connection.dialect.name != "postgresql":
        return True
    return alive(connection.connection.dbapi_connection)
