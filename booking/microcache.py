"""A per-process cache of a second or so for what many people read at once (free places at
08:00). Any database commit in this process empties it, so a process always sees its own changes;
other processes see a change within AVAILABILITY_CACHE_SECONDS. Nothing that decides a booking
reads from it: capacity is decided by the database."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from time import monotonic
from typing import TypeVar

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")
_entries: dict[Hashable, tuple[float, object]] = {}
# Entries that only one kind of change can make stale (the counsellors and their hours, changed
# only by `booking.accounts`): kept across other commits, emptied by `forget_lasting`.
_lasting: dict[Hashable, tuple[float, object]] = {}


@event.listens_for(Session, "after_commit")
def _forget(_session: Session) -> None:
    _entries.clear()


def forget_lasting() -> None:
    """The change that makes the lasting entries stale has committed in this process."""
    _lasting.clear()


def cached(key: Hashable, compute: Callable[[], T], *, lasting: bool = False) -> T:
    """`compute()`, or its result from less than AVAILABILITY_CACHE_SECONDS ago (0: no cache).
    The key is made per app, so two apps in one process (tests) never share entries. A `lasting`
    entry survives the commits of this process (see `forget_lasting`)."""
    seconds = current_app.config.get("AVAILABILITY_CACHE_SECONDS", 0)
    if not seconds:
        return compute()
    key = (id(current_app._get_current_object()), current_app.config["SQLALCHEMY_DATABASE_URI"], key)  # type: ignore[attr-defined]
    entries = _lasting if lasting else _entries
    entry = entries.get(key)
    if entry and entry[0] > monotonic():
        return entry[1]  # type: ignore[return-value]
    value = compute()
    entries[key] = (monotonic() + seconds, value)
    return value
