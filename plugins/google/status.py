"""Polling ``requestStatus:retrieve`` until Google has processed the requests a job sent.

Google processes accepted events later and reports per request and destination:
``PROCESSING``, then ``SUCCESS``, ``PARTIAL_SUCCESS`` or ``FAILED`` with counts per
``ProcessingErrorReason``. Google advises waiting about 30 minutes before the first
check and backing off after it (diagnostics page); :func:`poll` checks the open requests
until none is ``PROCESSING`` or ``wait`` seconds passed, sleeping with a doubling
backoff in between (``sleep`` injectable).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from plugins.google.requests_table import DUPLICATE, OPEN

PREFIXES = ("PROCESSING_ERROR_REASON_", "PROCESSING_WARNING_REASON_", "PROCESSING_ERROR_")
FINAL = ("SUCCESS", "PARTIAL_SUCCESS", "FAILED")


def short(reason: str) -> str:
    """``PROCESSING_ERROR_REASON_EVENT_TOO_OLD`` -> ``EVENT_TOO_OLD``."""
    for prefix in PREFIXES:
        if reason.startswith(prefix):
            return reason[len(prefix):]
    return reason


def _count(value: Any) -> int:
    try:
        return int(value)  # int64 counts are JSON strings
    except (TypeError, ValueError):
        return 0


def apply(row: dict[str, Any], answer: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """``row`` updated with a ``RetrieveRequestStatusResponse`` (one destination per
    request; several are added up, the least final status kept)."""
    entries = answer.get("requestStatusPerDestination") or []
    statuses = [str(e.get("requestStatus") or "REQUEST_STATUS_UNKNOWN") for e in entries]
    errors: dict[str, int] = {}
    warnings: dict[str, int] = {}
    records = 0
    for entry in entries:
        records += _count((entry.get("eventsIngestionStatus") or {}).get("recordCount"))
        for item in (entry.get("errorInfo") or {}).get("errorCounts") or []:
            reason = short(str(item.get("reason") or "UNSPECIFIED"))
            errors[reason] = errors.get(reason, 0) + _count(item.get("recordCount"))
        for item in (entry.get("warningInfo") or {}).get("warningCounts") or []:
            reason = short(str(item.get("reason") or "UNSPECIFIED"))
            warnings[reason] = warnings.get(reason, 0) + _count(item.get("recordCount"))
    status = next((s for s in statuses if s not in FINAL), None) or (
        "FAILED" if statuses and all(s == "FAILED" for s in statuses) else
        "PARTIAL_SUCCESS" if "PARTIAL_SUCCESS" in statuses or "FAILED" in statuses else
        "SUCCESS" if statuses else "REQUEST_STATUS_UNKNOWN")
    duplicates = errors.get(DUPLICATE, 0)
    return {**row, "status": status, "record_count": records, "duplicates": duplicates,
            "failed": sum(errors.values()) - duplicates,
            "errors": [{"reason": r, "count": n} for r, n in sorted(errors.items())],
            "warnings": [{"reason": r, "count": n} for r, n in sorted(warnings.items())],
            "checked_at": now.astimezone(dt.UTC).replace(tzinfo=None)}


def poll(rows: list[dict[str, Any]], retrieve: Callable[[str], dict[str, Any]], *,
         wait: float, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic, first_delay: float = 2.0,
         max_delay: float = 60.0,
         keep: Callable[[list[dict[str, Any]]], object] | None = None
         ) -> list[dict[str, Any]]:
    """Check every open row (:data:`~plugins.google.requests_table.OPEN`) once, then
    again while some are ``PROCESSING`` and ``wait`` seconds have not passed, sleeping
    ``first_delay``, doubling up to ``max_delay`` (never past ``wait``) between rounds.
    ``keep`` is called with every row after each round that updated some (to store
    them as they come). Returns every row, updated."""
    by_id = {row["request_id"]: row for row in rows}
    deadline, delay = clock() + wait, first_delay
    while True:
        updated = []
        for request_id, row in by_id.items():
            if row["status"] in OPEN:
                by_id[request_id] = apply(row, retrieve(request_id), dt.datetime.now(dt.UTC))
                updated.append(by_id[request_id])
        if keep is not None and updated:
            keep(list(by_id.values()))
        processing = any(r["status"] in OPEN for r in by_id.values())
        left = deadline - clock()
        if not processing or left <= 0:
            return list(by_id.values())
        sleep(min(delay, left))
        delay = min(max_delay, delay * 2)
