"""Recording that an email went out: the step between the mail server's "accepted" and the row's
`sent_at`, the one moment in which a fault can send an email twice.

A batch records on one autocommit connection (one round trip per email). The moment cannot be
closed (the mail server and the database do not commit together), only kept narrow:

- before each send the ledger checks its connection without a round trip and renews it, so no
  email is sent whose record we already know would fail (the database restarted meanwhile); when
  the database cannot be reached, the batch stops unsent;
- a record that fails (the database went away during the send) is tried again on fresh
  connections, backing off, until the claim's lease ends: a restart of the database in that
  moment costs the batch a pause, not a second email.

What remains: the worker dies between the server's acceptance and the record (one round trip),
or the database stays away until the lease ends. Then the row is sent again after the lease, with
the same `Message-ID`, so a receiver that drops repeated Message-IDs shows it once.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from types import TracebackType

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from booking import clock, connections
from booking.models import Outbox

log = logging.getLogger(__name__)
# A failed record is tried again at once, then after 0.2 s, 0.4, ... at most 5 s apart, until the
# lease ends.
FIRST_PAUSE_SECONDS = 0.2
LONGEST_PAUSE_SECONDS = 5.0

_OUTBOX = Outbox.__table__
MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row"))
    .values(sent_at=bindparam("now"), last_error=bindparam("note"), failed_at=None)
)


class Ledger:
    """The autocommit connection a batch records its sends on (a context manager)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except DBAPIError:  # already gone with the server
                pass

    def _open(self) -> Connection:
        self.close()
        self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.connection

    def ready(self) -> bool:
        """Whether a send could be recorded now: the connection is open on the server's side
        (renewed when the server closed it). False when the database cannot be reached."""
        connection = self.connection
        try:
            if connection is None or connection.invalidated or not connections.usable(connection):
                self._open()
            return True
        except DBAPIError as exc:
            log.warning("the database cannot be reached; the batch sends nothing more: %s", exc)
            self.close()
            return False

    def record(self, outbox_id: int, now: datetime, note: str | None, held_until: datetime) -> None:
        """Mark the row sent (`note`: why it was skipped instead). On a failure, again on fresh
        connections until `held_until`, when another worker may take the row; raises after that."""
        values = {"row": outbox_id, "now": now, "note": note}
        remaining = (held_until - clock.now()).total_seconds()
        deadline = time.monotonic() + max(remaining, 0.0)
        pause = 0.0  # the first retry at once: a restarted database is usually back already
        while True:
            try:
                (self.connection or self._open()).execute(MARK_SENT, values)
                return
            except DBAPIError as exc:
                self.close()
                if time.monotonic() + pause > deadline:
                    log.error("email %s went out but is not recorded; it may go twice: %s", outbox_id, exc)
                    raise
                log.warning("recording email %s failed, trying again in %.1f s: %s", outbox_id, pause, exc)
            time.sleep(pause)
            pause = min(max(pause * 2, FIRST_PAUSE_SECONDS), LONGEST_PAUSE_SECONDS)
