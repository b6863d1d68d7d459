"""The bytes of each email, read back by the standard library's parser as a mail program would:
the parts and their order, the decoded headers, CRLF line ends and line lengths. The messages are
assembled by hand (booking/notify/messages.py), so these tests pin what EmailMessage used to."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default

import pytest
from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Calendar

from booking.models import Booking
from booking.notify.messages import HELD, KINDS, WITH_CALENDAR, Email, build_message
from booking.web.templating import day_label, time_label
from tests.conftest import Clock, make_app

START = datetime(2027, 3, 30, 6, 30, tzinfo=UTC)  # Tuesday 08:30 in Heinsberg
NOW = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)
LANGUAGES = ("de", "en", "tr", "ar", "uk", "ru", "pl", "fa")
OFFICE_ADDRESS = "termine@kreis-heinsberg.example"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Building a message reads no database: one app for the module, inside its context."""
    app = make_app("sqlite://", Clock(), str(tmp_path_factory.mktemp("instance")))
    with app.app_context():
        yield app


def booking(**changes: object) -> Booking:
    values: dict[str, object] = {
        "id": 7,
        "reference": "ABCD-EFGH",
        "token": "t" * 32,
        "service_id": "beratung",
        "start_at": START,
        "end_at": START.replace(minute=0, hour=7),
        "name": "Anna Müller",
        "email": "anna@example.org",
        "language": "de",
        "status": "confirmed",
        "sequence": 0,
        "created_at": NOW,
    }
    return Booking(**{**values, **changes})


def build(app: Flask, kind: str = "confirm", **changes: object) -> Email:
    return build_message(kind, booking(**changes), app.extensions["office"], dedupe_key=f"{kind}:7", now=NOW)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=default)  # type: ignore[return-value]


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def expected_subject(kind: str, language: str) -> str:
    with force_locale(language):
        when = {"date": day_label(START), "time": time_label(START)}
        return {
            "confirm": _("Confirmed: your appointment on %(date)s at %(time)s", **when),
            "cancel": _("Cancelled: your appointment on %(date)s at %(time)s", **when),
            "move": _("Moved: your appointment is now on %(date)s at %(time)s", **when),
            "reminder": _("Reminder: your appointment on %(date)s at %(time)s", **when),
            "verify": _("Please confirm: your appointment on %(date)s at %(time)s", **when),
            "offer": _("A place became free: %(date)s at %(time)s", **when),
            "link": _("Your link: your appointment on %(date)s at %(time)s", **when),
        }[kind]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_email_has_the_parts_headers_and_line_ends_mail_programs_expect(
    app: Flask, kind: str, language: str
) -> None:
    status = "cancelled" if kind == "cancel" else "pending" if kind in HELD else "confirmed"
    pending = {"hold_until": NOW.replace(minute=30), "confirm_token": "c" * 43} if kind in HELD else {}
    built = build(app, kind, language=language, status=status, **pending)
    assert built.recipients == ["anna@example.org"]
    assert built.envelope_from == OFFICE_ADDRESS
    assert built.message_id == f"<termine.{kind}.7.ABCD-EFGH@kreis-heinsberg.example>"

    raw = built.raw
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert max(len(line) for line in header_block(raw).split(b"\r\n")) <= 78
    assert raw.isascii()

    message = parse(raw)
    assert message.defects == []
    # The calendar part is the last alternative and attached as invite.ics, as the big calendar
    # services send invitations; none for a time not booked yet, none in a reminder.
    with_calendar = kind in WITH_CALENDAR
    assert [(part.get_content_type(), part.is_multipart()) for part in message.walk()] == [
        ("multipart/mixed", True),
        ("multipart/alternative", True),
        ("text/plain", False),
        ("text/html", False),
    ] + ([("text/calendar", False), ("application/ics", False)] if with_calendar else [])
    assert all(part.defects == [] for part in message.walk())
    assert str(message["Subject"]) == expected_subject(kind, language)
    assert message["To"].addresses[0].display_name == "Anna Müller"
    assert message["To"].addresses[0].addr_spec == "anna@example.org"
    assert [a.addr_spec for a in message["From"].addresses] == [OFFICE_ADDRESS]
    assert [a.addr_spec for a in message["Reply-To"].addresses] == [OFFICE_ADDRESS]
    assert message["Message-ID"] == built.message_id
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == language
    assert message["MIME-Version"] == "1.0"
    assert message["Date"].datetime == NOW

    _mixed, _alternative, plain, html, *calendars = message.walk()
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    assert "ABCD-EFGH" in plain.get_content() and "ABCD-EFGH" in html.get_content()
    assert f'<html lang="{language}"' in html.get_content()
    if kind in HELD:
        assert "/confirm/" + "c" * 43 in plain.get_content() and "/confirm/" + "c" * 43 in html.get_content()
        assert "t" * 32 not in plain.get_content() + html.get_content()  # not the booking's own link yet
        return
    if not with_calendar:
        assert calendars == []
        return
    inline, invite = calendars
    assert inline.get_content_disposition() is None  # shown, not offered as a file
    assert invite.get_content_disposition() == "attachment"
    assert invite.get_filename() == "invite.ics"
    assert inline.get_param("charset") == "utf-8"
    method = "CANCEL" if kind == "cancel" else "PUBLISH"
    assert inline.get_param("method") == method
    assert invite.get_payload(decode=True) == inline.get_payload(decode=True)
    calendar = Calendar.from_ical(inline.get_payload(decode=True))
    assert str(calendar["METHOD"]) == method
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert [str(e["UID"]) for e in calendar.events] == ["booking-ABCD-EFGH@kreis-heinsberg.example"]


