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
    """Staff accounts and data retention (issue 4)."""
    from booking import accounts, clock, current_office, retention

    @app.cli.command("create-staff")
    @click.option("--email", required=True, help="Sign-in address of the account.")
    @click.option("--name", required=True, help="Name shown in the audit trail.")
    @click.option(
        "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Asked when left out."
    )
    def create_staff(email: str, name: str, password: str) -> None:
        """Create a staff account for the staff pages."""
        staff = _account_change(accounts.create_staff, email, name, password, clock.now())
        click.echo(f"Staff account created: {staff.email}")

    @app.cli.command("disable-staff")
    @click.option("--email", required=True)
    def disable_staff(email: str) -> None:
        """Disable a staff account; its open sessions end at their next request."""
        staff = _account_change(accounts.disable_staff, email)
        click.echo(f"Staff account disabled: {staff.email}")

    @app.cli.command("enable-staff")
    @click.option("--email", required=True)
    def enable_staff(email: str) -> None:
        """Enable a disabled staff account again."""
        staff = _account_change(accounts.enable_staff, email)
        click.echo(f"Staff account enabled: {staff.email}")

    @app.cli.command("dev-staff")
    def dev_staff() -> None:
        """For `make run`: a development staff account, created once, and its sign-in printed."""
        from pathlib import Path
        from secrets import token_urlsafe

        email = "staff@example.org"
        secret = Path(app.instance_path) / "dev-staff-password"
        if accounts.get_by_email(email) is None:
            password = token_urlsafe(12)
            accounts.create_staff(email, "Development staff", password, clock.now())
            secret.write_text(password)
            secret.chmod(0o600)
        password = secret.read_text().strip() if secret.exists() else "(set when it was created)"
        click.echo(f"Staff sign-in: http://127.0.0.1:5000/staff/login  {email}  {password}")

    @app.cli.command("anonymise-expired")
    def anonymise_expired() -> None:
        """Remove personal data of bookings past the retention period (also run daily by beat)."""
        count = retention.anonymise_expired(current_office(), clock.now())
        click.echo(f"Anonymised {count} bookings.")


def _absence_commands(app: Flask) -> None:
    """A counsellor's absence from the command line (issue 10)."""


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
