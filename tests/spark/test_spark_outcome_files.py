"""Outcome files and their merge, without Spark: a killed writer's file stays readable and
its lock tells it is gone; the driver merges succeeded attempts' files whole and every other
attempt's confirmed outcomes, once; the next run, on either engine, merges what a run left.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from connector.engines.spark import outcome_files
from connector.engines.spark.ledger import RunFolder, merge_leftovers, settle
from connector.engines.warehouse import connect_state
from connector.kit.runs import RunCounts
from connector.state import State
from connector.state.outcomes import OUTCOMES, SHAPE_REJECTED

START = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _table(keys: list[str], status: str) -> pa.Table:
    n = len(keys)
    return pa.table({"event_key": keys, "fingerprint": [f"fp-{k}" for k in keys],
                     "status": [status] * n, "reason": [None] * n, "route": ["r"] * n},
                    schema=OUTCOMES)


def _commit(folder: Path, partition: int, task: int, *tables: pa.Table) -> str:
    writer = outcome_files.OutcomeWriter(folder, partition, task)
    for table in tables:
        writer.write(table)
    return writer.commit()


@pytest.fixture
def state(tmp_path):
    con = connect_state(tmp_path / "state.duckdb", write=True)
    try:
        yield State(con)
    finally:
        con.close()


def _ledger(state: State, run_id: int | None = None) -> list[tuple[str, str]]:
    where = f"WHERE run_id = {run_id}" if run_id else ""
    return [tuple(r) for r in state.run(f"SELECT event_key, status FROM state.ledger {where} "
                                        "ORDER BY seq")]


WRITER = """
import sys, time
from pathlib import Path
import pyarrow as pa
from connector.engines.spark.outcome_files import OutcomeWriter
from connector.state.outcomes import OUTCOMES
w = OutcomeWriter(Path(sys.argv[1]), 2, 30)
for keys in (["a", "b"], ["c"]):
    n = len(keys)
    w.write(pa.table({"event_key": keys, "fingerprint": keys, "status": ["delivered"] * n,
                      "reason": [None] * n, "route": ["r"] * n}, schema=OUTCOMES))
