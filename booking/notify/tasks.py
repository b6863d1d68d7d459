"""Celery tasks: thin calls into the outbox service. Each takes ids, never objects, and is
idempotent, so a message delivered twice (late acknowledgement, relay) sends one email."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from flask import current_app

from booking import bookings, clock
from booking.notify import outbox

log = logging.getLogger(__name__)
SEND_EMAIL = "termine.send_email"
# After a failed publish, web requests stop trying the broker for this long (the relay catches up).
BROKER_PAUSE_SECONDS = 30.0
_broker_down_until: dict[str, float] = {}


@shared_task(name=SEND_EMAIL)
def send_email(outbox_id: int) -> int:
    return outbox.deliver([outbox_id])


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


@shared_task(name="termine.anonymise_expired")
def anonymise_expired() -> int:
    try:
        from booking import retention
    except ImportError:
        log.warning("booking.retention is missing; nothing anonymised")
        return 0
    return retention.anonymise_expired(current_app.extensions["office"], clock.now())


def enqueue(outbox_ids: list[int]) -> int:
    """Hand rows to the workers, best effort: never raises and never waits long for a broker
    that is away. Anything not handed over is sent by beat's relay. Returns how many were queued."""
    celery_app = current_app.extensions.get("celery")
    if not outbox_ids or celery_app is None:
        return 0
    broker = str(celery_app.conf.broker_url)
    if time.monotonic() < _broker_down_until.get(broker, 0.0):
        return 0
    queued = 0
    try:
        for outbox_id in outbox_ids:
            celery_app.send_task(SEND_EMAIL, args=[outbox_id], retry=False)
            queued += 1
    except Exception as exc:  # the booking stands whatever the broker does
        _broker_down_until[broker] = time.monotonic() + BROKER_PAUSE_SECONDS
        log.warning("broker unavailable, %d email(s) left to the relay: %s", len(outbox_ids) - queued, exc)
    return queued


def _after_commit(outbox_ids: list[int]) -> None:
    try:
        enqueue(outbox_ids)
    except Exception:  # pragma: no cover - enqueue already swallows; belt and braces for the booking
        log.exception("could not enqueue emails %s", outbox_ids)


if _after_commit not in bookings.after_commit_hooks:
    bookings.after_commit_hooks.append(_after_commit)
