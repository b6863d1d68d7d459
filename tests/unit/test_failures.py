"""Why an email failed, from the text the outbox stores for the real exceptions of smtplib and
the socket layer (written the way `outbox._send_claimed` writes them)."""

from __future__ import annotations

import smtplib
import socket

import pytest

from booking.notify.failures import failure_kind


def stored(exc: Exception) -> str:
    """What `outbox._send_claimed` keeps of an exception it will retry."""
    return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            f"refused: {smtplib.SMTPRecipientsRefused({'a@example.org': (550, b'5.1.1 no such user')})}",
            "address_refused",
        ),
        ("cannot build the message: The email address is not valid.", "bad_address"),
        (stored(ConnectionRefusedError(111, "Connection refused")), "mail_server_unreachable"),
        (stored(socket.gaierror(-2, "Name or service not known")), "mail_server_unreachable"),
        (stored(OSError(101, "Network is unreachable")), "mail_server_unreachable"),
        (stored(TimeoutError("timed out")), "mail_server_timeout"),
        (
            stored(smtplib.SMTPServerDisconnected("Connection unexpectedly closed")),
            "mail_server_disconnected",
        ),
        (stored(smtplib.SMTPAuthenticationError(535, b"5.7.8 authentication failed")), "mail_server_sign_in"),
        (
            stored(smtplib.SMTPSenderRefused(553, b"sender not allowed", "termine@example.org")),
            "sender_refused",
        ),
        (stored(smtplib.SMTPDataError(554, b"5.7.1 message rejected as spam")), "rejected"),
        (stored(smtplib.SMTPDataError(451, b"4.3.0 try again later")), "temporary"),
        ("550 mailbox unavailable", "address_refused"),
        ("something nobody foresaw", "other"),
        (None, "other"),
    ],
)
def test_each_stored_error_has_its_kind(error, kind):
    assert failure_kind(error) == kind


def test_numbers_that_are_not_reply_codes_are_not_taken_for_them():
    assert failure_kind("RuntimeError: worker 4501.2 stopped") == "other"
