"""The driver's side of telling task attempts that Spark gave up on them.

Spark can fail or kill a task while the Python worker running it goes on: when an executor
is lost, the surviving executors' tasks of the same stage fail with FetchFailed and the
stage is run again, but their Python workers finish the batches they hold (and take the end
of their input for a normal one); a killed task's worker runs until Spark's kill timeout.
pyspark 4.3 gives a Python worker no way to ask (its ``TaskContext`` has the ids, not the
JVM task's ``isInterrupted()`` or ``isCompleted()``), so the driver tells it.

While the delivery job runs, :class:`GiveUpWatcher` asks Spark's status store, every
``interval`` seconds, for the job's task attempts that ended FAILED or KILLED, and creates
``<folder>/<task attempt id>`` for each. The task looks for that file between requests
(:mod:`connector.engines.spark.delivery`). When the job is over, every attempt that did not
succeed is marked. The status store is Spark's internal API (the one behind its web UI and
REST API, present whether or not the UI runs); if a Spark version lacks it, the watcher logs
that once and marks nothing: attempts then stop when their input or Spark's kill timeout ends.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("offramp.spark")

#: Statuses of task attempts Spark gave up on while the job runs.
GIVEN_UP = ("FAILED", "KILLED")
#: ... and once the job is over: every attempt that did not succeed.
NOT_SUCCEEDED = ("FAILED", "KILLED", "RUNNING", "UNKNOWN")


class GiveUpWatcher:
    """Marks the given-up task attempts of the jobs tagged ``tag`` (see the module docstring)."""

    def __init__(self, spark: SparkSession, tag: str, folder: Path, interval: float = 0.25):
        self.spark, self.tag, self.folder, self.interval = spark, tag, folder, interval
        self.marked: set[int] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="offramp-give-up", daemon=True)
        self._broken = False

    def __enter__(self) -> GiveUpWatcher:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.sweep(NOT_SUCCEEDED)  # the job is over: nothing still running counts

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            self.sweep(GIVEN_UP)

    def sweep(self, statuses: tuple[str, ...]) -> int:
        """Mark the attempts in ``statuses``; returns how many were newly marked."""
        if self._broken:
            return 0
        try:
            ids = self._attempts(statuses)
        except Exception:  # py4j: a Spark without this API, or a context stopping
            self._broken = True
            log.warning("cannot read Spark's task statuses: task attempts that Spark gives up "
                        "on are not told to stop", exc_info=log.isEnabledFor(logging.DEBUG))
            return 0
        new = ids - self.marked
        for task_id in sorted(new):
            (self.folder / str(task_id)).touch()
        self.marked |= new
        return len(new)

    def _attempts(self, statuses: tuple[str, ...]) -> set[int]:
        sc = self.spark.sparkContext
        jvm: Any = sc._jvm
        jsc = sc._jsc.sc()
        tracker, store = jsc.statusTracker(), jsc.statusStore()
        v1 = jvm.org.apache.spark.status.api.v1
        wanted = jvm.java.util.ArrayList()
        for status in statuses:
            wanted.add(v1.TaskStatus.valueOf(status))
        found: set[int] = set()
        for job_id in tracker.getJobIdsForTag(self.tag):
            job = tracker.getJobInfo(job_id)
            if not job.isDefined():
                continue
            for stage_id in job.get().stageIds():
                stage = tracker.getStageInfo(stage_id)
                if not stage.isDefined():
                    continue
                for attempt in range(stage.get().currentAttemptId() + 1):
                    try:
                        tasks = store.taskList(stage_id, attempt, 0, 1 << 30,
                                               v1.TaskSorting.ID, wanted)
                    except Exception:  # that attempt is not in the store (yet, or any more)
                        continue
                    found |= _task_ids(tasks)
        return found


def _task_ids(tasks: Any) -> set[int]:
    return {int(tasks.apply(i).taskId()) for i in range(tasks.size())}
