"""Keeping offline-conversion reports in the job's state file.

Table ``microsoft_report_daily``: one row per (job, customer_id, account_id, goal_id,
upload_date), replaced on each fetch, with the day's counts, success rate and
unattributed reasons (``alerts``); ``microsoft_report_errors`` keeps PartialErrors.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from connector.kit import PluginTable, PluginTables
from plugins.microsoft.report import DAILY_SCHEMA, ERRORS_SCHEMA, Report
from plugins.microsoft.settings import MicrosoftSettings

#: The columns that say which job and account a report row belongs to.
SCOPE = (pa.field("job", pa.string()), pa.field("customer_id", pa.string()),
         pa.field("account_id", pa.string()))
FETCHED = pa.field("fetched_at", pa.timestamp("us"))

DAILY = PluginTable("microsoft_report_daily",
                    pa.schema([*DAILY_SCHEMA, *SCOPE, FETCHED]),
                    key=("job", "customer_id", "account_id", "goal_id", "upload_date"))
ERRORS = PluginTable("microsoft_report_errors",
                     pa.schema([*ERRORS_SCHEMA, *SCOPE, FETCHED]),
                     key=("job", "customer_id", "account_id", "goal_id"))
#: The Microsoft destination's tables in a job's state file.
REPORT_TABLES = (DAILY, ERRORS)


def _keyed(table: pa.Table, job: str, settings: MicrosoftSettings, now: dt.datetime) -> pa.Table:
    n = table.num_rows
    for name, value, kind in (("job", job, pa.string()),
                              ("customer_id", settings.customer_id, pa.string()),
                              ("account_id", settings.account_id, pa.string()),
                              ("fetched_at", now.replace(tzinfo=None), pa.timestamp("us"))):
        table = table.append_column(name, pa.array([value] * n, kind))
    return table


def store_report(report: Report, job: str, settings: MicrosoftSettings, tables: PluginTables,
                 now: dt.datetime | None = None) -> int:
    """Keep ``report`` in ``tables``, replacing what an earlier fetch kept for the same
    goals and days; returns the daily rows written."""
    now = now or dt.datetime.now(dt.UTC)
    daily = _keyed(report.daily_table(), job, settings, now)
    scope = {"job": job, "customer_id": settings.customer_id, "account_id": settings.account_id}
    written = 0
    for goal_id, day in sorted({(r["goal_id"], r["upload_date"])
                                for r in daily.select(["goal_id", "upload_date"]).to_pylist()}):
        rows = daily.filter(pc.and_(pc.equal(daily["goal_id"], goal_id),
                                    pc.equal(daily["upload_date"], day)))
        written += tables.replace(DAILY, rows, where={**scope, "goal_id": goal_id,
                                                      "upload_date": day})
    errors = _keyed(report.errors_table(), job, settings, now)
    for goal_id in sorted(set(report.goals)):
        rows = errors.filter(pc.equal(errors["goal_id"], goal_id))
        tables.replace(ERRORS, rows, where={**scope, "goal_id": goal_id})
    return written
