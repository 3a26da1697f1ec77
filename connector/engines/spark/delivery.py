"""Delivering one Spark partition: the executor side of ``offramp run --engine spark``.

Spark calls :func:`task` (through ``mapInArrow``) once per partition with the
partition's diffed events as Arrow record batches. The task instantiates the
job's destination from its plugin with the job's settings, cuts requests that
respect the destination's limits (its share of them: see :class:`TaskPlan`), and
delivers them with the same :class:`connector.run.delivery.Deliverer` a DuckDB run uses.

Every outcome (delivered, rejected, failed, and events rejected while shaping) is
written to a Parquet file of this task attempt: ``.part-P-attempt-A.parquet.tmp``
while the attempt runs, renamed to ``part-P-attempt-A.parquet`` once the attempt has
settled every event. The task yields one summary row; the driver merges the files
of the attempts Spark reports as succeeded (see :mod:`connector.engines.spark.ledger`), so a
task Spark retries never counts twice. This module imports no pyspark: it runs, and
is tested, on plain Arrow batches.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connector import registry
from connector.kit import http
from connector.kit.destination import Batch, Limits, RunContext
from connector.run.cutting import Cutter
from connector.run.delivery import Deliverer, Result
from connector.state.outcomes import OUTCOMES, SHAPE_REJECTED

#: The one row each task attempt yields to the driver.
SUMMARY = pa.schema([
    ("partition", pa.int32()), ("attempt", pa.int32()), ("file", pa.string()),
    ("rows_read", pa.int64()), ("events", pa.int64()), ("unchanged", pa.int64()),
    ("delivered", pa.int64()), ("rejected", pa.int64()), ("failed", pa.int64()),
    ("pending", pa.int64()), ("requests", pa.int64()), ("bytes", pa.int64()),
    ("fatal", pa.string()), ("failure", pa.string()), ("reasons", pa.string()),
    ("waited_input", pa.float64()), ("busy", pa.float64())])
#: The same, as the DDL string ``mapInArrow`` takes.
SUMMARY_DDL = ("partition INT, attempt INT, file STRING, rows_read BIGINT, events BIGINT, "
               "unchanged BIGINT, delivered BIGINT, rejected BIGINT, failed BIGINT, "
               "pending BIGINT, requests BIGINT, bytes BIGINT, fatal STRING, failure STRING, "
               "reasons STRING, waited_input DOUBLE, busy DOUBLE")


@dataclass(frozen=True)
class TaskPlan:
    """Everything a task needs, pickled to the executors. No secret is in it: the
    destination reads its own from the executor's environment when it opens.

    :param limits: one partition's share of the destination's limits: concurrency
        and rate divided by the number of partitions that run at once.
    """

    destination: str
    settings: dict[str, Any]
    context: RunContext
    limits: Limits
    outcomes: str
    dry_run: bool = False


def share(limits: Limits, parallel: int) -> Limits:
    """One of ``parallel`` simultaneous tasks' share of ``limits``: together they never
    exceed the destination's concurrency or rate."""
    parallel = max(1, parallel)
    rate = limits.rate_per_second / parallel if limits.rate_per_second else None
    return replace(limits, concurrency=max(1, limits.concurrency // parallel),
                   rate_per_second=rate)


def outcome_name(partition: int, attempt: int) -> str:
    return f"part-{partition:05d}-attempt-{attempt}.parquet"


def task(plan: TaskPlan) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function ``mapInArrow`` runs on each partition."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        partition, attempt = (ctx.partitionId(), ctx.attemptNumber()) if ctx else (0, 0)
        yield deliver_partition(plan, batches, partition, attempt)

    return run


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    fatal: str | None = None
    failure: str | None = None
    waited_input: float = 0.0  # seconds blocked on Spark for the next batch


def deliver_partition(plan: TaskPlan, batches: Iterator[pa.RecordBatch], partition: int,
                      attempt: int, *, sleep: Callable[[float], None] = time.sleep
                      ) -> pa.RecordBatch:
    """Deliver one partition's events; returns its summary row (see :data:`SUMMARY`)."""
    started = time.perf_counter()
    folder = Path(plan.outcomes)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / outcome_name(partition, attempt)
    tmp = folder / f".{final.name}.tmp"
    cls = registry.destination(plan.destination)
    dest = cls(cls.Settings.model_validate(plan.settings), plan.context)
    tally = _Tally()
    writer = pq.ParquetWriter(tmp, OUTCOMES)
    deliverer = None
    try:
        if not plan.dry_run:
            dest.open(http.session(pool_size=max(4, 2 * plan.limits.concurrency)))
            deliverer = Deliverer(dest, plan.limits, sleep=sleep)
        cutter = Cutter(plan.limits.max_events, plan.limits.max_bytes)
        for rb in _timed(batches, tally):
            for batch, fps in cutter.feed(_split(rb, tally, writer)):
                _send(batch, fps, dest, deliverer, tally, writer)
        for batch, fps in cutter.flush():
            _send(batch, fps, dest, deliverer, tally, writer)
        if deliverer is not None:
            for result in deliverer.drain():
                _record(result, tally, writer)
    finally:
        if deliverer is not None:
            deliverer.close()
            dest.close()
        writer.close()
    os.replace(tmp, final)  # the attempt's outcomes are complete: commit them
    return _summary(partition, attempt, final.name, tally, time.perf_counter() - started)


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


def _split(rb: pa.RecordBatch, tally: _Tally, writer: pq.ParquetWriter) -> pa.Table:
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
        writer.write_table(pa.table({
            "event_key": rejects.column("event_key"),
            "fingerprint": rejects.column("fingerprint"),
            "status": pa.array([SHAPE_REJECTED] * rejects.num_rows, pa.string()),
            "reason": rejects.column("reject_reason"),
            "route": rejects.column("route")}, schema=OUTCOMES))
    return active.filter(pc.invert(rejected))


def _send(batch: Batch, fps: list[str], dest: Any, deliverer: Deliverer | None, tally: _Tally,
          writer: pq.ParquetWriter) -> None:
    if deliverer is None:  # dry run: build the request, send nothing
        tally.counts["requests"] += 1
        tally.counts["bytes"] += len(dest.encode(batch))
        return
    if deliverer.stop.is_set():
        tally.counts["pending"] += len(batch)
        return
    for result in deliverer.submit(batch, fps):
        _record(result, tally, writer)


def _record(result: Result, tally: _Tally, writer: pq.ParquetWriter) -> None:
    batch, fps = result.batch, result.fingerprints
    tally.counts["requests"] += 1
    rows: list[tuple[int, str, str | None]] = [(i, "delivered", None) for i in result.delivered]
    rows += [(i, "rejected", reason) for i, reason in sorted(result.rejected.items())]
    rows += [(i, "failed", result.failure) for i in result.failed]
    if result.rejected:
        tally.reasons.update(result.rejected.values())
    tally.counts["delivered"] += len(result.delivered)
    tally.counts["rejected"] += len(result.rejected)
    tally.counts["failed"] += len(result.failed)
    if result.failed:
        tally.failure = tally.failure or result.failure
    if result.fatal:
        tally.fatal = tally.fatal or result.fatal
    if rows:
        writer.write_table(pa.table({
            "event_key": [batch.keys[i] for i, _, _ in rows],
            "fingerprint": [fps[i] for i, _, _ in rows],
            "status": [status for _, status, _ in rows],
            "reason": [reason for _, _, reason in rows],
            "route": [batch.route] * len(rows)}, schema=OUTCOMES))


def _summary(partition: int, attempt: int, file: str, tally: _Tally,
             elapsed: float) -> pa.RecordBatch:
    c = tally.counts
    row: dict[str, Any] = {
        "partition": partition, "attempt": attempt, "file": file,
        **{k: c[k] for k in ("rows_read", "events", "unchanged", "delivered", "rejected",
                             "failed", "pending", "requests", "bytes")},
        "fatal": tally.fatal, "failure": tally.failure,
        "reasons": json.dumps(dict(tally.reasons)),
        "waited_input": tally.waited_input, "busy": elapsed - tally.waited_input}
    return pa.RecordBatch.from_pylist([row], schema=SUMMARY)
