"""Staff accounts: create and change them (role, services, languages, weekly hours), enable and
disable them, check and change passwords. Passwords are stored as scrypt hashes only."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, time
from functools import cache

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from booking import journal, microcache, rota, staff_sessions
from booking import languages as language_names
from booking.extensions import db, transaction
from booking.models import ROLES, Booking, CounsellorHours, Staff
from booking.office import Office, Period
from booking.refusals import too_long

PASSWORD_MIN = 10
NAME_MAX = 100


@cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so a wrong address costs as long as a wrong
    password and the answer time does not reveal which addresses have accounts."""
    return generate_password_hash("not a real password, only for timing", method="scrypt")


class AccountError(ValueError):
    """The account cannot be created or changed: {field: [messages]} (translated; the commands
    print them in English)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))
        self.errors = errors


@contextmanager
def _changing_roster() -> Iterator[None]:
    """A change of accounts, roles or hours in one transaction; once it has committed, the
    counsellors this process keeps for a moment (`roster.roster`) are read anew."""
    with transaction():
        yield
    microcache.forget_lasting()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(email: str) -> Staff | None:
    return db.session.scalar(select(Staff).where(func.lower(Staff.email) == normalise_email(email)))


def get(staff_id: int) -> Staff | None:
    return db.session.get(Staff, staff_id)


def all_accounts() -> list[Staff]:
    """Every account, active ones first, then by name (with their weekly hours, for the list)."""
    return list(
        db.session.scalars(
            select(Staff)
            .options(selectinload(Staff.hours))
            .order_by(Staff.active.desc(), Staff.name, Staff.id)
        )
    )


def counsellors(*, active_only: bool = True) -> list[Staff]:
    query = select(Staff).where(Staff.role == "counsellor")
    if active_only:
        query = query.where(Staff.active.is_(True))
    return list(db.session.scalars(query.order_by(Staff.name, Staff.id)))


def upcoming_appointments(staff: Staff, now: datetime) -> list[Booking]:
    """The account's confirmed appointments not over yet (to see which a change leaves uncovered)."""
    return list(
        db.session.scalars(
            select(Booking)
            .where(Booking.counsellor_id == staff.id, Booking.status == "confirmed", Booking.end_at > now)
            .order_by(Booking.start_at, Booking.id)
        )
    )


