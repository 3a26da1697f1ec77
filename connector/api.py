"""offramp as a Python library, for notebooks and scripts: no CLI needed.

:func:`open_project` returns a :class:`ProjectHandle`, which lists a project's jobs
and validates, previews, plans and runs them, and reads each job's runs, rejects and
ledger as Arrow tables. :meth:`ProjectHandle.events` opens a job's shaped events in
DuckDB (an :class:`Events` handle) for analysis in SQL, JSON functions included.

Nothing here forces a whole result into Python objects: a run streams (as
``offramp run`` does), a plan is one aggregate query in DuckDB, and :class:`Events`
keeps the events in DuckDB (which spills to disk) and returns Arrow tables or
record-batch readers of what you ask for. Everything reuses :mod:`connector.pipeline`
and :mod:`connector.state`: the API computes what the CLI computes.

A whole tour, on a tiny project with the ``jsonl`` destination:

>>> import pathlib, tempfile
>>> import pyarrow as pa
>>> from connector.warehouse import Warehouse, WarehouseWriter
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
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from connector import pipeline, plugins
from connector.destination import RunContext
from connector.errors import ConfigError, OfframpError
from connector.project import Project
from connector.secrets import redact
from connector.state import SETTLED, RunCounts, State
from connector.warehouse import Engine, open_state
from connector.warehouse import Error as EngineError

#: What the next run would do with an event (the ``status`` column of :class:`Events`).
STATUSES = ("new", "changed", "retry", "unchanged", "rejected")
_SENT = "('new', 'changed', 'retry')"


class Preview(NamedTuple):
    """The first rows of a job's query, and the first events they make."""

    rows: pa.Table
    events: pa.Table  # event_key, route, reject_reason, payload


@dataclass(frozen=True)
class Plan:
    """What the next run of a job would do, computed without sending or writing anything.

    :param new: events never recorded in the ledger.
    :param changed: events delivered (or refused by the destination) before, whose
        payload has changed since: they are sent again.
    :param retry: events whose last attempt failed: sent first.
    :param unchanged: events delivered or refused before with this very payload (with any
        payload for destinations that never resend, such as conversion pixels): skipped.
    :param rejected: events refused before sending, counted by reason in ``reasons``.
    :param rows: the query rows the events come from (when the destination counts them).
    :param payload_bytes: the size of the payloads that would be sent.
    """

    job: str
    destination: str
    events: int = 0
    new: int = 0
    changed: int = 0
    retry: int = 0
    unchanged: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    payload_bytes: int = 0

    @property
    def to_send(self) -> int:
        """Events the next run would send: new, changed and retried ones."""
        return self.new + self.changed + self.retry

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "to_send": self.to_send}

    def __repr__(self) -> str:
        return (f"Plan({self.job} -> {self.destination}: {self.events:,} events; send "
                f"{self.to_send:,} ({self.new:,} new, {self.changed:,} changed, "
                f"{self.retry:,} retry); {self.unchanged:,} unchanged; "
                f"{self.rejected:,} rejected)")


def open_project(path: str | Path | None = None) -> ProjectHandle:
    """The project at ``path``: the nearest folder at or above it holding
    ``offramp.toml`` or ``queries/`` (default: ``OFFRAMP_PROJECT`` or the current
    directory), as ``offramp --project`` finds it."""
    return ProjectHandle(Project.find(path))


def installed_destinations() -> dict[str, str]:
    """Installed destination plugins: name -> one-line summary."""
    return {name: getattr(cls, "summary", "") for name, (cls, _) in
            plugins.destinations().items()}


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
        with _Shaped(self.project, job, now) as shaped:
            return shaped.plan(f"({shaped.status_sql})")

    def events(self, job: str, *, now: dt.datetime | None = None) -> Events:
        """A job's shaped events, held in DuckDB for analysis; see :class:`Events`.
        Close it (or use ``with``) when done."""
        return Events(_Shaped(self.project, job, now))

    def run(self, job: str, *, dry_run: bool = False, full: bool = False,
            now: dt.datetime | None = None, sleep: Callable[[float], None] = time.sleep,
            progress: Callable[[RunCounts], None] | None = None) -> pipeline.RunSummary:
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
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in ("runs", "ledger", "rejects"):
            raise ConfigError(f"{name!r} is not a plugin table: use runs(), ledger() or "
                              "rejects() for those, and lower-case names for plugin tables")

        def read(state: State) -> pa.Table:
            found = [row[0] for row in state.con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
                "'state' ORDER BY table_name").fetchall()]
            if name not in found:
                others = ", ".join(t for t in found if t not in ("runs", "ledger", "rejects"))
                raise ConfigError(f"the state of {job} has no table {name!r} (plugin tables: "
                                  f"{others or 'none'})")
            return state.con.sql(f'SELECT * FROM state."{name}"').to_arrow_table()

        return self._read(job, read)

    def _read(self, job: str, read: Callable[[State], pa.Table]) -> pa.Table:
        con = open_state(self.project.state_path(self.project.job(job).name))
        try:
            return read(State(con, create=False))
        finally:
            con.close()


