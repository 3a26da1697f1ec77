"""``offramp run <job> --engine spark``: the same job, shaped and delivered on Spark.

The driver, step by step:

1. validate the job exactly as a DuckDB run does (:func:`connector.run.pipeline.prepare`:
   DuckDB + sqlglot over the same Parquet warehouse), and take the job lock;
2. export the job's settled ledger from the state file to Parquet (DuckDB, streamed);
3. transpile the job's query and the destination's shaping SQL to Spark SQL, printing
   each mapping (:mod:`connector.engines.spark.sql.transpile`), and expose the
   warehouse's Parquet files as Spark views;
4. in Spark: shape (group by order, normalize, hash, build JSON), fingerprint, LEFT
   JOIN the ledger, repartition by event key, and deliver each partition on the
   executors with the plugin's own code (:mod:`connector.engines.spark.delivery`), each with
   its share of the destination's concurrency and rate;
5. merge the outcome files of the task attempts that succeeded into the state file in
   one transaction (:mod:`connector.engines.spark.ledger`) and finish the runs row.

A driver killed before step 5 leaves no ledger row for that run: the next run, on
either engine, resends what was not recorded, and the destination's deduplication
(Meta's order_id/event_id) absorbs what had been delivered.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.engines.spark.delivery import SUMMARY_DDL, TaskPlan, share, task
from connector.engines.spark.ledger import committed
from connector.engines.spark.session import (
    Plan,
    register_warehouse,
    require_parquet,
    session,
    spark_error,
)
from connector.engines.warehouse import Engine
from connector.kit import http
from connector.kit.destination import RunContext
from connector.kit.errors import OfframpError
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
    work_root = Path(settings.work_dir or project.home / "spark")
    with JobLock(project.lock_path(job.name), job.name), \
            Engine(warehouse, state=project.state_path(job.name), temp_dir=project.spill,
                   settings=project.engine_settings) as engine:
        state = State(engine.cursor())
        rec = RunRecorder(state, job.name, job.destination, dry_run=dry_run, now=now)
        if not dry_run:  # what a Spark run sends, the DuckDB engine's skips never see
            Sources(state.con).forget()
        work = work_root / job.name / f"run-{rec.run_id}"
        runner = _SparkRun(engine, state, rec, spark, now, full, work, say, project.root)
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
        finally:
            if runner.merged:  # the outcome files are in the state file now
                shutil.rmtree(work, ignore_errors=True)


def _log_line(line: str) -> None:
    log.info("%s", line)


class _SparkRun:
    def __init__(self, engine: Engine, state: State, rec: RunRecorder, spark: SparkSession,
                 now: dt.datetime, full: bool, work: Path, say: Callable[[str], None],
                 root: Path):
        self.engine, self.state, self.rec, self.spark = engine, state, rec, spark
        self.run_id, self.dry_run = rec.run_id, rec.dry_run
        self.now, self.full, self.work, self.say, self.root = now, full, work, say, root
        self.counts, self.reasons, self.timings = rec.counts, rec.reasons, rec.timings
        self.merged = False
        self.verbose = False

    def execute(self, job: Any, partitions: int | None) -> RunSummary:
        t0 = time.perf_counter()
        prep = prepare(self.engine, job)
        self.rec.notes += [f"warning: {line}" for line in prep.warnings]
        context = RunContext(job.name, self.now, not self.state.has_delivered(), self.dry_run,
                             root=self.root)
        dest = prep.destination(prep.settings, context)
        self.timings["validate"] = time.perf_counter() - t0
        self.say(f"spark: {job.name} validated; exporting its ledger for Spark")

        t = time.perf_counter()
        ledger = self.work / "ledger.parquet"
        settled = self.state.export_settled(ledger)
        retry_first = not self.full and self.state.has_failed()
        self.timings["export"] = time.perf_counter() - t

        t = time.perf_counter()
        shaping(self.engine, dest, self.engine.source(prep.sql), prep.columns)  # its columns
        plan = Plan(self.spark, prep.sql, lambda src: dest.shape_sql(src, prep.columns),
                    dest.name)
        events = plan.events(ledger, full=self.full, resend_changed=dest.resend_changed,
                             unique_keys=dest.unique_keys)
        for note in plan.notes if self.verbose else ():
            self.say(note)
        self.say(f"spark: transpiled the job's query and the {dest.name} shaping to Spark SQL "
                 f"({len(plan.notes)} kinds of mapping"
                 + (")" if self.verbose else "; --verbose lists them)"))
        self.timings["transpile"] = time.perf_counter() - t

        t = time.perf_counter()
        slots = max(1, self.spark.sparkContext.defaultParallelism)
        n = partitions or max(1, min(slots, dest.limits.concurrency))
        parallel = min(n, slots)
        task_plan = TaskPlan(dest.name, prep.settings.model_dump(mode="json"), context,
                             share(dest.limits, parallel), str(self.work / "outcomes"),
                             self.dry_run)
        events = events.repartition(n, "event_key")
        if retry_first:  # what failed last time goes first, as on DuckDB
            events = events.sortWithinPartitions(
                (events["previous_status"] == "failed").desc_nulls_last())
        self.say(f"spark: {settled:,} events in the ledger; delivering in {n} partitions, "
                 f"{parallel} at once, each with concurrency {task_plan.limits.concurrency}"
                 + (f" and {task_plan.limits.rate_per_second:g} requests/s"
                    if task_plan.limits.rate_per_second else ""))
        try:
            rows = events.mapInArrow(task(task_plan), SUMMARY_DDL).collect()
        except BaseException:
            self._merge(None)  # what finished attempts settled is true: keep it
            raise
        self.timings["spark"] = time.perf_counter() - t
        self._tally(rows)
        self._merge([(r["partition"], r["attempt"]) for r in rows])
        self.timings["total"] = time.perf_counter() - t0
        fatal = next((r["fatal"] for r in rows if r["fatal"]), None)
        failure = next((r["failure"] for r in rows if r["failure"]), None)
        summary = self.rec.end(fatal, failure)
        self.rec.follow_up(dest, summary, open_with=http.session)  # tasks opened theirs
        return summary

    def _tally(self, rows: list[Any]) -> None:
        k = self.counts
        for r in rows:
            for name in ("rows_read", "events", "unchanged", "delivered", "rejected", "failed",
                         "pending", "requests", "bytes"):
                setattr(k, name, getattr(k, name) + (r[name] or 0))
            self.reasons.update(json.loads(r["reasons"] or "{}"))
        # summed over partitions: time tasks waited for Spark's rows, and spent on the rest
        self.timings["tasks_waiting_for_rows"] = sum(r["waited_input"] or 0 for r in rows)
        self.timings["tasks_delivering"] = sum(r["busy"] or 0 for r in rows)

    def _merge(self, succeeded: list[tuple[int, int]] | None) -> None:
        t = time.perf_counter()
        files = committed(self.work / "outcomes", succeeded)
        if succeeded is None and files:
            merged = self.state.merge_outcome_files(self.run_id, files)
            self.counts.delivered = merged.get("delivered", 0)
            self.counts.failed = merged.get("failed", 0)
        elif files:
            self.state.merge_outcome_files(self.run_id, files)
        self.merged = True
        self.timings["merge"] = time.perf_counter() - t
