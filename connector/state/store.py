"""The state file of one job: runs, the per-event ledger, rejected events.

One DuckDB file per job (``.offramp/state/<job>.duckdb``), because DuckDB allows
one writing process per file: jobs run side by side, while a second run of the
same job is refused by :mod:`connector.run.lock` before it gets here.

Tables (no raw PII: event keys, hashed payload fingerprints, reasons):

* ``runs``: one row per run: times, status, counts, error.
* ``ledger``: append-only; one row per event per outcome (``delivered``,
  ``rejected`` by the destination, ``failed`` after retries). The latest row of
  each event key is its state; the diff joins against it inside DuckDB.
* ``rejects``: every event refused in a run, before sending (``stage='shape'``)
  or by the destination (``stage='destination'``), with the reason.
* ``sources`` and ``source_rejects``: for incremental runs, the keys whose events are
  settled, with their rows' fingerprint (:mod:`connector.run.incremental`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from connector.kit.secrets import redact

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS state.run_ids START 1;
CREATE SEQUENCE IF NOT EXISTS state.ledger_seq START 1;
CREATE TABLE IF NOT EXISTS state.runs (
    run_id BIGINT PRIMARY KEY, job VARCHAR, destination VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, dry_run BOOLEAN,
    rows_read BIGINT, events BIGINT, unchanged BIGINT, delivered BIGINT,
    rejected BIGINT, failed BIGINT, pending BIGINT, requests BIGINT, bytes BIGINT,
    error VARCHAR);
CREATE TABLE IF NOT EXISTS state.ledger (
    seq BIGINT DEFAULT nextval('state.ledger_seq'), event_key VARCHAR NOT NULL,
    fingerprint VARCHAR, status VARCHAR NOT NULL, reason VARCHAR, run_id BIGINT,
    recorded_at TIMESTAMP DEFAULT current_timestamp::TIMESTAMP, route VARCHAR);
CREATE TABLE IF NOT EXISTS state.rejects (
    run_id BIGINT, event_key VARCHAR, route VARCHAR, stage VARCHAR, reason VARCHAR,
    recorded_at TIMESTAMP DEFAULT current_timestamp::TIMESTAMP);
"""

#: The latest state of each event that needs no resend: delivered, or refused by
#: the destination, with the fingerprint and the route it had then.
SETTLED = """
SELECT event_key, arg_max(fingerprint, seq) AS fingerprint, arg_max(status, seq) AS status,
       arg_max(route, seq) AS route
FROM state.ledger GROUP BY event_key
"""


