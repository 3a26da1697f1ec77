"""The offline-conversion report: GetOfflineConversionReportByGoalIds over any range.

Microsoft answers at most 7 days and a limited number of goal ids per call (20 on
the current page; 100 on the 2024 one), so :func:`fetch` splits the range into
windows and the goal ids into chunks, calls once per window and chunk, and
:func:`merge` puts the answers back together per goal: daily rows, totals,
unattributed reasons (alerts) and the PartialErrors of each goal.

The dates: ``StartDateUtc`` and ``EndDateUtc`` are typed ``dateTime`` and described only
as "the start (end) date of the report range in UTC", "up to 7 days". Whether the end
is a day included whole or an instant the report stops before is not documented. So
each window keeps at most 6 days, D..E, and asks for ``D T00:00:00Z`` to ``E+1
T00:00:00Z`` (7 calendar days counted both ways): read as whole days the answer also
holds day E+1, read as instants it ends with day E. Only D..E is kept, so every day
comes from exactly one window under either reading, and the totals are summed from
the kept daily rows rather than taken from the ``Overall*`` fields, which would count
the extra day. The days are upload (processing) days (``OfflineGoalDailySummary.
UploadDate``), not conversion days.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from connector.kit import BatchRejected, Fatal, Retryable
from plugins.microsoft.client import REPORT_PATH, MicrosoftClient
from plugins.microsoft.faults import api_error, as_int

MAX_DAYS = 7
#: Days each request keeps: one less than the limit, for the day the end may include.
WINDOW_DAYS = MAX_DAYS - 1

#: The table :meth:`Report.daily_table` returns (one row per goal and upload day).
DAILY_SCHEMA = pa.schema([
    ("goal_id", pa.string()),
    ("conversion_name", pa.string()),
    ("upload_date", pa.date32()),
    ("success_count", pa.int64()),
    ("unattributed_count", pa.int64()),
    ("success_rate", pa.float64()),
    ("alerts", pa.list_(pa.struct([("reason", pa.string()), ("count", pa.int64())]))),
])
#: The table :meth:`Report.errors_table` returns (one row per goal and error).
ERRORS_SCHEMA = pa.schema([("goal_id", pa.string()), ("error", pa.string())])


def windows(start: dt.date, end: dt.date,
            days: int = WINDOW_DAYS) -> list[tuple[dt.date, dt.date]]:
    """``start``..``end`` (inclusive) as consecutive windows of at most ``days`` days."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    out = []
    while start <= end:
        last = min(end, start + dt.timedelta(days=days - 1))
        out.append((start, last))
        start = last + dt.timedelta(days=1)
    return out


def chunks(ids: Sequence[str], size: int) -> list[list[str]]:
    """``ids`` (duplicates dropped, order kept) in chunks of at most ``size``."""
    unique = list(dict.fromkeys(ids))
    return [unique[i:i + size] for i in range(0, len(unique), size)]


def request_body(start: dt.date, end: dt.date, goal_ids: Sequence[str],
                 channels: Sequence[str]) -> dict[str, Any]:
    """One request for the days ``start``..``end``: midnight UTC of ``start`` to midnight
    UTC of the day after ``end`` (see the module docstring), goal ids as strings (msads
    types int64 as text), and the channel filter as the SDK writes a flag set
    (``"A, B"``; omitted: all channels)."""
    after = end + dt.timedelta(days=1)
    body: dict[str, Any] = {"StartDateUtc": f"{start.isoformat()}T00:00:00Z",
                            "EndDateUtc": f"{after.isoformat()}T00:00:00Z",
                            "GoalIds": list(goal_ids)}
    if channels:
        body["UploadChannelFilter"] = ", ".join(channels)
    return body


@dataclass
class Day:
    success: int = 0
    unattributed: int = 0
    alerts: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return _rate(self.success, self.unattributed)


@dataclass
class GoalReport:
    """Everything the report says about one goal over the whole range."""

    goal_id: str
    conversion_name: str = ""
    success: int = 0
    unattributed: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    days: dict[dt.date, Day] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return _rate(self.success, self.unattributed)


