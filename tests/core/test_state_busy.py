"""A state file held by another process: ``offramp runs`` of every job lists the others
and marks that one busy; a run that finds a reader holding its state file waits a
little for it instead of failing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
sys.stdin.readline()
con.close()
"""


class Holder:
    """Another process holding a state file open (read-only: a reader such as
    ``offramp runs`` or a notebook; read-write: a run) until :meth:`release`."""

    def __init__(self, path: Path, read_only: bool):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path),
                                      "ro" if read_only else "rw"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "held\n"

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)


@pytest.fixture
def two_jobs(project, cli_runner):
    sql = "SELECT amperity_id AS id, email FROM Customer_360"
    project.jsonl_job("sync", sql)
    project.jsonl_job("other", sql)
    for name in ("sync", "other"):
        assert cli_runner("run", name, "--quiet").exit_code == 0
    return project


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_runs_of_every_job_marks_a_busy_one_and_lists_the_others(two_jobs, cli_runner,
                                                                  fmt: str) -> None:
    holder = Holder(two_jobs.project.state_path("sync"), read_only=False)
    try:
        result = cli_runner("runs", "--format", fmt)
        alone = cli_runner("runs", "sync")  # asked for by name: an error that says why
    finally:
        holder.release()
    assert result.exit_code == 0, result.output
    if fmt == "json":
        rows = {r["job"]: r for r in json.loads(result.stdout)}
        assert rows["other"]["status"] == "succeeded"
        assert rows["sync"]["status"] == "busy"
        assert "in use by another offramp command" in rows["sync"]["error"]
    else:
        flat = " ".join(result.stdout.replace("│", " ").replace(",", " ").split())
        assert re.search(r"\bother (status )?succeeded\b", flat), flat
        assert re.search(r"\bsync (status )?busy\b", flat), flat
    assert alone.exit_code == 1 and "is in use by another offramp command" in alone.stderr


def test_a_run_waits_for_a_reader_to_let_go_of_its_state_file(two_jobs, cli_runner) -> None:
    holder = Holder(two_jobs.project.state_path("sync"), read_only=True)
    release = threading.Timer(1.0, holder.release)
    release.start()
    try:
        result = cli_runner("run", "sync", "--quiet")
    finally:
        release.cancel()
        holder.release()
    assert result.exit_code == 0, result.output
    assert "succeeded: run 2 of sync" in result.stdout


def test_a_run_stops_waiting_for_a_holder_that_stays(two_jobs, cli_runner) -> None:
    holder = Holder(two_jobs.project.state_path("sync"), read_only=True)
    try:
        result = cli_runner("run", "sync", "--quiet")
    finally:
        holder.release()
    assert result.exit_code == 1
    assert "is in use by another offramp command" in result.stderr
