"""Where finished messages go: `.eml` files in `instance/outbox/` (development) or an SMTP server.

A sender is opened once per batch and closed after it, so a relay of many rows uses one SMTP
connection. The envelope (sender, recipients) comes from the `Email`, never from its headers: no
header can add a recipient.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from flask import Flask

from booking.notify.messages import Email

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Sender(Protocol):
    def send(self, email: Email, name: str) -> None: ...

    def close(self) -> None: ...


class FileSender:
    """Writes each message to `<folder>/<name>.eml`; the same outbox row always gets the same file,
    so a retry replaces it instead of adding a second one. Written atomically (temp file + rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, email: Email, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{SAFE_NAME.sub('-', name)}.eml"
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(email.raw)
            os.chmod(temporary, 0o644)  # readable by the mail program of whoever runs `make run`
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def close(self) -> None:
        pass


class SmtpSender:
    """One SMTP connection, opened at the first message and reused for the rest of the batch."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.starttls = username, password, starttls
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if self.starttls:
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if self.username:
                connection.login(self.username, self.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, email: Email, name: str) -> None:
        if self.connection is None:
            self.connection = self._connect()
        try:
            self.connection.sendmail(email.envelope_from, email.recipients, email.raw)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()  # the next message starts a fresh connection
            raise

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()


def make_sender(config: dict[str, Any], instance_path: str) -> Sender:
    if config.get("MAIL_BACKEND", "file") == "smtp":
        return SmtpSender(
            config.get("SMTP_HOST") or "localhost",
            int(config.get("SMTP_PORT") or 25),
            username=config.get("SMTP_USERNAME"),
            password=config.get("SMTP_PASSWORD"),
            starttls=bool(config.get("SMTP_STARTTLS")),
            timeout=float(config.get("SMTP_TIMEOUT") or 30),
        )
    return FileSender(Path(instance_path) / "outbox")


@contextmanager
def open_sender(app: Flask) -> Iterator[Sender]:
    """The configured sender for one batch, closed afterwards."""
    sender = make_sender(app.config, app.instance_path)
    try:
        yield sender
    finally:
        sender.close()
