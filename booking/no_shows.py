"""The no-show rule against the database (the decision itself is `booking.no_show_rule`): an
address's no-shows and latest lift in one query, refusing an online booking of a blocked address,
the blocked addresses staff see, and lifting a block (a row and an audit entry, one transaction).
Only no-shows whose booking still has its address count: retention removes it after
`retention_days`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, insert, select

from booking import journal
from booking.extensions import db, sql, transaction
from booking.models import Booking, NoShowLift, Staff
from booking.no_show_rule import Block, block_of, relevant_since
from booking.office import Office
from booking.refusals import InvalidBooking

_LATEST_LIFT = (
    select(func.max(NoShowLift.lifted_at)).where(NoShowLift.email == Booking.email).scalar_subquery()
)


@dataclass(frozen=True)
class BlockedAddress:
    """A blocked address for the staff list: the name and id of its latest no-show booking."""

    email: str
    name: str
    booking_id: int
    block: Block


def _blocks(office: Office, now: datetime, which: ColumnElement[bool]) -> list[BlockedAddress]:
    """The blocks in force at `now` of the addresses `which` selects, from one query."""
    rules = office.rules
    rows = db.session.execute(
        select(Booking.id, Booking.email, Booking.name, Booking.start_at, _LATEST_LIFT.label("lifted_at"))
        .where(
            which,
            Booking.attended.is_(False),
            Booking.start_at > relevant_since(now, rules.no_show_block_days),
        )
        .order_by(Booking.start_at, Booking.id)
    ).all()
    by_address: dict[str, list[tuple[int, str, datetime, datetime | None]]] = {}
    for row in rows:
        by_address.setdefault(row.email, []).append((row.id, row.name, row.start_at, row.lifted_at))
    found = []
    for email, missed in by_address.items():
        block = block_of(
            (start for _id, _name, start, _lift in missed),
            missed[0][3],
            now,
            limit=rules.no_show_limit,
            block_days=rules.no_show_block_days,
            timezone=office.timezone,
        )
        if block is not None:
            booking_id, name = next((i, n) for i, n, at, _lift in reversed(missed) if at == block.latest)
            found.append(BlockedAddress(email, name, booking_id, block))
    return sorted(found, key=lambda blocked: blocked.block.latest, reverse=True)


def block_for(office: Office, email: str, now: datetime) -> BlockedAddress | None:
    """The block of one (normalised) address, or None."""
    if not office.rules.no_show_limit:
        return None
    found = _blocks(office, now, Booking.email == email)
    return found[0] if found else None


def blocks_of(office: Office, emails: Collection[str], now: datetime) -> dict[str, Block]:
    """The blocks of these addresses (the day view marks them), from one query; {} when off."""
    if not office.rules.no_show_limit or not emails:
        return {}
    return {b.email: b.block for b in _blocks(office, now, Booking.email.in_(sorted(emails)))}


def blocked_addresses(office: Office, now: datetime) -> list[BlockedAddress]:
    """Every address blocked at `now`, the latest no-show first."""
    if not office.rules.no_show_limit:
        return []
    return _blocks(office, now, Booking.email.is_not(None))


def refuse_if_blocked(office: Office, email: str | None, now: datetime) -> None:
    """Raise `InvalidBooking` on the email field when the address may not book online."""
    blocked = block_for(office, email, now) if email else None
    if blocked is not None:
        raise InvalidBooking({"email": [refusal(office, blocked.block)]})


def refusal(office: Office, block: Block) -> str:
    """What a blocked resident reads: why, from which day again, and whom to call meanwhile."""
    day = format_date(block.again_on, format="long")
    if office.phone:
        return _(
            "Because of missed appointments, this email address can book online again from %(day)s. "
            "Until then, please call us and we will find an appointment together: %(phone)s.",
            day=day,
            phone=f"\u2066{office.phone}\u2069",  # isolated left-to-right inside Arabic or Persian text
        )
    return _(
        "Because of missed appointments, this email address can book online again from %(day)s. "
        "Until then, please contact the office and we will find an appointment together.",
        day=day,
    )


def lift(office: Office, email: str, staff: Staff, now: datetime) -> BlockedAddress | None:
    """Lift the address's block: its no-shows up to `now` no longer count. Audited on its latest
    no-show booking (whose history staff see, and whose retention clears the entry's details).
    None when it was not blocked (a second click: nothing to do)."""
    with transaction():
        blocked = block_for(office, email, now)
        if blocked is None:
            return None
        sql(insert(NoShowLift.__table__), {"email": email, "lifted_at": now, "staff_id": staff.id})
        journal.audit(blocked.booking_id, staff, now, "no_show_lifted")
    return blocked
