"""A job's shaped events against its ledger: :class:`Plan` and :class:`Events`.

:class:`ShapedJob` opens the warehouse, checks the job, copies a snapshot of the job's
ledger into an in-memory catalog (so that the state file is not held open) and builds
the SQL of its events with their status, reusing :func:`connector.run.pipeline.diff_sql`:
a plan counts what a run would do with the same join the run makes. Used through
:mod:`connector.api.project`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from connector.engines.messages import engine_message
from connector.engines.warehouse import Engine
from connector.engines.warehouse import Error as EngineError
from connector.kit.destination import RunContext
from connector.kit.errors import OfframpError
from connector.kit.sql import literals
from connector.project import Project
from connector.run import pipeline
from connector.run.shaping import shaping
from connector.state import open_state

#: What the next run would do with an event (the ``status`` column of :class:`Events`).
#: ``line_item``: a query row refused on its own (a returned line, a row without an order
#: id), not an event (:attr:`~connector.kit.Destination.line_item_reasons`).
STATUSES = ("new", "changed", "retry", "unchanged", "rejected", "line_item")
_SENT = "('new', 'changed', 'retry')"


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
    :param line_items: query rows refused on their own (returned lines, rows without an
        order id, for destinations that group line items into orders): not events, in
        none of the event counts; by reason in ``line_item_reasons``.
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
    line_items: int = 0
    line_item_reasons: dict[str, int] = field(default_factory=dict)

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
                f"{self.rejected:,} rejected"
                + (f"; {self.line_items:,} line items not sent)" if self.line_items else ")"))


class ShapedJob:
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
            shape, columns = shaping(self.engine, dest, self.engine.source(prep.sql),
                                     prep.columns)
            diff = pipeline.diff_sql(shape, columns,
                                     resend_changed=dest.resend_changed,
                                     unique_keys=dest.unique_keys,
                                     ledger="SELECT * FROM offramp.ledger", all_payloads=True)
            line_items = (f"reject_reason IN ({literals(dest.line_item_reasons)})"
                          if dest.line_item_reasons else "FALSE")
            self.status_sql = f"""
                SELECT event_key, route,
                       CASE WHEN unchanged THEN 'unchanged'
                            WHEN {line_items} THEN 'line_item'
                            WHEN reject_reason IS NOT NULL THEN 'rejected'
                            WHEN previous_status IS NULL THEN 'new'
                            WHEN previous_status = 'failed' THEN 'retry'
                            ELSE 'changed' END AS status,
                       reject_reason, payload, fingerprint, source_rows, previous_status
                FROM ({diff}) AS diff"""
        except EngineError as exc:
            self.engine.close()
            raise OfframpError(engine_message(exc, scrub=True,
                                              what="DuckDB refused the job's SQL")) from None
        except BaseException:
            self.engine.close()
            raise

    def _run(self, sql: str) -> None:
        self.engine.rows(sql)

    def _load_ledger(self, path: Path) -> bool:
        """Copy the ledger's latest state per event into ``offramp.ledger``; returns
        whether nothing was ever delivered (the destination's ``first_send``)."""
        self._run("CREATE TABLE offramp.ledger "
                  "(event_key VARCHAR, fingerprint VARCHAR, status VARCHAR, route VARCHAR)")
        if not path.is_file():
            return True
        with open_state(path) as state:
            first_send = not state.has_delivered()
            with self.engine.registered("_offramp_ledger", state.settled()):
                self._run("INSERT INTO offramp.ledger "
                          "SELECT event_key, fingerprint, status, route FROM _offramp_ledger")
        return first_send

    def plan(self, relation: str) -> Plan:
        """Count the events of ``relation`` (``status_sql`` or a table holding it)."""
        try:
            groups = self.engine.rows(
                f"SELECT status, reject_reason, count(*), coalesce(sum(source_rows), 0), "
                f"coalesce(sum(strlen(payload)) FILTER (WHERE status IN {_SENT}), 0) "
                f"FROM {relation} AS e GROUP BY ALL ORDER BY count(*) DESC, reject_reason")
        except EngineError as exc:  # the query fails on the data (a bad CAST, say)
            raise OfframpError(engine_message(exc, scrub=True,
                                              what="DuckDB could not shape the events")) \
                from None
        counts = dict.fromkeys(STATUSES, 0)
        reasons: dict[str, dict[str, int]] = {"rejected": {}, "line_item": {}}
        rows = size = 0
        for status, reason, n, source_rows, payload_bytes in groups:
            counts[status] += n
            rows += source_rows
            size += payload_bytes
            if status in reasons:
                reasons[status][reason] = reasons[status].get(reason, 0) + n
        line_items = counts.pop("line_item")
        return Plan(self.job, self.destination, sum(counts.values()),
                    reasons=reasons["rejected"], rows=int(rows), payload_bytes=int(size),
                    line_items=line_items, line_item_reasons=reasons["line_item"], **counts)

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> ShapedJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Events:
    """A job's shaped events, held in DuckDB (spilling to disk when large), for analysis.

    The table ``events`` has one row per event (and per line item refused on its own,
    status ``line_item``), as the next run would see it:
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

    def __init__(self, shaped: ShapedJob):
        self._shaped = shaped
        self.job, self.destination, self.now = shaped.job, shaped.destination, shaped.now
        try:
            shaped._run(f"CREATE TABLE offramp.events AS {shaped.status_sql}")
            shaped._run("CREATE TEMP VIEW events AS SELECT * FROM offramp.events")
        except EngineError as exc:
            shaped.close()
            raise OfframpError(engine_message(
                exc, scrub=True, what="DuckDB could not shape the events")) from None

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        """Run ``query`` (``?`` placeholders take ``params``) and return its result as an
        Arrow table; for large results use :meth:`stream`."""
        return self.stream(query, params).read_all()

    def stream(self, query: str, params: list[Any] | None = None,
               batch_size: int = 65536) -> pa.RecordBatchReader:
        """Run ``query`` and stream its result as Arrow record batches. Read it to the
        end before the next query on this handle, and before :meth:`close`."""
        try:
            return self._shaped.engine.stream(query, params, batch_size)
        except EngineError as exc:
            raise OfframpError(engine_message(exc, scrub=True)) from None

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
