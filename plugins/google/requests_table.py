"""The ``google_requests`` table in a job's state file: one row per accepted
``events:ingest`` request, with what ``requestStatus:retrieve`` later said of it.

==============  ===========  ============================================================
column          type         meaning
==============  ===========  ============================================================
job             string       the job
request_id      string       Google's ``requestId`` (the key, with ``job``)
run_id          int64        the run that sent it
route           string       the conversion action (``productDestinationId``)
events          int64        events in the request
sent_at         timestamp    when it was accepted (UTC)
status          string       ``SENT`` (not checked yet), ``PROCESSING``, ``SUCCESS``,
                             ``PARTIAL_SUCCESS``, ``FAILED``
record_count    int64        events Google counted (``eventsIngestionStatus``)
duplicates      int64        ``DUPLICATE_TRANSACTION_ID``: Google already had them
                             (counted as delivered)
failed          int64        events that failed processing for any other reason
errors          list         ``{reason, count}`` per processing error (prefix dropped:
                             ``EVENT_TOO_OLD``, ``DUPLICATE_TRANSACTION_ID``, ...)
warnings        list         ``{reason, count}`` per processing warning
checked_at      timestamp    the last status check (NULL: never)
==============  ===========  ============================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from connector.kit import PluginTable, PluginTables

COUNTS = pa.list_(pa.struct([("reason", pa.string()), ("count", pa.int64())]))
SCHEMA = pa.schema([
    ("job", pa.string()), ("request_id", pa.string()), ("run_id", pa.int64()),
    ("route", pa.string()), ("events", pa.int64()), ("sent_at", pa.timestamp("us")),
    ("status", pa.string()), ("record_count", pa.int64()), ("duplicates", pa.int64()),
    ("failed", pa.int64()), ("errors", COUNTS), ("warnings", COUNTS),
    ("checked_at", pa.timestamp("us")),
])
#: Written a run at a time (one transaction for all of a run's requests), so the key
#: names the run too.
REQUESTS = PluginTable("google_requests", SCHEMA, key=("job", "run_id", "request_id"))
#: Statuses that a later check may still change.
OPEN = ("SENT", "PROCESSING")
DUPLICATE = "DUPLICATE_TRANSACTION_ID"


def sent_row(job: str, run_id: int, request_id: str, route: str, events: int,
             sent_at: dt.datetime) -> dict[str, Any]:
    """The row of a request just accepted (not checked yet)."""
    return {"job": job, "request_id": request_id, "run_id": run_id, "route": route,
            "events": events, "sent_at": sent_at.astimezone(dt.UTC).replace(tzinfo=None),
            "status": "SENT", "record_count": None, "duplicates": None, "failed": None,
            "errors": [], "warnings": [], "checked_at": None}


def write(tables: PluginTables, rows: Iterable[dict[str, Any]]) -> int:
    """Keep ``rows``: every row of each of their runs (a run's rows replace what was
    kept for that run, in one transaction)."""
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        runs.setdefault((row["job"], row["run_id"]), []).append(row)
    written = 0
    for (job, run_id), group in runs.items():
        data = pa.Table.from_pylist(group, schema=SCHEMA)
        written += tables.replace(REQUESTS, data, where={"job": job, "run_id": run_id})
    return written


def read(tables: PluginTables, job: str | None = None) -> list[dict[str, Any]]:
    """The rows (of one job), oldest first."""
    rows = tables.read(REQUESTS).to_pylist()
    rows = [r for r in rows if job is None or r["job"] == job]
    return sorted(rows, key=lambda r: (r["sent_at"] or dt.datetime.min, r["request_id"]))


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    """What the table says, in a few lines: requests by status, events Google already
    had, and failures by reason."""
    if not rows:
        return []
    by_status: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
        for item in row["errors"] or []:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + item["count"]
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    events = sum(r["events"] or 0 for r in rows)
    lines = [f"google: {len(rows)} requests ({events:,} events): {statuses}"]
    duplicates = reasons.pop(DUPLICATE, 0)
    if duplicates:
        lines.append(f"google: {duplicates:,} events Google already had "
                     f"({DUPLICATE}): counted as delivered")
    if reasons:
        lines.append("google: failed processing: " + ", ".join(
            f"{reason} {n:,}" for reason, n in sorted(reasons.items(), key=lambda x: -x[1])))
    open_ = sum(n for status, n in by_status.items() if status in OPEN)
    if open_:
        lines.append(f"google: {open_} requests not final yet: `offramp report google JOB` "
                     "checks them again")
    return lines
