"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, for the email tests."""

from __future__ import annotations

import email
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: object = None  # the client's (host, port): one value per SMTP connection

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=default)  # type: ignore[return-value]


class Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        with self.sink.lock:
            received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.peer)
            self.sink.received.append(received)
        return "250 Message accepted"


class SmtpSink:
    """Start, stop and start again on the same port, like a mail server going away for a while."""

    def __init__(self, port: int | None = None, **options: Any) -> None:
        self.port = port or free_port()
        self.options = options  # passed to aiosmtpd's Controller, e.g. an authenticator
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def start(self) -> SmtpSink:
        if self.controller is None:
            self.controller = Controller(Handler(self), hostname="127.0.0.1", port=self.port, **self.options)
            self.controller.start()
        return self

    def serve_with(self, handler: type[Handler]) -> None:
        """Restart with another handler class (a server that refuses or fails in some way)."""
        self.stop()
        self.controller = Controller(handler(self), hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()

    def stop(self) -> None:
        controller, self.controller = self.controller, None
        if controller is not None:
            controller.stop()

    @property
    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """The messages once there are at least `count`, or whatever came within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                break
            time.sleep(0.1)
        return self.messages
