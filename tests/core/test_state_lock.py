"""The state file (runs, ledger, rejects) and the one-run-per-job lock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from connector.engines.warehouse import Engine
from connector.kit.errors import ConfigError
from connector.kit.runs import RunCounts
from connector.kit.secrets import MASK, remember
from connector.run.lock import JobLock
from connector.state import State

from ..conftest import NOW  # noqa: TID252 - shared test data


@pytest.fixture
def state(project) -> Iterator[State]:
    with Engine(project.project.warehouse, state=project.project.state_path("job")) as engine:
        yield State(engine.cursor())


def test_the_schema_is_created_once_and_reused(project, state: State) -> None:
    State(state.con)  # again: nothing breaks, nothing is lost
    run_id = state.start_run("job", "sink", False, NOW)
    assert State(state.con).last_run_id() == run_id == 1


def test_runs_are_numbered_and_finished_with_counts(state: State) -> None:
    first = state.start_run("job", "sink", False, NOW)
    second = state.start_run("job", "sink", True, NOW)
    assert (first, second) == (1, 2)
    state.finish_run(first, "succeeded", RunCounts(rows_read=10, events=5, delivered=5,
                                                   requests=1, bytes=99))
    rows = state.runs().to_pylist()
    assert [r["run_id"] for r in rows] == [2, 1]
    done = rows[1]
    assert (done["status"], done["rows_read"], done["delivered"], done["bytes"]) == (
        "succeeded", 10, 5, 99)
    assert done["finished_at"] is not None and done["started_at"] == NOW.replace(tzinfo=None)
    assert rows[0]["dry_run"] is True and rows[0]["status"] == "running"


def test_abandoned_runs_are_closed_as_killed(state: State) -> None:
    state.start_run("job", "sink", False, NOW)
    assert state.close_abandoned_runs() == 1
    assert state.runs().to_pylist()[0]["status"] == "killed"
    assert state.close_abandoned_runs() == 0


def test_the_ledger_keeps_the_latest_outcome_of_each_event(state: State) -> None:
    run = state.start_run("job", "sink", False, NOW)
    assert not state.has_delivered() and not state.has_failed()
    state.record(run, "failed", ["a", "b"], ["fa", "fb"], None, ["down", "down"])
    assert state.has_failed() and not state.has_delivered()
    state.record(run, "delivered", ["a"], ["fa"], None)
    state.record(run, "rejected", ["c"], ["fc"], "r1", ["bad email"])
    latest = {r["event_key"]: (r["status"], r["fingerprint"]) for r in state.ledger().to_pylist()}
    assert latest == {"a": ("delivered", "fa"), "b": ("failed", "fb"), "c": ("rejected", "fc")}
    assert state.has_delivered() and state.has_failed()
    rejects = state.rejects(run).to_pylist()
    assert [(r["event_key"], r["route"], r["stage"], r["reason"]) for r in rejects] == [
        ("c", "r1", "destination", "bad email")]
    state.record(run, "delivered", ["b"], ["fb"], None)  # failed rows remain, none latest
    assert not state.has_failed()


def test_shape_rejects_are_kept_per_run(state: State) -> None:
    run = state.start_run("job", "sink", False, NOW)
    table = pa.table({"event_key": ["x", None], "route": [None, None],
                      "reject_reason": ["no email", "no key"]})
    state.record_shape_rejects(run, table)
    state.record_shape_rejects(run, table.slice(0, 0))  # nothing to add
    rows = state.rejects().to_pylist()
    assert [(r["run_id"], r["stage"], r["reason"]) for r in rows] == [
        (run, "shape", "no email"), (run, "shape", "no key")]
    assert state.ledger().num_rows == 0  # refused before sending: never in the ledger


def test_run_errors_are_stored_without_secrets(state: State) -> None:
    remember("state-secret-token-123")
    run = state.start_run("job", "sink", False, NOW)
    state.finish_run(run, "failed", RunCounts(), "login failed: state-secret-token-123")
    assert state.runs().to_pylist()[0]["error"] == f"login failed: {MASK}"


def test_a_second_lock_on_a_job_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "job.lock"
    with JobLock(path, "job"):
        assert path.read_text().strip().isdigit()
        with pytest.raises(ConfigError) as info, JobLock(path, "job"):
            pass
        assert "job 'job' is already running (pid " in str(info.value)
        with JobLock(tmp_path / "locks" / "other.lock", "other"):  # other jobs run freely
            pass
    assert path.read_text() == ""
    with JobLock(path, "job"):  # released: free again
        pass
