"""The waitlist with real processes: two hosts, each running `celery -A celery_worker beat` and a
worker, on Redis and PostgreSQL, sending to a real SMTP server. Both beats scan the waitlist
every second. A place that comes back is offered to the first who joined, in one email, then,
once that hold has run out, to the next, in one email; the first is never offered that time
again. A worker killed while it sends an offer leaves the email to the other: still one.

The processes read the real clock, so the day is chosen from today (a weekday a week or two
ahead) and the web app in this process runs on the real clock too. Needs TEST_REDIS_URL and
TEST_DATABASE_URL (CI sets both; locally these tests skip when unset).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from booking import bookings, places
from booking.extensions import db
from booking.models import Booking, CounsellorClaim, Outbox, SlotClaim, WaitlistEntry
from booking.schedule import local_today
from tests.conftest import SUITE_OFFICE_FILE
from tests.e2e import test_worker
from tests.e2e.test_worker import (
    Process,
    _env,
    _processes,
    fresh_redis,
    wait_until,
)
from tests.mailsink import Handler, SmtpSink

# Apart from the Redis database of the other e2e modules (13): two runs at once on one machine
# must not take each other's tasks.
REDIS_DB = 12
# A worker's claim of an email: short, so that a killed worker's email is taken over soon.
LEASE_SECONDS = 5
# After an offer, this many more scans of each beat must send nothing more.
SCANS_AFTER = 3
# The German subject of an offer (catalogue: "A place became free: %(date)s at %(time)s").
OFFER_SUBJECT = "Ein Platz ist frei geworden: "
JOIN_SUBJECT = "Bitte bestätigen: die Warteliste"
SERVICE = "beratung"


@dataclass
class Host:
    """One machine of the deployment: a beat and a worker with their own instance folder (and
    so their own beat schedule file)."""

    name: str
    beat: Process
    worker: Process


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    return fresh_redis(REDIS_DB, "waitlist flows")


# The web app on the real clock and the suite's office, as the processes run them.
web = test_worker.web
office_file = test_worker.office_file


def host_env(postgres_url: str, redis_url: str, sink: SmtpSink, instance: Path) -> dict[str, str]:
    return _env(
        DATABASE_URL=postgres_url,
        OFFICE_CONFIG=SUITE_OFFICE_FILE,
        CELERY_BROKER_URL=redis_url,
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink.port),
        SMTP_TIMEOUT="30",  # a send the test holds up is killed long before
        OUTBOX_RELAY_SECONDS="1",
        REMINDER_SCAN_SECONDS="1",  # and the waitlist scan
        MAIL_RETRY_SECONDS="1",
        MAIL_RETRY_MAX_SECONDS="2",
        MAIL_LEASE_SECONDS=str(LEASE_SECONDS),
        INSTANCE_PATH=str(instance),
        SECRET_KEY="e2e",
    )


@pytest.fixture
def hosts(
    web: Flask, postgres_url: str, redis_url: str, sink: SmtpSink, tmp_path: Path
) -> Iterator[list[Host]]:
    """Two hosts, each with a beat scanning the waitlist every second and a worker; the hosts
    start and stop side by side (a celery process takes seconds to start)."""
    with ExitStack() as stack:
        starters = {}
        for name in ("a", "b"):
            folder = tmp_path / f"host-{name}"
            folder.mkdir()
            env = host_env(postgres_url, redis_url, sink, folder / "instance")
            starters[name] = stack.enter_context(contextmanager(_processes)(env, folder, cold=True))

        def start(name: str) -> Host:
            return Host(name, beat=starters[name]("beat"), worker=starters[name]("worker"))

        with ThreadPoolExecutor() as pool:
            found = list(pool.map(start, starters))
        try:
            yield found
        finally:
            with ThreadPoolExecutor() as pool:
                every = [process for host in found for process in (host.worker, host.beat)]
                list(pool.map(lambda process: process.stop(cold=True), every))


# --- helpers ---------------------------------------------------------------------------------------


def real_now() -> datetime:
    return datetime.now(UTC)


def short_day(app: Flask) -> date:
    """A day 7 to 14 days from the real today with the fewest places (a morning-only weekday)."""
    with app.test_request_context():
        office = app.extensions["office"]
        service = office.service(SERVICE)
        today = local_today(office, real_now())
        sizes = {}
        for ahead in range(7, 15):
            day = today + timedelta(days=ahead)
            places_of_day = sum(
                free for _slot, free in places.availability(office, service, day, day, real_now())
            )
            if places_of_day:
                sizes[day] = places_of_day
    assert sizes, "no open day 7 to 14 days ahead in the office hours"
    return min(sizes, key=lambda day: (sizes[day], day))


def fill(app: Flask, day: date) -> list[tuple[datetime, str]]:
    """Every place of the day taken, booked for callers without an address (so the only emails
    of these tests are the offers); (start, token) of each booking, earliest first."""
    taken = []
    with app.test_request_context():
        office = app.extensions["office"]
        for slot, free in places.availability(office, office.service(SERVICE), day, day, real_now()):
            for _place in range(free):
                request = bookings.BookingRequest(SERVICE, slot.start, "Am Telefon", None)
                booking = bookings.book(office, request, real_now(), email_required=False)
                taken.append((booking.start_at, booking.token))
        db.session.remove()
    return taken


def join(app: Flask, email: str, day: date) -> None:
    """Join by the API and confirm with the link of the email, as the resident does; returns
    once the worker has dealt with that email (sent, or skipped as confirmed meanwhile)."""
    body = {"service": SERVICE, "from": str(day), "to": str(day), "name": "Wartende", "email": email}
    client = app.test_client()
    answer = client.post("/api/v1/waitlist", json={**body, "language": "de"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.token == answer.json["token"]))
        db.session.expunge(entry)
    assert client.post(f"/waitlist/confirm/{entry.confirm_token}").status_code == 302

    def handled() -> bool:
        with app.app_context():
            row = db.session.scalar(select(Outbox).where(Outbox.dedupe_key == f"waitlist:{entry.id}"))
            return row is not None and row.sent_at is not None

    assert wait_until(handled), "the request to confirm was never dealt with"


def cancel(app: Flask, token: str) -> None:
    answer = app.test_client().delete(f"/api/v1/bookings/{token}")
    assert answer.status_code == 200, answer.get_data(as_text=True)


def offers_sent(sink: SmtpSink) -> list[tuple[str, str]]:
    """(recipient, subject) of every offer email the SMTP server accepted, in order."""
    found = []
    for received in sink.messages:
        subject = str(received.message["Subject"])
        if subject.startswith(OFFER_SUBJECT):
            found.extend((recipient, subject) for recipient in received.rcpt_tos)
    return found


def offers_made(app: Flask) -> list[tuple[int, str, datetime]]:
    """(booking id, address, start) of every offer in the database, in order."""
    with app.app_context():
        rows = db.session.execute(
            select(Booking.id, Booking.email, Booking.start_at)
            .where(Booking.waitlist_entry_id.is_not(None))
            .order_by(Booking.id)
        ).all()
        db.session.rollback()
    return [(row.id, row.email, row.start_at) for row in rows]


def run_out(app: Flask, booking_id: int) -> None:
    """The offer's hold ends now: the processes keep the real clock, so its moment moves instead."""
    past = real_now() - timedelta(minutes=1)
    with app.app_context():
        for table in (Booking, SlotClaim, CounsellorClaim):
            key = table.id if table is Booking else table.booking_id
            db.session.execute(update(table).where(key == booking_id).values(hold_until=past))
        db.session.commit()


