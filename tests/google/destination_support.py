"""Helpers for the google destination's tests: rows, jobs, runs against the emulator.

Test modules import them with ``from tests.google.destination_support import ...``; the
fixtures that use them are in ``tests/google/conftest.py`` (``google_env``, ``gproject``,
``waits``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from connector.engines.warehouse import Engine, WarehouseWriter
from connector.project import Project
from connector.run import pipeline
from connector.testing import write_job
from plugins.google.emulator import (
    DEFAULT_ACCOUNT,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    GoogleEmulator,
)

ACTION = "555000111"
JOB = "google_job"
#: base_url for jobs that are shaped but never sent.
NOWHERE = "http://127.0.0.1:9"
ENV = {"GOOGLE_ADS_CLIENT_ID": DEFAULT_CLIENT_ID,
       "GOOGLE_ADS_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
       "GOOGLE_ADS_REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN}


def now() -> dt.datetime:
    """The run's clock: real time (google-auth and the emulator use it too)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def row(order_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    """One valid line item two hours old; keyword arguments replace columns."""
    values: dict[str, Any] = {
        "order_id": order_id, "timestamp": (now() - dt.timedelta(hours=2)).replace(tzinfo=None),
        "price": 10.0, "quantity": 1, "currency": "USD", "product_id": "sku-1",
        "email": "jane.doe@example.com", "phone": "+1 650 555 1212", "given_name": "Jane",
        "surname": "Doe", "postal": "94043", "country": "US",
    }
    values.update(fields)
    return values


def table(rows: list[dict[str, Any]], types: dict[str, pa.DataType] | None = None) -> pa.Table:
    names: list[str] = []
    for r in rows:
        names += [n for n in r if n not in names]
    types = types or {}
    return pa.table({n: pa.array([r.get(n) for r in rows], type=types.get(n)) for n in names})


def settings_for(emu: GoogleEmulator | None = None, **overrides: Any) -> dict[str, Any]:
    """Job settings for the emulator (or nowhere); a None value removes a setting."""
    settings: dict[str, Any] = {
        "operating_account_id": DEFAULT_ACCOUNT, "conversion_action_id": ACTION,
        "base_url": emu.url if emu else NOWHERE,
        "token_uri": emu.token_uri() if emu else NOWHERE + "/token",
        "requests_per_minute": 6000, "status_wait_seconds": 0}
    settings.update(overrides)
    return {k: v for k, v in settings.items() if v is not None}


@dataclass
class GoogleProject:
    """A project folder with a warehouse table ``orders`` and a google job."""

    root: Path
    job: str = JOB
    sleeps: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def project(self) -> Project:
        return Project(self.root)

    def write_rows(self, rows: list[dict[str, Any]] | pa.Table, name: str = "orders") -> None:
        data = rows if isinstance(rows, pa.Table) else table(rows)
        with WarehouseWriter(self.project.warehouse) as writer:
            writer.replace(name, data, where={})

    def write_job(self, settings: dict[str, Any], sql: str = "SELECT * FROM orders") -> None:
        write_job(self.root, self.job, "google", settings, sql)

    def run(self, **kwargs: Any) -> pipeline.RunSummary:
        kwargs.setdefault("now", now())
        return pipeline.run(self.project, self.job, sleep=self.sleeps.append, **kwargs)

    def events(self, at: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
        """Every shaped event by key (payload parsed), as ``offramp preview`` sees it."""
        _, shaped = pipeline.preview(self.project, self.job, limit=1_000_000, now=at or now())
        out: dict[str, dict[str, Any]] = {}
        for rec in shaped.to_pylist():
            rec["payload"] = json.loads(rec["payload"]) if rec["payload"] else None
            out.setdefault(rec.pop("event_key"), rec)
        return out

    def state(self, sql: str) -> list[dict[str, Any]]:
        with Engine(self.project.warehouse, state=self.project.state_path(self.job)) as engine:
            return engine.con.sql(sql).to_arrow_table().to_pylist()

    def ledger(self) -> list[dict[str, Any]]:
        return self.state("SELECT event_key, status, reason, route FROM state.ledger ORDER BY seq")

    def requests(self) -> list[dict[str, Any]]:
        return self.state("SELECT * FROM state.google_requests ORDER BY sent_at, request_id")


def shape(root: Path, rows: list[dict[str, Any]] | pa.Table, sql: str = "SELECT * FROM orders",
          at: dt.datetime | None = None, **settings: Any) -> dict[str, dict[str, Any]]:
    """Rows -> shaped events by key, for a job with ``settings`` (never sent)."""
    project = GoogleProject(root)
    project.write_rows(rows)
    project.write_job(settings_for(None, **settings), sql)
    return project.events(at)


def sent(events: dict[str, dict], key: str) -> dict[str, Any]:
    assert key in events, f"no event {key!r}; events: {sorted(events)}"
    assert events[key]["reject_reason"] is None, events[key]["reject_reason"]
    return events[key]["payload"]


def rejected(events: dict[str, dict], key: str) -> str:
    assert key in events, f"no event {key!r}; events: {sorted(events)}"
    reason = events[key]["reject_reason"]
    assert reason is not None, f"{key} was not rejected: {events[key]['payload']}"
    return reason
