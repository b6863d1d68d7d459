"""`make mutation`: mutation testing with cosmic-ray, one session per module of modules.toml.

Each mutant is a small change to one module (an operator, a number, a comparison, a decorator
dropped, in any function, decorated or not, and in module constants); the module's own tests run
against it and should fail. Cosmic-ray writes a mutant into the file on disk, so every worker runs
in a copy of the tree of its own (cosmic-ray's http distributor, `--workers` of them); the tree
itself is never changed. Mutants listed in equivalents.toml (they cannot change behaviour, each
with its reason) are skipped. Prints per module: mutants, killed, survived, equivalent, score and
run time, then every survivor with its diff; exits 1 when a module scores below `--fail-under`.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cosmic_ray.mutating import mutate_code
from cosmic_ray.plugins import get_operator
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "mutation" / "out"
# Not copied into the workers' trees: tools, caches and what runs leave behind.
NOT_COPIED = (".git", ".venv", "node_modules", "instance", "test-artifacts", ".hypothesis", "out")
# The workers' tests run on SQLite without outside services, whatever the calling shell has set.
SERVICE_VARIABLES = ("TEST_DATABASE_URL", "TEST_REDIS_URL", "CI")
# pytest for a mutant: stop at the first failure, no plugins but hypothesis with the same examples
# on every run and no memory of earlier runs (mutation/hypothesis_profile.py); a module's
# `pytest-args` add to it (the unit tests' --noconftest: they need no app from tests/conftest.py).
PYTEST = "-m pytest -x -q -p no:cacheprovider -p mutation.hypothesis_profile"


@dataclass(frozen=True)
class Equivalent:
    """A mutant that cannot change behaviour: its module, the source line it changes and that
    line as the mutant has it (both stripped), and why (`function` tells identical lines apart)."""

    module: str
    line: str
    mutant: str
    reason: str
    function: str | None = None


@dataclass
class Tally:
    name: str
    mutants: int = 0
    killed: int = 0
    equivalent: int = 0
    errors: int = 0
    seconds: float = 0.0
    survivors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, operator, diff)

    @property
    def survived(self) -> int:
        return len(self.survivors)

    @property
    def score(self) -> float:
        scored = self.mutants - self.equivalent
        return 100.0 * self.killed / scored if scored else 100.0


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the workers and remove their trees
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="names from modules.toml (default: all)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("MUTATION_WORKERS", "2")))
    parser.add_argument("--fail-under", type=float, default=None, help="score each module must reach")
    args = parser.parse_args()

    config = tomllib.loads((HERE / "modules.toml").read_text(encoding="utf-8"))
    defaults, modules = config.get("defaults", {}), config["modules"]
    names = args.modules or list(modules)
    unknown = [name for name in names if name not in modules]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(modules)}")
    load_equivalents(set(modules))  # a mistake in the list stops the run before it starts

    OUT.mkdir(parents=True, exist_ok=True)
    tallies = []
    with workers(args.workers) as (urls, trees):
        for name in names:
            module = {**defaults, **modules[name]}
            # read again for each module: the list may be edited while an earlier module runs
            tallies.append(run_module(name, module, urls, trees[0], load_equivalents(set(modules))))
    print_report(tallies)
    if args.fail_under is not None and any(t.score < args.fail_under for t in tallies):
        return 1
    return 0


def load_equivalents(known: set[str]) -> list[Equivalent]:
    data = tomllib.loads((HERE / "equivalents.toml").read_text(encoding="utf-8"))
    entries = [Equivalent(**entry) for entry in data.get("equivalent", [])]
    for entry in entries:
        if entry.module not in known or not entry.reason.strip():
            raise SystemExit(f"equivalents.toml: {entry} names no module of modules.toml or gives no reason")
    return entries


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the plugins a run needs are named in PYTEST
    return env


def annotations(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the annotations are, when the module never evaluates them (`from __future__ import
    annotations`): a mutant there (`str | None` to `str & None`) cannot change anything."""
    tree = ast.parse(source)
    lazy = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )
    if not lazy:
        return []
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                arguments.vararg,
                arguments.kwarg,
            ]
            found += [a.annotation for a in every if a is not None and a.annotation is not None]
            if node.returns is not None:
                found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
    return [((n.lineno, n.col_offset), (n.end_lineno or n.lineno, n.end_col_offset or 0)) for n in found]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def workers(count: int) -> Iterator[tuple[list[str], list[Path]]]:
    """`count` cosmic-ray http workers, each in a fresh copy of the tree; stopped afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix="termine-mutation-"))
    env = worker_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    processes: list[subprocess.Popen[bytes]] = []
    urls, trees = [], []
    try:
        for n in range(max(1, count)):
            tree = scratch / f"worker{n}"
            shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*NOT_COPIED, "__pycache__"))
            port = free_port()
            log = open(scratch / f"worker{n}.log", "wb")  # noqa: SIM115 (closed with the process)
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "cosmic_ray.cli", "http-worker", "--port", str(port)],
                    cwd=tree,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
            trees.append(tree)
        for url in urls:
            wait_for(url)
        yield urls, trees
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)


def wait_for(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    for _ in range(300):
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the cosmic-ray worker at {url} did not start")


def run_module(name: str, module: dict, urls: list[str], tree: Path, equivalents: list[Equivalent]) -> Tally:
    path, tests = module["path"], " ".join(module["tests"])
    command = f"{sys.executable} {PYTEST} {' '.join(module.get('pytest-args', []))} {tests}"
    print(f"== {name}: {path} against {tests}", flush=True)

    started = time.monotonic()
    baseline = subprocess.run(
        command.split(), cwd=tree, env=worker_env(), capture_output=True, text=True, check=False
    )
    if baseline.returncode != 0:
        raise SystemExit(f"{name}: the tests fail without any mutant:\n{baseline.stdout[-3000:]}")
    timeout = max(float(module["timeout"]), 10 * (time.monotonic() - started))

    cfg = OUT / f"{name}.toml"
    session = OUT / f"{name}.sqlite"
    cfg.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{path}"\n'
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n'
        '[cosmic-ray.distributor]\nname = "http"\n'
        f"[cosmic-ray.distributor.http]\nworker-urls = {urls!r}\n",
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "cosmic_ray.cli", "init", str(cfg), str(session), "--force"],
        cwd=ROOT,
        check=True,
    )
    source = (ROOT / path).read_text(encoding="utf-8")
    with use_db(str(session), WorkDB.Mode.open) as db:
        skip(db, name, source, module.get("exclude-operators", []), equivalents, module.get("functions"))
    subprocess.run(
        [sys.executable, "-m", "cosmic_ray.cli", "exec", str(cfg), str(session)], cwd=ROOT, check=True
    )
    tally = count(name, session)
    tally.seconds = time.monotonic() - started
    return tally


def skip(
    db: WorkDB,
    name: str,
    source: str,
    excluded: list[str],
    equivalents: list[Equivalent],
    functions: list[str] | None = None,
) -> None:
    """Mark as done without running them: excluded operators, mutants inside annotations that are
    never evaluated, mutants outside the module's `functions` when it names some ("<module>": its
    top-level statements; none of these counts), and the listed equivalent mutants (counted apart)."""
    lines = source.splitlines()
    spans = annotations(source)
    mine = [e for e in equivalents if e.module == name]
    used: set[Equivalent] = set()
    for item in list(db.pending_work_items):
        (mutation,) = item.mutations
        line_no, operator = mutation.start_pos[0], mutation.operator_name
        outside = functions is not None and (mutation.definition_name or "<module>") not in functions
        if (
            outside
            or any(re.match(pattern, operator) for pattern in excluded)
            or any(low <= tuple(mutation.start_pos) < high for low, high in spans)
        ):
            db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="excluded"))
            continue
        text = lines[line_no - 1].strip()
        candidates = [e for e in mine if e.line == text and e.function in (None, mutation.definition_name)]
        if not candidates:
            continue
        mutant = mutate_code(source, get_operator(operator)(**mutation.operator_args), mutation.occurrence)
        changed = None if mutant is None else added(lines, mutant.splitlines())
        match = next((e for e in candidates if e.mutant == changed), None)
        if match:
            used.add(match)
            db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="equivalent"))
    for stale in set(mine) - used:
        print(f"!! equivalents.toml: no such mutant any more, remove it: {stale}", flush=True)


def added(lines: list[str], mutant: list[str]) -> str:
    """The mutant's own version of the line it changes, stripped; "" when it removes the line."""
    diff = difflib.unified_diff(lines, mutant, lineterm="", n=0)
    return "\n".join(row[1:].strip() for row in diff if row.startswith("+") and not row.startswith("+++"))


