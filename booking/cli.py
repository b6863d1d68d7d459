"""Command-line entry points: `flask --app booking init-db` and friends."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click
from flask import Flask
from flask_migrate import upgrade

if TYPE_CHECKING:
    from booking.models import Staff


def _account_change(change: Callable[..., Staff], *args: object) -> Staff:
    """Run an account change; its refusal becomes a clean error message and exit code."""
    from booking.accounts import AccountError

    try:
        return change(*args)
    except AccountError as error:
        raise click.ClickException(str(error)) from error


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db() -> None:
        """Create or upgrade the tables to the newest migration (safe to run again)."""
        upgrade()
        click.echo("Database is up to date.")

    _staff_commands(app)
    _absence_commands(app)
    _email_commands(app)


def _staff_commands(app: Flask) -> None:
    """Staff accounts and data retention (issues 4 and 10). What they print is in English (the
    operator's language here, whatever the office's), and a refusal names the option."""
    from flask_babel import force_locale

    from booking import accounts, clock, current_office, retention
    from booking import languages as language_names
    from booking.models import ROLES

    options = {
        field: f"--{field}" for field in ("email", "name", "password", "role", "services", "languages")
    }

    def refused(error: accounts.AccountError) -> click.ClickException:
        return click.ClickException(
            "\n".join(
                f"Invalid value for '{options.get(field, field)}': {' '.join(messages)}"
                for field, messages in error.errors.items()
            )
        )

    def service_list(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str] | None:
        """`--services beratung,asyl`: the office's service ids (left out or empty: all)."""
        if value is None or not value.strip():
            return None
        ids = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
        known = {service.id for service in app.extensions["office"].services}
        unknown = [service_id for service_id in ids if service_id not in known]
        if unknown:
            raise click.BadParameter(
                f"there is no service {', '.join(unknown)} (the office has: {', '.join(sorted(known))})"
            )
        return ids

    def language_list(_ctx: click.Context, _param: click.Parameter, value: str) -> list[str]:
        """`--languages de,ar,tr`: language codes of counselling."""
        codes, unknown = language_names.parse_list(value)
        if unknown:
            raise click.BadParameter(
                f"unknown language code {', '.join(unknown)} (use codes like de, ar, tr)"
            )
        if not codes:
            raise click.BadParameter("name at least one language, e.g. de")
        return codes

    @app.cli.command("create-staff")
    @click.option("--email", required=True, help="Sign-in address of the account.")
    @click.option("--name", required=True, help="Name shown in the audit trail.")
    @click.option(
        "--role", type=click.Choice(ROLES), default="reception", show_default=True, help="What it may do."
    )
    @click.option(
        "--services", callback=service_list, help="Counsellor: services given, ID,ID (default: all)."
    )
    @click.option(
        "--languages", default="de", show_default=True, callback=language_list,
        help="Counsellor: languages of counselling, e.g. de,ar.",
    )  # fmt: skip
    @click.option(
        "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Asked when left out."
    )
    def create_staff(
        email: str, name: str, role: str, services: list[str] | None, languages: list[str], password: str
    ) -> None:
        """Create a staff account for the staff pages."""
        with force_locale("en"):
            try:
                staff = accounts.create_staff(
                    email, name, password, clock.now(), office=current_office(), role=role,
                    services=services, languages=languages,
                )  # fmt: skip
            except accounts.AccountError as error:
                raise refused(error) from error
        given = "all services" if staff.service_ids is None else ", ".join(sorted(staff.service_ids))
        extra = f", {given}, languages {', '.join(staff.language_codes)}" if role == "counsellor" else ""
        click.echo(f"Staff account created: {staff.email} ({role}{extra})")

    @app.cli.command("disable-staff")
    @click.option("--email", required=True)
    def disable_staff(email: str) -> None:
        """Disable a staff account; its open sessions end at once."""
        with force_locale("en"):
            staff = _account_change(accounts.disable_staff, email)
        click.echo(f"Staff account disabled: {staff.email}")

    @app.cli.command("enable-staff")
    @click.option("--email", required=True)
    def enable_staff(email: str) -> None:
        """Enable a disabled staff account again."""
        with force_locale("en"):
            staff = _account_change(accounts.enable_staff, email)
        click.echo(f"Staff account enabled: {staff.email}")

    # `make run`'s accounts: (email, name, role, languages, file in the instance folder with its password).
    dev_accounts = (
        ("staff@example.org", "Development admin", "admin", ("de",), "dev-staff-password"),
        ("clara@example.org", "Clara Becker", "counsellor", ("de",), "dev-staff-password-clara"),
        ("yusuf@example.org", "Yusuf Demir", "counsellor", ("de", "ar", "tr"), "dev-staff-password-yusuf"),
    )

    @app.cli.command("dev-staff")
    def dev_staff() -> None:
        """For `make run`: an admin and two counsellors for development, created once (running it
        again creates nothing), and their sign-ins printed; passwords are kept in the instance folder."""
        from pathlib import Path
        from secrets import token_urlsafe

        office = current_office()
        base = (app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")
        click.echo(f"Staff sign-in: {base}/staff/login")
        for email, name, role, spoken, secret_name in dev_accounts:
            secret = Path(app.instance_path) / secret_name
            if accounts.get_by_email(email) is None:
                password = token_urlsafe(12)
                with force_locale("en"):
                    try:
                        accounts.create_staff(
                            email, name, password, clock.now(), office=office, role=role, languages=spoken
                        )
                    except accounts.AccountError as error:
                        raise refused(error) from error
                secret.write_text(password)
                secret.chmod(0o600)
            password = secret.read_text().strip() if secret.exists() else "(set when it was created)"
            what = role if role != "counsellor" else f"counsellor, {'+'.join(spoken)}"
            click.echo(f"  {name} ({what}): {email}  {password}")

    @app.cli.command("anonymise-expired")
    def anonymise_expired() -> None:
        """Remove personal data of bookings past the retention period (also run daily by beat)."""
        count = retention.anonymise_expired(current_office(), clock.now())
        click.echo(f"Anonymised {count} bookings.")


def _absence_commands(app: Flask) -> None:
    """A counsellor's absence from the command line (issue 10): whole days, or part of a day. The
    appointments it touches are printed; staff give them to another counsellor in the browser."""
    from datetime import date, datetime

    from flask_babel import force_locale

    from booking import absences, accounts, bookings, clock, current_office
    from booking.notify.messages import external_url
    from booking.refusals import InvalidAbsence

    def day_or_moment(value: str, option: str) -> date | datetime:
        """A day (2027-04-20) or a moment (2027-04-20T08:30, office time unless an offset is given)."""
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
        moment = bookings.parse_start(value, current_office())
        if moment is None:
            raise click.BadParameter(
                "use a date (2027-04-20) or a date and time (2027-04-20T08:30)", param_hint=option
            )
        return moment

    def span(first: date | datetime, last: date | datetime | None) -> tuple[datetime, datetime]:
        office = current_office()
        if isinstance(first, datetime):
            if last is None:
                raise click.BadParameter(
                    "give the end of part of a day, e.g. 2027-04-20T10:00", param_hint="--to"
                )
            if not isinstance(last, datetime):
                raise click.BadParameter(
                    "give a date and time like --from (or dates in both)", param_hint="--to"
                )
            return first, last
        if isinstance(last, datetime):
            raise click.BadParameter(
                "give a date like --from (or a date and time in both)", param_hint="--to"
            )
        try:
            return absences.whole_days(office, first, last)
        except OverflowError:
            raise click.BadParameter("use a real date", param_hint="--to" if last else "--from") from None

    @app.cli.command("add-absence")
    @click.option("--email", required=True, help="Sign-in address of the counsellor.")
    @click.option(
        "--from", "first", required=True, help="First day (2027-04-20), or a start time (2027-04-20T08:30)."
    )
    @click.option(
        "--to", "last", help="Last day (default: the --from day), or the end time (2027-04-20T10:00)."
    )
    @click.option("--reason", default="", help="Why (ill, leave, training); optional.")
    def add_absence(email: str, first: str, last: str | None, reason: str) -> None:
        """Enter a counsellor's absence (times in office time unless they carry an offset)."""
        office, now = current_office(), clock.now()
        start, end = span(day_or_moment(first, "--from"), day_or_moment(last, "--to") if last else None)
        counsellor = accounts.get_by_email(email)
        if counsellor is None:
            raise click.BadParameter("there is no account with this email address", param_hint="--email")
        if counsellor.role != "counsellor":
            raise click.BadParameter(
                f"this account is no counsellor (role: {counsellor.role})", param_hint="--email"
            )
        with force_locale("en"):
            try:
                absence = absences.add(office, counsellor.id, start, end, reason, None, now)
            except InvalidAbsence as invalid:
                options = {"counsellor": "--email", "start": "--from", "end": "--to", "reason": "--reason"}
                hints = [options.get(key, "--from") for key in invalid.errors]
                message = " ".join(m for messages in invalid.errors.values() for m in messages)
                raise click.BadParameter(message, param_hint=hints) from None
        days = absences.days_of(office, absence)
        local_start, local_end = (m.astimezone(office.timezone) for m in (absence.start_at, absence.end_at))
        if days is not None:
            when = f"{days[0]:%a %Y-%m-%d} to {days[1]:%a %Y-%m-%d} (whole days)"
        else:
            when = f"{local_start:%a %Y-%m-%d %H:%M} to {local_end:%a %Y-%m-%d %H:%M}"
        click.echo(
            f"Absence entered: {counsellor.name} <{counsellor.email}>, {when}"
            + (f": {absence.reason}" if absence.reason else "")
            + "."
        )
        inside = absences.affected(absence, now)
        if not inside:
            click.echo(f"{counsellor.name} has no appointments in this time.")
            return
        click.echo(f"Appointments of {counsellor.name} in this time ({len(inside)}):")
        for booking in inside:
            at = booking.start_at.astimezone(office.timezone)
            click.echo(f"  {booking.reference}  {at:%a %Y-%m-%d %H:%M}  {booking.name}")
        page = external_url("staff.absence", absence_id=absence.id)
        click.echo(f"Give them to another counsellor (or move or cancel them) in the browser: {page}")


def _email_commands(app: Flask) -> None:
    """Reminders by hand (issue 3); beat runs the same scan every REMINDER_SCAN_SECONDS."""

    from booking import bookings, clock, current_office
    from booking.notify import outbox, tasks

    @app.cli.command("send-reminders")
    @click.option("--as-of", "as_of", help="The moment to look from, ISO 8601 (default: now).")
    def send_reminders(as_of: str | None) -> None:
        """Queue every reminder due at that moment that was not sent yet; safe to run twice."""
        office = current_office()
        now = clock.now()
        if as_of:
            moment = bookings.parse_start(as_of, office)  # without an offset: office time
            if moment is None:
                raise click.BadParameter("use ISO 8601, e.g. 2027-03-29T08:00+02:00", param_hint="--as-of")
            now = moment
        added = outbox.scan_reminders(office, now, queued_at=min(now, clock.now()))
        pending = outbox.pending_reminder_ids(now)
        queued = tasks.enqueue(pending)
        click.echo(
            f"Reminders due and not sent yet: {len(pending)} ({added} new); handed to the workers: {queued}."
        )

    @app.cli.command("scan-waitlist")
    def scan_waitlist() -> None:
        """Offer the places that came back to the people waiting; safe alongside beat."""
        from booking import waitlist

        made = waitlist.scan(current_office(), clock.now(), app.config["LANGUAGES"])
        click.echo(f"Waitlist offers made: {made}.")