def offer_email_row(app: Flask) -> Outbox:
    with app.app_context():
        [row] = db.session.scalars(select(Outbox).where(Outbox.kind == "offer")).all()
        db.session.expunge(row)
        db.session.rollback()
    return row


def subject_time(start: datetime, app: Flask) -> str:
    return f" um {start.astimezone(app.extensions['office'].timezone):%H:%M} Uhr"


def scans_sent(hosts: list[Host]) -> list[int]:
    """How many waitlist scans each beat has sent so far."""
    return [host.beat.output().count("Sending due task scan-waitlist") for host in hosts]


def scans_go_on(hosts: list[Host], more: int = SCANS_AFTER) -> None:
    """Wait until each beat has sent `more` scans (each does one a second)."""
    before = scans_sent(hosts)
    assert wait_until(lambda: all(n >= b + more for n, b in zip(scans_sent(hosts), before, strict=True))), (
        f"the beats stopped scanning: {scans_sent(hosts)} after {before}"
    )


def scans_run(host: Host) -> int:
    return host.worker.output().count("Task termine.scan_waitlist[")


def pid(process: Process) -> int:
    assert process.popen is not None
    return process.popen.pid


# --- a send held up, and a worker killed meanwhile --------------------------------------------------


class Stall:
    """The next SMTP session waits at RCPT until released, and is then refused: the worker
    sending it has claimed the email and is talking to the server, nothing is handed over yet."""

    def __init__(self) -> None:
        self.armed = True
        self.reached = threading.Event()
        self.released = threading.Event()
        self.peer: tuple[str, int] | None = None

    def handler(self) -> type[Handler]:
        stall = self

        class Stalling(Handler):
            async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
                self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
            ) -> str:
                if stall.armed:
                    stall.armed, stall.peer = False, session.peer
                    stall.reached.set()
                    for _ in range(300):  # at most 30 s, never for ever
                        if stall.released.is_set():
                            break
                        await asyncio.sleep(0.1)
                    return "451 4.3.0 Try again later"
                envelope.rcpt_tos.append(address)
                return "250 OK"

        return Stalling


