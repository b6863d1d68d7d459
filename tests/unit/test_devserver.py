"""`make run` serves on PORT (default 5000), the links in its emails point there, and stopping it
stops all it started."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time

import pytest

from booking import devserver


@pytest.fixture
def served_on(monkeypatch):  # type: ignore[no-untyped-def]
    def load(port: str | None):  # type: ignore[no-untyped-def]
        if port is None:
            monkeypatch.delenv("PORT", raising=False)
        else:
            monkeypatch.setenv("PORT", port)
        return importlib.reload(devserver)

    yield load
    monkeypatch.delenv("PORT", raising=False)
    importlib.reload(devserver)


def test_make_run_serves_on_port_5000_by_default(served_on):  # type: ignore[no-untyped-def]
    server = served_on(None)
    web = server.commands()[0]
    assert web[web.index("--port") + 1] == "5000"
    assert server.URL == "http://127.0.0.1:5000"


def test_make_run_serves_on_the_port_it_is_given(served_on):  # type: ignore[no-untyped-def]
    server = served_on("5123")
    web = server.commands()[0]
    assert web[web.index("--port") + 1] == "5123"
    assert server.URL == "http://127.0.0.1:5123"


STAND_IN = """
import sys, time
from booking import devserver
pids = sys.argv[1]
note = f"open({pids!r}, 'a').write(f'{{os.getpid()}}\\\\n')"
child = [sys.executable, "-c", f"import os, time; {note}; time.sleep(120)"]
devserver.commands = lambda: [child, child, child]
devserver.staff_login = lambda env: "staff"
sys.exit(devserver.main())
"""


def test_stopping_make_run_with_sigterm_stops_the_web_app_worker_and_beat(tmp_path):  # type: ignore[no-untyped-def]
    """`kill` of `make run`'s process (a terminal closed, a service manager) leaves none of the
    three behind, where before the web app went on holding the port."""
    pids = tmp_path / "pids"
    runner = subprocess.Popen([sys.executable, "-c", STAND_IN, str(pids)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(pids.read_text().split() if pids.exists() else []) < 3:
        time.sleep(0.05)
    children = [int(pid) for pid in pids.read_text().split()]
    assert len(children) == 3
    time.sleep(2.5)  # past the banner: the loop that watches the processes
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=20) is not None
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
