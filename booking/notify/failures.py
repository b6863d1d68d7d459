"""Why an email could not be delivered, as a kind staff can act on, from the error the outbox
stored (`outbox.mark_failed`: "refused: …", "cannot build the message: …", or the exception's
type and text). Pure; the staff pages put each kind in words."""

from __future__ import annotations

import re

# A reply code of the mail server, as in "(550, b'5.1.1 …')" or "550 mailbox unavailable".
REPLY_CODE = re.compile(r"(?<![\d.])([45]\d\d)(?![\d.])")
ADDRESS_CODES = {"550", "551", "553"}  # no such mailbox, not here, not a valid address

KINDS = (
    "address_refused",  # the resident's address was refused: call them
    "bad_address",  # no email could be written to this address
    "mail_server_unreachable",
    "mail_server_timeout",
    "mail_server_disconnected",
    "mail_server_sign_in",  # our account at the mail server (SMTP_USERNAME / SMTP_PASSWORD)
    "sender_refused",  # our sender address (MAIL_FROM)
    "rejected",  # the mail server rejected this email for good
    "temporary",  # the mail server asked to try later
    "other",
)

UNREACHABLE = ("ConnectionRefusedError", "gaierror", "SMTPConnectError", "ConnectionResetError", "OSError")
UNREACHABLE += ("ConnectionAbortedError", "SSLError", "SSLCertVerificationError", "herror")
TIMEOUT = ("TimeoutError", "timeout")


def failure_kind(error: str | None) -> str:
    """One of KINDS for a stored error text."""
    text = (error or "").strip()
    if text.startswith("refused:") or text.startswith("SMTPRecipientsRefused"):
        return "address_refused"
    if text.startswith("cannot build the message"):
        return "bad_address"
    name = text.split(":", 1)[0].strip().rsplit(".", 1)[-1]
    if name == "SMTPSenderRefused":
        return "sender_refused"
    if name in ("SMTPAuthenticationError", "SMTPNotSupportedError"):
        return "mail_server_sign_in"
    if name == "SMTPServerDisconnected":
        return "mail_server_disconnected"
    if name in TIMEOUT:
        return "mail_server_timeout"
    if name in UNREACHABLE:
        return "mail_server_unreachable"
    code = REPLY_CODE.search(text)
    if code is not None:
        if code.group(1) in ADDRESS_CODES:
            return "address_refused"
        return "rejected" if code.group(1).startswith("5") else "temporary"
    return "other"
