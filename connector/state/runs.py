"""The ``runs`` table: one row per run, from its start to how it ended."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from connector.kit.runs import RunCounts
from connector.kit.secrets import redact
from connector.state.base import Connected

_COUNTS = ("rows_read", "events", "unchanged", "delivered", "rejected", "failed", "pending",
           "requests", "bytes", "line_items")


class Runs(Connected):
    def start_run(self, job: str, destination: str, dry_run: bool, now: dt.datetime) -> int:
        """Record a run as ``running``; returns its id."""
        run_id = int(self.one("SELECT nextval('state.run_ids')"))
        self.run("INSERT INTO state.runs (run_id, job, destination, started_at, status, "
                 "dry_run) VALUES (?, ?, ?, ?, 'running', ?)",
                 [run_id, job, destination, now.replace(tzinfo=None), dry_run])
        return run_id

    def finish_run(self, run_id: int, status: str, counts: RunCounts,
                   error: str | None = None) -> None:
        """Record how a run ended: its status, counts and error (scrubbed of secrets)."""
        assignments = ", ".join(f"{name} = ?" for name in _COUNTS)
        self.run(f"UPDATE state.runs SET finished_at = current_timestamp::TIMESTAMP, "
                 f"status = ?, {assignments}, error = ? WHERE run_id = ?",
                 [status, *(getattr(counts, name) for name in _COUNTS),
                  redact(error) if error else None, run_id])

    def recount(self, run_id: int, counts: dict[str, int]) -> None:
        """Set a run's ``delivered``, ``rejected`` and ``failed`` counts: after outcomes that
        its Spark tasks left in files were merged by a later run. Its ``pending`` (and
        ``events``) follow, so that its counts still add up (:meth:`RunCounts.balance`)."""
        rows = self.run(f"SELECT {', '.join(_COUNTS)} FROM state.runs WHERE run_id = ?",
                        [run_id])
        if not rows:
            return
        total = RunCounts()
        for name, value in zip(_COUNTS, rows[0], strict=True):
            setattr(total, name, value or 0)
        total.delivered = counts.get("delivered", 0)
        total.rejected = counts.get("rejected", 0)
        total.failed = counts.get("failed", 0)
        total.balance()
        assignments = ", ".join(f"{name} = ?" for name in _COUNTS)
        self.run(f"UPDATE state.runs SET {assignments} WHERE run_id = ?",
                 [*(getattr(total, name) for name in _COUNTS), run_id])

    def run_started(self, run_id: int) -> dt.datetime | None:
        """When run ``run_id`` started (None if this state file has no such run)."""
        return self.one("SELECT started_at FROM state.runs WHERE run_id = ?", [run_id])

    def mark_abandoned_runs(self) -> list[int]:
        """Mark runs left 'running' by a killed process as 'killed'; returns their ids."""
        return [run_id for (run_id,) in self.run(
            "UPDATE state.runs SET status = 'killed', finished_at = coalesce(finished_at, "
            "current_timestamp::TIMESTAMP) WHERE status = 'running' RETURNING run_id")]

    def runs(self, limit: int = 20) -> pa.Table:
        """The newest ``limit`` runs, newest first."""
        return self.table(f"SELECT * FROM state.runs ORDER BY run_id DESC LIMIT {int(limit)}")

    def run_listing(self, limit: int = 20) -> pa.Table:
        """The newest runs as ``offramp runs`` lists them: times as text, seconds taken.
        A state file from before line items were counted apart (read, not upgraded)
        lists them as NULL."""
        line_items = "line_items" if self.one(
            "SELECT count(*) FROM duckdb_columns() WHERE database_name = 'state' AND "
            "table_name = 'runs' AND column_name = 'line_items'") else "NULL AS line_items"
        return self.table(
            "SELECT run_id, job, status, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started, "
            "round(epoch(finished_at) - epoch(started_at), 1) AS seconds, events, unchanged, "
            f"delivered, rejected, failed, pending, {line_items}, error FROM state.runs "
            f"ORDER BY run_id DESC LIMIT {int(limit)}")

    def last_run_id(self) -> int | None:
        return self.one("SELECT max(run_id) FROM state.runs")

    def run_ids(self) -> tuple[int | None, int | None]:
        """The first and the last run's id (None, None before any run)."""
        first, last = self.run("SELECT min(run_id), max(run_id) FROM state.runs")[0]
        return first, last

    def has_run(self, run_id: int) -> bool:
        return bool(self.one("SELECT count(*) FROM state.runs WHERE run_id = ?", [run_id]))
