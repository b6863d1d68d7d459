"""Celery tasks: thin calls into the outbox service. Each takes ids, never objects, and is
idempotent, so a message delivered twice (late acknowledgement, relay) sends one email.

A task carries a list of outbox ids: one Celery task costs about as much as building an email,
so a burst of bookings travels in a few tasks (see `Publisher`), each sent over one connection.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable

from celery import Celery, shared_task
from flask import current_app

from booking import clock, journal
from booking.notify import outbox

log = logging.getLogger(__name__)
SEND_EMAIL = "termine.send_email"
# At most this many emails per task: a batch is sent well inside one lease (MAIL_LEASE_SECONDS),
# and a burst still spreads over every worker.
BATCH_SIZE = 50
# The publisher waits this long for more emails to go in the same task (a burst of bookings): a
# task costs the web process about 0.3 ms of CPU, so under load a longer wait is fewer tasks; a
# resident does not notice 50 ms before the email is on its way.
LINGER_SECONDS = 0.05
# After a failed publish, web requests stop trying the broker for this long (the relay catches up).
BROKER_PAUSE_SECONDS = 30.0
_broker_down_until: dict[str, float] = {}


@shared_task(name=SEND_EMAIL)
def send_email(outbox_ids: int | list[int]) -> int:
    """Send these rows (one id: messages queued before tasks carried lists)."""
    return outbox.deliver([outbox_ids] if isinstance(outbox_ids, int) else outbox_ids)


@shared_task(name="termine.relay_outbox")
def relay_outbox() -> int:
    """Send every due row: new ones whose message was lost, retries, rows of a killed worker."""
    return outbox.deliver(outbox.due_ids(clock.now()))


@shared_task(name="termine.scan_reminders")
def scan_reminders() -> int:
    added = outbox.scan_reminders(current_app.extensions["office"], clock.now())
    if added:
        enqueue(outbox.pending_reminder_ids(clock.now()))
    return added


@shared_task(name="termine.scan_waitlist")
def scan_waitlist() -> int:
    """Offer the places that came back to the people waiting (their emails go out as any)."""
    from booking import waitlist

    return waitlist.scan(current_app.extensions["office"], clock.now(), current_app.config["LANGUAGES"])


@shared_task(name="termine.anonymise_expired")
def anonymise_expired() -> int:
    try:
        from booking import retention
    except ImportError:
        log.warning("booking.retention is missing; nothing anonymised")
        return 0
    return retention.anonymise_expired(current_app.extensions["office"], clock.now())


def enqueue(outbox_ids: Iterable[int], celery_app: Celery | None = None) -> int:
    """Hand rows to the workers, `BATCH_SIZE` per task, best effort: never raises and never waits
    long for a broker that is away. Anything not handed over is sent by beat's relay.
    Returns how many rows were queued."""
    ids = list(outbox_ids)
    celery_app = celery_app or current_app.extensions.get("celery")
    if not ids or celery_app is None:
        return 0
    broker = str(celery_app.conf.broker_url)
    if time.monotonic() < _broker_down_until.get(broker, 0.0):
        return 0
    queued = 0
    try:
        for first in range(0, len(ids), BATCH_SIZE):
            batch = ids[first : first + BATCH_SIZE]
            celery_app.send_task(SEND_EMAIL, args=[batch], retry=False)
            queued += len(batch)
    except Exception as exc:  # the booking stands whatever the broker does
        _broker_down_until[broker] = time.monotonic() + BROKER_PAUSE_SECONDS
        log.warning("broker unavailable, %d email(s) left to the relay: %s", len(ids) - queued, exc)
    return queued


class Publisher:
    """Publishes the emails of committed changes from a background thread, so a request never
    waits for the broker. Ids that arrive while a publish is under way go together in the next
    task (like a database's group commit), and each publish lingers a moment for more: one
    booking alone is published after 50 ms, a burst of them in a few tasks. The thread ends
    when nothing is left. Ids lost with the process (a crash before publishing) are still in
    the outbox, and beat's relay sends them."""

    def __init__(self, celery_app: Celery) -> None:
        self.celery_app = celery_app
        self.pending: list[int] = []
        self.busy = False
        self.condition = threading.Condition()

    def submit(self, outbox_ids: list[int]) -> None:
        with self.condition:
            self.pending.extend(outbox_ids)
            if self.busy:
                # A full batch need not wait out the linger; anything less is picked up by it
                # (waking the thread for each booking would cost a thread switch per booking).
                if len(self.pending) >= BATCH_SIZE:
                    self.condition.notify_all()
                return
            thread = threading.Thread(target=self._run, name="email-publisher", daemon=True)
            thread.start()  # raises when no thread can be started: nothing is left marked busy
            self.busy = True

    def _run(self) -> None:
        while True:
            with self.condition:
                self.condition.wait_for(lambda: len(self.pending) >= BATCH_SIZE, LINGER_SECONDS)
                batch, self.pending = self.pending, []
                if not batch:
                    self.busy = False
                    self.condition.notify_all()
                    return
            try:
                enqueue(batch, self.celery_app)
            except Exception:  # pragma: no cover - enqueue swallows broker errors already
                log.exception("could not enqueue emails %s", batch)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted is published (tests, exit); False on timeout."""
        with self.condition:
            return self.condition.wait_for(lambda: not self.busy and not self.pending, timeout)


_publishers: weakref.WeakSet[Publisher] = weakref.WeakSet()
_publishers_lock = threading.Lock()


def publisher(celery_app: Celery) -> Publisher:
    """The one publisher of this Celery app in this process."""
    with _publishers_lock:
        found: Publisher | None = getattr(celery_app, "termine_publisher", None)
        if found is None:
            found = celery_app.termine_publisher = Publisher(celery_app)  # type: ignore[attr-defined]
            _publishers.add(found)
        return found


def _forget_threads_after_fork() -> None:
    """A forked child has none of its parent's threads: what they held is the parent's to send,
    and a lock one of them held would never be released."""
    global _publishers_lock
    _publishers_lock = threading.Lock()
    for each in list(_publishers):
        each.pending, each.busy, each.condition = [], False, threading.Condition()


def _flush_at_exit() -> None:
    """A process shutting down (a gunicorn restart) first publishes what it still holds."""
    for each in list(_publishers):
        each.flush(timeout=3.0)


os.register_at_fork(after_in_child=_forget_threads_after_fork)
atexit.register(_flush_at_exit)


def _after_commit(outbox_ids: list[int]) -> None:
    """The change is committed whatever happens here: a failure leaves the emails to the relay."""
    celery_app = current_app.extensions.get("celery")
    if celery_app is None:
        return
    try:
        publisher(celery_app).submit(outbox_ids)
    except Exception:
        log.exception("could not hand emails %s to the publisher; the relay will send them", outbox_ids)


if _after_commit not in journal.after_commit_hooks:
    journal.after_commit_hooks.append(_after_commit)
