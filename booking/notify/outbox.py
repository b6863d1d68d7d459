"""Sending the outbox: each row is one email, sent once: at least once, and twice only when a fault
cuts the moment between the mail server's acceptance and the record (`ledger`, which narrows it).

A worker first *claims* a due row with one conditional UPDATE (only one worker can win it), which
also pushes `next_attempt_at` ahead as a lease: a worker killed mid-send leaves a row that becomes
due again when the lease runs out. The row is marked sent after the server accepted the message,
or rescheduled with exponential backoff; it is given up (and shown to staff) only after a long while.
The reminder scan only inserts rows with a unique `dedupe_key`, so two scans cannot double one.
A row is about a booking (`booking_id`) or about a staff account's password reset
(`password_reset_id`, no booking): the same claim, batch and marks send both.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from flask import current_app
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import contains_eager

from booking import clock, journal
from booking.extensions import db, on_postgresql, transaction
from booking.models import Booking, Outbox, PasswordReset, Staff, WaitlistEntry
from booking.notify import messages
from booking.notify.delivery import Sender, open_sender
from booking.notify.ledger import Ledger
from booking.office import Office

log = logging.getLogger(__name__)
ERROR_MAX = 1000
# Answers that will not change by trying again: give up at once and show staff.
PERMANENT = (smtplib.SMTPRecipientsRefused,)


@dataclass(frozen=True)
class FailedEmail:
    """An email that could not be sent: still retrying (`failed_at` None) or given up. A
    password-reset email has no booking (`booking_id` None, `reference` empty)."""

    outbox_id: int
    kind: str
    booking_id: int | None
    reference: str
    email: str | None
    phone: str | None  # the resident's (a booking's); call them when the email cannot go
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    failed_at: datetime | None


def _setting(name: str) -> float:
    return float(current_app.config[name])


def claim_many(outbox_ids: list[int], now: datetime) -> list[int]:
    """Take the due, unsent rows among these for this worker, in one statement; the rest are
    sent, given up or held by another worker. Returns the ids taken, in order."""
    with transaction():
        taken = db.session.scalars(
            update(Outbox)
            .where(
                Outbox.id.in_(outbox_ids),
                Outbox.sent_at.is_(None),
                Outbox.failed_at.is_(None),
                Outbox.next_attempt_at <= now,
            )
            .values(next_attempt_at=lease_end(now), attempts=Outbox.attempts + 1)
            .returning(Outbox.id)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted(taken)


def claim(outbox_id: int, now: datetime) -> bool:
    """Take one due, unsent row for this worker (True) or leave it to whoever has it (False)."""
    return claim_many([outbox_id], now) == [outbox_id]


def lease_end(claimed_at: datetime) -> datetime:
    """Until when a claim made at `claimed_at` holds its rows (their `next_attempt_at`)."""
    return claimed_at + timedelta(seconds=_setting("MAIL_LEASE_SECONDS"))


def release(outbox_ids: list[int], now: datetime, held_until: datetime) -> None:
    """Give claimed rows back unsent and unattempted, due at once (a batch that stopped early);
    only those still held by this claim, not ones another worker took after the lease ran out."""
    if outbox_ids:
        with transaction():
            db.session.execute(
                update(Outbox)
                .where(
                    Outbox.id.in_(outbox_ids),
                    Outbox.sent_at.is_(None),
                    Outbox.next_attempt_at == held_until,
                )
                .values(next_attempt_at=now, attempts=Outbox.attempts - 1)
                .execution_options(synchronize_session=False)
            )


def backoff(attempts: int) -> timedelta:
    """1 min, 2, 4, ... up to 1 h (MAIL_RETRY_SECONDS, MAIL_RETRY_MAX_SECONDS)."""
    base, cap = _setting("MAIL_RETRY_SECONDS"), _setting("MAIL_RETRY_MAX_SECONDS")
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def mark_failed(
    outbox_id: int, now: datetime, error: str, *, permanent: bool = False, held_until: datetime | None = None
) -> None:
    """Try again later with backoff, or give up when permanent or MAIL_GIVE_UP_HOURS have passed.
    With `held_until`, only while this worker's claim still holds the row."""
    row = db.session.get(Outbox, outbox_id)
    if row is None:
        return
    give_up = permanent or now - row.created_at >= timedelta(hours=_setting("MAIL_GIVE_UP_HOURS"))
    values: dict[str, object] = {"last_error": error[:ERROR_MAX]}
    if give_up:
        values["failed_at"] = now
    else:
        values["next_attempt_at"] = now + backoff(row.attempts)
    still_ours = [Outbox.next_attempt_at == held_until] if held_until is not None else []
    with transaction():
        db.session.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.sent_at.is_(None), *still_ours)
            .values(**values)
        )


