"""offramp as a Python library, for notebooks and scripts: no CLI needed.

:func:`open_project` returns a :class:`ProjectHandle`, which lists a project's jobs
and validates, previews, plans and runs them, and reads each job's runs, rejects and
ledger (and the tables plugins keep there) as Arrow tables. :meth:`ProjectHandle.events`
opens a job's shaped events in DuckDB (an :class:`Events` handle) for analysis in SQL, JSON
functions included. The reference, with the notebooks that use it: ``docs/python-api.md``.

Nothing here forces a whole result into Python objects: a run streams (as
``offramp run`` does), a plan is one aggregate query in DuckDB, and :class:`Events`
keeps the events in DuckDB (which spills to disk) and returns Arrow tables or
record-batch readers of what you ask for. Everything reuses :mod:`connector.run.pipeline`
and :mod:`connector.state.store`: the API computes what the CLI computes.

A whole tour, on a tiny project with the ``jsonl`` destination:

>>> import pathlib, tempfile
>>> import pyarrow as pa
>>> from connector.engines.warehouse import Warehouse, WarehouseWriter
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with WarehouseWriter(Warehouse("duckdb", root / "warehouse.duckdb")) as writer:
...     writer.replace("people", pa.table({"id": [1, 2, None], "city": ["Oslo", "Lima", "Rome"]}),
...                    where={})
3
>>> (root / "queries").mkdir()
>>> header = f'/* offramp\\ndestination = "jsonl"\\n[settings]\\npath = "{root}/out.jsonl"\\n*/\\n'
>>> _ = (root / "queries" / "people.sql").write_text(header + "SELECT id, city FROM people")
>>> project = open_project(root)
>>> project.jobs()
['people']
>>> project.validate("people").columns
{'id': 'BIGINT', 'city': 'VARCHAR'}
>>> project.plan("people")
Plan(people -> jsonl: 3 events; send 2 (2 new, 0 changed, 0 retry); 0 unchanged; 1 rejected)
>>> project.plan("people").reasons
{'id is missing': 1}
>>> summary = project.run("people")
>>> summary.status, summary.counts.delivered, summary.counts.rejected
('succeeded', 2, 1)
>>> project.plan("people")
Plan(people -> jsonl: 3 events; send 0 (0 new, 0 changed, 0 retry); 2 unchanged; 1 rejected)
>>> project.runs("people").select(["run_id", "status", "delivered"]).to_pylist()
[{'run_id': 1, 'status': 'succeeded', 'delivered': 2}]
>>> project.ledger("people").column("status").to_pylist()
['delivered', 'delivered']
>>> project.rejects("people").select(["stage", "reason"]).to_pylist()
[{'stage': 'shape', 'reason': 'id is missing'}]
>>> with project.events("people") as events:
...     table = events.sql("SELECT status, payload ->> '$.city' AS city FROM events "
...                        "ORDER BY city")
>>> for row in table.to_pylist():
...     print(row)
{'status': 'unchanged', 'city': 'Lima'}
{'status': 'unchanged', 'city': 'Oslo'}
{'status': 'rejected', 'city': None}
>>> import shutil; shutil.rmtree(root)
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pydantic

from connector import registry
from connector.api.shaped import STATUSES, Events, Plan, ShapedJob
from connector.engines.warehouse import WarehouseWriter
from connector.kit.errors import ConfigError
from connector.kit.runs import RunCounts, RunSummary
from connector.kit.tables import PluginTables
from connector.project import Project
from connector.run import pipeline
from connector.state import State, open_state
from connector.state.schema import TABLES
from connector.validation.prepare import load_destination

__all__ = ["STATUSES", "Events", "Plan", "Preview", "ProjectHandle", "installed_destinations",
           "open_project"]


class Preview(NamedTuple):
    """The first rows of a job's query, and the first events they make."""

    rows: pa.Table
    events: pa.Table  # event_key, route, reject_reason, payload


def open_project(path: str | Path | None = None) -> ProjectHandle:
    """The project at ``path``: the nearest folder at or above it holding
    ``offramp.toml`` or ``queries/`` (default: ``OFFRAMP_PROJECT`` or the current
    directory), as ``offramp --project`` finds it."""
    return ProjectHandle(Project.find(path))


def installed_destinations() -> dict[str, str]:
    """Installed destination plugins: name -> one-line summary."""
    return {name: getattr(cls, "summary", "") for name, (cls, _) in
            registry.destinations().items()}