print("written", flush=True)
time.sleep(60)
"""


def test_a_killed_writers_file_is_readable_and_its_lock_free(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                               stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        assert process.stdout.readline().strip() == "written"
        tmp = tmp_path / ".part-00002-task-30.arrow.tmp"
        assert not outcome_files.writer_gone(tmp)  # still writing: not to be merged
        assert outcome_files.read(tmp).column("event_key").to_pylist() == ["a", "b", "c"]
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert outcome_files.writer_gone(tmp)
    assert outcome_files.read(tmp).column("event_key").to_pylist() == ["a", "b", "c"]
    truncated = tmp_path / ".part-00002-task-31.arrow.tmp"
    truncated.write_bytes(tmp.read_bytes()[:-20])  # killed in the middle of a write
    assert outcome_files.read(truncated).column("event_key").to_pylist() == ["a", "b"]
    assert outcome_files.writer_gone(tmp_path / ".gone.tmp") is False
    assert outcome_files.parse(tmp.name) == (2, 30, True)
    assert outcome_files.parse("part-00002-attempt-0.parquet") is None


def test_the_driver_merges_succeeded_files_whole_and_the_rest_for_what_was_confirmed(
        state, tmp_path):
    run_id = state.start_run("job", "meta", False, START)
    run = RunFolder.create(tmp_path / "job", run_id, START)
    # partition 0: a zombie's attempt (Spark failed it) and the retry Spark kept
    _commit(run.outcomes, 0, 3, _table(["k1"], "delivered"), _table(["k2"], "failed"))
    kept = _commit(run.outcomes, 0, 9, _table(["k2"], "delivered"), _table(["k3"], "failed"))
    # partition 1: a killed worker's temporary file, then the attempt Spark kept
    dead = outcome_files.OutcomeWriter(run.outcomes, 1, 4)
    dead.write(_table(["k4"], "delivered"))
    dead.write(_table(["k5"], SHAPE_REJECTED))
    dead._file.close()  # what a SIGKILL leaves: no end of stream, the lock released
    other = _commit(run.outcomes, 1, 10, _table(["k6"], "rejected"))
    # partition 2: an attempt still writing (a zombie finishing its request)
    live = outcome_files.OutcomeWriter(run.outcomes, 2, 5)
    live.write(_table(["k7"], "delivered"))
    with pytest.raises(FileNotFoundError, match="part-00003-task-11"):
        settle(state, run_id, run, [kept, other, "part-00003-task-11.arrow"], wait=0)

    settled = settle(state, run_id, run, [kept, other], wait=0.3)
    assert (settled.files, settled.live) == (4, 1)
    # the others' confirmed outcomes first (the zombie's failed k2 is not taken), then the
    # kept attempts' files whole: the latest row of each event is the kept attempt's
    ledger = _ledger(state)
    assert set(ledger[:2]) == {("k4", "delivered"), ("k1", "delivered")}
    assert set(ledger[2:]) == {("k2", "delivered"), ("k3", "failed"), ("k6", "rejected")}
    counts, reasons = state.run_outcomes(run_id)
    assert counts == {"delivered": 3, "failed": 1, "rejected": 2}
    assert [p.name for p in outcome_files.files(run.outcomes)] == [live.tmp.name]
    assert not run.ledger.exists() and run.path.is_dir()  # kept for the live file

    live.commit()  # the zombie ends; the next run merges its file
    notes = merge_leftovers(state, tmp_path / "job")
    assert _ledger(state)[-1] == ("k7", "delivered")
    assert notes == [f"merged 1 outcomes that Spark run {run_id} had left in 1 files (its "
                     "driver stopped before merging them, or its tasks outlived it); they are "
                     "not sent again"]
    assert state.one("SELECT delivered FROM state.runs WHERE run_id = ?", [run_id]) == 4
    assert not run.path.exists()


def test_merging_a_file_twice_records_its_outcomes_once(state, tmp_path):
    run_id = state.start_run("job", "meta", False, START)
    table = pa.concat_tables([_table(["k1", "k2"], "delivered"), _table(["k3"], "rejected"),
                              _table(["k4"], SHAPE_REJECTED)])
    assert state.merge_outcomes(run_id, [(table, True)]) == 3
    assert state.merge_outcomes(run_id, [(table, False), (table, True)]) == 0
    assert len(_ledger(state)) == 3
    assert state.one("SELECT count(*) FROM state.rejects") == 2
    assert state.run_outcomes(run_id) == ({"delivered": 2, "rejected": 2}, {None: 2})


def test_a_killed_drivers_files_are_merged_into_its_run_by_the_next_run(state, tmp_path):
    killed = state.start_run("job", "meta", False, START)
    run = RunFolder.create(tmp_path / "job", killed, START)
    _commit(run.outcomes, 0, 1, _table(["k1", "k2"], "delivered"), _table(["k3"], "failed"))
    # a folder this state file does not know (the state file was started again)
    stranger = RunFolder.create(tmp_path / "job", 7, START + dt.timedelta(days=1))
    _commit(stranger.outcomes, 0, 1, _table(["x"], "delivered"))
    state.close_abandoned_runs()

    notes = merge_leftovers(state, tmp_path / "job")
    assert _ledger(state, killed) == [("k1", "delivered"), ("k2", "delivered")]
    assert state.run("SELECT status, delivered, failed FROM state.runs") == [("killed", 2, 0)]
    unknown = (f"outcome files in {stranger.path} belong to a run this state file does not "
               "have: not merged")
    assert "merged 2 outcomes that Spark run 1" in notes[0] and notes[1] == unknown
    assert stranger.path.is_dir() and not run.path.exists()
    assert merge_leftovers(state, tmp_path / "job") == [unknown]  # nothing twice
    assert merge_leftovers(state, tmp_path / "none") == []


def test_recount_sets_a_finished_runs_outcome_counts(state):
    run_id = state.start_run("job", "meta", False, START)
    state.finish_run(run_id, "failed", RunCounts(delivered=0, events=5))
    state.recount(run_id, {"delivered": 3, "failed": 1})
    assert state.run("SELECT events, delivered, rejected, failed FROM state.runs") == [
        (5, 3, 0, 1)]