def to_header(raw: bytes) -> str:
    """The To header's value as written, folding included."""
    [value] = re.findall(rb"\r\nTo: (.*?)\r\n(?! )", header_block(raw), re.S)
    return value.decode("ascii")


def to_display_name(raw: bytes) -> str:
    """The To header's display name decoded by RFC 2047 rules (6.2: the folding between two
    encoded-words is no part of the text). The parser of policy.default keeps it as a space when
    a display name takes several encoded-words, so long names are checked with decode_header."""
    phrase = to_header(raw).rsplit("<", 1)[0].replace("\r\n", "").strip()
    return str(make_header(decode_header(phrase)))


@pytest.mark.parametrize(
    "name", ["Ayşe Öztürk", "محمد عبد الله", "Ольга Іваненко-Шевчук", 'Dr. "Quote", Smith (x) <y@z>']
)
def test_a_name_that_fits_one_line_is_read_back_by_the_standard_parser(app: Flask, name: str) -> None:
    """Non-ASCII as one encoded-word, ASCII quoted where it has to be."""
    raw = build(app, name=name).raw
    [address] = parse(raw)["To"].addresses
    assert (address.display_name, address.addr_spec) == (name, "anna@example.org")
    assert ("=?utf-8?" in to_header(raw)) == (not name.isascii())
    assert "\r\n" not in to_header(raw).rsplit("<", 1)[0].rstrip()  # one line: one word


@pytest.mark.parametrize(
    "name",
    [
        "Ö" * 120,
        "عبد الرحمن بن محمد بن عبد الله الأحمد الهاشمي",
        "Ольга Іваненко-Шевчук Ольга Іваненко-Шевчук",
        "A very long but plain ASCII name that would not fit on the line of the To header",
    ],
)
def test_a_long_name_comes_back_whole_and_every_encoded_word_keeps_to_rfc_2047(app: Flask, name: str) -> None:
    raw = build(app, name=name).raw
    assert to_display_name(raw) == name
    assert [a.addr_spec for a in parse(raw)["To"].addresses] == ["anna@example.org"]
    for word in re.findall(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=", header_block(raw)):
        assert len(word) <= 75
        decode_header(word.decode())  # each word decodes on its own: no cut inside a character
    assert max(len(line) for line in header_block(raw).split(b"\r\n")) <= 78


def test_the_body_text_is_the_rendered_template_in_utf_8(app: Flask) -> None:
    message = parse(build(app, language="tr", name="Ayşe Öztürk").raw)
    plain = message.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert text.startswith("Sayın Ayşe Öztürk,")
    assert "30 Mart 2027 Salı" in text
    assert "08:30–09:00" in text


@pytest.mark.parametrize(
    "name",
    [
        "Eve\r\nBcc: mallory@evil.example\r\nX-Injected: yes",
        "Eve\nTo: mallory@evil.example",
        "Eve\u2028Cc: mallory@evil.example",
        "Eve\x00\x85\x1b, mallory@evil.example",
        "Ëve\r\nBcc: mallory@evil.example",
    ],
)
def test_control_characters_in_a_name_add_no_header_and_no_recipient(app: Flask, name: str) -> None:
    built = build(app, name=name)
    assert built.recipients == ["anna@example.org"]
    message = parse(built.raw)
    assert message["Bcc"] is None and message["Cc"] is None and message["X-Injected"] is None
    assert len(message.get_all("To") or []) == 1
    assert [a.addr_spec for a in message["To"].addresses] == ["anna@example.org"]
    for line in header_block(built.raw).split(b"\r\n"):
        assert line[:1] in (b" ", b"\t") or line.split(b":", 1)[0] in {
            b"From",
            b"To",
            b"Reply-To",
            b"Subject",
            b"Date",
            b"Message-ID",
            b"Auto-Submitted",
            b"Content-Language",
            b"MIME-Version",
            b"Content-Type",
        }


@pytest.mark.parametrize(
    "address",
    [
        "anna@example.org\r\nBcc: mallory@evil.example",
        "anna@example.org, mallory@evil.example",
        "anna example.org",
    ],
)
def test_an_address_that_could_break_the_envelope_is_refused(app: Flask, address: str) -> None:
    with pytest.raises(ValueError):
        build(app, email=address)


def test_mail_from_sets_the_from_header_and_the_envelope_sender(app: Flask) -> None:
    app.config["MAIL_FROM"] = "Bürgerbüro Termine <noreply@kreis-heinsberg.example>"
    try:
        built = build(app)
    finally:
        app.config["MAIL_FROM"] = None
    assert built.envelope_from == "noreply@kreis-heinsberg.example"
    [sender] = parse(built.raw)["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Bürgerbüro Termine",
        "noreply@kreis-heinsberg.example",
    )
