"""Spark failing under a run, on the module's local[2] session: what the API accepted is
always recorded, attempts Spark gave up on stop sending, configuration errors stop the run
before any delivery task starts.

The executors send to the Meta emulator through a proxy (:class:`tests.spark.cluster.
CountingProxy`) that slows answers and acts at a given request: it kills the Python workers,
or cancels the Spark job.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from connector.engines.spark import outcome_files
from connector.engines.spark import run as spark_run
from connector.kit.errors import ConfigError, OfframpError
from connector.project import Project
from plugins.meta.emulator import MetaEmulator
from tests.spark.cluster import CountingProxy, python_workers
from tests.spark.spark_support import JOB, build_parquet_warehouse, ledger, make_project, rows

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

NOW = dt.datetime.now(dt.UTC)
#: About 6,300 events with the job's window widened to 62 days: 7 requests of 1,000, one
#: at a time per partition (concurrency 2 over 2 partitions).
ORDERS = 8_000


@pytest.fixture(scope="module")
def big_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_parquet_warehouse(tmp_path_factory.mktemp("spark-wh8k") / "wh", ORDERS)


def _project(root: Path, warehouse: Path, url: str, **settings: Any) -> Project:
    return Project(make_project(root, warehouse, url, days=62, concurrency=2, **settings))


def _orders(emu: MetaEmulator) -> set[str]:
    return {e["custom_data"]["order_id"] for e in emu.events()}


def _delivered(state: Path) -> set[str]:
    return {key for key, (status, _fp) in ledger(state).items() if status == "delivered"}


def _emulator() -> MetaEmulator:
    """The emulator on the runs' clock: an event the job shaped as within Meta's window is
    within it at the emulator too, however long the suite ran before this test."""
    return MetaEmulator(clock=NOW.timestamp)


def _wait_until_written(project: Project, emu: MetaEmulator, timeout: float = 30.0) -> None:
    """Wait until the tasks' outcome files hold every event the emulator accepted: each
    answer is written by the thread that got it, but a busy machine may take a while."""
    folder = project.spark_work / JOB / "run-1" / "outcomes"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        written: set[str] = set()
        for path in outcome_files.files(folder):
            table = outcome_files.read(path)
            written |= {k for k, s in zip(table.column("event_key").to_pylist(),
                                          table.column("status").to_pylist(), strict=True)
                        if s == "delivered"}
        if written >= _orders(emu):
            return


def test_a_failed_job_records_what_the_api_accepted_and_the_next_run_sends_the_rest(
        spark, big_warehouse, tmp_path, meta_env):
    killed: list[int] = []

    def kill_python_workers(n: int) -> None:
        if n == 3 and not killed:
            proxy.cut.set()  # nothing more reaches the API: what it accepted is known
            _wait_until_written(project, emu)
            killed.extend(python_workers(os.getpid()))
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    with _emulator() as emu, \
            CountingProxy(emu.url, delay=0.2, before=kill_python_workers) as proxy:
        project = _project(tmp_path, big_warehouse, proxy.url)
        with pytest.raises(OfframpError, match="Spark failed"):
            spark_run.run(project, JOB, spark=spark, now=NOW)
        assert killed
        accepted = _orders(emu)
        state = project.state_path(JOB)
        assert len(accepted) >= 1000  # at least one request went through
        assert _delivered(state) == accepted  # every accepted event, none other
        assert rows(state, "SELECT run_id, status, delivered FROM state.runs") == [
            (1, "failed", len(accepted))]
        # the tasks' tallies never came back: the run counts the events it settled
        ((events, *parts),) = rows(state, "SELECT events, unchanged, delivered, rejected, "
                                          "failed, pending FROM state.runs")
        assert events == sum(parts) >= len(accepted)

        proxy.before, proxy.cut = None, threading.Event()  # the next run goes through
        again = spark_run.run(project, JOB, spark=spark, now=NOW)
        assert again.status == "succeeded", again.error
        assert emu.duplicates == 0  # nothing accepted was sent again
        assert again.counts.delivered == len(emu.events()) - len(accepted)
        k = again.counts
        assert k.events == k.unchanged + k.delivered + k.rejected + k.failed + k.pending
        assert _delivered(state) == _orders(emu)


def test_attempts_spark_gave_up_on_stop_at_their_next_request(
        spark, big_warehouse, tmp_path, meta_env):
    cancelled = threading.Event()

    def cancel(n: int) -> None:
        if n == 2 and not cancelled.is_set():
            cancelled.set()
            spark.sparkContext.cancelAllJobs()  # Spark kills the tasks; their workers go on

    with _emulator() as emu, CountingProxy(emu.url, delay=0.3, before=cancel) as proxy:
        project = _project(tmp_path, big_warehouse, proxy.url)
        with pytest.raises(OfframpError, match="cancelled"):
            spark_run.run(project, JOB, spark=spark, now=NOW)
        after = proxy.requests - 2
        state = project.state_path(JOB)
        # Each partition sends what it had in flight, and at most one more request before
        # it sees the driver's mark; unmarked, each would go on with its 3 or 4 requests.
        assert after <= 3, after
        assert _delivered(state) == _orders(emu)  # what they did send is recorded
        assert not list((project.spark_work / JOB).glob("run-1/outcomes/*"))


def test_a_secret_missing_on_the_executors_stops_the_run_before_any_delivery(
        spark, warehouse, tmp_path, meta_env):
    with _emulator() as emu:
        project = Project(make_project(tmp_path, warehouse, emu.url))
        job = project.queries / f"{JOB}.sql"
        job.write_text(job.read_text().replace('access_token_env = "META_ACCESS_TOKEN"',
                                               'access_token_env = "OFFRAMP_TEST_NO_TOKEN"'))
        with pytest.raises(ConfigError) as failed:
            spark_run.run(project, JOB, spark=spark, now=NOW)
        message = str(failed.value)
        assert message == (
            "the meta destination cannot open on the Spark executors: the meta destination "
            "needs a secret: set the environment variable OFFRAMP_TEST_NO_TOKEN (in the "
            "executors' environment: on a cluster, the workers' own; see docs/spark.md)")
        assert emu.requests_accepted == 0 and emu.requests_rejected == 0
        state = project.state_path(JOB)
        assert rows(state, "SELECT status, error FROM state.runs") == [("failed", message)]
        assert list((project.spark_work / JOB).iterdir()) == []  # nothing sent, nothing kept
