"""The email for each kind of outbox row, in the booking's language, with its iCalendar part;
and the password-reset email of a staff account (`build_reset_message`), which has none.

The message is assembled as bytes (an `Email`), not through `email.message.EmailMessage`: its
structured headers and generator cost several milliseconds a message, most of a worker's time.
The standard library still does every encoding (RFC 2047 words, base64, addresses, the date);
what is assembled here is only the fixed layout around them. Nothing from a booking reaches a
header unchecked: names lose their control characters, addresses and tokens are checked.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.charset import Charset
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, get_translations
from flask_babel import gettext as _
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from booking import staff_sessions
from booking.extensions import db
from booking.models import Booking, PasswordReset, WaitlistEntry
from booking.notify import ics
from booking.office import Office
from booking.web.templating import day_label, time_label

KINDS = ("verify", "offer", "confirm", "cancel", "move", "reminder", "link")
HELD = ("verify", "offer")  # about a held place not booked yet: a link that books it, no calendar entry
# The kinds that carry the calendar entry (or its removal). A reminder carries none: sent again
# with the same UID and SEQUENCE it could bring back an entry the resident deleted.
WITH_CALENDAR = ("confirm", "cancel", "move")
RESET_KIND = "password_reset"  # the one kind about a staff account rather than a booking
WAITLIST_KIND = "waitlist"  # the request to confirm a place on the waitlist
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
# An address as it goes between < and > and to the SMTP server: ASCII, no space, no control
# character and nothing that ends an address or starts another one.
ADDRESS = re.compile(r'[^\x00-\x20\x7f<>()\[\],;:\\"@]+@[^\x00-\x20\x7f<>()\[\],;:\\"@]+')
TOKEN = re.compile(r"[\x21-\x7e]+")  # a header value that needs no encoding: visible ASCII
UTF8 = Charset("utf-8")
LINE = 78  # RFC 5322's recommended longest header line; the limit (998) is far above
WORD = 75  # RFC 2047's longest encoded-word
CRLF = "\r\n"
# Every part is base64 and "_" is no base64 character, so no line of a part can be a delimiter.
MIXED, ALTERNATIVE = "=_termine_mixed", "=_termine_alternative"


@dataclass(frozen=True)
class Email:
    """A finished message: the envelope for the SMTP server and the bytes to send as they are.
    The recipients are only the booking's address; no header can add one."""

    envelope_from: str
    recipients: list[str]
    raw: bytes
    message_id: str


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link, also from a worker without a request: PUBLIC_URL when set, else the
    request's host, else SERVER_NAME, else the development server."""
    config = current_app.config
    base = config.get("PUBLIC_URL")
    if not base and (has_request_context() or config.get("SERVER_NAME")):
        return url_for(endpoint, _external=True, **values)
    adapter = current_app.url_map.bind("localhost", script_name=config.get("APPLICATION_ROOT") or "/")
    path = adapter.build(endpoint, values)
    return (base or "http://127.0.0.1:5000").rstrip("/") + path


def manage_url(booking: Booking) -> str:
    return external_url("public.manage", token=booking.token)


def calendar_url(booking: Booking) -> str:
    return external_url("public.calendar", token=booking.token)


def sender_address(office: Office) -> tuple[str, str]:
    """The From header's mailbox and the envelope sender: MAIL_FROM, else the office's address."""
    configured = current_app.config.get("MAIL_FROM")
    if configured:
        name, address = parseaddr(configured)
        return _mailbox("From", name, address or configured), _address(address or configured)
    return _mailbox("From", office.name, office.email), _address(office.email)


def message_id(dedupe_key: str, booking: Booking, office: Office) -> str:
    """Stable per outbox row, so a receiving system can drop a copy a crash made us send twice."""
    domain = office.email.rsplit("@", 1)[-1]
    local = MESSAGE_ID_UNSAFE.sub(".", f"{dedupe_key}.{booking.reference}").strip(".")
    return f"<termine.{local}@{domain}>"


def _plain(text: str) -> str:
    """A display name on one line: control characters (CR, LF, ...) become spaces."""
    return CONTROL.sub(" ", text).strip()


