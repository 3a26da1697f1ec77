"""``offramp run <job> --engine spark``: the same job, shaped and delivered on Spark.

The driver, step by step:

1. validate the job exactly as a DuckDB run does (:func:`connector.run.pipeline.prepare`:
   DuckDB + sqlglot over the same Parquet warehouse), and take the job lock; merge the
   outcome files earlier runs left (:func:`connector.engines.spark.ledger.merge_leftovers`);
2. export the job's settled ledger from the state file to Parquet (DuckDB, streamed);
3. transpile the job's query and the destination's shaping SQL to Spark SQL, printing
   each mapping (:mod:`connector.engines.spark.sql.transpile`), and expose the
   warehouse's Parquet files as Spark views;
4. open the destination on the executors once, sending nothing
   (:func:`connector.engines.spark.delivery.probe`): a secret missing from their
   environment stops the run here, before Spark shapes anything;
5. in Spark: shape (group by order, normalize, hash, build JSON), fingerprint, LEFT
   JOIN the ledger, repartition by event key, and deliver each partition on the
   executors with the plugin's own code (:mod:`connector.engines.spark.delivery`), each with
   its share of the destination's concurrency and rate, while the driver tells the
   attempts Spark gives up on to stop (:mod:`connector.engines.spark.watch`);
6. merge the outcome files into the state file in one transaction, whether the job
   succeeded or failed (:func:`connector.engines.spark.ledger.settle`), and finish the
   runs row with the counts the merge establishes.

A driver killed before step 6 leaves its outcome files behind: the next run of the job,
on either engine, merges them before it diffs, so nothing the API accepted is sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.engines.spark.delivery import SUMMARY_DDL, TaskPlan, probe, share, task
from connector.engines.spark.ledger import RunFolder, merge_leftovers, settle
from connector.engines.spark.session import (
    Plan,
    delivery_slots,
    register_warehouse,
    require_parquet,
    session,
    spark_error,
)
from connector.engines.spark.watch import GiveUpWatcher
from connector.engines.warehouse import Engine
from connector.kit import http
from connector.kit.destination import RunContext
from connector.kit.errors import ConfigError, OfframpError
from connector.kit.runs import RunSummary
from connector.kit.secrets import redact
from connector.project import Project
from connector.run.lock import JobLock
from connector.run.recorder import RunRecorder
from connector.run.shaping import shaping
from connector.state import Sources, State
from connector.validation.prepare import prepare, validate

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("offramp.spark")

#: Seconds the driver waits, after the job, for attempts Spark gave up on to close their
#: outcome files (each stops at its next request); what is still open then is merged by
#: the next run.
ZOMBIE_WAIT = 10.0


def run(project: Project, ref: str, *, master: str | None = None,
        spark: SparkSession | None = None, partitions: int | None = None,
        dry_run: bool = False, full: bool = False, now: dt.datetime | None = None,
        report: Callable[[str], None] | None = None, verbose: bool = False) -> RunSummary:
    """Run a job on Spark. See the module docstring.

    :param master: the Spark master URL (default: ``[spark] master`` in offramp.toml,
        else Spark's default); ignored when ``spark`` is given.
    :param spark: a session to use (tests keep one per module).
    :param partitions: delivery partitions (default: as many as can run at once,
        at most the destination's concurrency).
    :param report: called with a line as each stage starts (and, with ``verbose``, each
        mapping the transpile step made).
    :param verbose: report every mapping, and let Spark log its warnings (otherwise its
        JVMs log errors only).
    """
    job = project.job(ref)
    require_parquet(project.warehouse)
    if not project.state_path(job.name).exists():
        validate(project, ref)  # a job that never validated gets no state file
    settings = project.config.spark
    warehouse = project.warehouse
    now = now or dt.datetime.now(dt.UTC)
    say = report or _log_line
    if spark is None:
        conf = {str(k): str(v) for k, v in settings.conf.items()}
        spark = session(master or settings.master, conf, quiet=not verbose)
    register_warehouse(spark, warehouse)
    job_root = project.spark_work / job.name
    with JobLock(project.lock_path(job.name), job.name), \
            Engine(warehouse, state=project.state_path(job.name), temp_dir=project.spill,
                   settings=project.engine_settings) as engine:
        state = State(engine.cursor())
        rec = RunRecorder(state, job.name, job.destination, dry_run=dry_run, now=now)
        runner = _SparkRun(engine, state, rec, spark, now, full, job_root, say, project.root)
        runner.verbose = verbose
        try:
            return runner.execute(job, partitions)
        except OfframpError as exc:
            rec.finish("failed", str(exc))
            raise
        except Exception as exc:  # Spark's own errors: one line, recorded
            log.debug("Spark failed", exc_info=True)
            message = redact(f"Spark failed: {spark_error(exc)}")
            rec.finish("failed", message)
            raise OfframpError(message) from None


def _log_line(line: str) -> None:
    log.info("%s", line)


class _SparkRun:
    def __init__(self, engine: Engine, state: State, rec: RunRecorder, spark: SparkSession,
                 now: dt.datetime, full: bool, job_root: Path, say: Callable[[str], None],
                 root: Path):
        self.engine, self.state, self.rec, self.spark = engine, state, rec, spark
        self.run_id, self.dry_run = rec.run_id, rec.dry_run
        self.now, self.full, self.job_root, self.say, self.root = now, full, job_root, say, root
        self.counts, self.reasons, self.timings = rec.counts, rec.reasons, rec.timings
        self.verbose = False

    def execute(self, job: Any, partitions: int | None) -> RunSummary:
        t0 = time.perf_counter()
        if not self.dry_run:
            self.rec.notes += merge_leftovers(self.state, self.job_root)
            Sources(self.state.con).forget()  # what a Spark run sends, DuckDB's skips never see
        prep = prepare(self.engine, job)
        self.rec.notes += [f"warning: {line}" for line in prep.warnings]
        context = RunContext(job.name, self.now, not self.state.has_delivered(), self.dry_run,
                             root=self.root)
        dest = prep.destination(prep.settings, context)
        self.rec.line_item_reasons = dest.line_item_reasons
        self.timings["validate"] = time.perf_counter() - t0
        self.say(f"spark: {job.name} validated; exporting its ledger for Spark")

        folder = RunFolder.create(self.job_root, self.run_id, self.now)
        try:
            events, settled, retry_first = self._events(prep, dest, folder)
            slots = delivery_slots(self.spark)
            n = partitions or max(1, min(slots, dest.limits.concurrency))
            parallel = min(n, slots)
            task_plan = TaskPlan(dest.name, prep.settings.model_dump(mode="json"), context,
                                 share(dest.limits, parallel), str(folder.outcomes),
                                 str(folder.given_up), self.dry_run)
            self._probe(task_plan, slots)
        except BaseException:
            folder.remove_if_done()  # nothing was sent: nothing to keep
            raise

        t = time.perf_counter()
        events = events.repartition(n, "event_key")
        if retry_first:  # what failed last time goes first, as on DuckDB
            events = events.sortWithinPartitions(
                (events["previous_status"] == "failed").desc_nulls_last())
        self.say(f"spark: {settled:,} events in the ledger; delivering in {n} partitions, "
                 f"{parallel} at once, each with concurrency {task_plan.limits.concurrency}"
                 + (f" and {task_plan.limits.rate_per_second:g} requests/s"
                    if task_plan.limits.rate_per_second else ""))
        try:
            rows = self._deliver(events, task_plan, folder)
        except BaseException:
            self._settle(folder, None)  # what the API accepted is recorded, then the error
            raise
        self.timings["spark"] = time.perf_counter() - t
        self._tally(rows)
        self._settle(folder, [r["file"] for r in rows])
        self.timings["total"] = time.perf_counter() - t0
        fatal = next((r["fatal"] for r in rows if r["fatal"]), None)
        failure = next((r["failure"] for r in rows if r["failure"]), None)
        summary = self.rec.end(fatal, failure)
        self.rec.follow_up(dest, summary, open_with=http.session)  # tasks opened theirs
        return summary

    def _events(self, prep: Any, dest: Any, folder: RunFolder) -> tuple[Any, int, bool]:
        """The diffed events (a lazy DataFrame), the number of events in the exported
        ledger, and whether what failed last time goes first."""
        t = time.perf_counter()
        settled = self.state.export_settled(folder.ledger)
        retry_first = not self.full and self.state.has_failed()
        self.timings["export"] = time.perf_counter() - t

        t = time.perf_counter()
        shaping(self.engine, dest, self.engine.source(prep.sql), prep.columns)  # its columns
        plan = Plan(self.spark, prep.sql, lambda src: dest.shape_sql(src, prep.columns),
                    dest.name)
        events = plan.events(folder.ledger, full=self.full, resend_changed=dest.resend_changed,
                             unique_keys=dest.unique_keys)
        for note in plan.notes if self.verbose else ():
            self.say(note)
        self.say(f"spark: transpiled the job's query and the {dest.name} shaping to Spark SQL "
                 f"({len(plan.notes)} kinds of mapping"
                 + (")" if self.verbose else "; --verbose lists them)"))
        self.timings["transpile"] = time.perf_counter() - t
        return events, settled, retry_first

    def _probe(self, plan: TaskPlan, slots: int) -> None:
        """Open the destination on the executors (one task per slot), sending nothing: a
        configuration error stops the run before any delivery task starts."""
        if plan.dry_run:
            return
        t = time.perf_counter()
        sc = self.spark.sparkContext
        errors = sc.parallelize(range(slots), slots).mapPartitions(probe(plan)).collect()
        if errors:
            raise ConfigError(f"the {plan.destination} destination cannot open on the Spark "
                              f"executors: {errors[0]} (in the executors' environment: on a "
                              "cluster, the workers' own; see docs/spark.md)")
        self.timings["probe"] = time.perf_counter() - t

    def _deliver(self, events: Any, plan: TaskPlan, folder: RunFolder) -> list[Any]:
        """Run the delivery job, telling the attempts Spark gives up on to stop."""
        sc = self.spark.sparkContext
        tag = f"offramp-run-{self.run_id}-{uuid.uuid4().hex[:8]}"
        sc.addJobTag(tag)
        try:
            with GiveUpWatcher(self.spark, tag, folder.given_up):
                return events.mapInArrow(task(plan), SUMMARY_DDL).collect()
        finally:
            sc.removeJobTag(tag)

    def _tally(self, rows: list[Any]) -> None:
        k = self.counts
        for r in rows:
            for name in ("rows_read", "events", "unchanged", "requests", "bytes"):
                setattr(k, name, getattr(k, name) + (r[name] or 0))
        # summed over partitions: time tasks waited for Spark's rows, and spent on the rest
        self.timings["tasks_waiting_for_rows"] = sum(r["waited_input"] or 0 for r in rows)
        self.timings["tasks_delivering"] = sum(r["busy"] or 0 for r in rows)

    def _settle(self, folder: RunFolder, succeeded: list[str] | None) -> None:
        """Merge the run's outcome files, then count what the run settled from the state
        file: each event once, however many attempts sent it."""
        t = time.perf_counter()
        settled = settle(self.state, self.run_id, folder, succeeded, wait=ZOMBIE_WAIT)
        self.timings["merge"] = time.perf_counter() - t
        if settled.live:
            self.rec.notes.append(
                f"{settled.live} task attempts that Spark gave up on were still writing their "
                "outcome files; the next run merges them")
        counts, reasons = self.state.run_outcomes(self.run_id)
        self.counts.delivered = counts.get("delivered", 0)
        self.counts.failed = counts.get("failed", 0)
        self.counts.rejected = counts.get("rejected", 0)
        self.reasons.clear()
        self.reasons.update(reasons)
