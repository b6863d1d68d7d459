"""The parsers real calendar programs use, run on our files from the tests.

- ical.js (npm `ical.js`): Thunderbird's parser, run by node (`icaljs_check.mjs`).
- libical (Debian `libical-dev`): the library of Evolution and many servers, through a small C
  checker (`icalcheck.c`) compiled once per test session; it also runs libical's iTIP
  restriction check (`icalrestriction_check`, RFC 5546) on every file.

Both compute each event's start and end in UTC from the file's own VTIMEZONE, which the tests
compare with the UTC times stored. Outside CI a missing tool skips with the reason; in CI
(CI=true) it fails (`make test` and `.ci/run` install both).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
ICALJS = ROOT / "node_modules" / "ical.js"


@dataclass(frozen=True)
class ParsedEvent:
    uid: str
    start: datetime  # UTC
    end: datetime  # UTC
    summary: str


@dataclass(frozen=True)
class LibicalResult:
    errors: list[str]  # parse errors and iTIP restriction violations
    events: list[ParsedEvent]


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@cache
def _checker() -> Path | None:
    """The libical checker, compiled into a temporary folder (None: no compiler or libical)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    pkg_config = shutil.which("pkg-config")
    if not cc or not pkg_config:
        return None
    flags = subprocess.run([pkg_config, "--cflags", "--libs", "libical"], capture_output=True, text=True)
    if flags.returncode != 0:
        return None
    source = HERE / "icalcheck.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    binary = Path(tempfile.gettempdir()) / f"termine-icalcheck-{digest}-{os.getpid()}"
    subprocess.run([cc, "-O1", "-o", str(binary), str(source), *flags.stdout.split()], check=True)
    return binary


def libical(data: bytes) -> LibicalResult:
    """The file as libical reads it, with its iTIP restriction check."""
    checker = _checker()
    if checker is None:
        _missing("libical tests need cc, pkg-config and libical-dev (apt-get install libical-dev)")
        raise AssertionError  # not reached
    with tempfile.NamedTemporaryFile(suffix=".ics") as file:
        file.write(data)
        file.flush()
        done = subprocess.run([str(checker), file.name], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"libical could not parse the file: {done.stdout}{done.stderr}"
    errors, events = [], []
    for line in done.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "ERROR":
            errors.append(rest)
        elif kind == "EVENT":
            uid, start, end, summary = (rest.split(" ", 3) + [""])[:4]
            events.append(ParsedEvent(uid, _utc(int(start)), _utc(int(end)), summary))
    return LibicalResult(errors, events)


@dataclass(frozen=True)
class IcaljsEvent(ParsedEvent):
    status: str | None
    sequence: int
    tzid: str | None
    attendees: int


@dataclass(frozen=True)
class IcaljsResult:
    method: str | None
    timezones: list[str]
    events: list[IcaljsEvent]


def icaljs(*files: bytes) -> list[IcaljsResult]:
    """The files as ical.js (Thunderbird) reads them, in one run of node."""
    node = shutil.which("node")
    if node is None or not ICALJS.exists():
        _missing("ical.js tests need node and `npm install` (make test runs it)")
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for number, data in enumerate(files):
            path = Path(folder, f"{number}.ics")
            path.write_bytes(data)
            paths.append(str(path))
        done = subprocess.run(
            [str(node), str(HERE / "icaljs_check.mjs"), *paths], capture_output=True, text=True, check=False
        )
    assert done.returncode == 0, f"ical.js could not read the files: {done.stderr}"
    return [
        IcaljsResult(
            result["method"],
            result["timezones"],
            [
                IcaljsEvent(
                    uid=event["uid"],
                    start=_utc(event["start"]),
                    end=_utc(event["end"]),
                    summary=event["summary"],
                    status=event["status"],
                    sequence=event["sequence"],
                    tzid=event["tzid"],
                    attendees=event["attendees"],
                )
                for event in result["events"]
            ],
        )
        for result in json.loads(done.stdout)
    ]
