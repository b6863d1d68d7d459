"""This run's PostgreSQL database seen from outside the app, for the fault tests: its backends
(`pg_terminate_backend`, as a restart of the server ends them) and its door (`ALLOW_CONNECTIONS`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa


class Server:
    """This run's PostgreSQL database seen from outside the app: its backends and its door."""

    def __init__(self, uri: str) -> None:
        url = sa.make_url(uri)
        self.name = url.database
        self.admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def backends(self) -> int:
        with self.admin.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": self.name},
                ).scalar_one()
            )

    def terminate_backends(self) -> int:
        """End every connection to the database, waiting until each backend has gone."""
        with self.admin.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))"
                        " FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": self.name},
                ).scalar_one()
            )

    def allow_connections(self, allowed: bool) -> None:
        with self.admin.connect() as conn:
            conn.execute(
                sa.text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
            )

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The database refuses every connection (as while it restarts) until the block ends."""
        self.allow_connections(False)
        try:
            self.terminate_backends()
            yield
        finally:
            self.allow_connections(True)

    def dispose(self) -> None:
        self.allow_connections(True)
        self.admin.dispose()


@pytest.fixture
def server(postgres_url: str) -> Iterator[Server]:
    """The test run's PostgreSQL server, to cut and restore under the app."""
    found = Server(postgres_url)
    try:
        yield found
    finally:
        found.dispose()
