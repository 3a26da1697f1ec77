"""Fixtures for the Meta destination tests: a project builder (a small DuckDB
warehouse and a saved job), a Meta emulator on a fixed clock, and runs through
``connector.run.pipeline`` with a recording ``sleep``.

Every run is measured from :data:`NOW`; the emulator's clock says the same, so
time windows agree on both sides and no test depends on the wall clock.

Planning the shaping query costs DuckDB a few hundred milliseconds, so rules that
need no delivery are checked in batches: one warehouse holds one order per case,
shaped once per module (:func:`shape_rows`), and parametrized tests look their
order up.

Test modules import the helpers below with ``from tests.meta.conftest import ...``
(pytest's importlib mode registers this module under that name).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connector import registry
from connector.engines.warehouse import Engine, Warehouse, WarehouseWriter
from connector.kit import pii
from connector.project import Project
from connector.run import pipeline
from plugins.meta.emulator import MetaEmulator

NOW = dt.datetime(2026, 3, 15, 12, 0, 0, tzinfo=dt.UTC)
NOW_S = int(NOW.timestamp())
#: A naive UTC timestamp an hour before NOW (the warehouse's usual TIMESTAMP).
HOUR_AGO = (NOW - dt.timedelta(hours=1)).replace(tzinfo=None)
DATASET = "1234567890"
#: Distinctive, so that a leak check cannot pass by accident.
TOKEN = "EAAtest-meta-token-7Qx9Zr2Lp"
JOB = "meta_job"
#: base_url for jobs that are shaped but never sent.
NOWHERE = "http://127.0.0.1:9"


# -- plugins ------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def _meta_plugins_only() -> Iterator[None]:
    """Load only the built-in jsonl and meta plugins (entry points are installed from
    the main checkout, which may list plugins this branch does not have). Module
    scope, so that module-scoped fixtures that run jobs see the same plugins."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OFFRAMP_LOAD_PLUGINS", "jsonl,meta")
        mp.delenv("OFFRAMP_DISABLE_PLUGINS", raising=False)
        _reset_plugins()
        yield
    _reset_plugins()


def _reset_plugins() -> None:
    with registry._lock:
        registry._pm = None
        registry._infos.clear()
        registry.load_errors.clear()
        registry._destinations = None
        registry._sources = None