class _Shaped:
    """A job's shaping SQL over an open warehouse, joined to a snapshot of its ledger.

    The snapshot is copied into an in-memory catalog ``offramp`` so that the state
    file is not held open (a run can start while an :class:`Events` handle lives).
    """

    def __init__(self, project: Project, ref: str, now: dt.datetime | None):
        job = project.job(ref)
        self.now = now or dt.datetime.now(dt.UTC)
        self.engine = Engine(project.warehouse, temp_dir=project.spill,
                             settings=project.engine_settings)
        try:
            prep = pipeline.prepare(self.engine, job)
            self.job, self.destination = job.name, prep.destination.name
            self._run("ATTACH ':memory:' AS offramp")
            first_send = self._load_ledger(project.state_path(job.name))
            context = RunContext(job.name, self.now, first_send, True)
            dest = prep.destination(prep.settings, context)
            shape = dest.shape_sql(f"({prep.sql})", prep.columns)
            diff = pipeline.diff_sql(shape, self.engine.describe(shape),
                                     resend_changed=dest.resend_changed,
                                     ledger="SELECT * FROM offramp.ledger", all_payloads=True)
            self.status_sql = f"""
                SELECT event_key, route,
                       CASE WHEN unchanged THEN 'unchanged'
                            WHEN reject_reason IS NOT NULL THEN 'rejected'
                            WHEN previous_status IS NULL THEN 'new'
                            WHEN previous_status = 'failed' THEN 'retry'
                            ELSE 'changed' END AS status,
                       reject_reason, payload, fingerprint, source_rows, previous_status
                FROM ({diff}) AS diff"""
        except EngineError as exc:
            self.engine.close()
            raise OfframpError(f"DuckDB refused the job's SQL: {redact(str(exc))}") from None
        except BaseException:
            self.engine.close()
            raise

    def _run(self, sql: str) -> None:
        self.engine.con.execute(sql).fetchall()

    def _load_ledger(self, path: Path) -> bool:
        """Copy the ledger's latest state per event into ``offramp.ledger``; returns
        whether nothing was ever delivered (the destination's ``first_send``)."""
        self._run("CREATE TABLE offramp.ledger "
                  "(event_key VARCHAR, fingerprint VARCHAR, status VARCHAR)")
        if not path.is_file():
            return True
        con = open_state(path)
        try:
            first_send = not State(con, create=False).has_delivered()
            self.engine.con.register("_offramp_ledger", con.sql(SETTLED).to_arrow_reader(65536))
            try:
                self._run("INSERT INTO offramp.ledger "
                          "SELECT event_key, fingerprint, status FROM _offramp_ledger")
            finally:
                self.engine.con.unregister("_offramp_ledger")
        finally:
            con.close()
        return first_send

    def plan(self, relation: str) -> Plan:
        """Count the events of ``relation`` (``status_sql`` or a table holding it)."""
        groups = self.engine.rows(
            f"SELECT status, reject_reason, count(*), coalesce(sum(source_rows), 0), "
            f"coalesce(sum(strlen(payload)) FILTER (WHERE status IN {_SENT}), 0) "
            f"FROM {relation} AS e GROUP BY ALL ORDER BY count(*) DESC, reject_reason")
        counts = dict.fromkeys(STATUSES, 0)
        reasons: dict[str, int] = {}
        rows = size = 0
        for status, reason, n, source_rows, payload_bytes in groups:
            counts[status] += n
            rows += source_rows
            size += payload_bytes
            if status == "rejected":
                reasons[reason] = reasons.get(reason, 0) + n
        return Plan(self.job, self.destination, sum(counts.values()), reasons=reasons,
                    rows=int(rows), payload_bytes=int(size), **counts)

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> _Shaped:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Events:
    """A job's shaped events, held in DuckDB (spilling to disk when large), for analysis.

    The table ``events`` has one row per event, as the next run would see it:
    ``event_key``, ``route``, ``status`` (one of :data:`STATUSES`), ``reject_reason``,
    ``payload`` (the event's JSON, built for rejected events too where the destination
    can), ``fingerprint``, ``source_rows`` and ``previous_status`` (the ledger's).
    Query it with :meth:`sql` using DuckDB's JSON operators, for example
    ``payload ->> '$.custom_data.value'``. The warehouse's tables are readable too
    (read-only), and temporary views and tables of your own can be created
    (``CREATE TEMP VIEW ...``). The ledger is a snapshot taken when the handle opened;
    the handle does not hold the job's state file, so a run may start meanwhile.
    A warehouse table named ``events`` stays readable as ``wh.events`` (DuckDB
    warehouses) or ``memory.events`` (Parquet).
    """

    def __init__(self, shaped: _Shaped):
        self._shaped = shaped
        self.job, self.destination, self.now = shaped.job, shaped.destination, shaped.now
        try:
            shaped._run(f"CREATE TABLE offramp.events AS {shaped.status_sql}")
            shaped._run("CREATE TEMP VIEW events AS SELECT * FROM offramp.events")
        except EngineError as exc:
            shaped.close()
            raise OfframpError(f"DuckDB could not shape the events: {redact(str(exc))}") \
                from None

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        """Run ``query`` (``?`` placeholders take ``params``) and return its result as an
        Arrow table; for large results use :meth:`stream`."""
        return self.stream(query, params).read_all()

    def stream(self, query: str, params: list[Any] | None = None,
               batch_size: int = 65536) -> pa.RecordBatchReader:
        """Run ``query`` and stream its result as Arrow record batches. Read it to the
        end before the next query on this handle, and before :meth:`close`."""
        con = self._shaped.engine.con
        try:
            relation = con.sql(query, params=params) if params else con.sql(query)
            if relation is None:  # a statement without a result (CREATE TEMP VIEW ...)
                return pa.RecordBatchReader.from_batches(pa.schema([]), [])
            return relation.to_arrow_reader(batch_size)
        except EngineError as exc:
            raise OfframpError(f"DuckDB refused the query: {redact(str(exc))}") from None

    def plan(self) -> Plan:
        """What the next run would do with these events (see :meth:`ProjectHandle.plan`)."""
        return self._shaped.plan("offramp.events")

    def close(self) -> None:
        self._shaped.close()

    def __enter__(self) -> Events:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<offramp events of {self.job} -> {self.destination} "
                f"as of {self.now:%Y-%m-%d %H:%M}Z>")