def process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(each for child in children for each in process_tree(int(child)))]


def has_connection_from(pids: list[int], port: int) -> bool:
    """Whether one of these processes holds the TCP socket whose local port is `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return True
            except OSError:  # closed meanwhile
                continue
    return False


def kill(worker: Process) -> None:
    """SIGKILL the worker and its pool processes at once, as a machine that dies."""
    for each in process_tree(pid(worker)):
        os.kill(each, signal.SIGKILL)
    assert worker.popen is not None
    worker.popen.wait(timeout=10)


# --- the flows -------------------------------------------------------------------------------------


def test_a_freed_place_is_offered_once_to_the_first_then_after_the_hold_once_to_the_next(
    web: Flask, hosts: list[Host], sink: SmtpSink
) -> None:
    day = short_day(web)
    taken = fill(web, day)
    join(web, "first@example.org", day)
    join(web, "second@example.org", day)
    scans_go_on(hosts, more=1)
    assert offers_made(web) == []  # nothing free: nothing offered
    start, token = taken[0]
    cancel(web, token)  # its place comes back

    assert wait_until(lambda: len(offers_sent(sink)) >= 1), "no offer arrived"
    scans_go_on(hosts)  # both beats go on scanning, and nothing more is offered
    [(recipient, subject)] = offers_sent(sink)
    assert recipient == "first@example.org"
    assert subject.endswith(subject_time(start, web))
    [(first_offer, address, offered)] = offers_made(web)
    assert (address, offered) == ("first@example.org", start)

    run_out(web, first_offer)  # not taken in time
    assert wait_until(lambda: len(offers_sent(sink)) >= 2), f"no offer to the next: {offers_sent(sink)}"
    scans_go_on(hosts)
    assert [to for to, _subject in offers_sent(sink)] == ["first@example.org", "second@example.org"]
    assert offers_sent(sink)[1][1].endswith(subject_time(start, web))
    assert [(to, at) for _id, to, at in offers_made(web)] == [
        ("first@example.org", start),  # the first is never offered this time again
        ("second@example.org", start),
    ]
    others = [m for m in sink.messages if not str(m.message["Subject"]).startswith(OFFER_SUBJECT)]
    assert all(str(m.message["Subject"]).startswith(JOIN_SUBJECT) for m in others)  # nothing else sent
    assert all(scans_run(host) > 0 for host in hosts)  # both workers took scans


def test_a_worker_killed_while_sending_an_offer_leaves_it_to_the_other_and_it_arrives_once(
    web: Flask, hosts: list[Host], sink: SmtpSink
) -> None:
    day = short_day(web)
    taken = fill(web, day)
    join(web, "waiting@example.org", day)
    stall = Stall()
    sink.serve_with(stall.handler())
    start, token = taken[0]
    cancel(web, token)

    try:
        assert stall.reached.wait(timeout=20), "no worker tried to send the offer"
        assert stall.peer is not None
        port = stall.peer[1]
        [sending] = [host for host in hosts if has_connection_from(process_tree(pid(host.worker)), port)]
        kill(sending.worker)  # it had claimed the email and was sending it
    finally:
        stall.released.set()
    [other] = [host for host in hosts if host is not sending]
    assert other.worker.popen is not None and other.worker.popen.poll() is None

    assert wait_until(lambda: len(offers_sent(sink)) >= 1, timeout=LEASE_SECONDS + 15), "never sent"
    scans_go_on(hosts)
    [(recipient, subject)] = offers_sent(sink)
    assert recipient == "waiting@example.org" and subject.endswith(subject_time(start, web))
    assert len(sink.messages) == 1
    row = offer_email_row(web)
    assert row.sent_at is not None
    assert row.attempts == 2  # the killed worker's claim, then the other's once the lease ran out
    [(_id, address, offered)] = offers_made(web)
    assert (address, offered) == ("waiting@example.org", start)