class ProjectHandle:
    """A project, seen from Python. ``job`` arguments are job names (``queries/<job>.sql``)
    or paths to ``.sql`` files, as on the command line."""

    def __init__(self, project: Project):
        self.project = project

    @property
    def root(self) -> Path:
        return self.project.root

    def __repr__(self) -> str:
        return f"<offramp project {self.root} jobs={self.jobs()}>"

    def jobs(self) -> list[str]:
        """The names of the saved jobs in ``queries/``."""
        return [path.stem for path in self.project.job_paths()]

    def validate(self, job: str) -> pipeline.Prepared:
        """Check a job without reading any row (``offramp validate``). Returns the checked
        job (``.columns``: output column -> DuckDB type; ``.destination``; ``.settings``);
        raises :class:`connector.ValidationError` listing every problem."""
        return pipeline.validate(self.project, job)

    def preview(self, job: str, limit: int = 10, *, now: dt.datetime | None = None) -> Preview:
        """The first ``limit`` rows of the query and the first ``limit`` events they make,
        rejects and reasons included (``offramp preview``). Writes nothing."""
        rows, events = pipeline.preview(self.project, job, limit, now=now)
        return Preview(rows, events)

    def plan(self, job: str, *, now: dt.datetime | None = None) -> Plan:
        """What the next run would send: the shaped events joined to the job's ledger in
        DuckDB and counted. Reads the ledger; writes nothing, sends nothing."""
        with ShapedJob(self.project, job, now) as shaped:
            return shaped.plan(f"({shaped.status_sql})")

    def events(self, job: str, *, now: dt.datetime | None = None) -> Events:
        """A job's shaped events, held in DuckDB for analysis; see :class:`Events`.
        Close it (or use ``with``) when done."""
        return Events(ShapedJob(self.project, job, now))

    def run(self, job: str, *, dry_run: bool = False, full: bool = False,
            now: dt.datetime | None = None, sleep: Callable[[float], None] = time.sleep,
            progress: Callable[[RunCounts], None] | None = None) -> RunSummary:
        """Run a job (``offramp run``): shape, diff against the ledger, deliver, record.

        :param dry_run: build every request, send none (the run is recorded as a dry run).
        :param full: resend every event, ignoring the ledger.
        :param sleep: how retries wait (pass ``lambda s: None`` to retry at once).
        :param progress: called with the running counts as work completes.
        """
        return pipeline.run(self.project, job, dry_run=dry_run, full=full, now=now,
                            sleep=sleep, progress=progress)

    def runs(self, job: str, limit: int = 1000) -> pa.Table:
        """The job's runs, newest first: times, status, counts, error."""
        return self._read(job, lambda state: state.runs(limit))

    def rejects(self, job: str, run: int | None = None) -> pa.Table:
        """The events refused in run ``run`` (default: the latest run), before sending
        (``stage = 'shape'``) or by the destination, with the reason. Keys and reasons
        only: never PII."""
        return self._read(job, lambda state: state.rejects(
            run if run is not None else state.last_run_id()))

    def ledger(self, job: str) -> pa.Table:
        """The latest state of each event the job recorded: key, payload fingerprint,
        status (``delivered``, ``rejected`` by the destination, ``failed``)."""
        return self._read(job, lambda state: state.ledger())

    def table(self, job: str, name: str) -> pa.Table:
        """A table a plugin keeps in the job's state file, such as the Microsoft
        destination's ``microsoft_report_daily`` (see the plugin's documentation)."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in TABLES:
            raise ConfigError(f"{name!r} is not a plugin table: use runs(), ledger() or "
                              "rejects() for offramp's own, and lower-case names for plugin "
                              "tables")

        def read(state: State) -> pa.Table:
            found = state.read(name)
            if found is None:
                others = ", ".join(state.plugin_tables())
                raise ConfigError(f"the state of {job} has no table {name!r} (plugin tables: "
                                  f"{others or 'none'})")
            return found

        return self._read(job, read)

    # -- for plugin commands -------------------------------------------------------------
    def job_name(self, job: str) -> str:
        """The name of ``job`` (a name, or the path of its ``.sql`` file)."""
        return self.project.job(job).name

    def destination(self, job: str) -> str:
        """The name of the destination ``job`` sends to."""
        return self.project.job(job).destination

    def settings(self, job: str) -> pydantic.BaseModel:
        """The job's ``[settings]``, validated by its destination (an instance of the
        destination's ``Settings``); raises :class:`connector.ValidationError` naming
        each setting at fault."""
        return load_destination(self.project.job(job))[1]

    @contextmanager
    def tables(self, job: str) -> Iterator[PluginTables]:
        """The tables the job's destination declares, in the job's state file, writable
        for the block (a run of the job holding the file makes this a clear error)."""
        ref = self.project.job(job)
        cls = registry.destination(ref.destination)
        with open_state(self.project.state_path(ref.name), write=True) as state:
            yield PluginTables(cls.name, cls.tables, state)

    def writer(self) -> WarehouseWriter:
        """A writer of the project's warehouse (close it, or use ``with``): for building
        a warehouse to try a job on, as ``offramp demo`` does."""
        return WarehouseWriter(self.project.warehouse)

    @property
    def queries(self) -> Path:
        """The folder of the saved jobs."""
        return self.project.queries

    def _read(self, job: str, read: Callable[[State], pa.Table]) -> pa.Table:
        with open_state(self.project.state_path(self.project.job(job).name)) as state:
            return read(state)
