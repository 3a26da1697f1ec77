"""Which outcome files of Spark runs are merged into the ledger, and when.

A Spark run works in ``<work_dir>/<job>/run-<id>/`` (:class:`RunFolder`): ``run.json`` (which
run, started when), ``ledger.parquet`` (the settled ledger the diff reads, exported by
:meth:`connector.state.State.export_settled`), ``outcomes/`` (the task attempts' files,
:mod:`connector.engines.spark.outcome_files`) and ``given-up/`` (the driver's marks,
:mod:`connector.engines.spark.watch`).

At the end of the run, whether the Spark job succeeded or failed, the driver merges
(:func:`settle`), in one transaction:

1. every committed file not named by a succeeded attempt, and every temporary file whose
   writer is gone (a killed process): only what the API confirmed (delivered, rejected) and
   the shape rejects;
2. then the file each succeeded attempt named in the row ``mapInArrow`` returned: every row.
   The driver never guesses these from a listing.

Files whose writer still runs (an attempt Spark gave up on, finishing its last request) are
waited for a few seconds, then left. Merged files are deleted; the folder goes once nothing
is left in it to merge. At the start of every run of the job, on either engine,
:func:`merge_leftovers` merges what earlier runs left (a killed driver's files, attempts that
outlived their run) as confirmed outcomes of the run that wrote them, and corrects that run's
counts: what an API accepted is never sent again.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from connector.engines.spark import outcome_files
from connector.state import State

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunFolder:
    """One Spark run's working folder (see the module docstring)."""

    path: Path

    @property
    def outcomes(self) -> Path:
        return self.path / "outcomes"

    @property
    def given_up(self) -> Path:
        return self.path / "given-up"

    @property
    def ledger(self) -> Path:
        return self.path / "ledger.parquet"

    @classmethod
    def create(cls, job_root: Path, run_id: int, started: dt.datetime) -> RunFolder:
        run = cls(job_root / f"run-{run_id}")
        if run.path.exists():  # a state file started again: an older run's leftovers
            shutil.rmtree(run.path)
        run.outcomes.mkdir(parents=True)
        run.given_up.mkdir()
        (run.path / RUN_FILE).write_text(json.dumps(
            {"run_id": run_id, "started_at": _stamp(started)}))
        return run

    def identity(self) -> tuple[int, str] | None:
        """(run id, start time) from ``run.json``; None when missing or unreadable."""
        try:
            info = json.loads((self.path / RUN_FILE).read_text())
            return int(info["run_id"]), str(info["started_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def remove_if_done(self) -> bool:
        """Remove the folder when no outcome file is left in it; else only the ledger
        export. Returns whether it was removed."""
        if outcome_files.files(self.outcomes):
            self.ledger.unlink(missing_ok=True)
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True


def _stamp(started: dt.datetime | None) -> str:
    """A run's start as the state file stores it (naive UTC), as text."""
    if started is None:
        return ""
    if started.tzinfo is not None:
        started = started.astimezone(dt.UTC).replace(tzinfo=None)
    return started.isoformat()


@dataclass
class Settled:
    rows: int = 0  # ledger rows appended
    files: int = 0  # outcome files merged
    live: int = 0  # temporary files whose writer still runs: left for the next run


def settle(state: State, run_id: int, run: RunFolder, succeeded: list[str] | None, *,
           wait: float = 10.0) -> Settled:
    """Merge a run's outcome files (see the module docstring).

    :param succeeded: the files named by the attempts Spark returned rows for; None when
        the job failed (every file then counts for what the API confirmed).
    :param wait: seconds to wait for attempts still writing to close their files.
    """
    named = [run.outcomes / name for name in sorted(set(succeeded or ()))]
    missing = [p.name for p in named if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"the outcome files {missing} of succeeded task attempts are "
                                f"missing from {run.outcomes}")
    deadline = time.monotonic() + wait
    while _live(run) and time.monotonic() < deadline:
        time.sleep(0.2)
    others, live = _mergeable(run, exclude=set(named))
    settled = Settled(files=len(others) + len(named), live=len(live))
    settled.rows = state.merge_outcomes(run_id, _tables(others, named))
    for path in (*others, *named):
        path.unlink(missing_ok=True)
    run.remove_if_done()
    return settled


def merge_leftovers(state: State, job_root: Path, *, skip: Path | None = None) -> list[str]:
    """Merge the outcome files earlier runs of the job left in ``job_root``; returns notes
    for the run that merged them."""
    notes: list[str] = []
    for path in sorted(job_root.glob("run-*")) if job_root.is_dir() else []:
        run = RunFolder(path)
        if path == skip or not path.is_dir():
            continue
        found = run.identity()
        if found is None:
            continue  # not a folder of this version's runs
        run_id, started = found
        if _stamp(state.run_started(run_id)) != started:
            notes.append(f"outcome files in {path} belong to a run this state file does not "
                         "have: not merged")
            continue
        files, _live_files = _mergeable(run, exclude=set())
        if files:
            rows = state.merge_outcomes(run_id, _tables(files, []))
            counts, _reasons = state.run_outcomes(run_id)
            state.recount(run_id, counts)
            for file in files:
                file.unlink(missing_ok=True)
            if rows:
                notes.append(f"merged {rows:,} outcomes that Spark run {run_id} had left in "
                             f"{len(files)} files (its driver stopped before merging them, "
                             "or its tasks outlived it); they are not sent again")
        run.remove_if_done()
    return notes


def _live(run: RunFolder) -> list[Path]:
    return [p for p in outcome_files.files(run.outcomes)
            if p.name.startswith(".") and not outcome_files.writer_gone(p)]


def _mergeable(run: RunFolder, exclude: set[Path]) -> tuple[list[Path], list[Path]]:
    """The files to merge for what they confirmed (committed, or written by a process that is
    gone), and those still being written."""
    take: list[Path] = []
    live: list[Path] = []
    for path in outcome_files.files(run.outcomes):
        if path in exclude:
            continue
        if path.name.startswith(".") and not outcome_files.writer_gone(path):
            live.append(path)
        else:
            take.append(path)
    return take, live


def _tables(confirmed: list[Path], complete: list[Path]) -> Iterator[tuple[pa.Table, bool]]:
    for path in confirmed:
        yield outcome_files.read(path), False
    for path in complete:
        yield outcome_files.read(path), True