@dataclass
class Report:
    start: dt.date
    end: dt.date
    channels: list[str]
    goals: dict[str, GoalReport]
    #: PartialErrors whose Index named no goal of the request.
    errors: list[str] = field(default_factory=list)
    requests: int = 0

    def daily_table(self) -> pa.Table:
        """One row per goal and upload day (the shape to store in the state file)."""
        rows = [{"goal_id": g.goal_id, "conversion_name": g.conversion_name, "upload_date": day,
                 "success_count": d.success, "unattributed_count": d.unattributed,
                 "success_rate": d.rate,
                 "alerts": [{"reason": r, "count": n} for r, n in sorted(d.alerts.items())]}
                for g in self.goals.values() for day, d in sorted(g.days.items())]
        return pa.Table.from_pylist(rows, schema=DAILY_SCHEMA)

    def errors_table(self) -> pa.Table:
        """One row per goal and PartialError (the error text starts with its window)."""
        rows = [{"goal_id": g.goal_id, "error": e} for g in self.goals.values() for e in g.errors]
        return pa.Table.from_pylist(rows, schema=ERRORS_SCHEMA)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "channels": self.channels or ["all"], "errors": self.errors,
            "goals": [{
                "goal_id": g.goal_id, "conversion_name": g.conversion_name,
                "success_count": g.success, "unattributed_count": g.unattributed,
                "success_rate": g.rate, "alerts": dict(sorted(g.alerts.items())),
                "errors": g.errors,
                "days": [{"upload_date": day.isoformat(), "success_count": d.success,
                          "unattributed_count": d.unattributed, "success_rate": d.rate,
                          "alerts": dict(sorted(d.alerts.items()))}
                         for day, d in sorted(g.days.items())],
            } for g in self.goals.values()],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def to_csv(self) -> str:
        """One line per goal and day; ``alerts`` as ``Reason:count;Reason:count``."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["goal_id", "conversion_name", "upload_date", "success_count",
                         "unattributed_count", "success_rate", "alerts"])
        for g in self.goals.values():
            for day, d in sorted(g.days.items()):
                alerts = ";".join(f"{r}:{n}" for r, n in sorted(d.alerts.items()))
                writer.writerow([g.goal_id, g.conversion_name, day.isoformat(), d.success,
                                 d.unattributed, f"{d.rate:.6f}", alerts])
        return buf.getvalue()


def _rate(success: int, unattributed: int) -> float:
    total = success + unattributed
    return round(success / total, 6) if total else 0.0


def _count(value: Any) -> int:
    return as_int(value) or 0


def _alerts(items: Iterable[Any] | None) -> Counter[str]:
    out: Counter[str] = Counter()
    for alert in items or []:
        if isinstance(alert, dict):
            out[str(alert.get("UnattributedReason") or "Unknown")] += _count(alert.get("Count"))
    return out


def merge(start: dt.date, end: dt.date, channels: Sequence[str], goal_ids: Sequence[str],
          answers: Iterable[tuple[tuple[dt.date, dt.date], Sequence[str], dict[str, Any]]],
          ) -> Report:
    """Combine answers: ``(window, the chunk's goal ids, the response body)`` each."""
    report = Report(start, end, list(channels), {g: GoalReport(g) for g in goal_ids})
    for (w_start, w_end), chunk, body in answers:
        report.requests += 1
        for summary in body.get("OfflineGoalConversionSummaries") or []:
            goal_id = str(as_int(summary.get("GoalId")) or summary.get("GoalId"))
            goal = report.goals.setdefault(goal_id, GoalReport(goal_id))
            goal.conversion_name = summary.get("ConversionName") or goal.conversion_name
            for daily in summary.get("DailySummaries") or []:
                day = dt.date.fromisoformat(str(daily.get("UploadDate", ""))[:10])
                if not w_start <= day <= w_end:
                    continue  # the day after the window: the next window reports it
                d = goal.days.setdefault(day, Day())
                success, unattributed = (_count(daily.get("SuccessCount")),
                                         _count(daily.get("UnattributedCount")))
                alerts = _alerts(daily.get("Alerts"))
                d.success += success
                d.unattributed += unattributed
                d.alerts.update(alerts)
                goal.success += success
                goal.unattributed += unattributed
                goal.alerts.update(alerts)
        for item in body.get("PartialErrors") or []:
            error = api_error(item)
            text = f"{w_start}..{w_end}: {error.describe()}"
            if error.index is not None and 0 <= error.index < len(chunk):
                errors = report.goals[chunk[error.index]].errors
            else:
                errors = report.errors
            if text not in errors:
                errors.append(text)
    return report


def fetch(client: MicrosoftClient, goal_ids: Sequence[str], start: dt.date, end: dt.date, *,
          channels: Sequence[str] = (), chunk_size: int = 20,
          sleep: Callable[[float], None] = time.sleep, max_attempts: int = 5,
          max_throttles: int = 20) -> Report:
    """Call the report once per window and goal-id chunk, then :func:`merge`.

    Transient failures are retried up to ``max_attempts`` times per call (throttling up
    to ``max_throttles`` times), waiting what the error asks (``sleep`` is injectable).
    """
    if not goal_ids:
        raise Fatal("no goal ids: pass --goal-id or set goal_ids in [settings]")
    ids = [str(g) for g in goal_ids]
    answers = []
    for window in windows(start, end):
        for chunk in chunks(ids, chunk_size):
            body = json.dumps(request_body(*window, chunk, channels))
            answers.append((window, chunk, _call(client, body, sleep, max_attempts,
                                                 max_throttles)))
    return merge(start, end, channels, list(dict.fromkeys(ids)), answers)


def _call(client: MicrosoftClient, body: str, sleep: Callable[[float], None],
          max_attempts: int, max_throttles: int) -> dict[str, Any]:
    failures = throttles = 0
    while True:
        try:
            return client.post(REPORT_PATH, body)
        except BatchRejected as exc:
            raise Fatal(exc.reason) from None
        except Retryable as exc:
            if exc.throttled:
                throttles += 1
                if throttles > max_throttles:
                    raise Fatal(f"still throttled after {max_throttles} waits: "
                                f"{exc.reason}") from None
                sleep(exc.retry_after if exc.retry_after is not None else 60.0)
                continue
            failures += 1
            if failures >= max_attempts:
                raise Fatal(f"gave up after {failures} attempts: {exc.reason}") from None
            sleep(exc.retry_after if exc.retry_after is not None else min(60.0, 2.0 ** failures))