def _address(address: str) -> str:
    """The address itself, refused (ValueError) when it could break a header or the envelope."""
    if not (address.isascii() and ADDRESS.fullmatch(address)):
        raise ValueError(f"not a usable email address: {address!r}")
    return address


def _token(value: str) -> str:
    """A header value written as it is (a language code, a message id), refused when it is not."""
    if not TOKEN.fullmatch(value):
        raise ValueError(f"not a usable header value: {value!r}")
    return value


def _encoded_words(header: str, text: str) -> str:
    """RFC 2047 encoded-words for `text` (the encoding is email.charset's), one a line, each as
    long as its line allows; a cut never falls inside a UTF-8 character. A reader joins the words
    without the folding between them (RFC 2047 6.2), so a name or subject comes back whole."""
    data, words = text.encode(), []
    room = LINE - len(header) - 2  # the first line holds "Header: "; the others one space
    while data:
        # base64 of 3 bytes is 4 characters, and "=?utf-8?b?" "?=" add 12 (q is used when shorter)
        cut = min(len(data), (min(room, WORD) - 12) // 4 * 3)
        while cut < len(data) and data[cut] & 0xC0 == 0x80:  # a continuation byte: cut before its start
            cut -= 1
        words.append(UTF8.header_encode(data[:cut].decode()))
        data, room = data[cut:], LINE - 1
    return f"{CRLF} ".join(words)


def _fits(header: str, text: str) -> bool:
    """Whether `text` can be written as it is on the header's first line."""
    return text.isascii() and len(header) + 2 + len(text) <= LINE


def _unstructured(header: str, text: str) -> str:
    """A Subject on one line: as it is when ASCII that fits the line, else as encoded-words."""
    text = _plain(text)
    return text if _fits(header, text) else _encoded_words(header, text)


def _mailbox(header: str, name: str, address: str) -> str:
    """`name <address>`: the name on one line, quoted by formataddr when ASCII that fits the line,
    else as encoded-words; the address moves to a line of its own when the last has no room."""
    address, name = _address(address), _plain(name)
    if not name:
        return address
    phrase = formataddr((name, address)).removesuffix(f" <{address}>") if name.isascii() else ""
    if not (phrase and _fits(header, phrase)):
        phrase = _encoded_words(header, name)
    last_line = f"{header}: {phrase}".rsplit(CRLF, 1)[-1]
    gap = " " if len(last_line) + len(address) + 3 <= LINE else f"{CRLF} "
    return f"{phrase}{gap}<{address}>"


def _subject(kind: str, when: dict[str, str]) -> str:
    if kind == "cancel":
        return _("Cancelled: your appointment on %(date)s at %(time)s", **when)
    if kind == "move":
        return _("Moved: your appointment is now on %(date)s at %(time)s", **when)
    if kind == "reminder":
        return _("Reminder: your appointment on %(date)s at %(time)s", **when)
    if kind == "verify":
        return _("Please confirm: your appointment on %(date)s at %(time)s", **when)
    if kind == "offer":
        return _("A place became free: %(date)s at %(time)s", **when)
    if kind == "link":  # sent again from "Lost your link?"
        return _("Your link: your appointment on %(date)s at %(time)s", **when)
    return _("Confirmed: your appointment on %(date)s at %(time)s", **when)


def _template_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    """Jinja's new-style `_()` (autoescaped in HTML, always %-formatted) on one catalogue: the
    same text as flask-babel's, without its lookup of locale and catalogue on each of ~30 calls."""

    @pass_context
    def gettext(context: Context, string: str, **variables: Any) -> str:
        text = translate(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables  # type: ignore[no-any-return]

    return gettext


def _render(name: str, context: dict[str, Any]) -> str:
    """A template with exactly `context` (it names all an email uses), without Flask's context
    processors, which are for pages."""
    return current_app.jinja_env.get_template(name).render(context)


def _entity(fields: list[tuple[str, str]], body: bytes) -> bytes:
    """Header lines, the empty line, the body: the message or one of its parts."""
    return "".join(f"{name}: {value}{CRLF}" for name, value in fields).encode("ascii") + b"\r\n" + body


def _leaf(content_type: str, data: bytes, *fields: tuple[str, str]) -> bytes:
    """A part holding data, in base64 (76 characters a line, CRLF)."""
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return _entity(
        [("Content-Type", content_type), ("Content-Transfer-Encoding", "base64"), *fields], encoded
    )


def _multipart(subtype: str, boundary: str, parts: list[bytes], *fields: tuple[str, str]) -> bytes:
    """A multipart holding `parts`, each after a delimiter line, then the close delimiter."""
    delimiter = f"--{boundary}".encode("ascii")
    body = b"".join(b"%s\r\n%s\r\n" % (delimiter, part) for part in parts) + delimiter + b"--\r\n"
    return _entity([*fields, ("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')], body)


def _text(text: str) -> bytes:
    """Text in UTF-8 with CRLF line ends, the canonical form of text/* (str.splitlines, as the
    email package splits)."""
    return (CRLF.join(text.splitlines()) + CRLF).encode()


def build_message(
    kind: str,
    booking: Booking,
    office: Office,
    *,
    dedupe_key: str,
    now: datetime,
    moved_from: datetime | None = None,
    by_office: bool = False,
) -> Email:
    """The complete message for one outbox row: plain text, HTML and, for the kinds that change
    the calendar entry, the iCalendar part. `moved_from`: a move's old start, which its email names;
    `by_office`: a cancellation by staff, which its email says."""
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    if not booking.email:
        raise ValueError("the booking has no email address")
    links = {"manage_url": manage_url(booking), "calendar_url": calendar_url(booking)}
    if kind in HELD:  # the only key that confirms it; the booking's own link comes after
        links = {"confirm_url": external_url("public.confirm_page", token=booking.confirm_token)}
    if kind == "offer" and booking.waitlist_entry_id is not None:
        entry = db.session.get(WaitlistEntry, booking.waitlist_entry_id)
        if entry is not None:
            links["leave_url"] = external_url("public.waitlist_entry", token=entry.token)
    method = "CANCEL" if kind == "cancel" else ics.method_for(booking)
    with force_locale(booking.language):
        when = {"date": day_label(booking.start_at), "time": time_label(booking.start_at)}
        subject = _subject(kind, when)
        gettext = _template_gettext(get_translations().gettext)
        context = {
            "kind": kind,
            "booking": booking,
            "office": office,
            "service_name": ics.service_name(booking, office),
            "date": when["date"],
            "start_time": when["time"],
            "end_time": time_label(booking.end_at),
            "book_again_url": external_url("public.home"),
            "language": booking.language,
            "subject": subject,
            "gettext": gettext,
            "_": gettext,
            **links,
        }
        context["by_office"] = by_office
        if kind in HELD:
            context["hold_until"] = time_label(booking.hold_until or booking.start_at)
        if kind == "move" and moved_from is not None:
            context["old_date"], context["old_time"] = day_label(moved_from), time_label(moved_from)
        text = _render(f"email/{kind}.txt", context)
        html = _render(f"email/{kind}.html", context)

    from_header, envelope_from = sender_address(office)
    recipient = _address(booking.email)
    identifier = _token(message_id(dedupe_key, booking, office))
    bodies = [
        _leaf('text/plain; charset="utf-8"', _text(text)),
        _leaf('text/html; charset="utf-8"', _text(html)),
    ]
    attachments = []
    if kind in WITH_CALENDAR:
        calendar = ics.booking_calendar(
            booking, office, manage_url=links["manage_url"], method=method, stamp=now
        )
        # As the big calendar services send an invitation: the calendar part is the last
        # alternative (what a calendar-aware mail program shows as the entry), and the same file
        # is attached as invite.ics for those that only offer attachments (application/ics, so
        # that no program takes it for a second invitation).
        bodies.append(_leaf(f'text/calendar; charset="utf-8"; method={method}', calendar))
        attachments.append(
            _leaf(
                'application/ics; name="invite.ics"',
                calendar,
                ("Content-Disposition", 'attachment; filename="invite.ics"'),
            )
        )
    parts = [_multipart("alternative", ALTERNATIVE, bodies), *attachments]
    raw = _multipart(
        "mixed",
        MIXED,
        parts,
        ("From", from_header),
        ("To", _mailbox("To", booking.name, recipient)),
        ("Reply-To", _mailbox("Reply-To", office.name, office.email)),
        ("Subject", _unstructured("Subject", subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", identifier),
        ("Auto-Submitted", "auto-generated"),
        ("Content-Language", _token(booking.language)),
        ("MIME-Version", "1.0"),
    )
    return Email(envelope_from, [recipient], raw, identifier)


def reset_url(reset: PasswordReset) -> str:
    return external_url("staff.reset_password", token=staff_sessions.reset_token(reset))


def build_reset_message(reset: PasswordReset, office: Office, *, dedupe_key: str, now: datetime) -> Email:
    """The password link for a staff account (plain text and HTML, no calendar part).

    Written in the office's default language (the first of LANGUAGES, German): the worker builds
    it later, without the request of the admin who sent it, and the office works in German; the
    reset page itself then speaks the reader's browser language."""
    staff = reset.staff
    language = current_app.config["LANGUAGES"][0]
    with force_locale(language):
        subject = _("Choose your password for the staff pages")
        gettext = _template_gettext(get_translations().gettext)
        context = {
            "office": office,
            "name": staff.name,
            "email": staff.email,
            "reset_url": reset_url(reset),
            "login_url": external_url("staff.login"),
            "expires_date": day_label(reset.expires_at),
            "expires_time": time_label(reset.expires_at),
            "language": language,
            "subject": subject,
            "gettext": gettext,
            "_": gettext,
        }
        text = _render(f"email/{RESET_KIND}.txt", context)
        html = _render(f"email/{RESET_KIND}.html", context)
    return _text_only(office, (staff.name, staff.email), subject, text, html, language, dedupe_key, now)


def build_waitlist_message(entry: WaitlistEntry, office: Office, *, dedupe_key: str, now: datetime) -> Email:
    """The request to confirm a place on the waitlist (no calendar part), in the entry's
    language: offers go only to addresses that confirmed, so nobody can fill the list with
    addresses that are not theirs."""
    with force_locale(entry.language):
        service = office.service(entry.service_id)
        subject = _(
            "Please confirm: the waitlist for %(service)s",
            service=service.name(entry.language) if service else entry.service_id,
        )
        gettext = _template_gettext(get_translations().gettext)
        context = {
            "office": office,
            "entry": entry,
            "service_name": service.name(entry.language) if service else entry.service_id,
            "first_day": day_label(entry.first_day),
            "last_day": day_label(entry.last_day),
            "confirm_url": external_url("public.confirm_waitlist", token=entry.confirm_token),
            "leave_url": external_url("public.waitlist_entry", token=entry.token),
            "language": entry.language,
            "subject": subject,
            "gettext": gettext,
            "_": gettext,
        }
        text = _render(f"email/{WAITLIST_KIND}.txt", context)
        html = _render(f"email/{WAITLIST_KIND}.html", context)
    return _text_only(office, (entry.name, entry.email), subject, text, html, entry.language, dedupe_key, now)


def _text_only(
    office: Office,
    to: tuple[str, str],
    subject: str,
    text: str,
    html: str,
    language: str,
    dedupe_key: str,
    now: datetime,
) -> Email:
    """A message of plain text and HTML only, to `to` (name, address)."""
    from_header, envelope_from = sender_address(office)
    recipient = _address(to[1])
    domain = office.email.rsplit("@", 1)[-1]
    identifier = _token(f"<termine.{MESSAGE_ID_UNSAFE.sub('.', dedupe_key).strip('.')}@{domain}>")
    raw = _multipart(
        "alternative",
        ALTERNATIVE,
        [_leaf('text/plain; charset="utf-8"', _text(text)), _leaf('text/html; charset="utf-8"', _text(html))],
        ("From", from_header),
        ("To", _mailbox("To", to[0], recipient)),
        ("Reply-To", _mailbox("Reply-To", office.name, office.email)),
        ("Subject", _unstructured("Subject", subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", identifier),
        ("Auto-Submitted", "auto-generated"),
        ("Content-Language", _token(language)),
        ("MIME-Version", "1.0"),
    )
    return Email(envelope_from, [recipient], raw, identifier)
