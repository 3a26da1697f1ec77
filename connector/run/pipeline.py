"""Running a job: validate, shape in DuckDB, diff against the ledger, deliver, record.

The stages stream: DuckDB yields Arrow record batches of shaped events (one row
per event, with a fingerprint of its payload); events already delivered with the
same fingerprint are skipped by a join against the ledger inside DuckDB;
rejected events are stored with their reason; the rest are cut into requests and
delivered concurrently, and every request's outcome is committed to the ledger by
the thread that delivered it as soon as it is known (:mod:`connector.run.recording`),
so a crash loses nothing and a re-run resends only what was not confirmed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from connector.engines.messages import engine_message, redact_exception, scrub_values
from connector.engines.spark.ledger import merge_leftovers
from connector.engines.warehouse import Engine, OutOfMemory
from connector.engines.warehouse import Error as EngineError
from connector.kit import http
from connector.kit.destination import Batch, Destination, RunContext
from connector.kit.errors import OfframpError
from connector.kit.runs import RunCounts, RunSummary
from connector.project import Job, Project
from connector.run import incremental
from connector.run.cutting import Cutter, value_counts
from connector.run.delivery import Deliverer, Result
from connector.run.diff import diff_sql
from connector.run.interrupt import StopOnSigint
from connector.run.lock import JobLock
from connector.run.preview import preview
from connector.run.recorder import RunRecorder
from connector.run.recording import LedgerWriter
from connector.run.shaping import shaping
from connector.state import State
from connector.validation.prepare import Prepared, load_destination, prepare, validate

__all__ = ["Interrupted", "Prepared", "RunSummary", "diff_sql", "load_destination", "prepare",
           "preview", "run", "validate"]


class Interrupted(OfframpError):
    """The run was stopped by the user (SIGINT); what was confirmed is recorded."""


def run(project: Project, ref: str, *, dry_run: bool = False, full: bool = False,
        now: dt.datetime | None = None, sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[RunCounts], None] | None = None) -> RunSummary:
    """Run a job end to end. See the module docstring.

    :param full: resend every event, ignoring the ledger.
    :param sleep: how delivery waits between retries (tests pass a recorder).
    :param progress: called with the running counts as work completes.
    """
    job = project.job(ref)
    now = now or dt.datetime.now(dt.UTC)
    if not project.state_path(job.name).exists():
        validate(project, ref)  # a job that never validated gets no state file
    with JobLock(project.lock_path(job.name), job.name), \
            Engine(project.warehouse, state=project.state_path(job.name),
                   temp_dir=project.spill, settings=project.engine_settings) as engine, \
            StopOnSigint(engine.interrupt) as stop:
        state = State(engine.cursor())
        with stop.protected():
            rec = RunRecorder(state, job.name, job.destination, dry_run=dry_run, now=now)
        runner = _Run(engine, state, rec, job, now, full, sleep, progress, stop, project.root)
        try:
            if not dry_run:  # a Spark run's outcomes it did not merge: recorded, not resent
                rec.notes += merge_leftovers(state, project.spark_work / job.name)
            return runner.execute()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) or stop.requested.is_set():
                rec.finish("interrupted", f"stopped by the user ({stop.signal})")
                raise Interrupted(f"run {rec.run_id} of {job.name} was interrupted; "
                                  f"{rec.counts.delivered} events delivered and recorded; "
                                  "run again to send the rest") from None
            if isinstance(exc, OfframpError):
                rec.finish("failed", str(exc))
                raise
            if isinstance(exc, EngineError):
                message = engine_message(exc, scrub=True)
                rec.finish("failed", message)
                raise OfframpError(message) from None
            if isinstance(exc, Exception):  # a bug: record it, then let the CLI report it
                redact_exception(exc)
                rec.finish("failed", f"internal error: {type(exc).__name__}: "
                           f"{scrub_values(str(exc))}")
            raise
        finally:
            if runner.incremental is not None:  # its scratch file, whatever happened
                runner.incremental.close()


_NOT_SETTLED = ("the settled keys were not remembered for the next run: DuckDB ran out of "
                "memory doing it (raise [engine] memory_limit in offramp.toml). Every outcome "
                "is in the ledger: the next run shapes these keys again and sends only what "
                "changed")


class _Run:
    def __init__(self, engine: Engine, state: State, rec: RunRecorder, job: Job,
                 now: dt.datetime, full: bool, sleep: Callable[[float], None],
                 progress: Callable[[RunCounts], None] | None, stop: StopOnSigint,
                 root: Path | None = None):
        self.engine, self.state, self.rec, self.job = engine, state, rec, job
        self.run_id, self.dry_run = rec.run_id, rec.dry_run
        self.stop, self.root = stop, root
        self.now, self.full, self.sleep = now, full, sleep
        self.progress = progress or (lambda counts: None)
        self.counts, self.reasons, self.timings = rec.counts, rec.reasons, rec.timings
        self.notes = rec.notes
        self.fatal: str | None = None
        self.failure: str | None = None
        self.unconfirmed: list[str] = []  # why, for each request confirmed only in part
        self.incremental: incremental.Incremental | None = None

    # -- the whole run ------------------------------------------------------------------
    def execute(self) -> RunSummary:
        t0 = time.perf_counter()
        prep = prepare(self.engine, self.job)
        self.timings["validate"] = time.perf_counter() - t0
        self.notes += [f"warning: {line}" for line in prep.warnings]
        context = RunContext(self.job.name, self.now, not self.state.has_delivered(),
                             self.dry_run, root=self.root)
        dest = prep.destination(prep.settings, context)
        self.rec.line_item_reasons = dest.line_item_reasons
        if not self.dry_run:
            dest.open(http.session(pool_size=max(4, 2 * dest.limits.concurrency)))
        try:
            self._deliver(dest, prep)
            self._settle()
            self.timings["total"] = time.perf_counter() - t0
            summary = self.rec.end(self.fatal, self.failure, self.unconfirmed)
            self.rec.follow_up(dest, summary)
            return summary
        finally:
            if not self.dry_run:
                dest.close()

    def _deliver(self, dest: Destination, prep: Prepared) -> None:
        """Stream the events, cut them into requests and send them (build them, in a dry
        run), recording each request's outcome as it arrives."""
        limits = dest.limits
        deliverer = writer = None
        if not self.dry_run:
            writer = LedgerWriter(self.engine.cursor, self.run_id, sleep=self.sleep)
            deliverer = Deliverer(dest, limits, sleep=self.sleep, record=writer.record)
        stream: Generator[pa.RecordBatch] | None = None
        cut: Generator[tuple[Batch, pa.Array]] | None = None
        try:
            stream = self._stream(dest, prep)
            cut = self._cut(stream, Cutter(limits.max_events, limits.max_bytes))
            for batch, fps in cut:
                if deliverer is None:
                    with self.rec.timed("encode"):
                        body = dest.encode(batch)
                    self.counts.requests += 1
                    self.counts.bytes += len(body)
                    continue
                if deliverer.stop.is_set():  # this request and the rest: counted pending
                    break
                for result in self._waited("send", deliverer.submit(batch, fps)):
                    self._record(result)
            if deliverer is not None:
                for result in self._waited("send", deliverer.drain()):
                    self._record(result)
        except BaseException:
            # Stopping (SIGINT, a bug): queued requests are not sent, those in flight
            # finish, and every outcome known is recorded before the error goes on.
            if deliverer is not None:
                deliverer.stop.set()
                for result in deliverer.drain():
                    self._record(result, raising=False)  # the first error is the one to report
            raise
        finally:
            for generator in (cut, stream):  # release DuckDB's result now, not when
                if generator is not None:    # a traceback that holds it is collected
                    generator.close()
            if deliverer is not None:
                deliverer.close()
            if writer is not None:
                writer.close()

    def _settle(self) -> None:
        """Remember the keys whose events are all settled, for the next run to skip."""
        if self.incremental is None or self.dry_run:
            return
        with self.rec.timed("settle"):
            try:
                with self.stop.protected():
                    self.incremental.settle(self.run_id)
            except OutOfMemory:
                # Every outcome is in the ledger already: only next run's skip is lost.
                self.notes.append(_NOT_SETTLED)

    # -- stages -----------------------------------------------------------------------
    def _stream(self, dest: Destination, prep: Prepared) -> Generator[pa.RecordBatch]:
        """The shaped events, diffed against the ledger, as Arrow record batches;
        ``timings["shape"]`` is the time in DuckDB."""
        source = self._unchanged_skipped(dest, prep, self.engine.source(prep.sql))
        shape, shape_columns = shaping(self.engine, dest, source, prep.columns)
        keep = ([] if self.incremental is None else
                self.incremental.columns(shape_columns, dest.name))
        sql = diff_sql(shape, shape_columns, full=self.full,
                       failed_first=not self.full and self.state.has_failed(),
                       resend_changed=dest.resend_changed, unique_keys=dest.unique_keys,
                       keep=keep)
        # Read in this thread: a SIGINT then interrupts the very call DuckDB is in. (A
        # reader thread overlapped shaping with sending, but raced with Ctrl-C.)
        t = time.perf_counter()
        reader = self.engine.stream(sql, batch_size=16384)  # runs the query's first part
        self.timings["shape"] += time.perf_counter() - t
        try:
            while True:
                t = time.perf_counter()
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                finally:
                    self.timings["shape"] += time.perf_counter() - t
                yield batch
        finally:
            reader.close()

    def _unchanged_skipped(self, dest: Destination, prep: Prepared, source: str) -> str:
        """The relation to shape: ``source`` without the rows of the keys that did not
        change, when the destination names its key (:mod:`connector.run.incremental`)."""
        key = dest.source_key(prep.columns)
        if key is None:
            return source
        t = time.perf_counter()
        fixed = RunContext(self.job.name, incremental.SALT_CLOCK, False, True, root=self.root)
        salt = incremental.salt(prep.destination(prep.settings, fixed).shape_sql(
            source, prep.columns), prep.sql, prep.columns)
        self.incremental = incremental.Incremental(self.engine, source, key, salt,
                                                   skip=not self.full, write=not self.dry_run,
                                                   scratch=(self.engine.spill, self.job.name))
        skipped = self.incremental.start(self.run_id, self.stop.protected)
        self.counts.events += skipped.events
        self.counts.unchanged += skipped.events - skipped.rejects
        self.counts.rejected += skipped.rejects
        self.reasons.update(skipped.reasons)
        self.counts.rows_read += skipped.rows
        if skipped.keys:
            self.notes.append(f"{skipped.keys:,} keys ({skipped.events:,} events) not shaped: "
                              "their rows did not change since their events were settled")
        self.timings["fingerprint"] = time.perf_counter() - t
        return self.incremental.rows()

    def _cut(self, reader: Iterator[pa.RecordBatch],
             cutter: Cutter) -> Generator[tuple[Batch, pa.Array]]:
        """Split events off the stream: count and store rejects, skip unchanged ones,
        and cut the rest into requests with ``cutter``."""
        max_bytes = cutter.max_bytes
        room = max_bytes - len("[]")  # for one event alone
        for rb in reader:
            t = time.perf_counter()
            self.counts.events += rb.num_rows
            rows = pc.sum(rb.column("source_rows")).as_py()
            self.counts.rows_read += rows or 0
            unchanged = rb.column("unchanged")
            self.counts.unchanged += pc.sum(unchanged).as_py() or 0
            if self.incremental is not None:
                self.incremental.track(rb)
            table = pa.Table.from_batches([rb])
            active = pc.invert(unchanged)
            rejected = pc.and_(active, pc.is_valid(rb.column("reject_reason")))
            if pc.any(rejected).as_py():  # the small columns only: payloads are not copied
                rejects = table.select(["event_key", "route", "reject_reason"]).filter(rejected)
                self.counts.rejected += rejects.num_rows
                for reason, n in zip(*value_counts(rejects.column("reject_reason")), strict=True):
                    self.reasons[reason] += n
                with self.stop.protected():
                    self.state.record_shape_rejects(self.run_id, rejects)
            to_send = pc.and_(active, pc.invert(rejected))
            too_big = pc.and_(to_send, pc.fill_null(
                pc.greater(pc.binary_length(rb.column("payload")), room), False))
            if pc.any(too_big).as_py():
                self._reject_oversize(table.filter(too_big), max_bytes)
                to_send = pc.and_(to_send, pc.invert(too_big))
            # The rows to send, as indices: the cutter copies their payloads once, into
            # the requests, rather than a filtered copy of the batch first.
            rows = None if pc.all(to_send).as_py() else pc.indices_nonzero(to_send)
            self.timings["split"] += time.perf_counter() - t
            self.progress(self.rec.shown())
            if not rb.num_rows or (rows is not None and not len(rows)):
                continue
            t = time.perf_counter()
            for request in cutter.feed(table, rows):
                self.timings["cut"] += time.perf_counter() - t
                yield request
                t = time.perf_counter()
            self.timings["cut"] += time.perf_counter() - t
        yield from cutter.flush()

    def _reject_oversize(self, events: pa.Table, max_bytes: int) -> None:
        """An event that alone exceeds a request's size can never be sent: reject it
        with the reason rather than send a request the API must refuse."""
        sizes = pc.binary_length(events.column("payload")).to_pylist()
        reasons = [f"the event is {n:,} bytes, more than the {max_bytes:,} bytes the "
                   f"{self.job.destination} destination takes in one request" for n in sizes]
        self.counts.rejected += len(reasons)
        self.reasons.update(reasons)
        table = events.select(["event_key", "route"]).append_column(
            "reject_reason", pa.array(reasons, pa.string()))
        with self.stop.protected():
            self.state.record_shape_rejects(self.run_id, table)

    def _waited(self, stage: str, results: Iterator[Result]) -> Iterator[Result]:
        """``results``, adding the time spent waiting for them to ``timings[stage]``."""
        while True:
            t = time.perf_counter()
            result = next(results, None)
            self.timings[stage] += time.perf_counter() - t
            if result is None:
                return
            yield result

    def _record(self, result: Result, *, raising: bool = True) -> None:
        """Count what became of a request (its delivering thread has already written
        it to the ledger); raise what writing it raised."""
        self.timings["record"] += result.recorded
        self.counts.requests += 1
        self.counts.delivered += len(result.delivered)
        if result.rejected:
            self.counts.rejected += len(result.rejected)
            self.reasons.update(result.rejected.values())
        if result.failed:
            self.counts.failed += len(result.failed)
            if result.unconfirmed:
                self.unconfirmed.append(result.failure or "")
            elif result.attempts:  # the reason, not "not sent" for requests queued behind it
                self.failure = self.failure or result.failure
        if result.fatal:
            self.fatal = self.fatal or result.fatal
        self.progress(self.rec.shown())
        if result.record_error is not None and raising:
            raise result.record_error
