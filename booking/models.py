"""Database tables. Times are stored in UTC and always come back timezone-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.extensions import db


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if getattr(dialect, "name", "") == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Claims that only hold a place (of a pending booking) are few: a partial index finds the ones
# that ran out, which the next claim of the same time deletes (`booking.claims.sweep`).
HOLDS = {
    "sqlite_where": text("hold_until IS NOT NULL"),
    "postgresql_where": text("hold_until IS NOT NULL"),
}


class Booking(db.Model):
    """One resident's appointment. `token` is the only key to it from outside."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(String(40))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="de")
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    # Raised on every change a calendar must see (iCalendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # None = not yet recorded, True = attended, False = no-show (staff mark it).
    attended: Mapped[bool | None] = mapped_column(Boolean)
    # Who booked for a caller. No foreign key on purpose: adding one to an existing SQLite table
    # means copying it, and dropping the old copy would cascade to slot claims and outbox rows.
    created_by_staff_id: Mapped[int | None] = mapped_column(Integer)
    # The counsellor who takes it (services that counsellors give); no foreign key, as above.
    # It stays on a cancelled booking as history; `counsellor_claims` holds the time taken.
    counsellor_id: Mapped[int | None] = mapped_column(Integer)
    # What the resident asked for: the language of the counselling, an interpreter's language.
    counselling_language: Mapped[str | None] = mapped_column(String(16))
    interpreter: Mapped[str | None] = mapped_column(String(16))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # Set when the retention period has passed and the personal data was removed.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A pending booking (status "pending": made online, its email link not yet opened) holds its
    # place until `hold_until`; only `confirm_token`, sent in that email, confirms it.
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirm_token: Mapped[str | None] = mapped_column(String(64))
    # A waitlist offer: the pending booking this entry was offered (unique with the start, so an
    # entry is offered a time once, however many schedulers run). No foreign key, as above.
    waitlist_entry_id: Mapped[int | None] = mapped_column(Integer)

    claim: Mapped[SlotClaim | None] = relationship(back_populates="booking", uselist=False)

    __table_args__ = (
        Index("ix_bookings_service_start", "service_id", "start_at"),
        Index("ix_bookings_email_status", "email", "status"),
        Index("ix_bookings_counsellor_start", "counsellor_id", "start_at"),
        Index("ix_bookings_confirm_token", "confirm_token", unique=True),
        Index("ix_bookings_waitlist_offer", "waitlist_entry_id", "start_at", unique=True),
    )

    # Not stored: set on the booking `bookings.book` gives back for a request made before
    # (a double click, a retry), so that nothing counts it as made twice.
    repeated = False

    @property
    def active(self) -> bool:
        return self.status == "confirmed"

    @staticmethod
    def taking_place(now: datetime) -> ColumnElement[bool]:
        """In SQL: confirmed, or pending with its hold running on (the bookings whose places
        are taken)."""
        return or_(
            Booking.status == "confirmed",
            and_(Booking.status == "pending", Booking.hold_until > now),
        )

    def holding(self, now: datetime) -> bool:
        """Pending and its hold has not run out: its place is taken, it awaits its email link."""
        return self.status == "pending" and self.hold_until is not None and self.hold_until > now


class SlotClaim(db.Model):
    """A taken place in a slot. The unique key (service, start, place) enforces capacity:
    a booking inserts a free place number, and a unique violation means it is taken."""

    __tablename__ = "slot_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[str] = mapped_column(String(40))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place_no: Mapped[int] = mapped_column(Integer)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), unique=True)
    # The place of a pending booking is held until then (None: taken for good); see HOLDS.
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    booking: Mapped[Booking] = relationship(back_populates="claim")

    __table_args__ = (
        UniqueConstraint("service_id", "start_at", "place_no"),
        Index("ix_slot_claims_hold_until", "hold_until", **HOLDS),
    )


class CounsellorClaim(db.Model):
    """A cell of a counsellor's time taken by an appointment (see `booking.rota`). The primary
    key (counsellor, minute) makes two overlapping appointments of one counsellor impossible,
    whatever the race: the second insert of a shared cell fails."""

    __tablename__ = "counsellor_claims"

    # No foreign key to staff on purpose: each insert would take a shared lock on its counsellor's
    # row, and the many bookings of one counsellor at once would queue on a few staff rows
    # (PostgreSQL's multixacts). The ids come from the roster; accounts are disabled, never deleted.
    counsellor_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # cell start, minutes since the epoch
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # as in SlotClaim

    __table_args__ = (Index("ix_counsellor_claims_hold_until", "hold_until", **HOLDS),)


# The emails a booking gets at most once, whatever its sequence: the request to confirm it (a
# pending booking), the waitlist's offer of it, and the confirmation.
ONCE_PER_BOOKING = ("verify", "offer", "confirm")