def due_ids(now: datetime, limit: int = 200) -> list[int]:
    """Unsent rows whose time has come (new ones, retries, expired leases), oldest first."""
    ids = list(
        db.session.scalars(
            select(Outbox.id)
            .where(Outbox.sent_at.is_(None), Outbox.failed_at.is_(None), Outbox.next_attempt_at <= now)
            .order_by(Outbox.next_attempt_at, Outbox.id)
            .limit(limit)
        )
    )
    db.session.rollback()  # end the read so SQLite's write lock is not held meanwhile
    return ids


def pending_reminder_ids(now: datetime) -> list[int]:
    """Reminder rows not sent yet (due now or retrying later)."""
    ids = list(
        db.session.scalars(
            select(Outbox.id).where(
                Outbox.kind == "reminder", Outbox.sent_at.is_(None), Outbox.failed_at.is_(None)
            )
        )
    )
    db.session.rollback()
    return ids


def _insert_ignoring_duplicates(values: dict[str, object]) -> bool:
    insert = postgresql.insert if on_postgresql() else sqlite.insert
    statement = (
        insert(Outbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Outbox.id)
    )
    return db.session.execute(statement).scalar() is not None  # rowcount is unreliable here


def scan_reminders(office: Office, now: datetime, *, queued_at: datetime | None = None) -> int:
    """Queue a reminder for each confirmed booking whose reminder moment has come, if it was booked
    before that moment; returns how many were new. Safe to run concurrently and repeatedly.
    `queued_at` (default `now`) stamps the rows, so a scan "as of" a later moment sends at once."""
    queued_at = queued_at or now
    hours = office.rules.reminder_hours_before
    if hours <= 0:
        return 0
    lead = timedelta(hours=hours)
    # One reminder per booking and time: a moved booking is reminded again of its new time.
    already = exists().where(
        Outbox.booking_id == Booking.id, Outbox.kind == "reminder", Outbox.sequence == Booking.sequence
    )
    with transaction():
        candidates = db.session.execute(
            select(Booking.id, Booking.start_at, Booking.created_at, Booking.sequence).where(
                Booking.status == "confirmed",
                Booking.email.is_not(None),
                Booking.anonymised_at.is_(None),
                Booking.start_at > now,
                Booking.start_at <= now + lead,
                ~already,
            )
        ).all()
        added = 0
        for booking_id, start_at, created_at, sequence in candidates:
            if created_at >= start_at - lead:
                continue  # booked after the reminder moment: the confirmation is reminder enough
            added += _insert_ignoring_duplicates(Outbox.row("reminder", booking_id, sequence, queued_at))
    return added


# Not sent, and failing or given up: what staff must know about (as `Outbox.undelivered`).
UNDELIVERED = (Outbox.sent_at.is_(None), or_(Outbox.failed_at.is_not(None), Outbox.last_error.is_not(None)))