def _profile_errors(
    office: Office, name: str, role: str, services: Iterable[str] | None, languages: Iterable[str]
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Please enter a name.")]
    elif len(name.strip()) > NAME_MAX:
        errors["name"] = [too_long(NAME_MAX)]
    if role not in ROLES:
        errors["role"] = [_("Please choose a role: admin, reception or counsellor.")]
    unknown = sorted(set(services or ()) - {s.id for s in office.services})
    if unknown:
        errors["services"] = [_("There is no service %(ids)s.", ids=", ".join(unknown))]
    languages = list(languages)
    wrong = [code for code in languages if not language_names.is_known(code)]
    if wrong:
        errors["languages"] = [_("Unknown language code: %(codes)s.", codes=", ".join(wrong))]
    elif role == "counsellor" and not languages:
        errors["languages"] = [_("Please choose at least one language of counselling.")]
    return errors


def create_staff(
    email: str,
    name: str,
    password: str | None,
    now: datetime,
    *,
    office: Office | None = None,
    role: str = "reception",
    services: Sequence[str] | None = None,
    languages: Sequence[str] = ("de",),
    by: Staff | None = None,
) -> Staff:
    """A new active account; `AccountError` names each field that is wrong. Without a password
    the account cannot sign in until its owner chooses one from a reset link."""
    errors: dict[str, list[str]] = {}
    address = ""
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors["email"] = [_("Please enter a valid email address, for example name@example.org.")]
    if password is not None and len(password) < PASSWORD_MIN:
        errors["password"] = [_("The password must have at least %(min)d characters.", min=PASSWORD_MIN)]
    if office is not None:
        errors.update(_profile_errors(office, name, role, services, languages))
    elif not name.strip():
        errors["name"] = [_("Please enter a name.")]
    if address and get_by_email(address) is not None:
        errors["email"] = [_("An account for %(email)s exists already.", email=address)]
    if errors:
        raise AccountError(errors)
    with _changing_roster():
        staff = Staff(
            email=address,
            name=name.strip()[:NAME_MAX],
            password_hash=generate_password_hash(password or secrets.token_urlsafe(32), method="scrypt"),
            active=True,
            created_at=now,
            role=role,
            languages=",".join(dict.fromkeys(languages)) or "de",
            services=None if services is None else ",".join(dict.fromkeys(services)),
            custom_hours=False,
        )
        db.session.add(staff)
        journal.audit(None, by, now, "account_created", f"{address} ({role})")
    return staff


def update_profile(
    office: Office,
    staff: Staff,
    *,
    name: str,
    role: str,
    services: Sequence[str] | None,
    languages: Sequence[str],
    by: Staff | None = None,
    now: datetime | None = None,
) -> Staff:
    """Change an account's name, role, services given (None: all) and languages of counselling.
    Appointments already assigned stay; those the counsellor can no longer take are listed as
    needing a counsellor. The last active admin keeps the role (else nobody could manage accounts)."""
    errors = _profile_errors(office, name, role, services, languages)
    if role != "admin" and "role" not in errors and is_last_admin(staff):
        errors["role"] = [_("This is the last active admin account: make another account admin first.")]
    if errors:
        raise AccountError(errors)
    with _changing_roster():
        if now is not None:
            journal.audit(None, by, now, "account_changed", f"{staff.email} ({role})")
        staff.name = name.strip()
        staff.role = role
        staff.services = None if services is None else ",".join(dict.fromkeys(services))
        staff.languages = ",".join(dict.fromkeys(languages)) or "de"
    return staff


def is_last_admin(staff: Staff) -> bool:
    """Whether this is the only active admin account (it may then be neither disabled nor demoted)."""
    if staff.role != "admin" or not staff.active:
        return False
    others = db.session.scalar(
        select(func.count(Staff.id)).where(
            Staff.role == "admin", Staff.active.is_(True), Staff.id != staff.id
        )
    )
    return not others


def hours_from_text(office: Office, texts: Mapping[int, str]) -> dict[int, list[Period]]:
    """Weekly hours from one text per weekday ("08:30-12:00, 14:00-17:00"; empty: not working
    that day), checked as `set_hours` checks them; `AccountError` names each weekday's field
    (`hours_<weekday>`) that is wrong, so every mistake is shown at once."""
    week: dict[int, list[Period]] = {}
    errors: dict[str, list[str]] = {}
    for weekday, text in sorted(texts.items()):
        periods, bad = rota.parse_periods(text or "")
        if bad:
            errors[f"hours_{weekday}"] = [
                _(
                    "Not a time span: %(parts)s. Write the hours like 08:30-12:00, 14:00-17:00.",
                    parts=", ".join(bad),
                )
            ]
            continue
        week[weekday] = periods
    errors.update(_hours_errors(office, week))
    if errors:
        raise AccountError(errors)
    return week


def _hours_errors(office: Office, hours: Mapping[int, Sequence[Period]]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for weekday, periods in sorted(hours.items()):
        problem = rota.check_hours(office, weekday, periods)
        if problem is rota.HoursProblem.OVERLAP:
            errors[f"hours_{weekday}"] = [_("These periods overlap.")]
        elif problem is rota.HoursProblem.OUTSIDE:
            errors[f"hours_{weekday}"] = [_("The hours must lie inside the opening hours of this day.")]
    return errors


def set_hours(
    office: Office,
    staff: Staff,
    hours: Mapping[int, Sequence[Period]] | None,
    *,
    by: Staff | None = None,
    now: datetime | None = None,
) -> Staff:
    """Set a counsellor's weekly hours (weekday 0 = Monday -> periods), or None for the office's
    opening hours. Each period must lie inside the opening hours of its day."""
    errors = _hours_errors(office, hours) if hours is not None else {}
    if errors:
        raise AccountError(errors)
    with _changing_roster():
        if now is not None:
            summary = (
                "opening hours"
                if hours is None
                else "; ".join(f"{day}: {rota.format_periods(p)}" for day, p in sorted(hours.items()) if p)
            )
            journal.audit(None, by, now, "hours_changed", f"{staff.email}: {summary or 'no day'}")
        db.session.execute(delete(CounsellorHours).where(CounsellorHours.staff_id == staff.id))
        staff.custom_hours = hours is not None
        for weekday, periods in sorted((hours or {}).items()):
            for period in periods:
                db.session.add(
                    CounsellorHours(
                        staff_id=staff.id,
                        weekday=weekday,
                        start_minute=period.start.hour * 60 + period.start.minute,
                        end_minute=period.end.hour * 60 + period.end.minute,
                    )
                )
    db.session.expire(staff, ["hours"])
    return staff


def weekly_hours(staff: Staff) -> dict[int, list[Period]] | None:
    """The counsellor's own hours per weekday, or None when they work the opening hours."""
    if not staff.custom_hours:
        return None
    week: dict[int, list[Period]] = {day: [] for day in range(7)}
    for row in staff.hours:
        week[row.weekday].append(Period(_clock(row.start_minute), _clock(row.end_minute)))
    return week


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def authenticate(email: str, password: str) -> Staff | None:
    """The active account with this email and password, else None (same work either way)."""
    staff = get_by_email(email) if email else None
    if staff is None:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not check_password_hash(staff.password_hash, password or ""):
        return None
    return staff if staff.active else None


def _check_password(password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise AccountError(
            {"password": [_("The password must have at least %(min)d characters.", min=PASSWORD_MIN)]}
        )


def set_password(staff: Staff, password: str, *, keep_session: str | None = None) -> None:
    """A new password; every session of the account ends but `keep_session` (the one changing it)."""
    _check_password(password)
    with transaction():
        staff.password_hash = generate_password_hash(password, method="scrypt")
        staff_sessions.end_all(staff.id, keep=keep_session)


def reset_password(token: str, password: str, now: datetime) -> Staff:
    """Choose a new password from a reset link: once per link, before it expires; every session
    of the account ends (whoever had the old password is out)."""
    reset = staff_sessions.reset_for(token, now)
    if reset is None:
        raise AccountError(
            {"token": [_("This link has expired or was used already. Please ask for a new one.")]}
        )
    _check_password(password)
    staff = reset.staff
    with transaction():
        if not staff_sessions.use_reset(reset, now):
            raise AccountError(
                {"token": [_("This link has expired or was used already. Please ask for a new one.")]}
            )
        staff.password_hash = generate_password_hash(password, method="scrypt")
        staff_sessions.end_all(staff.id)
    return staff


def change_own_password(staff: Staff, current: str, new: str, session_key: str | None) -> None:
    """Everyone may change their own password, knowing the current one."""
    if not check_password_hash(staff.password_hash, current or ""):
        raise AccountError({"current": [_("The current password is not right.")]})
    set_password(staff, new, keep_session=session_key)


def set_active(staff: Staff, active: bool, *, by: Staff | None = None, now: datetime | None = None) -> Staff:
    """Disable (or enable again) an account; disabling ends its sessions at once. The last
    active admin cannot be disabled (else nobody could manage accounts any more)."""
    if not active and is_last_admin(staff):
        raise AccountError(
            {"active": [_("This is the last active admin account: make another account admin first.")]}
        )
    with _changing_roster():
        if now is not None:
            journal.audit(None, by, now, "account_enabled" if active else "account_disabled", staff.email)
        staff.active = active
        if not active:
            staff_sessions.end_all(staff.id)
    return staff


def set_active_by_email(email: str, active: bool) -> Staff:
    staff = get_by_email(email)
    if staff is None:
        raise AccountError({"email": [_("There is no account for %(email)s.", email=email)]})
    return set_active(staff, active)


def disable_staff(email: str) -> Staff:
    return set_active_by_email(email, False)


def enable_staff(email: str) -> Staff:
    return set_active_by_email(email, True)
