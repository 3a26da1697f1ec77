"""The ``ledger`` and ``rejects`` tables: what became of each event.

Every outcome a run learns is appended here: delivered, rejected by the destination
(also listed in ``rejects``), failed; and events refused before sending go to
``rejects`` alone. The latest ledger row of an event is its state
(:data:`~connector.state.schema.SETTLED`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connector.state.base import Connected
from connector.state.schema import SETTLED

#: What a Spark task attempt writes, one row per settled event
#: (:mod:`connector.engines.spark.delivery`).
OUTCOMES = pa.schema([("event_key", pa.string()), ("fingerprint", pa.string()),
                      ("status", pa.string()), ("reason", pa.string()), ("route", pa.string())])
#: The status of events an outcome file lists as rejected while shaping: they go to
#: ``rejects`` only, as the DuckDB engine stores them.
SHAPE_REJECTED = "shape_rejected"
#: The columns of the settled ledger that a run diffs against.
SETTLED_SCHEMA = pa.schema([("event_key", pa.string()), ("fingerprint", pa.string()),
                            ("status", pa.string()), ("route", pa.string())])


class Outcomes(Connected):
    def record(self, run_id: int, status: str, keys: list[str], fingerprints: list[str],
               route: str | None | list[str | None],
               reasons: list[str | None] | None = None) -> None:
        """Append one outcome per event to the ledger, in one transaction (rejected ones
        to ``rejects`` too). ``route`` is the events' route, or a list of one per event."""
        if not keys:
            return
        n = len(keys)
        routes = route if isinstance(route, list) else [route] * n
        self.record_outcomes(run_id, pa.table({
            "event_key": pa.array(keys, pa.string()),
            "fingerprint": pa.array(fingerprints, pa.string()),
            "status": pa.array([status] * n, pa.string()),
            "reason": pa.array(reasons or [None] * n, pa.string()),
            "route": pa.array(routes, pa.string()),
        }))

    def record_outcomes(self, run_id: int, outcomes: pa.Table) -> None:
        """Append outcomes (columns ``event_key``, ``fingerprint``, ``status``, ``reason``,
        ``route``; any statuses) to the ledger in one insert, and the rejected ones to
        ``rejects`` too, in one transaction."""
        if not outcomes.num_rows:
            return
        with self.registered("_outcomes", outcomes):
            if not pc.any(pc.equal(outcomes.column("status"), "rejected")).as_py():
                self._append_ledger("_outcomes", run_id)
                return
            with self.transaction():  # the ledger and the rejects table, or neither
                self._append_ledger("_outcomes", run_id)
                self.run("INSERT INTO state.rejects (run_id, event_key, route, stage, reason) "
                         "SELECT ?, event_key, route, 'destination', reason FROM _outcomes "
                         "WHERE status = 'rejected'", [run_id])

    def _append_ledger(self, view: str, run_id: int) -> None:
        self.run("INSERT INTO state.ledger (event_key, fingerprint, status, reason, run_id, "
                 f"route) SELECT event_key, fingerprint, status, reason, ?, route FROM {view}",
                 [run_id])

    def record_shape_rejects(self, run_id: int, rejects: pa.Table) -> None:
        """Store events refused before sending (columns event_key, route, reject_reason)."""
        if rejects.num_rows == 0:
            return
        with self.registered("_rejects", rejects):
            self.run("INSERT INTO state.rejects (run_id, event_key, route, stage, reason) "
                     "SELECT ?, event_key, route, 'shape', reject_reason FROM _rejects", [run_id])

    def merge_outcomes(self, run_id: int, tables: Iterable[tuple[pa.Table, bool]]) -> int:
        """Append Spark task attempts' outcomes (:data:`OUTCOMES`) to the ledger and rejects,
        in one transaction, in the order given; returns the rows appended.

        Each table comes with ``complete``: True for the file of an attempt Spark reported
        as succeeded (every row is taken), False for any other attempt's (only what the API
        confirmed, delivered or rejected, and shape rejects: a ``failed`` row there would
        outrank the succeeded attempt's outcome of the same event). A row the run already
        has (same event, fingerprint and status) is not appended twice, so merging a file
        again, or the files of two attempts that sent the same event, counts it once."""
        appended = 0
        with self.transaction():
            for table, complete in tables:
                if not complete:
                    table = table.filter(pc.is_in(table.column("status"), pa.array(
                        ["delivered", "rejected", SHAPE_REJECTED])))
                if table.num_rows:
                    appended += self._append_outcomes(run_id, table.cast(OUTCOMES))
        return appended

    def _append_outcomes(self, run_id: int, table: pa.Table) -> int:
        with self.registered("_spark_outcomes", table):
            ledger = self.run(
                "INSERT INTO state.ledger (event_key, fingerprint, status, reason, run_id, "
                "route) SELECT DISTINCT ON (event_key, fingerprint, status) event_key, "
                "fingerprint, status, reason, ?, route FROM _spark_outcomes o "
                f"WHERE status <> '{SHAPE_REJECTED}' AND NOT EXISTS (SELECT 1 FROM "
                "state.ledger l WHERE l.run_id = ? AND l.event_key = o.event_key AND "
                "l.status = o.status AND l.fingerprint IS NOT DISTINCT FROM o.fingerprint) "
                "RETURNING 1", [run_id, run_id])
            self.run(
                "INSERT INTO state.rejects (run_id, event_key, route, stage, reason) "
                "SELECT DISTINCT ?, event_key, route, stage, reason FROM (SELECT event_key, "
                f"route, CASE WHEN status = '{SHAPE_REJECTED}' THEN 'shape' ELSE "
                "'destination' END AS stage, reason FROM _spark_outcomes WHERE status IN "
                f"('rejected', '{SHAPE_REJECTED}')) o WHERE NOT EXISTS (SELECT 1 FROM "
                "state.rejects r WHERE r.run_id = ? AND r.event_key = o.event_key AND "
                "r.stage = o.stage)", [run_id, run_id])
        return len(ledger)

    def run_outcomes(self, run_id: int) -> tuple[dict[str, int], dict[str, int]]:
        """What run ``run_id`` settled, counted once per event: events by their latest
        ledger status in the run (``delivered``, ``failed``; ``rejected`` counts the events
        refused before sending or by the destination), and the events by reject reason."""
        counts = dict(self.run(
            "SELECT status, count(*) FROM (SELECT event_key, arg_max(status, seq) AS status "
            "FROM state.ledger WHERE run_id = ? GROUP BY event_key) "
            "WHERE status <> 'rejected' GROUP BY status", [run_id]))
        counts["rejected"] = self.one("SELECT count(DISTINCT event_key) FROM state.rejects "
                                      "WHERE run_id = ?", [run_id]) or 0
        reasons = dict(self.run(
            "SELECT reason, count(DISTINCT event_key) AS n FROM state.rejects WHERE run_id = ? "
            "GROUP BY reason ORDER BY n DESC, reason", [run_id]))
        return counts, reasons

    # -- reading -------------------------------------------------------------------
    def has_delivered(self) -> bool:
        return bool(self.one("SELECT count(*) > 0 FROM (SELECT 1 FROM state.ledger "
                             "WHERE status = 'delivered' LIMIT 1)"))

    def has_failed(self) -> bool:
        """Whether some event's latest outcome is ``failed``. The latest state of every
        event is a grouping of the whole ledger, so it is only worked out when some row
        says ``failed`` at all (a scan of one column)."""
        if not self.one("SELECT count(*) > 0 FROM (SELECT 1 FROM state.ledger "
                        "WHERE status = 'failed' LIMIT 1)"):
            return False
        return bool(self.one(f"SELECT count(*) > 0 FROM ({SETTLED}) WHERE status = 'failed'"))

    def rejects(self, run_id: int | None = None) -> pa.Table:
        """The events refused in run ``run_id`` (default: the latest run with rejects)."""
        if run_id is None:
            run_id = self.one("SELECT max(run_id) FROM state.rejects")
        return self.table(
            "SELECT run_id, event_key, route, stage, reason, recorded_at FROM state.rejects "
            f"WHERE run_id = {int(run_id or 0)} ORDER BY stage, reason, event_key")

    def ledger(self) -> pa.Table:
        """Each event's latest outcome: key, fingerprint, status."""
        return self.table(f"SELECT event_key, fingerprint, status FROM ({SETTLED}) "
                          "ORDER BY event_key")

    def settled(self, batch_size: int = 65536) -> pa.RecordBatchReader:
        """Each event's latest outcome (:data:`SETTLED_SCHEMA`), streamed."""
        return self.con.sql(f"SELECT event_key, fingerprint, status, route FROM ({SETTLED})"
                            ).to_arrow_reader(batch_size)

    def export_settled(self, path: Path) -> int:
        """Write each event's latest outcome to the Parquet file ``path`` (streamed);
        returns the number of events."""
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        with pq.ParquetWriter(path, SETTLED_SCHEMA) as writer:
            for batch in self.settled():
                writer.write_batch(batch.cast(SETTLED_SCHEMA))
                rows += batch.num_rows
        return rows
