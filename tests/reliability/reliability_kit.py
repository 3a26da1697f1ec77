"""Helpers for the reliability tests: a shop warehouse, a Meta job, a gated Meta
emulator, and ways to run offramp in process or as a real subprocess.

* :class:`GatedMeta` is the Meta emulator with a gate: once closed, API requests
  wait at the door until the test releases them (processed, or dropped unanswered),
  so a kill or a SIGINT lands exactly while requests are in flight.
* :class:`Shop` is one project: a DuckDB warehouse with an ``orders`` table (one
  line item per order, an hour old), a Meta job pointing at the emulator, and
  readers for the job's state file.
* :func:`spawn` starts ``offramp`` in a subprocess, optionally through
  ``reliability_probe_cli.py``, which notes milestones (shaping started, each ledger
  commit) in a file the test can wait on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from connector import Fault
from connector.engines.warehouse import Warehouse, WarehouseWriter, connect_state
from connector.kit.emulator import CONTROL, Request, Response
from connector.project import Project
from connector.run import pipeline
from plugins.meta.emulator import MetaEmulator

#: A distinctive access token: the secrets tests grep everything a run writes for it.
TOKEN = "EAAGreliabilityZq9X7tokenK2v8Wm"
DATASET = "1234567890"
WORKTREE = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("reliability_probe_cli.py")
#: The job's query; ``{where}`` lets a test add a condition.
QUERY = ("SELECT order_id, email, phone, external_id, quantity, price, currency, "
         "ts AS timestamp FROM orders{where}")
#: A condition that keeps DuckDB busy for many seconds (a kill or SIGINT lands in it).
SLOW = (" WHERE (SELECT max(sha256(CAST(r.i AS VARCHAR))) FROM range(200000000) AS r(i))"
        " <> ''")


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll ``predicate`` every few milliseconds until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.003)


class GatedMeta(MetaEmulator):
    """The Meta emulator with a gate in front of its API (control routes pass)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._cond = threading.Condition()
        self._open_for: int | None = None  # arrivals let through before the gate closes
        self._released = 0  # arrivals up to this one may pass
        self._path = ""
        self.arrivals = 0
        self.held = 0
        self.arrived: list[Request] = []

    def hold_after(self, n: int, path: str = "") -> None:
        """Let ``n`` more API requests through, then hold every later one (only those
        whose path starts with ``path``, when given)."""
        with self._cond:
            self._open_for = self.arrivals + n
            self._path = path

    def wait_held(self, count: int, timeout: float = 20.0) -> None:
        """Wait until ``count`` requests are waiting at the gate."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.held >= count, timeout):
                raise AssertionError(f"{self.held} requests held, expected {count}")

    def release(self, process: bool = True, keep_closed: bool = False) -> int:
        """Let the held requests go; returns how many. ``process=False`` drops them
        unanswered and unprocessed (as requests that never reached Meta); otherwise
        Meta handles them, whether or not anyone is left to read the answer.
        ``keep_closed``: requests arriving later are held too."""
        with self._cond:
            held, self.held, self._released = self.held, 0, self.arrivals
            if not keep_closed:
                self._open_for = None
            if held and not process:
                self.inject(Fault(drop=True, times=held))
            self._cond.notify_all()
        return held

    def _dispatch(self, request: Request) -> Response | None:
        if not request.path.startswith(CONTROL):
            with self._cond:
                self.arrivals += 1
                ticket = self.arrivals
                self.arrived.append(request)
                if self._open_for is not None and ticket > self._open_for and \
                        request.path.startswith(self._path):
                    self.held += 1
                    self._cond.notify_all()
                    self._cond.wait_for(lambda: ticket <= self._released, timeout=60)
        return super()._dispatch(request)

    # -- what reached "Meta" ---------------------------------------------------------
    def sent(self) -> list[list[str]]:
        """The order ids of every API request received (accepted or not), in order."""
        with self._cond:
            calls = list(self.arrived)
        batches = []
        for call in calls:
            data = json.loads(call.form().get("data", "[]"))
            batches.append([e["custom_data"]["order_id"] for e in data])
        return batches

    def accepted_ids(self) -> list[str]:
        """Order ids Meta kept (one per dedup key), in the order it accepted them."""
        return [e["custom_data"]["order_id"] for e in self.events()]




def orders_table(ids: range, now: dt.datetime, price: Callable[[int], float] | None = None
                 ) -> pa.Table:
    """One line item per order, each an hour (and a few seconds) old."""
    base = now.replace(tzinfo=None, microsecond=0) - dt.timedelta(hours=1)
    return pa.table({
        "order_id": pa.array([f"o{i:05d}" for i in ids], pa.string()),
        "email": pa.array([f"buyer{i}@example.com" for i in ids], pa.string()),
        "phone": pa.array([None] * len(ids), pa.string()),
        "external_id": pa.array([f"cust-{i}" for i in ids], pa.string()),
        "quantity": pa.array([1] * len(ids), pa.int32()),
        "price": pa.array([price(i) if price else 10.0 + i % 7 for i in ids], pa.float64()),
        "currency": pa.array(["USD"] * len(ids), pa.string()),
        "ts": pa.array([base - dt.timedelta(seconds=i) for i in ids], pa.timestamp("us")),
    })


@dataclass
class Sleeps:
    """An injected sleep: records what delivery asked to wait, waits nothing."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class Shop:
    """A project with an ``orders`` warehouse table and Meta jobs at the emulator."""

    root: Path
    url: str
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def project(self) -> Project:
        return Project(self.root)

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    def write_orders(self, n: int = 0, *, ids: range | None = None,
                     price: Callable[[int], float] | None = None,
                     table: pa.Table | None = None, name: str = "orders") -> pa.Table:
        """Replace the warehouse table ``name`` (default: ``n`` fresh orders)."""
        data = table if table is not None else orders_table(ids or range(n), self.now, price)
        with WarehouseWriter(Warehouse("duckdb", self.warehouse)) as writer:
            writer.replace(name, data, where={})
        return data

    def write_job(self, name: str = "sync", sql: str | None = None, *, where: str = "",
                  **settings: Any) -> Path:
        values = {"dataset_id": DATASET, "base_url": self.url, "timeout": 20.0,
                  "concurrency": 2, **settings}
        lines = ["/* offramp", 'destination = "meta"', "[settings]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        path = self.root / "queries" / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n*/\n" + (sql or QUERY.format(where=where)) + "\n",
                        encoding="utf-8")
        return path

    def run(self, job: str = "sync", **kwargs: Any) -> pipeline.RunSummary:
        kwargs.setdefault("sleep", Sleeps())
        return pipeline.run(self.project, job, **kwargs)

    # -- the state file ------------------------------------------------------------
    def query_state(self, sql: str, job: str = "sync") -> list[dict[str, Any]]:
        con = connect_state(self.project.state_path(job))
        try:
            return con.sql(sql).to_arrow_table().to_pylist()
        finally:
            con.close()

    def runs(self, job: str = "sync") -> list[dict[str, Any]]:
        return self.query_state("SELECT * FROM state.runs ORDER BY run_id", job)

    def ledger(self, job: str = "sync") -> dict[str, str]:
        """event key -> its latest status."""
        rows = self.query_state("SELECT event_key, arg_max(status, seq) AS status "
                                "FROM state.ledger GROUP BY event_key", job)
        return {r["event_key"]: r["status"] for r in rows}

    def dump_state(self, job: str = "sync") -> str:
        """Every row of every table of the state file, as text."""
        tables = self.query_state("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_catalog = 'state'", job)
        return "\n".join(json.dumps(self.query_state(f'SELECT * FROM state."{t["table_name"]}"',
                                                     job), default=str) for t in tables)