def count(name: str, session: Path) -> Tally:
    tally = Tally(name)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.output == "excluded" or result.worker_outcome == WorkerOutcome.NO_TEST:
                continue
            tally.mutants += 1
            if result.output == "equivalent":
                tally.equivalent += 1
            elif result.worker_outcome != WorkerOutcome.NORMAL:
                tally.errors += 1
                tally.survivors.append((item.mutations[0].start_pos[0], "error: " + str(result.output), ""))
            elif result.test_outcome == TestOutcome.SURVIVED:
                (mutation,) = item.mutations
                tally.survivors.append((mutation.start_pos[0], mutation.operator_name, result.diff or ""))
            else:
                tally.killed += 1
    tally.survivors.sort()
    return tally


def print_report(tallies: list[Tally]) -> None:
    for tally in tallies:
        if tally.survivors:
            print(f"\n== {tally.name}: {tally.survived} surviving mutants")
        for line, operator, diff in tally.survivors:
            print(f"-- line {line}: {operator}")
            print(
                "\n".join(
                    row for row in diff.splitlines() if row[:1] in "+-" and row[:3] not in ("+++", "---")
                )
            )
    print("\n| module | mutants | killed | survived | equivalent | score | run time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for t in tallies:
        minutes, seconds = divmod(round(t.seconds), 60)
        print(
            f"| {t.name} | {t.mutants} | {t.killed} | {t.survived} | {t.equivalent} | {t.score:.1f}% "
            f"| {minutes} min {seconds:02d} s |"
        )


if __name__ == "__main__":
    sys.exit(main())