class Outbox(db.Model):
    """An email to send, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The subject of the email: a booking, or a staff account's password reset.
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    password_reset_id: Mapped[int | None] = mapped_column(
        ForeignKey("password_resets.id", ondelete="CASCADE"), index=True
    )
    waitlist_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("waitlist_entries.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # When a worker may next try it; a claiming worker pushes it ahead as its lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A move's email: the start before the move, which the email names beside the new one.
    moved_from: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @staticmethod
    def row(
        kind: str, booking_id: int, sequence: int, now: datetime, moved_from: datetime | None = None
    ) -> dict[str, object]:
        """The columns of a new email, due at once. Its key keeps it single: a confirmation once
        per booking; a cancellation, move or reminder once per booking and sequence."""
        key = f"{kind}:{booking_id}" if kind in ONCE_PER_BOOKING else f"{kind}:{booking_id}:{sequence}"
        return {
            "dedupe_key": key,
            "kind": kind,
            "booking_id": booking_id,
            "sequence": sequence,
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
            "moved_from": moved_from,
        }

    @staticmethod
    def reset_row(reset_id: int, now: datetime) -> dict[str, object]:
        """The columns of a password-reset email, due at once, once per reset link."""
        return {
            "dedupe_key": f"password_reset:{reset_id}",
            "kind": "password_reset",
            "booking_id": None,
            "password_reset_id": reset_id,
            "sequence": 0,
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        }

    @staticmethod
    def waitlist_row(entry_id: int, now: datetime) -> dict[str, object]:
        """The request to confirm a waitlist entry, due at once, once per entry."""
        return {
            "dedupe_key": f"waitlist:{entry_id}",
            "kind": "waitlist",
            "booking_id": None,
            "waitlist_entry_id": entry_id,
            "sequence": 0,
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        }

    @property
    def undelivered(self) -> bool:
        """Not sent, and failing or given up (what staff must know about)."""
        return self.sent_at is None and (self.failed_at is not None or self.last_error is not None)


ROLES = ("admin", "reception", "counsellor")


class Staff(UserMixin, db.Model):
    """A member of the office who signs in to the staff pages. A `counsellor` is also a place:
    appointments of the services it gives are assigned to it (see `booking.rota`)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    role: Mapped[str] = mapped_column(String(16), default="reception")
    # A counsellor's languages of counselling ("de,ar") and services given (None: all of them).
    languages: Mapped[str] = mapped_column(String(200), default="de")
    services: Mapped[str | None] = mapped_column(String(500))
    # False: works the office's opening hours; True: the rows of `counsellor_hours` (none = no day).
    custom_hours: Mapped[bool] = mapped_column(Boolean, default=False)

    hours: Mapped[list[CounsellorHours]] = relationship(
        order_by="[CounsellorHours.weekday, CounsellorHours.start_minute]",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    # The sign-in this object was loaded for (Flask-Login stores it in the session cookie): the
    # key of a `StaffSession` row, so ending a session on the server ends it for every copy of
    # the cookie. Not a column.
    session_key = None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sessions of disabled accounts
        return bool(self.active)

    def get_id(self) -> str | None:
        return self.session_key

    @property
    def language_codes(self) -> tuple[str, ...]:
        return tuple(code for code in (self.languages or "").split(",") if code)

    @property
    def service_ids(self) -> frozenset[str] | None:
        return None if self.services is None else frozenset(s for s in self.services.split(",") if s)


class CounsellorHours(db.Model):
    """One period of a counsellor's week (local wall-clock minutes of the day)."""

    __tablename__ = "counsellor_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)


class Absence(db.Model):
    """A stretch of time a counsellor is away (ill, leave, training): no appointments for them."""

    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    counsellor: Mapped[Staff] = relationship(foreign_keys=[staff_id])


class StaffSession(db.Model):
    """One sign-in. The cookie holds the key, the table only its hash; deleting the row ends
    the session for every copy of the cookie (sign-out, disabling, a password reset)."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PasswordReset(db.Model):
    """A password-reset link sent to a staff account: usable once, until `expires_at`. The link
    carries this row's id signed with the app's secret, so nothing secret is stored here."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    staff: Mapped[Staff] = relationship()


class Closure(db.Model):
    """A stretch of time staff closed (illness, staff meeting): no new bookings inside it."""

    __tablename__ = "closures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(db.Model):
    """Who changed what and when; written in the same transaction as the change."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[str | None] = mapped_column(Text)

    staff: Mapped[Staff | None] = relationship()


class NoShowLift(db.Model):
    """Staff lifted an address's no-show block: its no-shows up to `lifted_at` no longer count
    (see `booking.no_shows`). An address is personal data: retention removes the row once it can
    no longer matter."""

    __tablename__ = "no_show_lifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    lifted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


class WaitlistEntry(db.Model):
    """Someone waiting for a place of a service between two days (`booking.waitlist`): offered
    the freed places in order of joining, one at a time. `token` is the link to leave the list.
    Personal data: removed once its last day has passed (retention)."""

    __tablename__ = "waitlist_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(String(40))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="de")
    counselling_language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Offers go only to an entry whose address confirmed it: the link with `confirm_token`, sent
    # only by email (the answer to joining carries `token`, the key to leave, not this one).
    confirm_token: Mapped[str] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_waitlist_entries_service_created", "service_id", "created_at"),)

    @property
    def waiting(self) -> bool:
        return self.left_at is None and self.booked_at is None


class FeedToken(db.Model):
    """The secret in the staff calendar feed URL; rotating replaces the row."""

    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
