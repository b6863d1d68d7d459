"""Real worker processes against the database's faults and their own death (PostgreSQL, Redis and a
real SMTP server, as tests/e2e/test_worker.py):

- a restart of PostgreSQL (every backend terminated) costs the web app and the worker nothing;
- a worker killed in the moment after the mail server accepted an email and before it was recorded
  is the one window left in which an email goes out twice (README, "Emails"): it is sent again after
  the lease, never lost, and both copies carry the same Message-ID, by which a receiver can drop one.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from booking.extensions import db
from booking.models import Outbox
from tests import database_server
from tests.database_server import Server
from tests.e2e import test_worker
from tests.e2e.test_worker import Process, _processes, book, confirmations_to, wait_until, worker_env
from tests.mailsink import Handler, SmtpSink

redis_url = test_worker.redis_url
web = test_worker.web
office_file = test_worker.office_file
celery_process = test_worker.celery_process
LEASE_SECONDS = 4

server = database_server.server  # the run's PostgreSQL server, cut and restored


def test_a_restart_of_the_database_costs_no_request_and_no_email_task(
    web: Flask, celery_process: Callable[[str], Process], sink: SmtpSink, server: Server
) -> None:
    worker = celery_process("worker")  # no beat: a failed task would not be made up for by a relay
    book(web.test_client(), "before@example.org")
    assert len(sink.wait_for(1)) == 1
    assert server.terminate_backends() >= 2  # the web app's and the worker's pooled connections

    book(web.test_client(), "after@example.org")  # the web app's next request (asserts its 201)
    assert len(sink.wait_for(2)) == 2
    assert len(confirmations_to(sink, "after@example.org")) == 1
    assert "terminating connection" not in worker.output()


def pool_children(pid: int) -> list[int]:
    """The pool processes of a celery worker (Linux's /proc)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


class KillsTheWorkerOnAccept(Handler):
    """Keeps the first message, then kills the pool process that sent it before answering: the
    server has the email, the worker never learns it was accepted."""

    worker: Process
    killed: list[int]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        answer = await super().handle_DATA(server, session, envelope)
        if not self.killed:
            assert self.worker.popen is not None
            for child in pool_children(self.worker.popen.pid):
                os.kill(child, signal.SIGKILL)
                self.killed.append(child)
        return answer


def test_a_worker_killed_between_acceptance_and_record_sends_again_with_the_same_message_id(
    web: Flask,
    postgres_url: str,
    redis_url: str,
    office_file: str,
    sink: SmtpSink,
    tmp_path: Path,
) -> None:
    env = worker_env(
        postgres_url, redis_url, office_file, sink, tmp_path / "worker", MAIL_LEASE_SECONDS=str(LEASE_SECONDS)
    )
    processes = _processes(env, tmp_path)
    start = next(processes)
    try:
        worker = start("worker")
        KillsTheWorkerOnAccept.worker, KillsTheWorkerOnAccept.killed = worker, []
        sink.serve_with(KillsTheWorkerOnAccept)
        book(web.test_client(), "unlucky@example.org")
        assert wait_until(lambda: bool(KillsTheWorkerOnAccept.killed))
        start("beat")  # its relay sends the row again once the dead worker's lease has run out

        def recorded() -> bool:
            with web.app_context():
                row = db.session.scalar(select(Outbox))
                db.session.rollback()
                return row is not None and row.sent_at is not None

        assert wait_until(recorded, timeout=60)
    finally:
        processes.close()
    copies = [r.message for r in sink.messages if r.rcpt_tos == ["unlucky@example.org"]]
    assert len(copies) == 2  # the window that remains: never lost, once too often
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"]