def failed_emails(limit: int = 200) -> list[FailedEmail]:
    """Emails given up or failing right now, newest first (for the staff pages)."""
    rows = db.session.execute(
        select(
            Outbox,
            Booking.reference,
            func.coalesce(Booking.email, WaitlistEntry.email),
            Staff.email,
            Booking.phone,
        )
        .outerjoin(Booking, Booking.id == Outbox.booking_id)
        .outerjoin(PasswordReset, PasswordReset.id == Outbox.password_reset_id)
        .outerjoin(Staff, Staff.id == PasswordReset.staff_id)
        .outerjoin(WaitlistEntry, WaitlistEntry.id == Outbox.waitlist_entry_id)
        .where(*UNDELIVERED)
        .order_by(Outbox.created_at.desc(), Outbox.id.desc())
        .limit(limit)
    ).all()
    return [
        FailedEmail(
            outbox_id=row.id,
            kind=row.kind,
            booking_id=row.booking_id,
            reference=reference or "",
            email=email or staff_email,
            phone=phone,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            failed_at=row.failed_at,
        )
        for row, reference, email, staff_email, phone in rows
    ]


def undelivered_count() -> int:
    """How many emails `failed_emails` lists (for the staff navigation): one count over the
    unsent rows, which the index on `sent_at` keeps few to look at."""
    return db.session.scalar(select(func.count()).select_from(Outbox).where(*UNDELIVERED)) or 0


Subject = Booking | PasswordReset | WaitlistEntry | None  # what a row's email is about, as loaded with it


def reset_skip_reason(reset: PasswordReset | None, now: datetime) -> str | None:
    """Why a password link should not go out any more (its link would not work), or None."""
    if reset is None:
        return "skipped: the reset link is gone"
    if reset.used_at is not None:
        return "skipped: the link was used or a newer one was sent"
    if reset.expires_at <= now:
        return "skipped: the link has expired"
    if not reset.staff.active:
        return "skipped: the account is disabled"
    return None


def skip_reason(row: Outbox, booking: Subject, now: datetime) -> str | None:
    """Why this email should not go out any more, or None to send it."""
    if row.password_reset_id is not None and row.booking_id is None:
        return reset_skip_reason(booking if isinstance(booking, PasswordReset) else None, now)
    if row.waitlist_entry_id is not None and row.booking_id is None:
        entry = booking if isinstance(booking, WaitlistEntry) else None
        if entry is None or not entry.waiting or entry.confirmed_at is not None:
            return "skipped: the waitlist entry is confirmed, left or gone"
        return None
    if not isinstance(booking, Booking) or not booking.email or booking.anonymised_at is not None:
        return "skipped: no address"
    if booking.end_at <= now:
        return "skipped: the appointment is over"
    if row.kind in ("verify", "offer"):  # the request to confirm: only while the hold runs on
        return None if booking.holding(now) else "skipped: no longer waiting for confirmation"
    if row.kind != "cancel" and booking.status != "confirmed":
        return "skipped: the appointment is cancelled"
    if row.kind in ("move", "reminder") and row.sequence < booking.sequence:
        return "skipped: changed again since"
    if row.kind == "reminder" and booking.start_at <= now:
        return "skipped: the appointment has begun"
    return None


def _claimed_rows(outbox_ids: list[int]) -> list[tuple[Outbox, Subject]]:
    """The claimed rows with their bookings (or password resets and their accounts), in one
    query, as they are now in the database."""
    rows = db.session.execute(
        select(Outbox, Booking, PasswordReset, WaitlistEntry)
        .outerjoin(Booking, Booking.id == Outbox.booking_id)
        .outerjoin(PasswordReset, PasswordReset.id == Outbox.password_reset_id)
        .outerjoin(Staff, Staff.id == PasswordReset.staff_id)
        .outerjoin(WaitlistEntry, WaitlistEntry.id == Outbox.waitlist_entry_id)
        # Loaded onto the reset, not only beside it: nothing may load later, when a query would
        # take SQLite's write lock that the batch's marks on the ledger wait for.
        .options(contains_eager(PasswordReset.staff))
        .where(Outbox.id.in_(outbox_ids))
        .order_by(Outbox.id)
        .execution_options(populate_existing=True)
    ).all()
    # No transaction (and no SQLite lock) while talking to the mail server; a commit, unlike a
    # rollback, leaves the loaded rows as they are instead of reloading each on first use.
    db.session.commit()
    return [
        (row, booking if row.booking_id is not None else reset if reset is not None else entry)
        for row, booking, reset, entry in rows
    ]


