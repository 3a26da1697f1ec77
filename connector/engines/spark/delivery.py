"""Delivering one Spark partition: the executor side of ``offramp run --engine spark``.

Spark calls :func:`task` (through ``mapInArrow``) once per partition with the
partition's diffed events as Arrow record batches. The task instantiates the
job's destination from its plugin with the job's settings, cuts requests that
respect the destination's limits (its share of them: see :class:`TaskPlan`), and
delivers them with the same :class:`connector.run.delivery.Deliverer` a DuckDB run uses.

Every outcome (delivered, rejected, failed, and events rejected while shaping) goes to this
task attempt's outcome file (:mod:`connector.engines.spark.outcome_files`), written by the
thread that got the answer as soon as it has it. The task yields one summary row naming its
file; the driver merges the files of the attempts Spark returned rows for, and the confirmed
outcomes of every other attempt (:mod:`connector.engines.spark.ledger`).

A task attempt Spark has given up on (failed or killed while its Python worker goes on: a lost
executor's shuffle data, a cancelled job) is told so by the driver, which creates
``<given_up>/<task attempt id>``: the task looks for it between requests, then sends nothing
more and closes its file. A retried attempt first reads the files of its partition's earlier
attempts and skips the events whose outcome the API already confirmed there.

A configuration error (a missing secret, a setting the destination refuses when it opens) is
the same on every attempt: the task returns it as its ``fatal`` row instead of raising, so
Spark does not retry it, and the run fails with that one line. This module imports no
pyspark: it runs, and is tested, on plain Arrow batches.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connector import registry
from connector.engines.spark.outcome_files import OutcomeWriter, confirmed, identity
from connector.kit import http
from connector.kit.destination import Batch, Destination, Limits, RunContext
from connector.kit.errors import OfframpError
from connector.run.cutting import Cutter
from connector.run.delivery import Deliverer, Result
from connector.run.recording import outcomes
from connector.state.outcomes import OUTCOMES, SHAPE_REJECTED

log = logging.getLogger("offramp.spark")

#: The one row each task attempt yields to the driver.
SUMMARY = pa.schema([
    ("partition", pa.int32()), ("task", pa.int64()), ("file", pa.string()),
    ("rows_read", pa.int64()), ("events", pa.int64()), ("unchanged", pa.int64()),
    ("settled_before", pa.int64()),
    ("delivered", pa.int64()), ("rejected", pa.int64()), ("failed", pa.int64()),
    ("pending", pa.int64()), ("requests", pa.int64()), ("bytes", pa.int64()),
    ("fatal", pa.string()), ("failure", pa.string()), ("reasons", pa.string()),
    ("waited_input", pa.float64()), ("busy", pa.float64())])
#: The same, as the DDL string ``mapInArrow`` takes.
SUMMARY_DDL = ("partition INT, task BIGINT, file STRING, rows_read BIGINT, events BIGINT, "
               "unchanged BIGINT, settled_before BIGINT, delivered BIGINT, rejected BIGINT, "
               "failed BIGINT, pending BIGINT, requests BIGINT, bytes BIGINT, fatal STRING, "
               "failure STRING, reasons STRING, waited_input DOUBLE, busy DOUBLE")


@dataclass(frozen=True)
class TaskPlan:
    """Everything a task needs, pickled to the executors. No secret is in it: the
    destination reads its own from the executor's environment when it opens.

    :param limits: one partition's share of the destination's limits: concurrency
        and rate divided by the number of partitions that run at once.
    :param outcomes: the folder of the outcome files (the driver's, shared).
    :param given_up: the folder where the driver marks the task attempts Spark gave up on.
    """

    destination: str
    settings: dict[str, Any]
    context: RunContext
    limits: Limits
    outcomes: str
    given_up: str
    dry_run: bool = False


def share(limits: Limits, parallel: int) -> Limits:
    """One of ``parallel`` simultaneous tasks' share of ``limits``: together they never
    exceed the destination's concurrency or rate."""
    parallel = max(1, parallel)
    rate = limits.rate_per_second / parallel if limits.rate_per_second else None
    return replace(limits, concurrency=max(1, limits.concurrency // parallel),
                   rate_per_second=rate)


def task(plan: TaskPlan) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function ``mapInArrow`` runs on each partition."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        partition, task_id = (ctx.partitionId(), ctx.taskAttemptId()) if ctx else (0, 0)
        yield deliver_partition(plan, batches, partition, task_id)

    return run


def probe(plan: TaskPlan) -> Callable[[Iterable[Any]], Iterator[str]]:
    """A ``mapPartitions`` function that opens the destination as a delivery task would,
    sends nothing, and yields the configuration error it met, if any: the driver runs it
    on the executors before the job, so that a secret missing from their environment
    stops the run before Spark shapes anything."""

    def run(_rows: Iterable[Any]) -> Iterator[str]:
        try:
            dest = _open(plan)
        except OfframpError as exc:
            yield str(exc)
            return
        if not plan.dry_run:
            dest.close()

    return run


def _open(plan: TaskPlan) -> Destination:
    """The job's destination, opened (unless in a dry run). Raises OfframpError for what
    no retry fixes: an unknown plugin, settings it refuses, a missing secret."""
    cls = registry.destination(plan.destination)
    dest = cls(cls.Settings.model_validate(plan.settings), plan.context)
    if not plan.dry_run:
        dest.open(http.session(pool_size=max(4, 2 * plan.limits.concurrency)))
    return dest


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    fatal: str | None = None
    failure: str | None = None
    waited_input: float = 0.0  # seconds blocked on Spark for the next batch


class _GivenUp:
    """Whether the driver has marked this task attempt as given up (one stat per call)."""

    def __init__(self, folder: str, task_id: int):
        self.marker = os.path.join(folder, str(task_id))
        self.seen = False

    def __call__(self) -> bool:
        self.seen = self.seen or os.path.exists(self.marker)
        return self.seen


def deliver_partition(plan: TaskPlan, batches: Iterator[pa.RecordBatch], partition: int,
                      task_id: int, *, sleep: Callable[[float], None] = time.sleep
                      ) -> pa.RecordBatch:
    """Deliver one partition's events; returns its summary row (see :data:`SUMMARY`)."""
    started = time.perf_counter()
    folder = Path(plan.outcomes)
    writer = OutcomeWriter(folder, partition, task_id)  # the folder gone: the run is over
    tally = _Tally()
    given_up = _GivenUp(plan.given_up, task_id)
    try:
        try:
            dest = _open(plan)
        except OfframpError as exc:  # the same on every attempt: no retry would help
            tally.fatal = str(exc)
            _count_unsent(batches, tally)
        else:
            _deliver(plan, dest, batches, writer, tally, given_up,
                     confirmed(folder, partition, task_id), sleep)
    except BaseException:
        _commit_quietly(writer)  # what was sent is recorded; the error goes on as it was
        raise
    name = writer.commit()
    return _summary(partition, task_id, name, tally, time.perf_counter() - started)


def _deliver(plan: TaskPlan, dest: Destination, batches: Iterator[pa.RecordBatch],
             writer: OutcomeWriter, tally: _Tally, given_up: _GivenUp, skip: pa.Array,
             sleep: Callable[[float], None]) -> None:
    deliverer = None
    if not plan.dry_run:
        deliverer = Deliverer(dest, plan.limits, sleep=sleep,
                              record=lambda result: _write(result, writer, given_up))
    try:
        cutter = Cutter(plan.limits.max_events, plan.limits.max_bytes)
        for rb in _timed(batches, tally):
            active = _skip(_split(rb, tally, writer), skip, tally)
            for batch, fps in cutter.feed(active):
                _send(batch, fps, dest, deliverer, tally, given_up)
            if given_up():
                break  # Spark has moved on: the rest of the input is another attempt's
        for batch, fps in cutter.flush():
            _send(batch, fps, dest, deliverer, tally, given_up)
        if deliverer is not None:
            for result in deliverer.drain():
                _count(result, tally)
    finally:
        if deliverer is not None:
            deliverer.close()
            dest.close()


def _commit_quietly(writer: OutcomeWriter) -> None:
    try:
        writer.commit()
    except Exception:
        log.debug("could not commit %s", writer.tmp, exc_info=True)


def _count_unsent(batches: Iterator[pa.RecordBatch], tally: _Tally) -> None:
    """Read the partition without sending it: its events stay pending."""
    for rb in batches:
        tally.counts["events"] += rb.num_rows
        tally.counts["pending"] += rb.num_rows


def _timed(batches: Iterator[pa.RecordBatch], tally: _Tally) -> Iterator[pa.RecordBatch]:
    while True:
        t = time.perf_counter()
        try:
            rb = next(batches)
        except StopIteration:
            tally.waited_input += time.perf_counter() - t
            return
        tally.waited_input += time.perf_counter() - t
        yield rb


def _split(rb: pa.RecordBatch, tally: _Tally, writer: OutcomeWriter) -> pa.Table:
    """Count a batch, write its shape rejects, and return the events to send."""
    tally.counts["events"] += rb.num_rows
    tally.counts["rows_read"] += pc.sum(rb.column("source_rows")).as_py() or 0
    unchanged = pc.fill_null(rb.column("unchanged"), False)
    tally.counts["unchanged"] += pc.sum(unchanged).as_py() or 0
    active = pa.Table.from_batches([rb]).filter(pc.invert(unchanged))
    rejected = pc.is_valid(active.column("reject_reason"))
    rejects = active.filter(rejected)
    if rejects.num_rows:
        tally.counts["rejected"] += rejects.num_rows
        tally.reasons.update(rejects.column("reject_reason").to_pylist())
        writer.write(pa.table({
            "event_key": rejects.column("event_key"),
            "fingerprint": rejects.column("fingerprint"),
            "status": pa.array([SHAPE_REJECTED] * rejects.num_rows, pa.string()),
            "reason": rejects.column("reject_reason"),
            "route": rejects.column("route")}, schema=OUTCOMES))
    return active.filter(pc.invert(rejected))


def _skip(events: pa.Table, skip: pa.Array, tally: _Tally) -> pa.Table:
    """Leave out the events an earlier attempt of this partition had confirmed."""
    if not len(skip) or not events.num_rows:
        return events
    seen = pc.is_in(identity(events.column("event_key"), events.column("fingerprint")),
                    value_set=skip)
    tally.counts["settled_before"] += pc.sum(seen).as_py() or 0
    return events.filter(pc.invert(seen))


def _send(batch: Batch, fps: pa.Array, dest: Any, deliverer: Deliverer | None, tally: _Tally,
          given_up: _GivenUp) -> None:
    if deliverer is None:  # dry run: build the request, send nothing
        tally.counts["requests"] += 1
        tally.counts["bytes"] += len(dest.encode(batch))
        return
    if given_up():
        deliverer.stop.set()
    if deliverer.stop.is_set():
        tally.counts["pending"] += len(batch)
        return
    for result in deliverer.submit(batch, fps):
        _count(result, tally)


def _write(result: Result, writer: OutcomeWriter, given_up: _GivenUp) -> None:
    """The ``record`` callback: one request's outcomes, written by the thread that got the
    answer; and, between requests, the driver's word that Spark gave up on this attempt."""
    table = outcomes(result)
    if table.num_rows:
        writer.write(table)
    if given_up():
        raise _Stop  # the Deliverer stops its other requests


class _Stop(Exception):
    """Raised by the record callback to stop a given-up attempt's Deliverer."""


def _count(result: Result, tally: _Tally) -> None:
    if result.record_error is not None and not isinstance(result.record_error, _Stop):
        raise result.record_error
    tally.counts["requests"] += 1
    if result.rejected:
        tally.reasons.update(result.rejected.values())
    tally.counts["delivered"] += len(result.delivered)
    tally.counts["rejected"] += len(result.rejected)
    tally.counts["failed"] += len(result.failed)
    if result.failed:
        tally.failure = tally.failure or result.failure
    if result.fatal:
        tally.fatal = tally.fatal or result.fatal


def _summary(partition: int, task_id: int, file: str, tally: _Tally,
             elapsed: float) -> pa.RecordBatch:
    c = tally.counts
    row: dict[str, Any] = {
        "partition": partition, "task": task_id, "file": file,
        **{k: c[k] for k in ("rows_read", "events", "unchanged", "settled_before", "delivered",
                             "rejected", "failed", "pending", "requests", "bytes")},
        "fatal": tally.fatal, "failure": tally.failure,
        "reasons": json.dumps(dict(tally.reasons)),
        "waited_input": tally.waited_input, "busy": elapsed - tally.waited_input}
    return pa.RecordBatch.from_pylist([row], schema=SUMMARY)