# -- the emulator -------------------------------------------------------------------------
class Clock:
    """A settable clock (epoch seconds) for the emulator."""

    def __init__(self, now: float = NOW_S):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def _shared_emu(_clock: Clock) -> Iterator[MetaEmulator]:
    with MetaEmulator(clock=_clock, tokens={TOKEN}) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def emu(_shared_emu: MetaEmulator, _clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[MetaEmulator]:
    """The per-process emulator, fresh, with META_BASE_URL and META_ACCESS_TOKEN set."""
    _clock.now = NOW_S
    _shared_emu.reset()
    _shared_emu.datasets = None
    monkeypatch.setenv("META_BASE_URL", _shared_emu.url)
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    yield _shared_emu
    _shared_emu.reset()
    _shared_emu.datasets = None


# -- jobs ---------------------------------------------------------------------------------
def toml_value(value: Any) -> str:
    """A TOML value for str, bool, int, float, lists and (inline) tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def job_text(settings: dict[str, Any], sql: str) -> str:
    lines = ["/* offramp", 'destination = "meta"', "", "[settings]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    return "\n".join([*lines, "*/", sql.strip(), ""])


def settings_for(**overrides: Any) -> dict[str, Any]:
    """Job settings: the test dataset, the emulator's URL, and ``overrides``
    (a None value removes a setting)."""
    settings: dict[str, Any] = {"dataset_id": DATASET, "base_url": "${META_BASE_URL}"}
    settings.update(overrides)
    return {k: v for k, v in settings.items() if v is not None}


def row(order_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    """One valid line item an hour before NOW; keyword arguments replace columns."""
    values: dict[str, Any] = {
        "external_id": "cust-1",
        "email": "jane@example.com",
        "phone": "+1 650 555 1212",
        "order_id": order_id,
        "quantity": 1,
        "product_id": "sku-1",
        "timestamp": HOUR_AGO,
        "price": 10.0,
        "currency": "USD",
    }
    values.update(fields)
    return values


def table(rows: list[dict[str, Any]], types: dict[str, pa.DataType] | None = None) -> pa.Table:
    """Rows as an Arrow table; columns missing from a row are NULL; ``types`` fixes
    the Arrow type of some columns (the rest are inferred)."""
    names: list[str] = []
    for r in rows:
        names += [n for n in r if n not in names]
    columns = {n: [r.get(n) for r in rows] for n in names}
    types = types or {}
    return pa.table({n: pa.array(v, type=types.get(n)) for n, v in columns.items()})


@dataclass
class MetaProject:
    """A project folder with a warehouse table ``orders`` and jobs in ``queries/``."""

    root: Path
    job: str = JOB
    sleeps: list[float] = field(default_factory=list)

    @property
    def project(self) -> Project:
        return Project(self.root)

    def write_rows(self, rows: list[dict[str, Any]] | pa.Table, name: str = "orders") -> None:
        data = rows if isinstance(rows, pa.Table) else table(rows)
        with WarehouseWriter(self.project.warehouse) as writer:
            writer.replace(name, data, where={})

    def write_job(self, settings: dict[str, Any] | None = None,
                  sql: str = "SELECT * FROM orders", job: str | None = None) -> Path:
        path = self.project.queries / f"{job or self.job}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(job_text(settings if settings is not None else settings_for(), sql),
                        encoding="utf-8")
        return path

    def run(self, *, now: dt.datetime = NOW, job: str | None = None,
            **kwargs: Any) -> pipeline.RunSummary:
        """``pipeline.run`` at ``now``, its waits recorded in :attr:`sleeps`."""
        return pipeline.run(self.project, job or self.job, now=now, sleep=self.sleeps.append,
                            **kwargs)

    def events(self, *, now: dt.datetime = NOW, job: str | None = None) -> dict[str, dict]:
        """Every shaped event by key: ``payload`` (parsed, or None), ``route`` and
        ``reject_reason``, as ``offramp preview`` sees them (first send; no state
        written)."""
        _, shaped = pipeline.preview(self.project, job or self.job, limit=1_000_000, now=now)
        out: dict[str, dict] = {}
        for rec in shaped.to_pylist():
            rec["payload"] = json.loads(rec["payload"]) if rec["payload"] else None
            out.setdefault(rec.pop("event_key"), rec)
        return out

    def ledger(self, job: str | None = None) -> list[dict[str, Any]]:
        return self.state_rows("SELECT event_key, status, reason, route FROM state.ledger "
                               "ORDER BY seq", job)

    def rejects(self, job: str | None = None) -> list[dict[str, Any]]:
        return self.state_rows("SELECT run_id, event_key, stage, reason, route FROM "
                               "state.rejects ORDER BY run_id, event_key", job)

    def runs(self, job: str | None = None) -> list[dict[str, Any]]:
        return self.state_rows("SELECT * FROM state.runs ORDER BY run_id", job)

    def state_rows(self, sql: str, job: str | None = None) -> list[dict[str, Any]]:
        with Engine(self.project.warehouse,
                    state=self.project.state_path(job or self.job)) as engine:
            return engine.con.sql(sql).to_arrow_table().to_pylist()


@pytest.fixture
def meta_project(tmp_path: Path) -> MetaProject:
    return MetaProject(tmp_path)


def shape_rows(root: Path, rows: list[dict[str, Any]] | pa.Table,
               sql: str = "SELECT * FROM orders", now: dt.datetime = NOW,
               **settings: Any) -> dict[str, dict]:
    """Rows -> shaped events by key, for a job with ``settings`` (never sent)."""
    project = MetaProject(root)
    project.write_rows(rows)
    project.write_job(settings_for(base_url=NOWHERE, **settings), sql)
    return project.events(now=now)


def sent(events: dict[str, dict], key: str) -> dict[str, Any]:
    """The payload of event ``key``, which must not be rejected."""
    assert key in events, f"no event {key!r}; events: {sorted(events)}"
    event = events[key]
    assert event["reject_reason"] is None, event["reject_reason"]
    return event["payload"]


def rejected(events: dict[str, dict], key: str) -> str:
    """The reject reason of event ``key``."""
    assert key in events, f"no event {key!r}; events: {sorted(events)}"
    reason = events[key]["reject_reason"]
    assert reason is not None, f"{key} was not rejected: {events[key]['payload']}"
    return reason


# -- SQL expressions ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def sql_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A DuckDB connection (offramp's locked-down Engine over an empty Parquet
    warehouse) for evaluating SQL expressions."""
    folder = tmp_path_factory.mktemp("empty-warehouse")
    with Engine(Warehouse("parquet", folder)) as engine:
        yield engine


@pytest.fixture
def evaluate(sql_engine: Engine) -> Callable[..., Any]:
    """``evaluate(expression_over_v, value)``: the expression's value with column ``v``
    bound to ``value``; ``states`` and ``ctry`` (pii's lookup tables) are joined on
    ``v`` when the expression uses them."""

    def run(expression: str, value: Any, cast: str = "VARCHAR") -> Any:
        ctes, joins = [], []
        if "states." in expression:
            ctes.append(pii.states_cte("states"))
            joins.append(f"LEFT JOIN states ON states.key = {pii.state_key('t.v')}")
        if "ctry." in expression:
            ctes.append(pii.countries_cte("countries"))
            joins.append(f"LEFT JOIN countries ctry ON ctry.key = {pii.country_key('t.v')}")
        with_clause = f"WITH {', '.join(ctes)} " if ctes else ""
        sql = (f"{with_clause}SELECT {expression} FROM (SELECT CAST($1 AS {cast}) AS v) AS t "
               + " ".join(joins))
        [(result,)] = sql_engine.rows(sql, [value])
        return result

    return run


# -- whole runs against an emulator of their own ---------------------------------------------
@dataclass
class Delivered:
    """One or more runs of a job against a private emulator, and what it accepted."""

    project: MetaProject
    summaries: list[pipeline.RunSummary]
    accepted: list[dict[str, Any]]  # {"dataset_id", "event"}, as the emulator stored them
    requests: list[dict[str, Any]]  # the emulator's request log
    duplicates: int

    @property
    def summary(self) -> pipeline.RunSummary:
        return self.summaries[0]

    def by_order(self, dataset_id: str | None = None) -> dict[str, dict[str, Any]]:
        """Accepted events by ``custom_data.order_id`` (for one dataset, or all)."""
        return {a["event"]["custom_data"]["order_id"]: a["event"] for a in self.accepted
                if dataset_id is None or a["dataset_id"] == dataset_id}

    def datasets_of(self, order_id: str) -> list[str]:
        return sorted(a["dataset_id"] for a in self.accepted
                      if a["event"]["custom_data"]["order_id"] == order_id)


def deliver_rows(root: Path, rows: list[dict[str, Any]] | pa.Table, *,
                 sql: str = "SELECT * FROM orders", now: dt.datetime = NOW,
                 reruns: tuple[dict[str, Any], ...] = (), **settings: Any) -> Delivered:
    """Write ``rows`` and a job, run it against a fresh emulator (then once more per
    entry of ``reruns``, with those keyword arguments to ``pipeline.run``)."""
    project = MetaProject(root)
    project.write_rows(rows)
    project.write_job(settings_for(**settings), sql)
    with MetaEmulator(clock=Clock(NOW_S), tokens={TOKEN}) as emulator, \
            pytest.MonkeyPatch.context() as mp:
        mp.setenv("META_BASE_URL", emulator.url)
        mp.setenv("META_ACCESS_TOKEN", TOKEN)
        summaries = [project.run(now=now)]
        summaries += [project.run(**{"now": now, **extra}) for extra in reruns]
        snapshot = emulator.snapshot()
    return Delivered(project, summaries, snapshot["events"], snapshot["requests"],
                     snapshot["duplicates"])
