"""`make run`: the web app plus the Celery worker and beat on the embedded defaults,
started together and stopped together with Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PORT = os.environ.get("PORT", "5000")
URL = f"http://127.0.0.1:{PORT}"


def commands() -> list[list[str]]:
    """Web app, one worker (solo pool: one task at a time is plenty here) and beat."""
    celery = str(BIN / "celery")
    return [
        [str(BIN / "flask"), "--app", "booking", "run", "--host", "127.0.0.1", "--port", PORT],
        [
            celery,
            "-A",
            "celery_worker",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        [celery, "-A", "celery_worker", "beat", "--loglevel", "WARNING"],
    ]


def staff_login(env: dict[str, str]) -> str:
    """The development accounts' sign-ins (an admin and two counsellors, created on first use),
    one a line, indented for the banner."""
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "booking", "dev-staff"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    text = result.stdout.strip() or result.stderr.strip()
    return "\n  ".join(
        line.strip() if index == 0 else line.rstrip() for index, line in enumerate(text.splitlines())
    )


def _stop(signum: int, frame: object) -> None:
    """`kill` (SIGTERM) stops the three processes as Ctrl-C does, instead of leaving them running."""
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    # The links in emails point at this server unless PUBLIC_URL says otherwise.
    env = {"PUBLIC_URL": URL, **os.environ}
    login = staff_login(env)
    processes = [subprocess.Popen(command, env=env) for command in commands()]
    time.sleep(2)  # after the processes' own start-up lines, so the banner stays visible
    print(
        f"\n  Termine runs on {URL}\n  {login}\n"
        "  Emails are written to instance/outbox/ as .eml files.\n  Stop with Ctrl-C.\n",
        flush=True,
    )
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return max((p.returncode or 0) for p in processes)


if __name__ == "__main__":
    sys.exit(main())