class Outcome(Enum):
    SENT = "sent"
    DONE = "done"  # skipped, or given up: the next row of the batch can go
    RETRY = "retry"  # the mail server is unreachable: stop the batch, try again later


def _build(row: Outbox, subject: Booking | PasswordReset | WaitlistEntry, now: datetime) -> messages.Email:
    office = current_app.extensions["office"]
    if isinstance(subject, PasswordReset):
        return messages.build_reset_message(subject, office, dedupe_key=row.dedupe_key, now=now)
    if isinstance(subject, WaitlistEntry):
        return messages.build_waitlist_message(subject, office, dedupe_key=row.dedupe_key, now=now)
    by_office = row.kind == "cancel" and journal.cancelled_by_staff(subject.id)
    return messages.build_message(
        row.kind,
        subject,
        office,
        dedupe_key=row.dedupe_key,
        now=now,
        moved_from=row.moved_from,
        by_office=by_office,
    )


def _send_claimed(
    row: Outbox, booking: Subject, sender: Sender, ledger: Ledger, held_until: datetime
) -> Outcome:
    """Build, send and record one claimed row."""
    now = clock.now()
    reason = skip_reason(row, booking, now)
    if reason or booking is None:
        ledger.record(row.id, now, reason, held_until)
        return Outcome.DONE
    name = f"{row.id:07d}-{row.dedupe_key}"
    try:
        message = _build(row, booking, now)
    except Exception as exc:  # a bad address or a bug: keep the row, show it, try again later
        log.exception("cannot build email %s", name)
        db.session.rollback()
        error = f"cannot build the message: {exc}"
        mark_failed(row.id, clock.now(), error, permanent=isinstance(exc, ValueError), held_until=held_until)
        return Outcome.DONE
    db.session.commit()  # end what building read (an offer's entry, who cancelled): SQLite's lock
    try:
        sender.send(message, name)
    except PERMANENT as exc:
        log.warning("email %s refused: %s", name, exc)
        mark_failed(row.id, clock.now(), f"refused: {exc}", permanent=True, held_until=held_until)
        return Outcome.DONE
    except Exception as exc:
        log.warning("email %s not sent, will retry: %s", name, exc)
        mark_failed(row.id, clock.now(), f"{type(exc).__name__}: {exc}", held_until=held_until)
        return Outcome.RETRY
    ledger.record(row.id, clock.now(), None, held_until)
    return Outcome.SENT


def deliver(outbox_ids: Iterable[int]) -> int:
    """Claim these rows at once and send them over one connection; returns how many went out.
    The batch stops early, giving its rest back, when the mail server fails (the rest would
    likely fail too) or when half the lease has gone: every send starts with at least half of
    MAIL_LEASE_SECONDS left, so no other worker takes a row while it is being sent. It stops,
    leaving the rest leased, when the database cannot be reached to record a send (`ledger`)."""
    started = clock.now()
    claimed = claim_many(list(dict.fromkeys(outbox_ids)), started)
    if not claimed:
        return 0
    rows = _claimed_rows(claimed)
    held_until = lease_end(started)
    stop_at = started + (held_until - started) / 2
    sent = 0
    with open_sender(current_app) as sender, Ledger(db.engine) as ledger:  # type: ignore[arg-type]
        for index, (row, booking) in enumerate(rows):
            if not ledger.ready():
                break  # the rest stay leased and become due when the lease ends
            if clock.now() >= stop_at:
                release([r.id for r, _ in rows[index:]], clock.now(), held_until)
                break  # half the lease is gone: the rest went back
            outcome = _send_claimed(row, booking, sender, ledger, held_until)
            if outcome is Outcome.RETRY:
                release([r.id for r, _ in rows[index + 1 :]], clock.now(), held_until)
                break
            sent += outcome is Outcome.SENT
    return sent