# -- subprocesses -------------------------------------------------------------------------
def cli(shop: Shop, *args: str) -> Any:
    """Run ``offramp --project <shop> ARGS`` in process (click's runner); returns its
    result, with ``output`` (stdout) and ``stderr``."""
    from click.testing import CliRunner

    from connector.cli.app import cli as offramp_cli

    with wide_consoles():
        return CliRunner().invoke(offramp_cli, ["--project", str(shop.root), *args])


@contextmanager
def wide_consoles() -> Iterator[None]:
    """Make the CLI's rich consoles wide enough that no message wraps."""
    from connector.cli import output as cli_module

    consoles = (cli_module.out, cli_module.err)
    widths = [c._width for c in consoles]
    for console in consoles:
        console.width = 100_000
    try:
        yield
    finally:
        for console, width in zip(consoles, widths, strict=True):
            console._width = width


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OFFRAMP_", "PYTEST_", "META_"))}
    env.update(PYTHONPATH=str(WORKTREE), OFFRAMP_LOAD_PLUGINS="jsonl,meta",
               META_ACCESS_TOKEN=TOKEN, COLUMNS="200", **extra)
    return env


@dataclass
class Proc:
    """A running ``offramp`` subprocess and the milestones its probe noted."""

    popen: subprocess.Popen[str]
    notes_path: Path

    def notes(self) -> list[str]:
        try:
            return self.notes_path.read_text().splitlines()
        except FileNotFoundError:
            return []

    def wait_note(self, predicate: Callable[[list[str]], Any], what: str) -> None:
        """Wait until the notes satisfy ``predicate``; fail at once if the process ends."""
        def check() -> Any:
            if self.popen.poll() is not None:
                out, err = self.popen.communicate()
                raise AssertionError(f"offramp exited {self.popen.returncode} before {what}:"
                                     f"\n{out}\n{err}")
            return predicate(self.notes())
        wait_for(check, what=what)

    def delivered_commits(self) -> int:
        return sum(1 for n in self.notes() if n.startswith("record delivered"))

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        out, err = self.popen.communicate(timeout=timeout)
        return self.popen.returncode, out, err


def spawn(shop: Shop, *args: str, probe: bool = True, **env: str) -> Proc:
    """Start ``offramp --project <shop> ARGS`` (through the probe when ``probe``)."""
    notes = shop.root.parent / f"notes-{time.monotonic_ns()}.txt"
    entry = [str(PROBE)] if probe else ["-c", "from connector.cli import main; main()"]
    popen = subprocess.Popen(
        [sys.executable, *entry, "--project", str(shop.root), *args],
        env=subprocess_env(OFFRAMP_TEST_NOTES=str(notes), **env), cwd=shop.root,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Proc(popen, notes)


def kill_after_one_commit(shop: Shop, emu: GatedMeta) -> int:
    """Run the job in a subprocess, let one request through and commit, hold the next
    two in flight, then SIGKILL the run; returns its exit code."""
    emu.hold_after(1)
    proc = spawn(shop, "run", "sync", "--quiet")
    emu.wait_held(2)
    proc.wait_note(lambda notes: proc.delivered_commits() == 1, "one request committed")
    proc.popen.send_signal(signal.SIGKILL)
    code, _, _ = proc.finish()
    return code


def offramp(shop: Shop, *args: str, timeout: float = 60.0, **env: str
            ) -> subprocess.CompletedProcess[str]:
    """Run ``offramp --project <shop> ARGS`` to the end in a subprocess."""
    return subprocess.run(
        [sys.executable, "-c", "from connector.cli import main; main()", "--project",
         str(shop.root), *args], env=subprocess_env(**env), cwd=shop.root,
        capture_output=True, text=True, timeout=timeout)
