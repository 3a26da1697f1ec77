"""The executor side and the ledger merge, on plain Arrow batches: no Spark needed.

A partition is delivered by the Meta plugin's own code into the Meta emulator; its
outcomes are committed as one file per task attempt (what becomes of those files is
tested in test_spark_outcome_files.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connector.engines.spark import outcome_files
from connector.engines.spark.delivery import TaskPlan, deliver_partition, share
from connector.engines.spark.session import parquet_tables, register_warehouse
from connector.engines.warehouse import Warehouse, parquet_views
from connector.kit.destination import Limits, RunContext
from connector.kit.errors import ConfigError
from connector.run import delivery
from connector.run.cutting import Cutter
from connector.run.delivery import RateLimiter
from connector.state.outcomes import SHAPE_REJECTED
from plugins.meta.demo import DATASET
from plugins.meta.emulator import MetaEmulator

NOW = 1_760_000_000
EVENTS = pa.schema([("event_key", pa.string()), ("route", pa.string()),
                    ("reject_reason", pa.string()), ("fingerprint", pa.string()),
                    ("source_rows", pa.int64()), ("unchanged", pa.bool_()),
                    ("payload", pa.string()), ("previous_status", pa.string())])


def _payload(order: str) -> str:
    sha = hashlib.sha256(f"{order}@example.com".encode()).hexdigest()
    return json.dumps({"event_name": "Purchase", "event_time": NOW - 3600,
                       "action_source": "physical_store", "event_id": order,
                       "user_data": {"em": sha},
                       "custom_data": {"value": 10.5, "currency": "USD", "order_id": order}})


def _events(orders: list[str], *, rejected: tuple[str, ...] = (),
            unchanged: tuple[str, ...] = ()) -> pa.RecordBatch:
    rows = []
    for order in orders:
        payload = None if order in rejected or order in unchanged else _payload(order)
        rows.append({"event_key": order, "route": DATASET,
                     "reject_reason": "no usable email or phone" if order in rejected else None,
                     "fingerprint": hashlib.md5((payload or order).encode()).hexdigest(),
                     "source_rows": 2, "unchanged": order in unchanged, "payload": payload,
                     "previous_status": None})
    return pa.RecordBatch.from_pylist(rows, schema=EVENTS)


def _plan(tmp_path: Path, url: str, limits: Limits) -> TaskPlan:
    settings = {"dataset_id": DATASET, "base_url": url, "access_token_env": "META_ACCESS_TOKEN"}
    context = RunContext("job", dt.datetime.fromtimestamp(NOW, dt.UTC), True, False)
    for folder in ("outcomes", "given-up"):
        (tmp_path / folder).mkdir(exist_ok=True)
    return TaskPlan("meta", settings, context, limits, str(tmp_path / "outcomes"),
                    str(tmp_path / "given-up"))


@pytest.fixture
def emu() -> Any:
    with MetaEmulator(clock=lambda: NOW) as emulator:
        yield emulator


def test_a_partition_is_delivered_by_the_plugin_and_its_outcomes_committed(
        tmp_path, emu, meta_env):
    plan = _plan(tmp_path, emu.url, Limits(max_events=2, concurrency=2))
    batches = [_events(["o1", "o2", "o3"], rejected=("o3",)),
               _events(["o4", "o5", "o6"], unchanged=("o6",))]
    summary = deliver_partition(plan, iter(batches), partition=3, task_id=41,
                                sleep=lambda s: None).to_pylist()[0]

    assert {e["custom_data"]["order_id"] for e in emu.events()} == {"o1", "o2", "o4", "o5"}
    assert emu.requests_accepted == 2  # max_events=2 per request
    assert {k: summary[k] for k in ("events", "rows_read", "unchanged", "delivered",
                                    "rejected", "requests", "failed", "pending")} == {
        "events": 6, "rows_read": 12, "unchanged": 1, "delivered": 4, "rejected": 1,
        "requests": 2, "failed": 0, "pending": 0}
    assert json.loads(summary["reasons"]) == {"no usable email or phone": 1}
    outcomes = tmp_path / "outcomes"
    assert summary["file"] == "part-00003-task-41.arrow"
    assert [p.name for p in outcomes.iterdir()] == [summary["file"]]  # no temporary left
    rows = outcome_files.read(outcomes / summary["file"]).to_pylist()
    assert sorted((r["event_key"], r["status"]) for r in rows) == [
        ("o1", "delivered"), ("o2", "delivered"), ("o3", SHAPE_REJECTED),
        ("o4", "delivered"), ("o5", "delivered")]


def test_an_expired_token_stops_the_partition_and_the_rest_stays_pending(
        tmp_path, emu, meta_env):
    emu.expire_token("offramp-emulator-token")
    plan = _plan(tmp_path, emu.url, Limits(max_events=1, concurrency=1))
    summary = deliver_partition(plan, iter([_events(["o1", "o2", "o3"])]), 0, 0,
                                sleep=lambda s: None).to_pylist()[0]
    assert "access token is invalid or expired: set META_ACCESS_TOKEN" in summary["fatal"]
    assert summary["delivered"] == 0
    assert summary["failed"] + summary["pending"] == 3 and summary["failed"] >= 1
    rows = outcome_files.read(tmp_path / "outcomes" / summary["file"]).to_pylist()
    assert {r["status"] for r in rows} == {"failed"}
    assert "offramp-emulator-token" not in json.dumps(rows)


def test_dry_run_builds_requests_and_sends_none(tmp_path, emu, meta_env):
    plan = _plan(tmp_path, emu.url, Limits(max_events=2))
    plan = TaskPlan(**{**plan.__dict__, "dry_run": True})
    summary = deliver_partition(plan, iter([_events(["o1", "o2", "o3"])]), 0, 0).to_pylist()[0]
    assert (summary["requests"], summary["delivered"], emu.requests_accepted) == (2, 0, 0)
    assert summary["bytes"] > 3 * 200


def test_partitions_share_the_destinations_limits():
    limits = Limits(concurrency=4, rate_per_second=10.0)
    assert (share(limits, 2).concurrency, share(limits, 2).rate_per_second) == (2, 5.0)
    assert (share(limits, 8).concurrency, share(limits, 8).rate_per_second) == (1, 1.25)
    assert share(Limits(concurrency=4), 2).rate_per_second is None
    assert share(limits, 0) == limits


def test_the_rate_share_is_honoured_by_each_partition(tmp_path, emu, meta_env, monkeypatch):
    # A clock that stands still: the limiter's waits are its schedule, whatever the machine.
    monkeypatch.setattr(delivery, "RateLimiter", functools.partial(RateLimiter, clock=lambda: 0.0))
    waits: list[float] = []
    plan = _plan(tmp_path, emu.url, share(Limits(max_events=1, concurrency=2,
                                                 rate_per_second=20.0), 2))
    deliver_partition(plan, iter([_events(["o1", "o2", "o3"])]), 0, 0, sleep=waits.append)
    assert plan.limits.rate_per_second == 10.0 and plan.limits.concurrency == 1
    # 10 requests/s: each start 0.1 s after the one before
    assert waits == [pytest.approx(0.1), pytest.approx(0.2)]


def test_the_cutter_respects_count_bytes_and_routes():
    table = pa.table({"event_key": ["a", "b", "c", "d"], "payload": ["x" * 10] * 4,
                      "fingerprint": ["f"] * 4, "route": ["r1", "r2", "r1", "r1"]})
    cutter = Cutter(max_events=5, max_bytes=25)
    out = [(b.route, list(b.keys)) for b, _ in [*cutter.feed(table), *cutter.flush()]]
    assert out == [("r1", ["a", "c"]), ("r1", ["d"]), ("r2", ["b"])]


def test_spark_names_the_warehouse_views_as_duckdb_does(tmp_path):
    (tmp_path / "orders").mkdir()
    pq.write_table(pa.table({"x": [1]}), tmp_path / "orders" / "a.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "customers.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "_hidden.parquet")
    (tmp_path / "empty").mkdir()
    assert list(parquet_tables(tmp_path)) == list(parquet_views(tmp_path)) == \
        ["customers", "orders"]


def test_a_duckdb_file_warehouse_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match=r"point \[warehouse\] parquet in offramp.toml"):
        register_warehouse(None, Warehouse("duckdb", tmp_path / "w.duckdb"))  # type: ignore


def test_spark_failures_are_told_in_one_line():
    from connector.engines.spark.session import spark_error

    class Java:
        def __str__(self) -> str:
            return "java.lang.ClassCastException: class A cannot be cast to class B\n\tat x"

    class Py4J(Exception):
        java_exception = Java()

    assert spark_error(Py4J("An error occurred while calling o86.collectToPython.")) == \
        "java.lang.ClassCastException: class A cannot be cast to class B"
    worker = Exception("\n  An exception was thrown from the Python worker.\nTraceback (most "
                       "recent call last):\n  File \"x.py\"\nValueError: bad settings\n")
    assert spark_error(worker) == "ValueError: bad settings"
    assert spark_error(Exception("")) == "Exception"


def test_a_retry_skips_what_an_earlier_attempt_had_confirmed(tmp_path, emu, meta_env):
    plan = _plan(tmp_path, emu.url, Limits(max_events=2, concurrency=1))
    batch = _events(["o1", "o2", "o3", "o4", "o5"])
    first = deliver_partition(plan, iter([batch.slice(0, 2)]), 0, 7,
                              sleep=lambda s: None).to_pylist()[0]
    assert first["delivered"] == 2  # then its worker was lost: the partition runs again
    retry = deliver_partition(plan, iter([batch]), 0, 12, sleep=lambda s: None).to_pylist()[0]
    assert (retry["settled_before"], retry["delivered"]) == (2, 3)
    assert emu.duplicates == 0 and emu.received_count == 5
    other = deliver_partition(plan, iter([batch]), 1, 13, sleep=lambda s: None).to_pylist()[0]
    assert other["settled_before"] == 0  # only the same partition's attempts count


def test_an_attempt_the_driver_marked_given_up_sends_nothing_more(tmp_path, emu, meta_env):
    plan = _plan(tmp_path, emu.url, Limits(max_events=1, concurrency=1))

    def batches() -> Any:
        yield _events(["o1", "o2"])
        (tmp_path / "given-up" / "5").touch()  # Spark failed this attempt meanwhile
        yield _events(["o3", "o4"])
        raise AssertionError("a given-up attempt reads no more input")

    summary = deliver_partition(plan, batches(), 0, 5, sleep=lambda s: None).to_pylist()[0]
    sent = {e["custom_data"]["order_id"] for e in emu.events()}
    assert sent <= {"o1", "o2"} and summary["delivered"] == len(sent)
    assert summary["delivered"] + summary["failed"] + summary["pending"] == 4
    rows = outcome_files.read(tmp_path / "outcomes" / summary["file"]).to_pylist()
    assert {r["event_key"] for r in rows if r["status"] == "delivered"} == sent


def test_a_missing_secret_is_a_fatal_row_not_a_task_failure(tmp_path, emu, monkeypatch):
    monkeypatch.delenv("META_ACCESS_TOKEN", raising=False)
    plan = _plan(tmp_path, emu.url, Limits(max_events=2))
    summary = deliver_partition(plan, iter([_events(["o1", "o2", "o3"])]), 0, 0).to_pylist()[0]
    assert summary["fatal"] == ("the meta destination needs a secret: set the environment "
                                "variable META_ACCESS_TOKEN")
    assert (summary["pending"], summary["requests"], emu.requests_accepted) == (3, 0, 0)
    assert (tmp_path / "outcomes" / summary["file"]).is_file()


def test_an_attempt_that_fails_keeps_what_it_sent_and_its_own_error(tmp_path, emu, meta_env):
    plan = _plan(tmp_path, emu.url, Limits(max_events=2, concurrency=1))

    def batches() -> Any:
        yield _events(["o1", "o2"])
        raise ConnectionResetError("the executor lost its shuffle input")

    with pytest.raises(ConnectionResetError, match="shuffle input") as failed:
        deliver_partition(plan, batches(), 4, 9, sleep=lambda s: None)
    assert failed.traceback[-1].name == "batches"  # where it happened
    (committed,) = (tmp_path / "outcomes").iterdir()
    assert committed.name == "part-00004-task-9.arrow"
    rows = outcome_files.read(committed).to_pylist()
    assert {r["event_key"] for r in rows if r["status"] == "delivered"} == \
        {e["custom_data"]["order_id"] for e in emu.events()}


def test_an_attempt_never_recreates_the_outcomes_folder_of_a_run_that_is_over(
        tmp_path, emu, meta_env):
    plan = _plan(tmp_path, emu.url, Limits(max_events=2))
    (tmp_path / "outcomes").rmdir()  # the driver merged the run's files and removed it
    with pytest.raises(FileNotFoundError):
        deliver_partition(plan, iter([_events(["o1"])]), 0, 3)
    assert not (tmp_path / "outcomes").exists() and emu.requests_accepted == 0


class _Backend:
    """Stands for Spark's JVM SparkContext: its count of concurrent tasks over time."""

    def __init__(self, counts: list[int] | Exception):
        self.counts = counts

    def sc(self) -> _Backend:
        return self

    def resourceProfileManager(self) -> Any:  # noqa: N802 - Spark's names
        return type("Manager", (), {"defaultResourceProfile": lambda self: "default"})()

    def maxNumConcurrentTasks(self, profile: str) -> int:  # noqa: N802
        if isinstance(self.counts, Exception):
            raise self.counts
        return self.counts.pop(0) if len(self.counts) > 1 else self.counts[0]


def _session(counts: list[int] | Exception, default_parallelism: int = 2) -> Any:
    context = type("Context", (), {"_jsc": _Backend(counts),
                                   "defaultParallelism": default_parallelism})()
    return type("Session", (), {"sparkContext": context})()


def test_delivery_slots_are_the_tasks_the_cluster_runs_at_once(monkeypatch):
    from connector.engines.spark import session as spark_session

    monkeypatch.setattr(spark_session.time, "sleep", lambda s: None)
    # one one-core worker: Spark's defaultParallelism says 2, the slots are 1
    assert spark_session.delivery_slots(_session([1])) == 1
    # no executor yet: wait for the first to register
    assert spark_session.delivery_slots(_session([0, 0, 3])) == 3
    # none within the wait, or a Spark without the API: its default parallelism
    assert spark_session.delivery_slots(_session([0]), wait=0) == 2
    assert spark_session.delivery_slots(_session(RuntimeError("no such method"))) == 2