@dataclass
class RunCounts:
    rows_read: int = 0
    events: int = 0
    unchanged: int = 0
    delivered: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int = 0
    requests: int = 0
    bytes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class State:
    """Reads and writes a job's state through a DuckDB connection that has the
    state file attached as ``state`` (see :class:`connector.engines.warehouse.Engine`).

    :param create: create the tables when missing; pass False to read a state file
        attached read-only (:func:`connector.engines.warehouse.open_state`).
    """

    def __init__(self, con: Any, *, create: bool = True):
        self.con = con
        for statement in SCHEMA.strip().split(";") if create else ():
            if statement.strip():
                con.execute(statement).fetchall()

    def _one(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    # -- runs ----------------------------------------------------------------------
    def start_run(self, job: str, destination: str, dry_run: bool, now: dt.datetime) -> int:
        run_id = self._one("SELECT nextval('state.run_ids')")
        self.con.execute(
            "INSERT INTO state.runs (run_id, job, destination, started_at, status, dry_run) "
            "VALUES (?, ?, ?, ?, 'running', ?)",
            [run_id, job, destination, now.replace(tzinfo=None), dry_run]).fetchall()
        return int(run_id)

    def finish_run(self, run_id: int, status: str, counts: RunCounts,
                   error: str | None = None) -> None:
        self.con.execute(
            "UPDATE state.runs SET finished_at = current_timestamp::TIMESTAMP, status = ?, "
            "rows_read = ?, events = ?, unchanged = ?, delivered = ?, rejected = ?, failed = ?, "
            "pending = ?, requests = ?, bytes = ?, error = ? WHERE run_id = ?",
            [status, counts.rows_read, counts.events, counts.unchanged, counts.delivered,
             counts.rejected, counts.failed, counts.pending, counts.requests, counts.bytes,
             redact(error) if error else None, run_id]).fetchall()

    def close_abandoned_runs(self) -> int:
        """Mark runs left 'running' by a killed process as 'killed'; returns how many."""
        rows = self.con.execute(
            "UPDATE state.runs SET status = 'killed', finished_at = coalesce(finished_at, "
            "current_timestamp::TIMESTAMP) WHERE status = 'running' RETURNING run_id").fetchall()
        return len(rows)

    def has_delivered(self) -> bool:
        return bool(self._one(
            "SELECT count(*) > 0 FROM (SELECT 1 FROM state.ledger WHERE status = 'delivered' "
            "LIMIT 1)"))

    def has_failed(self) -> bool:
        """Whether some event's latest outcome is ``failed``. The latest state of every
        event is a grouping of the whole ledger, so it is only worked out when some row
        says ``failed`` at all (a scan of one column)."""
        if not self._one("SELECT count(*) > 0 FROM (SELECT 1 FROM state.ledger "
                         "WHERE status = 'failed' LIMIT 1)"):
            return False
        return bool(self._one(
            f"SELECT count(*) > 0 FROM ({SETTLED}) WHERE status = 'failed'"))

    # -- outcomes ------------------------------------------------------------------
    def record(self, run_id: int, status: str, keys: list[str], fingerprints: list[str],
               route: str | None | list[str | None],
               reasons: list[str | None] | None = None) -> None:
        """Append one outcome per event to the ledger (one transaction). ``route`` is
        the events' route, or a list of one per event."""
        if not keys:
            return
        n = len(keys)
        routes = route if isinstance(route, list) else [route] * n
        table = pa.table({
            "event_key": pa.array(keys, pa.string()),
            "fingerprint": pa.array(fingerprints, pa.string()),
            "status": pa.array([status] * n, pa.string()),
            "reason": pa.array(reasons or [None] * n, pa.string()),
            "run_id": pa.array([run_id] * n, pa.int64()),
            "route": pa.array(routes, pa.string()),
        })
        self.con.register("_outcomes", table)
        began = False
        try:
            if status == "rejected":  # the ledger and the rejects table, or neither
                self.con.execute("BEGIN TRANSACTION").fetchall()
                began = True
            self.con.execute(
                "INSERT INTO state.ledger (event_key, fingerprint, status, reason, run_id, route) "
                "SELECT event_key, fingerprint, status, reason, run_id, route FROM _outcomes"
            ).fetchall()
            if status == "rejected":
                self.con.execute(
                    "INSERT INTO state.rejects (run_id, event_key, route, stage, reason) "
                    "SELECT run_id, event_key, route, 'destination', reason FROM _outcomes"
                ).fetchall()
                self.con.execute("COMMIT").fetchall()
        except BaseException:
            if began:
                self.con.execute("ROLLBACK").fetchall()
            raise
        finally:
            self.con.unregister("_outcomes")

    def record_shape_rejects(self, run_id: int, rejects: pa.Table) -> None:
        """Store events refused before sending (columns event_key, route, reject_reason)."""
        if rejects.num_rows == 0:
            return
        self.con.register("_rejects", rejects)
        try:
            self.con.execute(
                "INSERT INTO state.rejects (run_id, event_key, route, stage, reason) "
                "SELECT ?, event_key, route, 'shape', reject_reason FROM _rejects", [run_id]
            ).fetchall()
        finally:
            self.con.unregister("_rejects")

    # -- plugin tables ---------------------------------------------------------------
    def replace(self, table: str, data: pa.Table, *, where: dict[str, Any]) -> int:
        """Keep a plugin's table in the state file (for example a destination's delivery
        report): the rows matching ``where`` are replaced by ``data``, in one transaction.
        ``data`` must carry the ``where`` columns."""
        import re

        names = [table, *where]
        if not all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names) or table in (
                "runs", "ledger", "rejects"):
            raise ValueError(f"not a plugin table name or column: {names}")
        self.con.register("_incoming", data)
        try:
            self.con.execute("BEGIN TRANSACTION").fetchall()
            self.con.execute(f'CREATE TABLE IF NOT EXISTS state."{table}" AS '
                             "SELECT * FROM _incoming LIMIT 0").fetchall()
            cond = " AND ".join(f'"{c}" IS NOT DISTINCT FROM ?' for c in where) or "TRUE"
            self.con.execute(f'DELETE FROM state."{table}" WHERE {cond}',
                             list(where.values())).fetchall()
            self.con.execute(f'INSERT INTO state."{table}" BY NAME SELECT * FROM _incoming'
                             ).fetchall()
            self.con.execute("COMMIT").fetchall()
        except Exception:
            self.con.execute("ROLLBACK").fetchall()
            raise
        finally:
            self.con.unregister("_incoming")
        return data.num_rows

    # -- reading -------------------------------------------------------------------
    def runs(self, limit: int = 20) -> pa.Table:
        return self.con.sql(
            f"SELECT * FROM state.runs ORDER BY run_id DESC LIMIT {int(limit)}").to_arrow_table()

    def last_run_id(self) -> int | None:
        return self._one("SELECT max(run_id) FROM state.runs")

    def rejects(self, run_id: int | None = None) -> pa.Table:
        if run_id is None:
            run_id = self._one("SELECT max(run_id) FROM state.rejects")
        return self.con.sql(
            "SELECT run_id, event_key, route, stage, reason, recorded_at FROM state.rejects "
            f"WHERE run_id = {int(run_id or 0)} ORDER BY stage, reason, event_key").to_arrow_table()

    def ledger(self) -> pa.Table:
        return self.con.sql(
            f"SELECT event_key, fingerprint, status FROM ({SETTLED}) ORDER BY event_key"
        ).to_arrow_table()
