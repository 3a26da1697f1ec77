"""The ledger of a Spark run: exported for Spark to diff against, merged back after.

At the start of a run the job's settled ledger (:data:`connector.state.store.SETTLED`) is
exported from the state file to Parquet by DuckDB, streamed, so Spark can LEFT JOIN
the shaped events against it. At the end, the outcome files of the task attempts
that count (:func:`committed`) are merged into the state file in one transaction:
ledger rows, rejects, and nothing else; the runs row is finished by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from connector.engines.spark.delivery import OUTCOMES, SHAPE_REJECTED
from connector.state.store import SETTLED

LEDGER_SCHEMA = pa.schema([("event_key", pa.string()), ("fingerprint", pa.string()),
                           ("status", pa.string()), ("route", pa.string())])
_NAME = re.compile(r"^part-(\d+)-attempt-(\d+)\.parquet$")


def export_settled(con: Any, path: Path) -> int:
    """Write the job's settled ledger (event_key, fingerprint, status, route) to ``path``;
    returns the number of events. ``con`` has the state file attached as ``state``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    reader = con.sql(f"SELECT event_key, fingerprint, status, route FROM ({SETTLED})") \
        .to_arrow_reader(65536)
    rows = 0
    with pq.ParquetWriter(path, LEDGER_SCHEMA) as writer:
        for batch in reader:
            writer.write_batch(batch.cast(LEDGER_SCHEMA))
            rows += batch.num_rows
    return rows


def committed(folder: Path, succeeded: Iterable[tuple[int, int]] | None = None) -> list[Path]:
    """The outcome files to merge: of each partition, the attempt Spark reported as
    succeeded (``succeeded``: (partition, attempt) pairs); without that report (the
    job failed), one committed attempt per partition: the lowest, all being complete.
    Temporary files of attempts that did not finish are never merged."""
    files: dict[tuple[int, int], Path] = {}
    for path in sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []:
        m = _NAME.match(path.name)
        if m:
            files[(int(m[1]), int(m[2]))] = path
    if succeeded is not None:
        wanted = set(succeeded)
        missing = sorted(wanted - set(files))
        if missing:
            raise FileNotFoundError(f"outcome files of task attempts {missing} are missing "
                                    f"from {folder}")
        return [files[k] for k in sorted(wanted)]
    chosen: dict[int, Path] = {}
    for (partition, _attempt), path in sorted(files.items()):
        chosen.setdefault(partition, path)
    return [chosen[p] for p in sorted(chosen)]


def merge(con: Any, run_id: int, files: list[Path]) -> dict[str, int]:
    """Merge outcome ``files`` into the state file (one transaction); returns the
    number of rows by status."""
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        for path in files:
            table = pq.read_table(path, schema=OUTCOMES)
            if not table.num_rows:
                continue
            con.register("_spark_outcomes", table)
            try:
                con.execute(
                    "INSERT INTO state.ledger (event_key, fingerprint, status, reason, run_id, "
                    "route) SELECT event_key, fingerprint, status, reason, ?, route "
                    f"FROM _spark_outcomes WHERE status <> '{SHAPE_REJECTED}'", [run_id]
                ).fetchall()
                con.execute(
                    "INSERT INTO state.rejects (run_id, event_key, route, stage, reason) "
                    f"SELECT ?, event_key, route, CASE WHEN status = '{SHAPE_REJECTED}' "
                    "THEN 'shape' ELSE 'destination' END, reason FROM _spark_outcomes "
                    f"WHERE status IN ('rejected', '{SHAPE_REJECTED}')", [run_id]).fetchall()
                for status, n in con.execute(
                        "SELECT status, count(*) FROM _spark_outcomes GROUP BY status"
                        ).fetchall():
                    counts[status] = counts.get(status, 0) + n
            finally:
                con.unregister("_spark_outcomes")
        con.execute("COMMIT").fetchall()
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise
    return counts
